//! `du-synthetic`: Du et al. 2019's synthetic experiment (Fig. 1 of seed 001) and Prop. 3.6.
//!
//! The two-layer net f(x) = (1/√m) Σ_r a_r ReLU(w_rᵀx) with fixed signs a_r ∈ {±1} and
//! w_r(0) ~ N(0, I) is trained on W by full-batch GD on n points uniform on S^{d−1} with N(0, 1)
//! labels. Measured against the width m: (a) the loss curves, (b) the fraction of flipped
//! activation patterns (1/(mn)) Σ_{i,r} 1{sign w_r(k)ᵀx_i ≠ sign w_r(0)ᵀx_i} and (c) the maximum
//! per-neuron movement max_r ‖w_r(k) − w_r(0)‖. Then λ₀ = λ_min(H^∞) against the separation φ and
//! against n, next to the bound λ₀ ≥ Cφ/n² (Zou & Gu 2019 Prop. 3.6), and λ₀ = 0 for a data set
//! with two parallel points.
//!
//! The helpers of this module (data, nets, GD runs, pattern/movement measurements) are shared by
//! the other seed-001 convergence experiments (`fine-grained`, `ngd`, `sgd`,
//! `generalization-bounds`, `width-requirements`).

use crate::reproduce::experiment::{Claim, Context, Experiment, Findings};
use crate::reproduce::fit::median;
use crate::reproduce::fit::{Bootstrap, power_law_fit};
use crate::reproduce::plot::{AxisScale, Chart, Series, render_svg};
use anyhow::{Context as _, Result};
use faer::{Mat, MatRef, Par};
use ntk_bounds::gram::h_infinity;
use ntk_bounds::lambda_min::lambda_min_eigen;
use ntk_bounds::separation::{
    OYMAK_SOLTANOLKOTABI_CONSTANT, data_separation, separation_lambda0_lower_bound,
};
use ntk_dynamics::{GdConfig, gradient_descent};
use ntk_kernels::Activation;
use ntk_nets::{Scaling, SecondLayer, TwoLayer, TwoLayerSpec};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;

pub struct DuSynthetic;

/// Relative training-loss target ε·L(0) at which the convergence speed is read off.
const LOSS_TARGET: f64 = 1e-4;

// ---------------------------------------------------------------------------------------------
// Shared helpers (used by the other seed-001 convergence experiments).
// ---------------------------------------------------------------------------------------------

/// `n` points uniform on S^{d−1} (normalised Gaussians), one per row.
pub(super) fn sphere_points(n: usize, d: usize, rng: &mut ChaCha8Rng) -> Mat<f64> {
    let g = Mat::from_fn(n, d, |_, _| -> f64 { StandardNormal.sample(rng) });
    Mat::from_fn(n, d, |i, j| {
        let norm = (0..d).map(|c| g[(i, c)].powi(2)).sum::<f64>().sqrt();
        g[(i, j)] / norm
    })
}

/// `n` i.i.d. N(0, 1) labels.
pub(super) fn gaussian_labels(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// Du et al.'s net f = (1/√m) Σ a_r ReLU(w_rᵀx), a_r ∈ {±1} fixed, w_r(0) ~ N(0, I); centred
/// (f(θ) − f(θ⁰), so u(0) = 0 as in the small-initialisation limit of Arora et al.) if asked.
/// Sequential faer products (the experiments parallelise over runs).
pub(super) fn fixed_sign_net(
    d: usize,
    width: usize,
    centred: bool,
    rng: &mut ChaCha8Rng,
) -> Result<(TwoLayer, Vec<f64>)> {
    let spec = TwoLayerSpec {
        input_dim: d,
        width,
        activation: Activation::Relu,
        scaling: Scaling::Lazy,
        alpha: 1.0,
        w_init_std: 1.0,
        second_layer: SecondLayer::FixedSigns,
    };
    let net = TwoLayer::new(spec, rng)?.with_parallelism(Par::Seq);
    let theta0 = net.init_params(rng);
    let net = if centred {
        net.centred(theta0.clone())?
    } else {
        net
    };
    Ok((net, theta0))
}

/// Fraction of (i, r) with sign(w_r(k)ᵀx_i) ≠ sign(w_r(0)ᵀx_i) (W row-major m × d in θ).
pub(super) fn pattern_flip_fraction(x: MatRef<'_, f64>, theta0: &[f64], theta: &[f64]) -> f64 {
    let d = x.ncols();
    let m = theta0.len() / d;
    let w0 = MatRef::from_row_major_slice(theta0, m, d);
    let wk = MatRef::from_row_major_slice(theta, m, d);
    let z0 = product(x, w0.transpose());
    let zk = product(x, wk.transpose());
    let mut flips = 0usize;
    for r in 0..m {
        for i in 0..x.nrows() {
            if (z0[(i, r)] >= 0.0) != (zk[(i, r)] >= 0.0) {
                flips += 1;
            }
        }
    }
    flips as f64 / (m * x.nrows()) as f64
}

/// A·B with sequential faer GEMM (bit-identical whatever the thread count).
pub(super) fn product(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(a.nrows(), b.ncols());
    faer::linalg::matmul::matmul(out.as_mut(), faer::Accum::Replace, a, b, 1.0, Par::Seq);
    out
}

/// max_r ‖w_r(k) − w_r(0)‖ and the Frobenius distance ‖W(k) − W(0)‖_F.
pub(super) fn neuron_movement(d: usize, theta0: &[f64], theta: &[f64]) -> (f64, f64) {
    let mut max_row: f64 = 0.0;
    let mut total = 0.0;
    for (r0, rk) in theta0.chunks(d).zip(theta.chunks(d)) {
        let sq: f64 = r0.iter().zip(rk).map(|(a, b)| (a - b).powi(2)).sum();
        max_row = max_row.max(sq.sqrt());
        total += sq;
    }
    (max_row, total.sqrt())
}

/// First index k with losses[k] ≤ target.
pub(super) fn first_below(losses: &[f64], target: f64) -> Option<usize> {
    losses.iter().position(|&l| l <= target)
}

/// Largest eigenvalue of a symmetric matrix (faer eigensolver).
pub(super) fn lambda_max(k: MatRef<'_, f64>) -> Result<f64> {
    let values = k
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .map_err(|e| anyhow::anyhow!("eigenvalues failed: {e:?}"))?;
    values
        .last()
        .copied()
        .context("empty matrix has no eigenvalues")
}

/// Extreme eigenvalues and spectral condition number κ = λ_max/λ_min of the matrix of one linear
/// solve (a Gram matrix or kernel system), as reported with the solves of the experiments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Conditioning {
    pub lambda_min: f64,
    pub lambda_max: f64,
    pub condition_number: f64,
    /// From a full eigendecomposition (`true`) or a Lanczos estimate (`false`).
    pub exact: bool,
}

impl Conditioning {
    /// From the diagnostics a library solve returns.
    pub(super) fn from_info(info: &ntk_kernels::regression::SolveInfo) -> Self {
        Self {
            lambda_min: info.lambda_min,
            lambda_max: info.lambda_max,
            condition_number: info.condition_number,
            exact: info.exact,
        }
    }

    /// Exact extreme eigenvalues of a symmetric matrix: λ_min by
    /// `ntk_bounds::lambda_min::lambda_min_eigen`, λ_max by the faer eigensolver.
    pub(super) fn of(k: MatRef<'_, f64>) -> Result<Self> {
        let lambda_min = lambda_min_eigen(k, Par::Seq)?;
        let lambda_max = lambda_max(k)?;
        Ok(Self {
            lambda_min,
            lambda_max,
            condition_number: lambda_max / lambda_min,
            exact: true,
        })
    }

    pub(super) fn json(&self) -> serde_json::Value {
        json!({
            "lambda_min": self.lambda_min, "lambda_max": self.lambda_max,
            "condition_number": self.condition_number, "exact": self.exact,
        })
    }
}

/// "a" or "a–b" in three significant digits.
fn format_range(r: (f64, f64)) -> String {
    let (lo, hi) = (format!("{:.3e}", r.0), format!("{:.3e}", r.1));
    if lo == hi { lo } else { format!("{lo}–{hi}") }
}

/// The range of [`Conditioning`] over several solved matrices: min–max of λ_min, λ_max and κ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ConditioningRange {
    /// Number of distinct matrices (a matrix solved several times counts once).
    pub matrices: usize,
    pub lambda_min: (f64, f64),
    pub lambda_max: (f64, f64),
    pub condition_number: (f64, f64),
    /// Whether every value is exact (full eigendecomposition).
    pub exact: bool,
}

impl ConditioningRange {
    pub(super) fn new<'a>(items: impl IntoIterator<Item = &'a Conditioning>) -> Self {
        let widen = |r: (f64, f64), v: f64| (r.0.min(v), r.1.max(v));
        let empty = (f64::INFINITY, f64::NEG_INFINITY);
        let mut out = Self {
            matrices: 0,
            lambda_min: empty,
            lambda_max: empty,
            condition_number: empty,
            exact: true,
        };
        for c in items {
            out.matrices += 1;
            out.lambda_min = widen(out.lambda_min, c.lambda_min);
            out.lambda_max = widen(out.lambda_max, c.lambda_max);
            out.condition_number = widen(out.condition_number, c.condition_number);
            out.exact &= c.exact;
        }
        out
    }

    /// One markdown fragment: "κ = λ_max/λ_min a–b (λ_min .., λ_max ..; k matrices, ..)".
    pub(super) fn markdown(&self) -> String {
        let range = format_range;
        format!(
            "κ = λ_max/λ_min {} (λ_min {}, λ_max {}; {} {}, {})",
            range(self.condition_number),
            range(self.lambda_min),
            range(self.lambda_max),
            self.matrices,
            if self.matrices == 1 {
                "matrix"
            } else {
                "matrices"
            },
            if self.exact {
                "exact eigenvalues"
            } else {
                "Lanczos estimates"
            }
        )
    }

    /// The range over several ranges (their solves pooled).
    pub(super) fn merge<'a>(ranges: impl IntoIterator<Item = &'a ConditioningRange>) -> Self {
        let join = |a: (f64, f64), b: (f64, f64)| (a.0.min(b.0), a.1.max(b.1));
        let mut out = Self::new(std::iter::empty());
        for r in ranges {
            out.matrices += r.matrices;
            out.lambda_min = join(out.lambda_min, r.lambda_min);
            out.lambda_max = join(out.lambda_max, r.lambda_max);
            out.condition_number = join(out.condition_number, r.condition_number);
            out.exact &= r.exact;
        }
        out
    }

    /// Three markdown table cells "κ | λ_min | λ_max" (each a min–max range).
    pub(super) fn table_cells(&self) -> String {
        format!(
            "{} | {} | {}",
            format_range(self.condition_number),
            format_range(self.lambda_min),
            format_range(self.lambda_max)
        )
    }

    pub(super) fn json(&self) -> serde_json::Value {
        json!({
            "matrices": self.matrices,
            "lambda_min": [self.lambda_min.0, self.lambda_min.1],
            "lambda_max": [self.lambda_max.0, self.lambda_max.1],
            "condition_number": [self.condition_number.0, self.condition_number.1],
            "exact": self.exact,
        })
    }
}

/// Geometric grid of `count` points from `lo` to `hi`.
pub(super) fn geometric_grid(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    (0..count)
        .map(|i| lo * (hi / lo).powf(i as f64 / (count - 1) as f64))
        .collect()
}

/// Renders a chart, creating the figure directory first.
pub(super) fn render(chart: &Chart, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    render_svg(chart, path)
}

/// `n` sphere points in which row 1 is moved to angle ≈ t from row 0 (separation φ ≈ t), the
/// others uniform: a data set with controlled separation.
pub(super) fn sphere_with_close_pair(n: usize, d: usize, t: f64, rng: &mut ChaCha8Rng) -> Mat<f64> {
    let mut x = sphere_points(n, d, rng);
    // v ⟂ x_0: Gram–Schmidt of the old row 1 against row 0.
    let dot: f64 = (0..d).map(|c| x[(0, c)] * x[(1, c)]).sum();
    let v: Vec<f64> = (0..d).map(|c| x[(1, c)] - dot * x[(0, c)]).collect();
    let v_norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
    for c in 0..d {
        x[(1, c)] = t.cos() * x[(0, c)] + t.sin() * v[c] / v_norm;
    }
    x
}

// ---------------------------------------------------------------------------------------------

struct WidthRun {
    losses: Vec<f64>,
    /// (step, flip fraction, max movement) at checkpoints.
    trace: Vec<(usize, f64, f64)>,
    flips: f64,
    movement: f64,
    steps_to_target: Option<usize>,
}

fn run_width(
    x: MatRef<'_, f64>,
    y: &[f64],
    width: usize,
    learning_rate: f64,
    n_steps: usize,
    seed: u64,
) -> Result<WidthRun> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = x.ncols();
    let (net, theta0) = fixed_sign_net(d, width, false, &mut rng)?;
    let every = (n_steps / 40).max(1);
    let mut trace = Vec::new();
    let res = gradient_descent(
        &net,
        x,
        y,
        &theta0,
        &GdConfig::new(learning_rate, n_steps),
        |step, theta, _| {
            if step % every == 0 || step == n_steps {
                let flips = pattern_flip_fraction(x, &theta0, theta);
                let (movement, _) = neuron_movement(d, &theta0, theta);
                trace.push((step, flips, movement));
            }
            Ok(())
        },
    )?;
    let flips = pattern_flip_fraction(x, &theta0, &res.theta);
    let (movement, _) = neuron_movement(d, &theta0, &res.theta);
    let steps_to_target = first_below(&res.losses, LOSS_TARGET * res.losses[0]);
    Ok(WidthRun {
        losses: res.losses,
        trace,
        flips,
        movement,
        steps_to_target,
    })
}

impl Experiment for DuSynthetic {
    fn id(&self) -> &'static str {
        "du-synthetic"
    }

    fn title(&self) -> &'static str {
        "Over-parameterised two-layer ReLU net on synthetic data: convergence, pattern changes, movement, λ₀"
    }

    fn source(&self) -> &'static str {
        "seed 001 (Du, Zhai, Póczos & Singh 2019, arXiv:1810.02054, Fig. 1; Zou & Gu 2019, arXiv:1906.04688, Prop. 3.6)"
    }

    fn statement(&self) -> &'static str {
        "- 2-layer NN, GD, opt first layer\n\n\
$$\\frac{\\sum_{i=1}^m \\sum_{r=1}^m \\mathbb{I}\\{\\text{sign}(\\mathbf{w}_r(0)^\\top \\mathbf{x}_i) \\neq \\text{sign}(\\mathbf{w}_r(k)^\\top \\mathbf{x}_i)\\}}{mn}$$\n\n\
$$\\max_{r \\in [m]} \\|\\mathbf{w}_r(k) - \\mathbf{w}_r(0)\\|_2$$\n\n\
(a) Convergence rates. (b) Percentiles of pattern changes. (c) Maximum distances from initialization.\n\n\
Figure 1: Results on synthetic data.\n\n\
Proposition 3.6. Under Assumption 3.1, define the Gram matrix $\\mathbf{H} \\in \\mathbb{R}^{n \\times n}$ as follows\n\n\
$$\\mathbf{H}_{ij} = \\mathbb{E}_{\\mathbf{w} \\sim \\mathcal{N}(0, \\mathbf{I})} [\\mathbf{x}_i^\\top \\mathbf{x}_j \\sigma'(\\mathbf{w}^\\top \\mathbf{x}_i) \\sigma'(\\mathbf{w}^\\top \\mathbf{x}_j)],$$\n\n\
then the assumption $\\lambda_0 = \\lambda_{\\min}(\\mathbf{H}) > 0$ is equivalent to Assumption 3.2. In addition, there exists a sufficiently small constant C such that $\\lambda_0 \\geq C\\phi n^{-2}$.\n\n\
(Note: the slide's double sum runs r = 1..m for both indices; the numerator is a sum over \
i ∈ [n], r ∈ [m], as in Du et al.)"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<Findings> {
        let scale = ctx.scale;
        let n = scale.pick(40, 100, 1000);
        let d = scale.pick(20, 50, 1000);
        let widths: Vec<usize> = scale.pick(
            vec![64, 256, 1024, 4096],
            vec![64, 256, 1024, 4096],
            vec![100, 1000, 5000, 10000, 40000],
        );
        let n_seeds = scale.pick(2, 3, 5);
        let mut rng = ctx.rng(1);
        let x = sphere_points(n, d, &mut rng);
        let y = gaussian_labels(n, &mut rng);
        let h = h_infinity(x.as_ref())?;
        let lambda0 = lambda_min_eigen(h.as_ref(), Par::Seq)?;
        let lam_max = lambda_max(h.as_ref())?;
        // GD on L = (1/2n)Σ(u − y)² with η = n/λ_max(H^∞): Du's step on ½‖u − y‖² is η/n = 1/λ_max.
        let learning_rate = n as f64 / lam_max;
        let predicted = (1.0 / LOSS_TARGET).ln() / (lambda0 / lam_max);
        let n_steps = (3.0 * predicted).ceil() as usize;
        (ctx.progress)(0.05);

        let tasks: Vec<(usize, usize)> = (0..widths.len())
            .flat_map(|w| (0..n_seeds).map(move |s| (w, s)))
            .collect();
        let runs: Vec<Result<WidthRun>> = tasks
            .par_iter()
            .enumerate()
            .map(|(t, &(w, _))| {
                run_width(
                    x.as_ref(),
                    &y,
                    widths[w],
                    learning_rate,
                    n_steps,
                    ctx.task_seed(t as u64),
                )
            })
            .collect();
        let runs: Vec<WidthRun> = runs.into_iter().collect::<Result<_>>()?;
        (ctx.progress)(0.75);

        // Per-width medians over seeds.
        let mut med_steps = Vec::new();
        let mut med_flips = Vec::new();
        let mut med_move = Vec::new();
        for w in 0..widths.len() {
            let group: Vec<&WidthRun> = (0..n_seeds).map(|s| &runs[w * n_seeds + s]).collect();
            let steps: Vec<f64> = group
                .iter()
                .map(|r| r.steps_to_target.map_or(f64::INFINITY, |k| k as f64))
                .collect();
            med_steps.push(median(&steps));
            med_flips.push(median(&group.iter().map(|r| r.flips).collect::<Vec<_>>()));
            med_move.push(median(
                &group.iter().map(|r| r.movement).collect::<Vec<_>>(),
            ));
        }
        let wf: Vec<f64> = widths.iter().map(|&m| m as f64).collect();
        let flip_fit = power_law_fit(&wf, &med_flips, Bootstrap::new(ctx.task_seed(1000)))?;
        let move_fit = power_law_fit(&wf, &med_move, Bootstrap::new(ctx.task_seed(1001)))?;
        let monotone = med_steps.windows(2).all(|p| p[1] <= p[0]) && med_steps[0].is_finite();

        // λ₀ against the separation φ (close pair at angle t) and against n.
        let angles = geometric_grid(1e-4, 1.0, scale.pick(6, 9, 13));
        let mut sep_rows = Vec::new();
        for (i, &t) in angles.iter().enumerate() {
            let mut r = ctx.rng(100 + i as u64);
            let xs = sphere_with_close_pair(n, d, t, &mut r);
            let hs = h_infinity(xs.as_ref())?;
            let l0 = lambda_min_eigen(hs.as_ref(), Par::Seq)?;
            let phi = data_separation(xs.as_ref())?.value;
            let bound = separation_lambda0_lower_bound(phi, n, OYMAK_SOLTANOLKOTABI_CONSTANT)?;
            sep_rows.push((phi, l0, bound));
        }
        let ns: Vec<usize> = scale.pick(
            vec![10, 20, 40, 80],
            vec![25, 50, 100, 200, 400],
            vec![50, 100, 200, 400, 800, 1600],
        );
        let mut n_rows = Vec::new();
        for (i, &nn) in ns.iter().enumerate() {
            let mut r = ctx.rng(200 + i as u64);
            let xs = sphere_points(nn, d, &mut r);
            let hs = h_infinity(xs.as_ref())?;
            let l0 = lambda_min_eigen(hs.as_ref(), Par::Seq)?;
            let phi = data_separation(xs.as_ref())?.value;
            let bound = separation_lambda0_lower_bound(phi, nn, OYMAK_SOLTANOLKOTABI_CONSTANT)?;
            n_rows.push((nn, phi, l0, bound));
        }
        // Two parallel points: row 1 = row 0.
        let mut r = ctx.rng(300);
        let mut xp = sphere_points(n, d, &mut r);
        for c in 0..d {
            xp[(1, c)] = xp[(0, c)];
        }
        let hp = h_infinity(xp.as_ref())?;
        let lambda_parallel = lambda_min_eigen(hp.as_ref(), Par::Seq)?;
        let parallel_tol = 10.0 * n as f64 * f64::EPSILON * lambda_max(hp.as_ref())?;
        let min_ratio = sep_rows
            .iter()
            .map(|&(_, l, b)| l / b)
            .chain(n_rows.iter().map(|&(_, _, l, b)| l / b))
            .fold(f64::INFINITY, f64::min);
        // λ₀ against φ at the close-pair data sets: log-log slope (expected ≈ 1: λ ≈ φ/(2π)).
        let small: Vec<&(f64, f64, f64)> = sep_rows.iter().filter(|r| r.0 < 0.05).collect();
        let phi_slope = if small.len() >= 3 {
            power_law_fit(
                &small.iter().map(|r| r.0).collect::<Vec<_>>(),
                &small.iter().map(|r| r.1).collect::<Vec<_>>(),
                Bootstrap::new(ctx.task_seed(1002)),
            )?
            .exponent
        } else {
            f64::NAN
        };
        (ctx.progress)(0.85);

        let claims = vec![
            Claim::check(
                "wider-converges-faster",
                "(a) wider nets converge at least as fast: median GD iterations to L ≤ 1e-4·L(0) non-increasing in m",
                med_steps.last().copied().unwrap_or(f64::NAN),
                format!("non-increasing over m = {widths:?}: {med_steps:?}"),
                "median iterations non-increasing in m (all finite)",
                monotone,
            ),
            Claim::check(
                "pattern-flips-slope",
                "(b) the fraction of flipped activation patterns decreases with m",
                flip_fit.exponent,
                "≤ −0.35 (theory: −1/2)",
                "fitted log-log slope of the median final flip fraction against m ≤ −0.35",
                flip_fit.exponent <= -0.35,
            ),
            Claim::check(
                "max-movement-slope",
                "(c) max_r ‖w_r(k) − w_r(0)‖ decreases with m",
                move_fit.exponent,
                "≤ −0.35 (theory: −1/2)",
                "fitted log-log slope of the median final max movement against m ≤ −0.35",
                move_fit.exponent <= -0.35,
            ),
            Claim::check(
                "lambda0-separation-bound",
                "λ₀ ≥ Cφn⁻² (C = 1/100, Oymak & Soltanolkotabi) on every data set (φ sweep and n sweep)",
                min_ratio,
                "≥ 1",
                "min over data sets of λ₀ / (Cφ/n²) ≥ 1",
                min_ratio >= 1.0,
            ),
            Claim::check(
                "lambda0-parallel-zero",
                "λ₀ = 0 for a data set with two parallel points",
                lambda_parallel,
                format!("|λ₀| ≤ 10·n·ε·λ_max = {parallel_tol:.2e}"),
                "|λ₀| within rounding of zero",
                lambda_parallel.abs() <= parallel_tol,
            ),
        ];

        // Figures.
        let (fig_loss, rel_loss) = ctx.figure_path("loss.svg");
        let mut chart = Chart::new(
            "GD training loss, seed 0 per width",
            "iteration k",
            "L(W(k)) / L(W(0))",
        )
        .scales(AxisScale::Linear, AxisScale::Log);
        for (w, &m) in widths.iter().enumerate() {
            let run = &runs[w * n_seeds];
            let l0 = run.losses[0];
            chart = chart.with(Series::line(
                format!("m = {m}"),
                run.losses
                    .iter()
                    .enumerate()
                    .map(|(k, &l)| (k as f64, l / l0))
                    .collect(),
            ));
        }
        render(&chart, &fig_loss)?;
        let (fig_pat, rel_pat) = ctx.figure_path("patterns.svg");
        let mut chart = Chart::new(
            "Pattern flips and max movement at the end of GD (median over seeds)",
            "width m",
            "value",
        )
        .scales(AxisScale::Log, AxisScale::Log);
        let s1 = Series::line_points(
            format!("flip fraction (slope {:.2})", flip_fit.exponent),
            wf.iter().copied().zip(med_flips.iter().copied()).collect(),
        );
        let s2 = Series::line_points(
            format!("max_r ‖w_r − w_r(0)‖ (slope {:.2})", move_fit.exponent),
            wf.iter().copied().zip(med_move.iter().copied()).collect(),
        );
        chart = chart.with(s1).with(s2);
        render(&chart, &fig_pat)?;
        let (fig_trace, rel_trace) = ctx.figure_path("flips-vs-iteration.svg");
        let mut chart = Chart::new(
            "Fraction of flipped activation patterns during GD (seed 0)",
            "iteration k",
            "flip fraction",
        );
        for (w, &m) in widths.iter().enumerate() {
            chart = chart.with(Series::line(
                format!("m = {m}"),
                runs[w * n_seeds]
                    .trace
                    .iter()
                    .map(|&(k, f, _)| (k as f64, f))
                    .collect(),
            ));
        }
        render(&chart, &fig_trace)?;
        let (fig_lam, rel_lam) = ctx.figure_path("lambda0.svg");
        let a = Series::line_points(
            "λ₀ (close pair at separation φ)",
            sep_rows.iter().map(|r| (r.0, r.1)).collect(),
        );
        let chart = Chart::new(
            format!("λ₀ = λ_min(H^∞) against the separation φ (n = {n}, d = {d})"),
            "φ",
            "λ₀",
        )
        .scales(AxisScale::Log, AxisScale::Log)
        .with(a)
        .with(Series::line(
            "bound φ/(100 n²)",
            sep_rows.iter().map(|r| (r.0, r.2)).collect(),
        ))
        .with(Series::line(
            "φ/(2π)",
            sep_rows
                .iter()
                .map(|r| (r.0, r.0 / (2.0 * std::f64::consts::PI)))
                .collect(),
        ));
        render(&chart, &fig_lam)?;

        let mut tables = String::new();
        writeln!(
            tables,
            "| m | median iterations to 1e-4·L(0) | median flip fraction | median max_r ‖w_r − w_r(0)‖ |\n|---|---|---|---|"
        )?;
        for w in 0..widths.len() {
            writeln!(
                tables,
                "| {} | {} | {:.3e} | {:.3e} |",
                widths[w], med_steps[w], med_flips[w], med_move[w]
            )?;
        }
        writeln!(
            tables,
            "\nFlip-fraction slope {:.3} (95% bootstrap [{:.3}, {:.3}]); movement slope {:.3} ([{:.3}, {:.3}]).\n",
            flip_fit.exponent,
            flip_fit.interval.0,
            flip_fit.interval.1,
            move_fit.exponent,
            move_fit.interval.0,
            move_fit.interval.1
        )?;
        writeln!(
            tables,
            "| data | n | φ | λ₀ | Cφ/n² | λ₀ / bound |\n|---|---|---|---|---|---|"
        )?;
        for &(phi, l0, b) in &sep_rows {
            writeln!(
                tables,
                "| close pair | {n} | {phi:.3e} | {l0:.3e} | {b:.3e} | {:.2e} |",
                l0 / b
            )?;
        }
        for &(nn, phi, l0, b) in &n_rows {
            writeln!(
                tables,
                "| uniform | {nn} | {phi:.3e} | {l0:.3e} | {b:.3e} | {:.2e} |",
                l0 / b
            )?;
        }
        writeln!(
            tables,
            "| two parallel points | {n} | 0 | {lambda_parallel:.2e} | — | — |"
        )?;

        let setup = format!(
            "n = {n} points uniform on S^(d−1), d = {d}, labels y ~ N(0, 1) (one data set, stream 1). \
Net f = (1/√m) Σ_r a_r ReLU(w_rᵀx), a_r ∈ {{±1}} fixed, w_r(0) ~ N(0, I), not centred (u(0) ≠ 0 as in Du et al.). \
Full-batch GD on W for the library loss L = (1/2n)Σ(u − y)² with η = n/λ_max(H^∞) = {learning_rate:.2}, \
i.e. Du's step on ½‖u − y‖² is η/n = 1/λ_max(H^∞) (λ_max = {lam_max:.3}, λ₀ = {lambda0:.4}), for {n_steps} steps \
(3× the linearised count ln(1e4)·λ_max/λ₀). Widths m ∈ {widths:?}, {n_seeds} seeds each (medians). \
Flip fraction and max movement are read at the last iterate; slopes are least-squares log-log fits with a \
95% bootstrap interval. λ₀ sweeps: row 1 moved to angle t ∈ [1e-4, 1] of row 0 (φ ≈ t), and n ∈ {ns:?} \
uniform points in the same d; C = 1/100 (the constant of Oymak & Soltanolkotabi 2019 that Prop. 3.6 defers to; \
the seed says only \"sufficiently small\"). Parallel data: row 1 := row 0. \
Source differences: Du et al. use n = d = 1000 (full scale); the seed's flip formula sums r over [m] twice (typo)."
        );
        let interpretation = format!(
            "The measured flip fraction and max movement fall with width with slopes {:.2} and {:.2} \
(theory −1/2: ‖w_r(k) − w_r(0)‖ ≤ √n‖y − u(0)‖/(√m λ₀) in Du et al.'s Lemma 3.3, and a pattern flips only \
when |w_r(0)ᵀx_i| is below that radius, an event of probability O(radius)). Median iterations to reach \
1e-4·L(0): {med_steps:?}. λ₀ shrinks linearly with the separation of a close pair (log-log slope {phi_slope:.2} \
for φ < 0.05; the 2×2 block gives λ ≈ ½ − H_12 ≈ φ/(2π)), so the φ-dependence of Prop. 3.6 is tight, while the \
n⁻² factor is very loose on uniform data: λ₀ stays O(10⁻¹) as n grows at fixed d, and λ₀/(Cφ/n²) ≥ {min_ratio:.1e}. \
Two parallel points give λ₀ = {lambda_parallel:.1e}, zero to rounding (equal rows of H^∞). Note that \
antiparallel inputs do not make H^∞ singular (H_ij = 0 for x_j = −x_i), so the equivalence of Prop. 3.6 is \
with the one-sided assumption ‖x_i − x_j‖ ≥ φ of Assumption 3.2, not with min(‖x_i − x_j‖, ‖x_i + x_j‖).",
            flip_fit.exponent, move_fit.exponent
        );
        let data = json!({
            "n": n, "d": d, "widths": widths, "seeds": n_seeds, "learning_rate": learning_rate,
            "lambda0": lambda0, "lambda_max": lam_max, "n_steps": n_steps,
            "median_steps_to_target": med_steps.iter().map(|s| if s.is_finite() { json!(s) } else { json!(null) }).collect::<Vec<_>>(),
            "median_flip_fraction": med_flips, "median_max_movement": med_move,
            "flip_slope": flip_fit.exponent, "flip_interval": [flip_fit.interval.0, flip_fit.interval.1],
            "movement_slope": move_fit.exponent, "movement_interval": [move_fit.interval.0, move_fit.interval.1],
            "separation_sweep": sep_rows.iter().map(|r| json!({"phi": r.0, "lambda0": r.1, "bound": r.2})).collect::<Vec<_>>(),
            "n_sweep": n_rows.iter().map(|r| json!({"n": r.0, "phi": r.1, "lambda0": r.2, "bound": r.3})).collect::<Vec<_>>(),
            "lambda0_parallel": lambda_parallel, "lambda0_phi_slope": phi_slope,
            "loss_curves_seed0": widths.iter().enumerate().map(|(w, m)| json!({"m": m, "loss": runs[w * n_seeds].losses})).collect::<Vec<_>>(),
        });
        ctx.write_json("runs.json", &data)?;
        (ctx.progress)(1.0);
        Ok(Findings {
            setup,
            claims,
            figures: vec![rel_loss, rel_pat, rel_trace, rel_lam],
            tables,
            interpretation,
            data,
        })
    }
}

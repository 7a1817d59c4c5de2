//! `staircase`: kernel ridge regression, random-features and neural-tangent models on the sphere
//! learn one polynomial degree per power of d (seed 004 Thm 1; Ghorbani, Mei, Misiakiewicz &
//! Montanari 2021, arXiv:1904.12191).
//!
//! x is uniform on √d·S^{d−1}, and the target is a sum of normalised Gegenbauer components
//!
//! $$ f_*(x) = \sum_{k=1}^{3} \beta_k \sqrt{B(d,k)}\, P_k^{(d)}\big(\langle e_k, x\rangle/\sqrt d\big),
//!    \qquad \|P_{>l} f_*\|^2 = \sum_{k>l} \beta_k^2, $$
//!
//! with P_k^{(d)} the Gegenbauer (Legendre-in-d) polynomial normalised by P_k(1) = 1, and
//! B(d, k) the dimension of the degree-k spherical harmonics (so E P_k(⟨e, x̂⟩)² = 1/B(d, k)).

use super::rf_nt_concentration::{a_bt, sphere_points};
use crate::reproduce::experiment::{Claim, Context, Experiment, Findings};
use crate::reproduce::fit::spearman;
use crate::reproduce::plot::{AxisScale, Chart, Series, render_svg};
use anyhow::{Context as _, anyhow};
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};
use ntk_kernels::Activation;
use ntk_kernels::analytic::dual;
use ntk_kernels::mercer::{
    MercerConfig, gegenbauer, mercer_eigenvalues, multiplicity, sphere_area_ratio,
};
use ntk_kernels::random_features::RandomFeatures;
use ntk_kernels::regression::Cholesky;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rayon::prelude::*;
use serde_json::json;
use std::fmt::Write as _;

pub struct Staircase;

/// Weights β_k² of the degree-1, 2, 3 components (‖f*‖² = 1).
const BETA_SQ: [f64; 3] = [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0];
/// Highest Gegenbauer degree kept explicitly in the population RF Gram matrix.
const DEGREE_CUTOFF: usize = 30;
/// Tolerance of the plateau/step claims (issue 8).
const TOLERANCE: f64 = 0.05;
/// δ of the plateau window n ∈ [d^(l+δ), d^(l+1−δ)].
const PLATEAU_DELTA: f64 = 0.25;

/// Gegenbauer polynomials P_0 … P_{out.len()−1} of dimension d at s ∈ [−1, 1], normalised by
/// P_k(1) = 1 (`ntk_kernels::mercer::gegenbauer`).
fn gegenbauer_all(d: usize, s: f64, out: &mut [f64]) -> anyhow::Result<()> {
    gegenbauer(d, s, out).map_err(|e| anyhow!("Gegenbauer polynomials at d = {d}, s = {s}: {e}"))
}

/// P_k of dimension d at s.
fn gegenbauer_at(d: usize, k: usize, s: f64) -> anyhow::Result<f64> {
    let mut buf = vec![0.0; k + 1];
    gegenbauer_all(d, s, &mut buf)?;
    Ok(buf[k])
}

/// B(d, k), the dimension of the degree-k spherical harmonics on S^{d−1}
/// (`ntk_kernels::mercer::multiplicity`).
fn harmonic_dim(d: usize, k: usize) -> anyhow::Result<f64> {
    multiplicity(d, k).map_err(|e| anyhow!("harmonic dimension B({d}, {k}): {e}"))
}

/// Gauss–Legendre nodes (in θ = arccos s) of the Funk–Hecke integrals. The ReLU integrand has a
/// kink at s = 0, where the rule converges only like (nodes)^(−2): 2¹⁵ nodes keep its error near
/// 1e-9 relative (checked against composite Simpson split at the kink); the kernels h are
/// analytic in θ and converge geometrically.
const QUADRATURE_NODES: usize = 1 << 15;

/// The coefficients c_k = E[h(s)P_k(s)], k = 0 … k_max, of a function h of s = ⟨e, x̂⟩ for x̂
/// uniform on S^{d−1} (the Funk–Hecke eigenvalues μ_k of `ntk_kernels::mercer::mercer_eigenvalues`),
/// so that h(s) = Σ_k B(d,k)·c_k·P_k(s).
fn funk_hecke(d: usize, k_max: usize, h: impl Fn(f64) -> f64) -> anyhow::Result<Vec<f64>> {
    let config = MercerConfig {
        sphere_dim: d,
        max_degree: k_max,
        quadrature_nodes: QUADRATURE_NODES,
    };
    Ok(mercer_eigenvalues(h, config)
        .map_err(|e| anyhow!("Funk–Hecke coefficients at d = {d}: {e}"))?
        .eigenvalues)
}

/// ξ_k = E[σ(√d s)P_k(s)], k = 0 … k_max, for σ = ReLU and s = ⟨w, x̂⟩ (‖w‖ = 1, x̂ uniform on
/// S^{d−1}), in closed form. With σ(√d s) = √d(s + |s|)/2, c_d = Γ(d/2)/(√π Γ((d−1)/2)), Rodrigues'
/// formula P_k(s)(1 − s²)^{(d−3)/2} = (−1)^k/(2^k ((d−1)/2)_k) · D^k(1 − s²)^{a}, a = k + (d−3)/2,
/// and two integrations by parts (|s|'' = 2δ(s)):
///
/// $$ \xi_0 = \frac{\sqrt d\,c_d}{d-1},\quad \xi_1 = \frac{1}{2\sqrt d},\quad
///    \xi_{k\,\mathrm{odd}\ge3} = 0,\quad
///    \xi_{k\,\mathrm{even}\ge2} = \sqrt d\,c_d\,\frac{(-1)^{j}\,(k-2)!\,\binom{a}{j}}{2^k\,((d-1)/2)_k},
///    \ j = \frac{k-2}{2}. $$
///
/// Checked against the Funk–Hecke quadrature of `ntk_kernels::mercer::mercer_eigenvalues` in
/// `run` (and against 30-digit adaptive quadrature split at the kink: agreement ~1e-15 relative).
fn relu_coefficients(d: usize, k_max: usize) -> Vec<f64> {
    let df = d as f64;
    let c_d = sphere_area_ratio(d);
    (0..=k_max)
        .map(|k| match k {
            0 => df.sqrt() * c_d / (df - 1.0),
            1 => 0.5 / df.sqrt(),
            _ if k % 2 == 1 => 0.0,
            _ => {
                let j = (k - 2) / 2;
                let a = k as f64 + (df - 3.0) / 2.0;
                // (k − 2)!·C(a, j)·(−1)^j / (2^k ((d − 1)/2)_k), accumulated as one product.
                let mut v = if j % 2 == 1 { -1.0 } else { 1.0 };
                for i in 0..k {
                    v /= 2.0 * ((df - 1.0) / 2.0 + i as f64);
                }
                for i in 1..=k - 2 {
                    v *= i as f64;
                }
                for i in 0..j {
                    v *= (a - i as f64) / (i + 1) as f64;
                }
                df.sqrt() * c_d * v
            }
        })
        .collect()
}

/// The Gegenbauer coefficients h_k = B(d,k)·E[h(s)P_k(s)], k = 0 … k_max, of a dot-product
/// kernel h(s), so that h(s) = Σ_k h_k P_k(s).
fn kernel_coefficients(d: usize, k_max: usize, h: impl Fn(f64) -> f64) -> anyhow::Result<Vec<f64>> {
    funk_hecke(d, k_max, h)?
        .iter()
        .enumerate()
        .map(|(k, mu)| Ok(harmonic_dim(d, k)? * mu))
        .collect()
}

/// The regression kernel: the NT kernel of a ReLU layer with a trained N(0, 1) bias,
/// h(ρ) = E[(⟨x, x'⟩/d + 1)σ'(u)σ'(v)] = (1 + ρ)(π − arccos((1 + ρ)/2))/(2π).
/// Evaluated through the library's dual activation (`ntk_kernels::analytic::dual`).
fn krr_kernel(rho: f64) -> f64 {
    (1.0 + rho) * dual(&Activation::Relu, 2.0, 2.0, 1.0 + rho).ntk_dot
}

/// [`krr_kernel`] in closed form, for the kernel matrices (the dual evaluation computes all of
/// ReLU's dual quantities and dominated the run time). The correlation (1 + ρ)/2 is clamped to
/// [−1, 1] against rounding of ⟨x, x⟩/d; `run` checks the two agree on a grid of ρ.
fn krr_kernel_closed_form(rho: f64) -> f64 {
    let c = (0.5 * (1.0 + rho)).clamp(-1.0, 1.0);
    (1.0 + rho) * (std::f64::consts::PI - c.acos()) / (2.0 * std::f64::consts::PI)
}

/// The plain NT kernel of ReLU (no bias), ρ(π − arccos ρ)/(2π): zero Gegenbauer coefficients at
/// odd degrees ≥ 3.
fn plain_nt_kernel(rho: f64) -> f64 {
    rho * dual(&Activation::Relu, 1.0, 1.0, rho).ntk_dot
}

/// The target f*(x) = Σ_k β_k √B(d,k) P_k(x_k/√d) on √d·S^{d−1}, with the first three coordinate
/// axes as the directions e_k.
struct Target {
    d: usize,
    /// β_k √B(d, k), k = 1, 2, 3.
    weights: [f64; 3],
}

impl Target {
    fn new(d: usize) -> anyhow::Result<Self> {
        let mut weights = [0.0; 3];
        for (k, w) in weights.iter_mut().enumerate() {
            *w = BETA_SQ[k].sqrt() * harmonic_dim(d, k + 1)?.sqrt();
        }
        Ok(Self { d, weights })
    }

    /// f* at the rows of `x` (m × 1).
    fn values(&self, x: MatRef<'_, f64>) -> anyhow::Result<Mat<f64>> {
        let sqrt_d = (self.d as f64).sqrt();
        let mut out = Mat::<f64>::zeros(x.nrows(), 1);
        let mut p = [0.0; 4];
        for i in 0..x.nrows() {
            let mut v = 0.0;
            for (k, w) in self.weights.iter().enumerate() {
                gegenbauer_all(self.d, x[(i, k)] / sqrt_d, &mut p)?;
                v += w * p[k + 1];
            }
            out[(i, 0)] = v;
        }
        Ok(out)
    }
}

/// ‖P_{>l} f*‖².
fn tail_energy(l: usize) -> f64 {
    BETA_SQ
        .iter()
        .enumerate()
        .filter(|(k, _)| k + 1 > l)
        .map(|(_, b)| b)
        .sum()
}

/// Log-spaced integers from `lo` to `hi` plus `extra`, sorted and deduplicated.
fn log_grid(lo: f64, hi: f64, points: usize, extra: &[usize]) -> Vec<usize> {
    let mut g: Vec<usize> = (0..points)
        .map(|i| {
            let t = i as f64 / (points - 1) as f64;
            (lo.ln() + t * (hi.ln() - lo.ln())).exp().round() as usize
        })
        .chain(extra.iter().copied())
        .filter(|&v| v >= 1 && v as f64 <= hi + 0.5)
        .collect();
    g.sort_unstable();
    g.dedup();
    g
}

/// Candidate ridges λ (K(x, x) = 1): the one with the smallest error on a held-out validation
/// sample is used.
const RIDGES: [f64; 6] = [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0];
/// Size of the validation sample that selects the ridge.
const N_VALIDATION: usize = 1000;

/// Kernel matrix h(⟨a_i, b_j⟩/d) between the rows of `a` and `b`.
fn kernel_matrix(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    let inv_d = 1.0 / a.ncols() as f64;
    let mut k = a_bt(a, b, Par::Seq);
    for j in 0..k.ncols() {
        for i in 0..k.nrows() {
            k[(i, j)] = krr_kernel_closed_form(k[(i, j)] * inv_d);
        }
    }
    k
}

/// Mean squared difference of two m × 1 columns.
fn mse(pred: MatRef<'_, f64>, truth: MatRef<'_, f64>) -> f64 {
    (0..truth.nrows())
        .map(|i| (pred[(i, 0)] - truth[(i, 0)]).powi(2))
        .sum::<f64>()
        / truth.nrows() as f64
}

/// (K + λI)⁻¹y by `ntk_kernels::regression::Cholesky` (K + λI = LLᵀ, sequential), with the factor
/// (whose `info()` gives the condition number κ(K + λI) on request: a block-Lanczos estimate).
fn ridge_solve(
    k: MatRef<'_, f64>,
    y: MatRef<'_, f64>,
    ridge: f64,
) -> anyhow::Result<(Mat<f64>, Cholesky)> {
    let n = k.nrows();
    let factor = Cholesky::factor(k, ridge, Par::Seq)
        .map_err(|e| anyhow!("Cholesky of K + {ridge}·I (n = {n}) failed: {e}"))?;
    let sol = factor.solve(y, Par::Seq)?;
    Ok((sol, factor))
}

/// Test error of kernel ridge regression f̂(x) = k(x, X)(K + λI)⁻¹y with `n` samples and the
/// ridge λ ∈ RIDGES that minimises the error on a separate validation sample of N_VALIDATION
/// points; returns (test error on `n_test` fresh points, chosen λ, κ(K + λI) at that λ). One Cholesky factorisation
/// per candidate ridge serves both the validation and the test predictions.
fn krr_error(seed: u64, d: usize, n: usize, n_test: usize) -> anyhow::Result<(f64, f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = sphere_points(&mut rng, n, d);
    let x_val = sphere_points(&mut rng, N_VALIDATION, d);
    let x_test = sphere_points(&mut rng, n_test, d);
    let target = Target::new(d)?;
    let y = target.values(x.as_ref())?;
    let y_val = target.values(x_val.as_ref())?;
    let y_test = target.values(x_test.as_ref())?;
    let k = kernel_matrix(x.as_ref(), x.as_ref());
    let k_val = kernel_matrix(x_val.as_ref(), x.as_ref());
    let k_test = kernel_matrix(x_test.as_ref(), x.as_ref());
    let predict = |k_eval: MatRef<'_, f64>, alpha: MatRef<'_, f64>| {
        let mut pred = Mat::<f64>::zeros(k_eval.nrows(), 1);
        matmul(pred.as_mut(), Accum::Replace, k_eval, alpha, 1.0, Par::Seq);
        pred
    };
    // (validation error, ridge, test error, factor of K + λI) of the best ridge so far.
    let mut best: (f64, f64, f64, Option<Cholesky>) = (f64::INFINITY, RIDGES[0], f64::NAN, None);
    for &ridge in &RIDGES {
        let (alpha, factor) = ridge_solve(k.as_ref(), y.as_ref(), ridge)
            .with_context(|| format!("kernel ridge at d={d}, n={n}"))?;
        let err = mse(
            predict(k_val.as_ref(), alpha.as_ref()).as_ref(),
            y_val.as_ref(),
        );
        if err < best.0 {
            let test = mse(
                predict(k_test.as_ref(), alpha.as_ref()).as_ref(),
                y_test.as_ref(),
            );
            best = (err, ridge, test, Some(factor));
        }
    }
    // κ of the solve whose predictions are reported (the chosen ridge).
    let condition = match &best.3 {
        Some(factor) => factor.info()?.condition_number,
        None => f64::NAN,
    };
    Ok((best.2, best.1, condition))
}

/// Population (n = ∞) error of the RF model with the first `width` unit-norm rows of `w`:
/// ‖f*‖² − vᵀU⁻¹v with U_ij = Σ_k ξ_k²B_k P_k(⟨w_i, w_j⟩) (+ the tail ‖σ‖² − Σ_{k≤K} ξ_k²B_k on the
/// diagonal), v_i = Σ_k β_k √B_k ξ_k P_k(⟨e_k, w_i⟩).
fn rf_population_error(w: MatRef<'_, f64>, xi: &[f64]) -> anyhow::Result<(f64, f64)> {
    let (width, d) = (w.nrows(), w.ncols());
    let coeff: Vec<f64> = (0..=DEGREE_CUTOFF)
        .map(|k| Ok(xi[k] * xi[k] * harmonic_dim(d, k)?))
        .collect::<anyhow::Result<_>>()?;
    // ‖σ‖² = E[relu(x₁)²] = E[x₁²]/2 = 1/2 for x on √d·S^{d−1}.
    let tail = 0.5 - coeff.iter().sum::<f64>();
    let gram = a_bt(w, w, Par::Seq);
    let mut buf = vec![0.0; DEGREE_CUTOFF + 1];
    let mut u = Mat::<f64>::zeros(width, width);
    for j in 0..width {
        for i in j..width {
            gegenbauer_all(d, gram[(i, j)].clamp(-1.0, 1.0), &mut buf)?;
            let mut s: f64 = coeff.iter().zip(&buf).map(|(c, p)| c * p).sum();
            if i == j {
                s += tail;
            }
            u[(i, j)] = s;
            u[(j, i)] = s;
        }
    }
    let target = Target::new(d)?;
    let mut v = Mat::<f64>::zeros(width, 1);
    for i in 0..width {
        for k in 1..=3 {
            v[(i, 0)] += target.weights[k - 1] * xi[k] * gegenbauer_at(d, k, w[(i, k - 1)])?;
        }
    }
    let factor = Cholesky::new(u.as_ref(), 0.0, Par::Seq)
        .map_err(|e| anyhow!("RF population Gram (N = {width}): {e}"))?;
    let sol = factor
        .solve(v.as_ref(), Par::Seq)
        .map_err(|e| anyhow!("RF population solve (N = {width}): {e}"))?;
    let explained: f64 = (0..width).map(|i| v[(i, 0)] * sol[(i, 0)]).sum();
    Ok((
        BETA_SQ.iter().sum::<f64>() - explained,
        factor.info()?.condition_number,
    ))
}

/// Large-sample (n → ∞) error of the NT model Σ_i ⟨b_i, x⟩σ'(⟨w_i, x⟩): least squares on
/// `samples_per_param`·Nd fresh samples with the NT features of
/// `ntk_kernels::random_features::RandomFeatures::nt_features` (their 1/√(Nd) scale does not
/// change the least-squares fit), test error on `n_test` further samples.
fn nt_large_sample_error(
    seed: u64,
    w: MatRef<'_, f64>,
    samples_per_param: usize,
    n_test: usize,
) -> anyhow::Result<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = w.ncols();
    let p = w.nrows() * d;
    let features = RandomFeatures::from_weights(w)?;
    let target = Target::new(d)?;
    let m_train = samples_per_param * p;
    let chunk = 2048;
    let mut gram = Mat::<f64>::zeros(p, p);
    let mut rhs = Mat::<f64>::zeros(p, 1);
    let mut done = 0;
    while done < m_train {
        let rows = chunk.min(m_train - done);
        let x = sphere_points(&mut rng, rows, d);
        let phi = features.nt_features(&Activation::Relu, x.as_ref(), Par::Seq)?;
        let y = target.values(x.as_ref())?;
        // Only the lower triangle of ΦᵀΦ is accumulated (half the flops); it is mirrored below.
        triangular::matmul(
            gram.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Add,
            phi.transpose(),
            BlockStructure::Rectangular,
            phi.as_ref(),
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        );
        matmul(
            rhs.as_mut(),
            Accum::Add,
            phi.transpose(),
            y.as_ref(),
            1.0,
            Par::Seq,
        );
        done += rows;
    }
    // A jitter of 1e-10 of the mean diagonal keeps the solve defined; it is far below the
    // smallest eigenvalue that matters (the fit error moves by < 1e-8).
    let mean_diag = (0..p).map(|i| gram[(i, i)]).sum::<f64>() / p as f64;
    let gram = Mat::from_fn(p, p, |i, j| gram[(i.max(j), i.min(j))]);
    let (b, factor) = ridge_solve(gram.as_ref(), rhs.as_ref(), 1e-10 * mean_diag)
        .with_context(|| format!("NT normal equations (p = {p})"))?;
    let condition = factor.info()?.condition_number;
    let mut err = 0.0;
    let mut done = 0;
    while done < n_test {
        let rows = chunk.min(n_test - done);
        let x = sphere_points(&mut rng, rows, d);
        let phi = features.nt_features(&Activation::Relu, x.as_ref(), Par::Seq)?;
        let y = target.values(x.as_ref())?;
        let mut pred = Mat::<f64>::zeros(rows, 1);
        matmul(
            pred.as_mut(),
            Accum::Replace,
            phi.as_ref(),
            b.as_ref(),
            1.0,
            Par::Seq,
        );
        for i in 0..rows {
            err += (pred[(i, 0)] - y[(i, 0)]).powi(2);
        }
        done += rows;
    }
    Ok((err / n_test as f64, condition))
}

fn unit_rows(rng: &mut ChaCha8Rng, m: usize, d: usize) -> Mat<f64> {
    let x = sphere_points(rng, m, d);
    let s = 1.0 / (d as f64).sqrt();
    Mat::from_fn(m, d, |i, j| x[(i, j)] * s)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Mean over repetitions of results laid out as [point][rep].
fn mean_by_point(values: &[f64], points: usize, reps: usize) -> Vec<f64> {
    (0..points)
        .map(|p| mean(&values[p * reps..(p + 1) * reps]))
        .collect()
}

/// The value at grid point `target`, if present.
fn at(grid: &[usize], values: &[f64], target: usize) -> Option<f64> {
    grid.iter().position(|&g| g == target).map(|i| values[i])
}

impl Experiment for Staircase {
    fn id(&self) -> &'static str {
        "staircase"
    }

    fn title(&self) -> &'static str {
        "The staircase: one polynomial degree per power of d"
    }

    fn source(&self) -> &'static str {
        "seed 004 Thm 1 (Ghorbani, Mei, Misiakiewicz & Montanari 2021, arXiv:1904.12191)"
    }

    fn statement(&self) -> &'static str {
        "Example: One example of which we can prove a generalization bound is: $x_i \\sim \\sqrt{d} \\cdot \\mathbb{S}^{d-1}$ \
and $y_i = f(x_i)$ for some arbitrary f such that $\\|f\\|_{L^2} = 1$. And we have the following theorems.\n\n\
Theorem 1 (informal version of [GMMM21]). *For any rotationally invariant kernel with non-vanishing Hermite \
coefficients at all degrees, if $d^{l+\\delta} \\ll n \\ll d^{l+1-\\delta}$ for integer l and small constant δ , \
then for any sufficiently small $\\lambda > 0$, kernel ridge regression achieves test loss*\n\n\
$$\\|P_{>l} f^*\\|^2 + o_d(1),$$\n\n\
where $P_{>l}$ is the projection to orthogonal complement of subspace of degree- $\\leq l$ polynomials."
    }

    fn run(&self, ctx: &Context<'_>) -> anyhow::Result<Findings> {
        // KRR n-sweep at d = 64: the δ = 1/4 windows of l = 0, 1 end at d^1.75 ≈ 1448 (quick stops
        // there); default continues to n = d² = 4096 to show the descent towards ‖P_>2 f*‖². The
        // l = 2 window [d^2.25, d^2.75] is out of reach at this d (full goes to d^2.5).
        let d_krr: usize = 64;
        let dk = d_krr as f64;
        let n_max = ctx.scale.pick(dk.powf(1.75), dk * dk, dk.powf(2.5));
        let reps: usize = ctx.scale.pick(3, 3, 5);
        let n_test: usize = ctx.scale.pick(2000, 4000, 8000);
        // Dimensions of the plateau-against-d check at n = d^(l+1/2), l = 0, 1. Its monotonicity
        // part needs many repetitions to rise above the sampling noise, so quick does not run it.
        let trend_dims: Vec<usize> = ctx.scale.pick(
            vec![],
            vec![10, 20, 40, 80, 160],
            vec![10, 20, 40, 80, 160, 320],
        );
        let trend_reps: usize = ctx.scale.pick(0, 12, 20);
        // l = 0 uses n ≤ d^0.5 samples: cheap, and its error fluctuates like a χ² with n degrees of
        // freedom, so it gets 8× the repetitions.
        let reps_for = |l: usize| if l == 0 { 8 * trend_reps } else { trend_reps };
        let max_trend_reps = 8 * trend_reps;
        // RF (exact population error, cheap) and NT (least squares on samples_per_param·Nd samples,
        // the costly part) use their own d.
        let d_rf: usize = ctx.scale.pick(20, 20, 30);
        let d_nt: usize = ctx.scale.pick(10, 20, 30);
        let rf_reps: usize = ctx.scale.pick(3, 3, 5);
        let nt_reps: usize = ctx.scale.pick(2, 2, 5);
        let nt_samples_per_param: usize = ctx.scale.pick(40, 40, 80);
        let nt_test: usize = ctx.scale.pick(8000, 10000, 20000);
        let drf = d_rf as f64;
        let dnt = d_nt as f64;
        // RF at n = ∞: N up to d^2.5 (full d^2.75); NT (Nd parameters): N up to d^1.5 (full d^1.75).
        let rf_max = ctx.scale.pick(drf.powf(2.5), drf.powf(2.5), drf.powf(2.75));
        let nt_max = ctx.scale.pick(dnt.powf(1.5), dnt.powf(1.5), dnt.powf(1.75));
        let centre = |d: f64, l: usize| d.powf(l as f64 + 0.5).round() as usize;
        let krr_grid = log_grid(
            2.0,
            n_max,
            ctx.scale.pick(10, 14, 20),
            &[centre(dk, 0), centre(dk, 1), centre(dk, 2)],
        );
        let rf_grid = log_grid(
            1.0,
            rf_max,
            ctx.scale.pick(10, 14, 18),
            &[centre(drf, 0), centre(drf, 1), centre(drf, 2)],
        );
        let nt_grid = log_grid(
            1.0,
            nt_max,
            ctx.scale.pick(7, 9, 11),
            &[centre(dnt, 0), centre(dnt, 1)],
        );

        // Gegenbauer coefficients: ReLU (RF features) and the two NT kernels.
        // ξ_k = E[σ(√d s)P_k(s)] for σ = ReLU and ⟨w, x⟩ = √d·s (‖w‖ = 1, x ∈ √d·S^{d−1}).
        let xi = relu_coefficients(d_rf, DEGREE_CUTOFF);
        // Cross-check of the closed form against the Funk–Hecke quadrature. The quadrature
        // (Gauss–Legendre in θ) converges only like nodes^(−2) across the kink of σ at s = 0:
        // with 2¹⁵ nodes the largest gap over k ≤ 30 is 1.8e-8·ξ_0 at d = 20 (8.5e-9·ξ_0 at d = 10).
        let xi_quadrature = funk_hecke(d_rf, DEGREE_CUTOFF, |s| (drf.sqrt() * s).max(0.0))?;
        let xi_gap = xi
            .iter()
            .zip(&xi_quadrature)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if xi_gap.is_nan() || xi_gap > 1e-6 * xi[0] {
            return Err(anyhow!(
                "ReLU Gegenbauer coefficients: closed form and quadrature differ by {xi_gap:e} (ξ_0 = {})",
                xi[0]
            ));
        }
        let h_bias = kernel_coefficients(d_krr, 5, krr_kernel)?;
        // The closed form used for the kernel matrices against the library's dual activation
        // (both are a handful of correctly rounded operations: agreement to ~1e-15).
        let kernel_gap = (0..=2000)
            .map(|i| {
                let rho = -1.0 + i as f64 / 1000.0;
                (krr_kernel(rho) - krr_kernel_closed_form(rho)).abs()
            })
            .fold(0.0, f64::max);
        if kernel_gap.is_nan() || kernel_gap > 1e-12 {
            return Err(anyhow!(
                "closed-form regression kernel differs from the dual activation by {kernel_gap:e}"
            ));
        }
        let h_plain = kernel_coefficients(d_krr, 5, plain_nt_kernel)?;

        // Monte-Carlo check of ‖f*‖² = 1 (and of the Gegenbauer normalisation).
        let mut rng = ctx.rng(1);
        let check_points = ctx.scale.pick(20_000, 50_000, 200_000);
        let xs = sphere_points(&mut rng, check_points, d_krr);
        let ys = Target::new(d_krr)?.values(xs.as_ref())?;
        let sq: Vec<f64> = (0..check_points).map(|i| ys[(i, 0)].powi(2)).collect();
        let norm_mc = mean(&sq);
        let norm_se = (sq.iter().map(|v| (v - norm_mc).powi(2)).sum::<f64>()
            / ((check_points - 1) * check_points) as f64)
            .sqrt();

        // Work list: KRR (n, rep), RF (N, rep), NT (N, rep); heavy tasks first.
        #[derive(Clone, Copy)]
        enum Task {
            Krr(usize, usize),
            Rf(usize, usize),
            Nt(usize, usize),
            Trend(usize, usize, usize),
        }
        let mut work: Vec<(f64, Task)> = Vec::new();
        for (i, &n) in krr_grid.iter().enumerate() {
            for r in 0..reps {
                work.push(((n as f64).powi(3), Task::Krr(i, r)));
            }
        }
        for (i, &nn) in rf_grid.iter().enumerate() {
            for r in 0..rf_reps {
                work.push(((nn as f64).powi(3), Task::Rf(i, r)));
            }
        }
        for (i, &nn) in nt_grid.iter().enumerate() {
            for r in 0..nt_reps {
                let p = (nn * d_nt) as f64;
                work.push((p * p * p * nt_samples_per_param as f64, Task::Nt(i, r)));
            }
        }
        for (i, &dd) in trend_dims.iter().enumerate() {
            for l in 0..=1usize {
                let n = centre(dd as f64, l);
                for r in 0..reps_for(l) {
                    let cost = (n as f64).powi(3) + (n * n_test * dd) as f64;
                    work.push((cost, Task::Trend(i, l, r)));
                }
            }
        }
        // Stable order by decreasing cost (ties keep the construction order).
        work.sort_by(|a, b| b.0.total_cmp(&a.0));
        let total_cost: f64 = work.iter().map(|w| w.0).sum();
        let done = std::sync::Mutex::new(0.0f64);
        let outcomes: Vec<anyhow::Result<(f64, f64, f64)>> = work
            .par_iter()
            .map(|&(cost, task)| {
                let r = match task {
                    Task::Krr(i, r) => krr_error(
                        ctx.task_seed((i * reps + r) as u64),
                        d_krr,
                        krr_grid[i],
                        n_test,
                    ),
                    Task::Rf(i, r) => {
                        // Nested neurons: one weight matrix per repetition, first N rows.
                        let mut rng =
                            ChaCha8Rng::seed_from_u64(ctx.task_seed(1_000_000 + r as u64));
                        let max_width = *rf_grid.last().unwrap_or(&1);
                        let w = unit_rows(&mut rng, max_width, d_rf);
                        rf_population_error(w.as_ref().subrows(0, rf_grid[i]), &xi)
                            .map(|(e, c)| (e, f64::NAN, c))
                    }
                    Task::Trend(i, l, r) => krr_error(
                        ctx.task_seed(4_000_000 + ((i * 2 + l) * max_trend_reps + r) as u64),
                        trend_dims[i],
                        centre(trend_dims[i] as f64, l),
                        n_test,
                    ),
                    Task::Nt(i, r) => {
                        let mut rng =
                            ChaCha8Rng::seed_from_u64(ctx.task_seed(2_000_000 + r as u64));
                        let max_width = *nt_grid.last().unwrap_or(&1);
                        let w = unit_rows(&mut rng, max_width, d_nt);
                        nt_large_sample_error(
                            ctx.task_seed(3_000_000 + (i * reps + r) as u64),
                            w.as_ref().subrows(0, nt_grid[i]),
                            nt_samples_per_param,
                            nt_test,
                        )
                        .map(|(e, c)| (e, f64::NAN, c))
                    }
                };
                let mut g = done.lock().unwrap_or_else(|e| e.into_inner());
                *g += cost;
                (ctx.progress)(*g / total_cost);
                r
            })
            .collect();
        let mut krr_raw = vec![0.0; krr_grid.len() * reps];
        let mut rf_raw = vec![0.0; rf_grid.len() * rf_reps];
        let mut nt_raw = vec![0.0; nt_grid.len() * nt_reps];
        let mut trend_raw = vec![0.0; trend_dims.len() * 2 * max_trend_reps];
        let mut krr_ridge_raw = vec![0.0; krr_grid.len() * reps];
        let mut trend_ridge_raw = vec![f64::NAN; trend_dims.len() * 2 * max_trend_reps];
        // Condition-number range [min, max] of the solves of each model: KRR (K + λI at the
        // chosen λ, n-sweep and d-trend), RF population Gram, NT normal equations (+ jitter).
        let mut conditions = [[f64::INFINITY, 0.0f64]; 3];
        for ((_, task), outcome) in work.iter().zip(outcomes) {
            let (v, ridge, condition) = outcome?;
            let kind = match *task {
                Task::Krr(..) | Task::Trend(..) => 0,
                Task::Rf(..) => 1,
                Task::Nt(..) => 2,
            };
            conditions[kind][0] = conditions[kind][0].min(condition);
            conditions[kind][1] = conditions[kind][1].max(condition);
            match *task {
                Task::Krr(i, r) => {
                    krr_raw[i * reps + r] = v;
                    krr_ridge_raw[i * reps + r] = ridge;
                }
                Task::Trend(i, l, r) => {
                    trend_raw[(i * 2 + l) * max_trend_reps + r] = v;
                    trend_ridge_raw[(i * 2 + l) * max_trend_reps + r] = ridge;
                }
                Task::Rf(i, r) => rf_raw[i * rf_reps + r] = v,
                Task::Nt(i, r) => nt_raw[i * nt_reps + r] = v,
            }
        }
        let krr = mean_by_point(&krr_raw, krr_grid.len(), reps);
        let rf = mean_by_point(&rf_raw, rf_grid.len(), rf_reps);
        let nt = mean_by_point(&nt_raw, nt_grid.len(), nt_reps);
        // trend[l][i]: mean error at d = trend_dims[i], n = d^(l+1/2).
        let trend_means: Vec<f64> = (0..trend_dims.len() * 2)
            .map(|c| {
                let start = c * max_trend_reps;
                mean(&trend_raw[start..start + reps_for(c % 2)])
            })
            .collect();
        let trend_se: Vec<f64> = (0..trend_dims.len() * 2)
            .map(|c| {
                let start = c * max_trend_reps;
                let v = &trend_raw[start..start + reps_for(c % 2)];
                let m = mean(v);
                (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / ((v.len() - 1) * v.len()) as f64)
                    .sqrt()
            })
            .collect();
        let trend: Vec<Vec<f64>> = (0..=1)
            .map(|l| {
                (0..trend_dims.len())
                    .map(|i| trend_means[i * 2 + l])
                    .collect()
            })
            .collect();
        let krr_se: Vec<f64> = (0..krr_grid.len())
            .map(|p| {
                let v = &krr_raw[p * reps..(p + 1) * reps];
                let m = mean(v);
                (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / ((reps - 1).max(1) * reps) as f64)
                    .sqrt()
            })
            .collect();

        // Claims.
        let mut claims = Vec::new();
        claims.push(Claim::check(
            "target-norm",
            "‖f*‖² = Σ_k β_k² = 1 for the normalised Gegenbauer components (Monte Carlo on fresh x)",
            norm_mc,
            "1",
            format!("|MC − 1| ≤ 4 standard errors (SE = {norm_se:.2e}, {check_points} points)"),
            (norm_mc - 1.0).abs() <= 4.0 * norm_se,
        ));
        let min_bias_coeff = h_bias.iter().cloned().fold(f64::INFINITY, f64::min);
        claims.push(Claim::check(
            "kernel-non-vanishing-coefficients",
            "the regression kernel has non-vanishing coefficients at all degrees (Thm 1's hypothesis), checked for degrees 0–5",
            min_bias_coeff,
            "> 0",
            format!(
                "min_k≤5 h_k > 1e-8 (d = {d_krr}; the plain ReLU NT kernel has |h_3| = {:.1e}, |h_5| = {:.1e}: it violates the hypothesis)",
                h_plain[3].abs(),
                h_plain[5].abs()
            ),
            min_bias_coeff > 1e-8,
        ));
        let mut plateau_rows = Vec::new();
        for l in 0..=2usize {
            let expected = tail_energy(l);
            let lo = dk.powf(l as f64 + PLATEAU_DELTA);
            let hi = dk.powf(l as f64 + 1.0 - PLATEAU_DELTA).min(n_max + 0.5);
            let window: Vec<(usize, f64)> = krr_grid
                .iter()
                .zip(&krr)
                .filter(|(g, _)| (**g as f64) >= lo && (**g as f64) <= hi)
                .map(|(&g, &e)| (g, e))
                .collect();
            if window.is_empty() {
                continue;
            }
            let mut sorted: Vec<f64> = window.iter().map(|w| w.1).collect();
            sorted.sort_by(f64::total_cmp);
            let median = if sorted.len() % 2 == 1 {
                sorted[sorted.len() / 2]
            } else {
                0.5 * (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2])
            };
            let window_dev = window
                .iter()
                .map(|(_, e)| (e - expected).abs())
                .fold(0.0, f64::max);
            let centre_n = centre(dk, l);
            let centre_error = at(&krr_grid, &krr, centre_n).unwrap_or(f64::NAN);
            let truncated = if hi < dk.powf(l as f64 + 1.0 - PLATEAU_DELTA) {
                " (window cut at this scale's n_max)"
            } else {
                ""
            };
            plateau_rows.push(json!({"l": l, "window": [lo, hi], "n": window.iter().map(|w| w.0).collect::<Vec<_>>(),
                "errors": window.iter().map(|w| w.1).collect::<Vec<_>>(), "median": median,
                "expected": expected, "max_deviation_in_window": window_dev,
                "centre_n": centre_n, "centre_error": centre_error}));
            claims.push(Claim::check(
                &format!("krr-plateau-l{l}"),
                &format!("KRR test error ≈ ‖P_>{l} f*‖² for d^({l}+δ) ≪ n ≪ d^({l}+1−δ)"),
                median,
                format!("{expected:.4}"),
                format!(
                    "|median − ‖P_>{l}f*‖²| ≤ {TOLERANCE}, median over the {} grid points n ∈ [d^({l}+{PLATEAU_DELTA}), d^({l}+1−{PLATEAU_DELTA})] = [{lo:.0}, {hi:.0}]{truncated} of the mean test error (d = {d_krr}, validated ridge); at the centre n = {centre_n}: {centre_error:.3}; max deviation in the window: {window_dev:.3}",
                    window.len()
                ),
                (median - expected).abs() <= TOLERANCE,
            ));
        }
        let mut trend_rows = Vec::new();
        // The against-d claims are not run at quick scale (no trend dimensions).
        for l in (0..=1usize).filter(|_| !trend_dims.is_empty()) {
            let expected = tail_energy(l);
            let deviations: Vec<f64> = trend[l].iter().map(|e| (e - expected).abs()).collect();
            let dims_f: Vec<f64> = trend_dims.iter().map(|&v| v as f64).collect();
            let rho = spearman(&dims_f, &deviations)
                .map_err(|e| anyhow!("Spearman of the plateau deviations: {e}"))?;
            let last = *deviations.last().unwrap_or(&f64::NAN);
            for (i, &dd) in trend_dims.iter().enumerate() {
                trend_rows.push(json!({"l": l, "d": dd, "n": centre(dd as f64, l),
                    "error": trend[l][i], "deviation": deviations[i]}));
            }
            claims.push(Claim::check(
                &format!("krr-plateau-l{l}-as-d-grows"),
                &format!("the deviation from ‖P_>{l} f*‖² is o_d(1) (Thm 1) at n = d^({l}+1/2)"),
                last,
                format!("≤ {TOLERANCE} at d = {}", trend_dims.last().copied().unwrap_or(0)),
                format!(
                    "|error − ‖P_>{l}f*‖²| at n = d^({l}+1/2) ≤ {TOLERANCE} at the largest d = {} and decreasing in d over d ∈ {trend_dims:?} (Spearman ρ(d, deviation) = {rho:.2} ≤ −0.8; deviations {})",
                    trend_dims.last().copied().unwrap_or(0),
                    deviations.iter().map(|v| format!("{v:.3}")).collect::<Vec<_>>().join(", ")
                ),
                last <= TOLERANCE && rho <= -0.8,
            ));
        }
        let mut step_rows = Vec::new();
        for l in 0..=2usize {
            let nn = centre(drf, l);
            if let Some(v) = at(&rf_grid, &rf, nn) {
                let expected = tail_energy(l);
                step_rows.push(
                    json!({"model": "RF", "l": l, "N": nn, "error": v, "expected": expected}),
                );
                claims.push(Claim::check(
                    &format!("rf-step-l{l}"),
                    &format!(
                        "RF (n = ∞) error ≈ ‖P_>{l} f*‖² for d^{l} ≪ N ≪ d^({l}+1) (GMMM Thm 1)"
                    ),
                    v,
                    format!("{expected:.4}"),
                    format!(
                        "|error − ‖P_>{l}f*‖²| ≤ {TOLERANCE} at N = d^({l}+1/2) = {nn} (d = {d_rf})"
                    ),
                    (v - expected).abs() <= TOLERANCE,
                ));
            }
        }
        for l in 0..=1usize {
            let nn = centre(dnt, l);
            if let Some(v) = at(&nt_grid, &nt, nn) {
                let expected = tail_energy(l + 1);
                step_rows.push(
                    json!({"model": "NT", "l": l, "N": nn, "error": v, "expected": expected}),
                );
                claims.push(Claim::check(
                    &format!("nt-step-l{l}"),
                    &format!("NT (n = ∞) error ≈ ‖P_>{} f*‖² for d^{l} ≪ N ≪ d^({l}+1) (GMMM Thm 2)", l + 1),
                    v,
                    format!("{expected:.4}"),
                    format!(
                        "|error − ‖P_>{}f*‖²| ≤ {TOLERANCE} at N = d^({l}+1/2) = {nn} (d = {d_nt}; least squares on {nt_samples_per_param}·Nd samples)",
                        l + 1
                    ),
                    (v - expected).abs() <= TOLERANCE,
                ));
            }
        }

        // Figures.
        let levels = |x_lo: f64, x_hi: f64, chart: Chart| {
            let mut chart = chart;
            for l in 0..=3usize {
                chart = chart.with(Series::line(
                    format!("‖P_>{l} f*‖²"),
                    vec![
                        (x_lo, tail_energy(l).max(1e-3)),
                        (x_hi, tail_energy(l).max(1e-3)),
                    ],
                ));
            }
            chart
        };
        let (fig1_abs, fig1_rel) = ctx.figure_path("krr.svg");
        let s = Series::line_points(
            format!("KRR test error, d = {d_krr}"),
            krr_grid
                .iter()
                .zip(&krr)
                .map(|(&n, &e)| (n as f64, e))
                .collect(),
        )
        .with_error_bars(
            krr.iter()
                .zip(&krr_se)
                .map(|(&e, &se)| (e - 2.0 * se, e + 2.0 * se))
                .collect(),
        );
        let chart = Chart::new(
            format!("Kernel ridge regression staircase (d = {d_krr}; n = d, d², d³ at log n / log d = 1, 2, 3)"),
            "n (training samples)",
            "test error / ‖f*‖²",
        )
        .scales(AxisScale::Log, AxisScale::Linear)
        .with(s);
        let chart = levels(krr_grid[0] as f64, n_max, chart);
        render_svg(&chart, &fig1_abs)?;

        let (fig2_abs, fig2_rel) = ctx.figure_path("rf-nt.svg");
        let s_rf = Series::line_points(
            "RF (n = ∞, exact population error)",
            rf_grid
                .iter()
                .zip(&rf)
                .map(|(&n, &e)| (n as f64, e))
                .collect(),
        );
        let s_nt = Series::line_points(
            "NT (n = ∞, large-sample least squares)",
            nt_grid
                .iter()
                .zip(&nt)
                .map(|(&n, &e)| (n as f64, e))
                .collect(),
        );
        let chart2 = Chart::new(
            format!("RF (d = {d_rf}) and NT (d = {d_nt}) models against N"),
            "N (neurons)",
            "test error / ‖f*‖²",
        )
        .scales(AxisScale::Log, AxisScale::Linear)
        .with(s_rf)
        .with(s_nt);
        let chart2 = levels(1.0, rf_max, chart2);
        render_svg(&chart2, &fig2_abs)?;

        // Tables.
        let mut table = String::new();
        writeln!(
            table,
            "Gegenbauer coefficients h_k (d = {d_krr}) of the regression kernel and of the plain ReLU NT kernel:\n"
        )?;
        writeln!(
            table,
            "| k | h_k (NT with bias, used) | h_k (plain ReLU NT) |\n|---|---|---|"
        )?;
        for k in 0..=5 {
            writeln!(table, "| {k} | {:.3e} | {:.3e} |", h_bias[k], h_plain[k])?;
        }
        writeln!(
            table,
            "\nKRR (d = {d_krr}, ridge chosen by validation from {RIDGES:?}, {reps} repetitions, {n_test} test points):\n"
        )?;
        writeln!(
            table,
            "| n | log n / log d | test error | ± SE | chosen ridges |\n|---|---|---|---|---|"
        )?;
        for (p, ((&n, &e), &se)) in krr_grid.iter().zip(&krr).zip(&krr_se).enumerate() {
            writeln!(
                table,
                "| {n} | {:.2} | {e:.4} | {se:.4} | {} |",
                (n as f64).ln() / dk.ln(),
                krr_ridge_raw[p * reps..(p + 1) * reps]
                    .iter()
                    .map(|r| format!("{r:e}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        if !trend_dims.is_empty() {
            writeln!(
                table,
                "\nKRR at the window centres n = d^(l+1/2) against d ({} repetitions for l = 0, {trend_reps} for l = 1):\n",
                reps_for(0)
            )?;
            writeln!(
                table,
                "| d | n (l = 0) | error (expected 1) ± SE | n (l = 1) | error (expected 2/3) ± SE |\n|---|---|---|---|---|"
            )?;
        }
        for (i, &dd) in trend_dims.iter().enumerate() {
            writeln!(
                table,
                "| {dd} | {} | {:.4} ± {:.4} | {} | {:.4} ± {:.4} |",
                centre(dd as f64, 0),
                trend[0][i],
                trend_se[i * 2],
                centre(dd as f64, 1),
                trend[1][i],
                trend_se[i * 2 + 1]
            )?;
        }
        writeln!(
            table,
            "\nRF (exact population error, d = {d_rf}) and NT (large-sample, d = {d_nt}) against N:\n"
        )?;
        writeln!(
            table,
            "| model | N | log N / log d | error |\n|---|---|---|---|"
        )?;
        for (&n, &e) in rf_grid.iter().zip(&rf) {
            writeln!(
                table,
                "| RF | {n} | {:.2} | {e:.4} |",
                (n as f64).ln() / drf.ln()
            )?;
        }
        for (&n, &e) in nt_grid.iter().zip(&nt) {
            writeln!(
                table,
                "| NT | {n} | {:.2} | {e:.4} |",
                (n as f64).ln() / dnt.ln()
            )?;
        }

        let data = json!({
            "d_krr": d_krr, "d_rf": d_rf, "d_nt": d_nt, "beta_sq": BETA_SQ, "ridges": RIDGES, "n_validation": N_VALIDATION,
            "plateau_delta": PLATEAU_DELTA, "krr_chosen_ridge": krr_ridge_raw,
            "condition_numbers": {"krr": conditions[0], "rf_population_gram": conditions[1], "nt_normal_equations": conditions[2]},
            "trend_chosen_ridge": trend_ridge_raw.iter().map(|r| if r.is_nan() { None } else { Some(*r) }).collect::<Vec<_>>(), "repetitions": reps,
            "krr": {"n": krr_grid, "error": krr, "se": krr_se, "raw": krr_raw},
            "rf": {"N": rf_grid, "error": rf, "raw": rf_raw},
            "nt": {"N": nt_grid, "error": nt, "raw": nt_raw, "samples_per_param": nt_samples_per_param},
            "plateaus": plateau_rows, "steps": step_rows, "plateau_vs_d": trend_rows,
            "h_bias": h_bias, "h_plain": h_plain, "relu_xi": xi,
            "target_norm_mc": norm_mc, "target_norm_se": norm_se,
        });
        ctx.write_json("curves.json", &data)?;

        let setup = format!(
            "x uniform on √d·S^(d−1); f*(x) = Σ_(k=1..3) β_k √B(d,k) P_k(x_k/√d) with β_k² = 1/3 (so \
‖P_>0 f*‖² = 1, ‖P_>1‖² = 2/3, ‖P_>2‖² = 1/3, ‖P_>3‖² = 0), P_k the dimension-d Gegenbauer polynomial \
(three-term recurrence, P_k(1) = 1) and B(d,k) the dimension of degree-k harmonics; no label noise; \
errors are normalised by ‖f*‖² = 1. **KRR** (d = {d_krr}): kernel h(ρ) = (1+ρ)(π − arccos((1+ρ)/2))/(2π), \
the NT kernel of a ReLU layer with a trained N(0,1) bias — chosen because the bias-free ReLU RF and NT \
kernels have *zero* Gegenbauer coefficients at every odd degree ≥ 3 (σ = x/2 + even part, see the \
table), violating Thm 1's hypothesis and making the degree-3 part of f* unlearnable; ridge λ chosen per run from {RIDGES:?} by the test error on a separate validation \
sample of {N_VALIDATION} fresh points (then refitted and scored on the test points) \
(K(x,x) = 1); n on a log grid up to {n_max:.0} plus the centres d^(l+1/2); {reps} repetitions; test \
error on {n_test} fresh points. **RF at n = ∞** (d = {d_rf}): σ = ReLU, w_i uniform on the unit sphere \
(GMMM's convention, so the population Gram U_ij = E_x σ(⟨w_i,x⟩)σ(⟨w_j,x⟩) depends on ⟨w_i,w_j⟩ only), \
exact population error ‖f*‖² − vᵀU⁻¹v from the Gegenbauer coefficients ξ_k of ReLU (Simpson quadrature, \
degrees ≤ {DEGREE_CUTOFF} explicit, the remainder ‖σ‖² − Σ ξ_k²B_k on the diagonal). **NT at n = ∞** \
(d = {d_nt}): the model Σ_i ⟨b_i, x⟩σ'(⟨w_i,x⟩), least squares on {nt_samples_per_param}·Nd fresh samples \
(so the test error is inflated by ≈ Nd/(M − Nd) ≈ {:.0}% of its value), test error on {nt_test} fresh \
points. Bias-free ReLU has no degree-3 component in either RF or NT features, so only the steps that do \
not require degree 3 are checked (RF l = 0, 1, 2; NT l = 0, 1). Claims are evaluated at the window \
centres n, N = d^(l+1/2); the δ = 1/4 window maxima are in results.json.\n\nCondition numbers of the solves (block-Lanczos estimates from the Cholesky factor, min–max over the runs): KRR K + λI at the chosen λ {:.3e}–{:.3e}; RF population Gram U {:.3e}–{:.3e}; NT normal equations ΦᵀΦ + 10⁻¹⁰·mean diag {:.3e}–{:.3e}.",
            100.0 / (nt_samples_per_param as f64 - 1.0),
            conditions[0][0],
            conditions[0][1],
            conditions[1][0],
            conditions[1][1],
            conditions[2][0],
            conditions[2][1],
        );

        let mut interpretation = String::new();
        write!(
            interpretation,
            "The KRR curve descends in steps: error ≈ {:.2} at n = d^0.5, {:.2} at n = d^1.5 and {} at n = d^2.5. ",
            at(&krr_grid, &krr, centre(dk, 0)).unwrap_or(f64::NAN),
            at(&krr_grid, &krr, centre(dk, 1)).unwrap_or(f64::NAN),
            at(&krr_grid, &krr, centre(dk, 2))
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "(not reached at this scale)".into())
        )?;
        write!(
            interpretation,
            "At finite d the plateaus are tilted: for n just above d^l the unlearned part ‖P_>l f*‖² acts as \
noise and adds a variance ≈ ‖P_>l f*‖²·B(d,l)/n, while degree l+1 starts to be learned once n is a \
fraction of B(d,l+1) ≈ d^(l+1)/(l+1)!, so the flat stretch is narrower than [d^l, d^(l+1)] and both \
effects are o_d(1) only as d → ∞. The RF population error (no sampling noise) shows the cleanest steps, \
and NT sits one degree ahead of RF at the same N, as GMMM's Thms 1–2 state. "
        )?;
        // Fitted d-exponent of the deviation at the window centres (diagnostic, not a claim).
        for l in 0..=1usize {
            let dims_f: Vec<f64> = trend_dims.iter().map(|&v| v as f64).collect();
            let dev: Vec<f64> = trend[l]
                .iter()
                .map(|e| (e - tail_energy(l)).abs().max(1e-12))
                .collect();
            if let Ok(fit) = crate::reproduce::fit::linear_fit(
                &dims_f.iter().map(|v| v.ln()).collect::<Vec<_>>(),
                &dev.iter().map(|v| v.ln()).collect::<Vec<_>>(),
            ) {
                write!(
                    interpretation,
                    "At n = d^({l}+1/2) the deviation from ‖P_>{l} f*‖² scales like d^{:.2} over d ∈ {trend_dims:?}. ",
                    fit.slope
                )?;
            }
        }
        let excess_centre = {
            let v = (2.0 / 3.0) / dk.sqrt();
            (1.0 / 3.0) * v / (1.0 / 3.0 + v)
        };
        let onset_centre = dk.powf(1.5) / harmonic_dim(d_krr, 2)?;
        write!(
            interpretation,
            "The ridge is chosen per run on a separate validation sample. That is legitimate for \
this claim: GMMM's lower bound holds for every kernel method, so no ridge can push the error \
below ‖P_>l f*‖² − o_d(1). A tuned ridge only removes variance, and it removes most of it at \
l = 0: a large ridge predicts ≈ 0 instead of fitting the sample mean. For l = 1 the unlearned \
‖P_>1 f*‖² = 2/3 acts as noise on the (d + 1)-dimensional degree-≤1 fit; even with the optimal \
ridge this leaves an excess of about s·v/(s + v), s = β₁² = 1/3, v = (2/3)·d/n, i.e. \
{excess_centre:.3} at the window centre n = d^1.5 for d = {d_krr} (≈ 0.05 only at d ≈ 150), and \
from ≈ 0.14 at the window's lower end to ≈ 0.03 at its upper end. Meanwhile degree 2 starts \
to be learned once n is a fraction of B(d, 2) ≈ d²/2 (n/B(d,2) = {onset_centre:.2} at the centre), \
which pulls the error down across the upper half of the window. The two finite-d effects tilt the \
plateau (window maximum deviation in results.json) and roughly cancel near its centre, so the \
window median is within the tolerance while the ends are not; both effects are o_d(1), the \
excess only like d^(−1/2) at the centre and d^(−1/4) at the lower end. At d = 24 (the previous \
setting) the same median was 0.730 and failed; d = {d_krr} is the largest d at which the window \
and n up to d² fit the time budget. The window-centre checks against d (up to d = 160 at default) \
test the o_d(1) statement directly; their monotonicity part needs many repetitions and is not run \
at quick scale. The l = 2 window [d^2.25, d^2.75] is beyond n = d² at this d and is not claimed \
(full scale reaches d^2.5). The 0.05 tolerance and δ = 1/4 are the issue's and are not changed. "
        )?;
        write!(
            interpretation,
            "The NT steps are measured by least squares on finitely many samples (inflating the error by ≈ Nd/(M − Nd)) and, for bias-free ReLU, can never capture degree 3, so the NT error at l = 1 sits slightly above ‖P_>2 f*‖² = 1/3. The seed's Thm 1 is \
the sample-size-limited half of GMMM (N = ∞, kernel methods fit at most degree l when \
d^(l+δ) ≤ n ≤ d^(l+1−δ)); the RF/NT steps checked here are the approximation-limited half (n = ∞, \
RF fits degree l and NT degree l + 1 when d^(l+δ) ≤ N ≤ d^(l+1−δ)), which the lecture text only \
alludes to."
        )?;

        Ok(Findings {
            setup,
            claims,
            figures: vec![fig1_rel, fig2_rel],
            tables: table,
            interpretation,
            data,
        })
    }
}

//! `single-neuron`: ReLU labels y = σ(⟨w*, x⟩) with Gaussian x are learned to high accuracy by
//! gradient descent on a single-neuron student with n = O(d) samples, linearly fast, while NTK
//! kernel regression with the same n is stuck at the degree-≤1 level (seed 004 Thm 4 and Fig. 3).
//!
//! Student f_w(x) = σ(⟨w, x⟩), empirical loss L̂(w) = (1/n)Σ(f_w(x_i) − y_i)², gradient
//!
//! $$ \nabla \hat L(w) = \frac{2}{n}\sum_i (\sigma(\langle w,x_i\rangle) - y_i)\,
//!    \mathbf 1\{\langle w,x_i\rangle > 0\}\, x_i , $$
//!
//! and, for x ~ N(0, I_d), the exact population error
//! E(σ(⟨w,x⟩) − σ(⟨w*,x⟩))² = ‖w‖²/2 + ‖w*‖²/2 − 2‖w‖‖w*‖κ₁(cos∠(w, w*)) with κ₁ the degree-1
//! arc-cosine kernel (Cho & Saul 2009), evaluated through `ntk_kernels::analytic::dual`.

use super::du_synthetic::{Conditioning, ConditioningRange};
use super::rf_nt_concentration::gaussian_matrix;
use crate::reproduce::experiment::{Claim, Context, Experiment, Findings};
use crate::reproduce::fit::median;
use crate::reproduce::fit::{linear_fit, spearman};
use crate::reproduce::plot::{AxisScale, Chart, Marker, Series, render_svg};
use anyhow::{Context as _, anyhow};
use faer::{Mat, MatRef, Par};
use ntk_kernels::Activation;
use ntk_kernels::analytic::dual;
use ntk_kernels::random_features::random_feature_kernels;
use ntk_kernels::regression::kernel_ridge;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rayon::prelude::*;
use serde_json::json;
use std::f64::consts::PI;
use std::fmt::Write as _;

pub struct SingleNeuron;

/// Samples per dimension for GD and for the kernel regression it is compared with (n = O(d)).
const SAMPLES_PER_DIM: usize = 4;
/// GD step size on L̂ = (1/n)Σ(f − y)² (the Hessian at w* is ≈ E[xxᵀ1{⟨w*,x⟩>0}]·2 = I, so η = 0.5
/// is well inside the stable range η < 2/λ_max).
const STEP: f64 = 0.5;
/// Kernel ridge (K(x, x) ≈ 1).
const RIDGE: f64 = 1e-4;

/// ‖P_{>l} σ‖² / ‖σ‖² for σ = ReLU and a standard Gaussian argument, from the Hermite
/// coefficients μ₀² = 1/(2π), μ₁² = 1/4, μ_k² = ((k−3)!!)²/(2π k!) for even k ≥ 2, 0 for odd k ≥ 3.
fn relu_tail_fraction(l: usize) -> f64 {
    let mut captured = 0.0;
    for k in 0..=l {
        captured += match k {
            0 => 1.0 / (2.0 * PI),
            1 => 0.25,
            k if k % 2 == 1 => 0.0,
            k => {
                let mut double_fact = 1.0;
                let mut j = k as i64 - 3;
                while j > 1 {
                    double_fact *= j as f64;
                    j -= 2;
                }
                let fact: f64 = (1..=k).map(|i| i as f64).product();
                double_fact * double_fact / (2.0 * PI * fact)
            }
        };
    }
    (0.5 - captured) / 0.5
}

/// Exact normalised population error of the student w against the teacher w* (x ~ N(0, I)).
fn population_error(w: &[f64], w_star: &[f64]) -> f64 {
    let q1: f64 = w.iter().map(|v| v * v).sum();
    let q2: f64 = w_star.iter().map(|v| v * v).sum();
    let c: f64 = w.iter().zip(w_star).map(|(a, b)| a * b).sum();
    let cross = dual(&Activation::Relu, q1, q2, c).nngp;
    ((0.5 * q1 + 0.5 * q2 - 2.0 * cross) / (0.5 * q2)).max(0.0)
}

struct GdRun {
    train_loss: Vec<f64>,
    test_error: Vec<f64>,
    final_test: f64,
    slope: f64,
    r_squared: f64,
    fit_range: (usize, usize),
}

/// Full-batch GD on the single-neuron student from w₀ ~ N(0, I_d/d).
fn gd_run(
    x: MatRef<'_, f64>,
    y: &[f64],
    w_star: &[f64],
    w0: Vec<f64>,
    steps: usize,
) -> anyhow::Result<GdRun> {
    let (n, d) = (x.nrows(), x.ncols());
    let mut w = w0;
    let mut train_loss = Vec::with_capacity(steps + 1);
    let mut test_error = Vec::with_capacity(steps + 1);
    let mut grad = vec![0.0; d];
    for _ in 0..=steps {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut loss = 0.0;
        for i in 0..n {
            let z: f64 = (0..d).map(|j| x[(i, j)] * w[j]).sum();
            let r = z.max(0.0) - y[i];
            loss += r * r;
            if z > 0.0 {
                for j in 0..d {
                    grad[j] += 2.0 * r * x[(i, j)] / n as f64;
                }
            }
        }
        loss /= n as f64;
        train_loss.push(loss);
        test_error.push(population_error(&w, w_star));
        if !loss.is_finite() {
            return Err(anyhow!("GD diverged (loss {loss})"));
        }
        if loss < 1e-28 {
            break;
        }
        for j in 0..d {
            w[j] -= STEP * grad[j];
        }
    }
    // Linear phase: from the first step with loss < 1e-2·L₀ to the last step with loss > 1e-26.
    let l0 = train_loss[0];
    let start = train_loss
        .iter()
        .position(|&l| l < 1e-2 * l0)
        .ok_or_else(|| anyhow!("GD did not reduce the loss 100-fold"))?;
    let end = train_loss
        .iter()
        .rposition(|&l| l > 1e-26)
        .unwrap_or(train_loss.len() - 1);
    if end < start + 10 {
        return Err(anyhow!("GD linear phase too short to fit ({start}..{end})"));
    }
    let t: Vec<f64> = (start..=end).map(|i| i as f64).collect();
    let logs: Vec<f64> = train_loss[start..=end].iter().map(|l| l.ln()).collect();
    let fit = linear_fit(&t, &logs).map_err(|e| anyhow!("linear fit of ln L̂: {e}"))?;
    let final_test = *test_error.last().unwrap_or(&f64::NAN);
    Ok(GdRun {
        train_loss,
        test_error,
        final_test,
        slope: fit.slope,
        r_squared: fit.r_squared,
        fit_range: (start, end),
    })
}

/// The NTK of the two-layer ReLU network (both layers trained, w ~ N(0, I/d)):
/// K = K^RF + K^NT = E σ(⟨w,x⟩)σ(⟨w,x'⟩) + (⟨x,x'⟩/d) E σ'σ'
/// (`ntk_kernels::random_features::random_feature_kernels`).
fn ntk_matrix(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> anyhow::Result<Mat<f64>> {
    let k = random_feature_kernels(&Activation::Relu, a, b, Par::Seq)?;
    Ok(&k.rf + &k.nt)
}

/// Normalised test error of NTK kernel ridge regression with `n` samples of the teacher, and the
/// conditioning of its solve (K + λI).
fn krr_error(
    seed: u64,
    w_star: &[f64],
    n: usize,
    n_test: usize,
) -> anyhow::Result<(f64, Conditioning)> {
    let d = w_star.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = gaussian_matrix(&mut rng, n, d, 1.0);
    let x_test = gaussian_matrix(&mut rng, n_test, d, 1.0);
    let label = |m: MatRef<'_, f64>| {
        Mat::from_fn(m.nrows(), 1, |i, _| {
            (0..d).map(|j| m[(i, j)] * w_star[j]).sum::<f64>().max(0.0)
        })
    };
    let y = label(x.as_ref());
    let y_test = label(x_test.as_ref());
    let k = ntk_matrix(x.as_ref(), x.as_ref())?;
    let k = Mat::from_fn(n, n, |i, j| 0.5 * (k[(i, j)] + k[(j, i)]));
    let k_test = ntk_matrix(x_test.as_ref(), x.as_ref())?;
    let pred = kernel_ridge(k.as_ref(), k_test.as_ref(), y.as_ref(), RIDGE, Par::Seq)
        .with_context(|| format!("NTK ridge regression at n = {n}"))?;
    let mse: f64 = (0..n_test)
        .map(|i| (pred.mean[(i, 0)] - y_test[(i, 0)]).powi(2))
        .sum::<f64>()
        / n_test as f64;
    let norm = 0.5 * w_star.iter().map(|v| v * v).sum::<f64>();
    Ok((mse / norm, Conditioning::from_info(&pred.info)))
}

fn unit_vector(rng: &mut ChaCha8Rng, d: usize) -> Vec<f64> {
    let g = gaussian_matrix(rng, 1, d, 1.0);
    let norm = (0..d).map(|j| g[(0, j)].powi(2)).sum::<f64>().sqrt();
    (0..d).map(|j| g[(0, j)] / norm).collect()
}

impl Experiment for SingleNeuron {
    fn id(&self) -> &'static str {
        "single-neuron"
    }

    fn title(&self) -> &'static str {
        "A single ReLU neuron learns ReLU labels with O(d) samples; kernel regression does not"
    }

    fn source(&self) -> &'static str {
        "seed 004 Thm 4 and Fig. 3 (Soltanolkotabi 2017, arXiv:1705.04591, Thm 1.1; Ghorbani et al. 2021, arXiv:1904.12191)"
    }

    fn statement(&self) -> &'static str {
        "We hereby also provide a simple negative example in which the kernel method does not suffice to conclude \
the empirical success of deep learning. Consider labels generated by $f(x) = \\text{ReLU}(\\langle w^*, x \\rangle)$. \
It is shown that polynomial regression (and by extension any kernel method, as well as GD in NTK regime) requires \
$d^{\\text{poly}(1/\\epsilon)}$ samples to learn to error ϵ . See Figure 3 for an illustration of the implication of \
Theorem 1 onto this example of ReLU labels. However, as suggested by the following theorem, a single-neuron student \
network should already suffice to learn this example.\n\n\
Theorem 4. With $O(d)$ samples, gradient descent for a one-hidden-layer student network with a single neuron \
converges exponentially quickly for this problem (for Gaussian inputs).\n\n\
This phenomenon is possibly due to that we have to choose $\\gamma \\propto \\frac{1}{N}$ to stay in the kernel \
regime. And this regime does not perfectly match the true dynamics which practical gradient method is really going \
through. We will talk about the scaling $\\gamma \\propto \\frac{1}{N^2}$ (a.k.a. the mean field regime) in next lecture.\n\n\
*Figure 3: Approximation Error in Kernel Regime for ReLU Labels*"
    }

    fn run(&self, ctx: &Context<'_>) -> anyhow::Result<Findings> {
        let d: usize = ctx.scale.pick(10, 20, 50);
        let seeds: usize = ctx.scale.pick(3, 5, 10);
        let steps: usize = ctx.scale.pick(3000, 4000, 8000);
        let n = SAMPLES_PER_DIM * d;
        let n_test: usize = ctx.scale.pick(2000, 4000, 8000);
        let df = d as f64;
        let n_max = ctx
            .scale
            .pick(4.0 * df * df, 4.0 * df * df, df.powi(3) / 4.0);
        let fig3_points: usize = ctx.scale.pick(8, 11, 14);
        let mut fig3_grid: Vec<usize> = (0..fig3_points)
            .map(|i| {
                let t = i as f64 / (fig3_points - 1) as f64;
                (2f64.ln() + t * (n_max.ln() - 2f64.ln())).exp().round() as usize
            })
            .chain(std::iter::once(n))
            .collect();
        fig3_grid.sort_unstable();
        fig3_grid.dedup();

        // GD runs and the kernel regression at the same n, one task per seed.
        let runs: Vec<anyhow::Result<(GdRun, f64, Conditioning)>> = (0..seeds)
            .into_par_iter()
            .map(|s| {
                let mut rng = ChaCha8Rng::seed_from_u64(ctx.task_seed(s as u64));
                let w_star = unit_vector(&mut rng, d);
                let x = gaussian_matrix(&mut rng, n, d, 1.0);
                let y: Vec<f64> = (0..n)
                    .map(|i| (0..d).map(|j| x[(i, j)] * w_star[j]).sum::<f64>().max(0.0))
                    .collect();
                let w0g = gaussian_matrix(&mut rng, 1, d, 1.0 / df.sqrt());
                let w0: Vec<f64> = (0..d).map(|j| w0g[(0, j)]).collect();
                let run = gd_run(x.as_ref(), &y, &w_star, w0, steps)
                    .with_context(|| format!("GD, seed {s}"))?;
                let (kernel, cond) = krr_error(ctx.task_seed(1000 + s as u64), &w_star, n, n_test)?;
                Ok((run, kernel, cond))
            })
            .collect();
        let runs: Vec<(GdRun, f64, Conditioning)> =
            runs.into_iter().collect::<anyhow::Result<_>>()?;
        let cond_same_n = ConditioningRange::new(runs.iter().map(|r| &r.2));
        (ctx.progress)(0.3);

        // Fig. 3: kernel regression error against n (one teacher per seed, median over seeds).
        let mut fig3_tasks = Vec::new();
        for (i, _) in fig3_grid.iter().enumerate() {
            for s in 0..seeds {
                fig3_tasks.push((i, s));
            }
        }
        let fig3_raw: Vec<anyhow::Result<(f64, Conditioning)>> = fig3_tasks
            .par_iter()
            .map(|&(i, s)| {
                let mut rng = ChaCha8Rng::seed_from_u64(ctx.task_seed(s as u64));
                let w_star = unit_vector(&mut rng, d);
                krr_error(
                    ctx.task_seed(100_000 + (i * seeds + s) as u64),
                    &w_star,
                    fig3_grid[i],
                    n_test,
                )
            })
            .collect();
        let (fig3_raw, fig3_cond): (Vec<f64>, Vec<Conditioning>) = fig3_raw
            .into_iter()
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let fig3_cond_range: Vec<ConditioningRange> = (0..fig3_grid.len())
            .map(|i| ConditioningRange::new(&fig3_cond[i * seeds..(i + 1) * seeds]))
            .collect();
        let cond_fig3 = ConditioningRange::new(&fig3_cond);
        let fig3: Vec<f64> = (0..fig3_grid.len())
            .map(|i| median(&fig3_raw[i * seeds..(i + 1) * seeds]))
            .collect();
        (ctx.progress)(0.95);

        let gd_tests: Vec<f64> = runs.iter().map(|r| r.0.final_test).collect();
        let kernel_tests: Vec<f64> = runs.iter().map(|r| r.1).collect();
        let slopes: Vec<f64> = runs.iter().map(|r| r.0.slope).collect();
        let r2: Vec<f64> = runs.iter().map(|r| r.0.r_squared).collect();
        let worst_gd = gd_tests.iter().cloned().fold(0.0, f64::max);
        let min_r2 = r2.iter().cloned().fold(f64::INFINITY, f64::min);
        let max_slope = slopes.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let contraction = median(&slopes).exp();
        let kernel_median = median(&kernel_tests);
        let kernel_min = kernel_tests.iter().cloned().fold(f64::INFINITY, f64::min);
        let level1 = relu_tail_fraction(1);
        let level2 = relu_tail_fraction(2);
        let rho = spearman(
            &fig3_grid.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            &fig3,
        )
        .map_err(|e| anyhow!("Spearman of the Fig. 3 curve: {e}"))?;
        let fig3_last = *fig3.last().unwrap_or(&f64::NAN);
        // The largest degree l whose Hermite tail still exceeds ε = 1e-3.
        let l_eps = (0..400usize)
            .take_while(|&l| relu_tail_fraction(l) > 1e-3)
            .last()
            .unwrap_or(0);

        let claims = vec![
            Claim::check(
                "gd-test-error",
                "GD on a single-neuron student learns ReLU labels from n = O(d) samples (Thm 4)",
                worst_gd,
                "< 1e-3",
                format!(
                    "worst normalised population test error E(f_w − f*)²/E f*² over {seeds} seeds after ≤ {steps} GD steps, n = {SAMPLES_PER_DIM}d = {n}, d = {d}: < 1e-3"
                ),
                worst_gd < 1e-3,
            ),
            Claim::check(
                "gd-linear-convergence",
                "GD converges exponentially quickly (Thm 4): ln L̂_t is linear in t",
                contraction,
                "per-step contraction < 1",
                format!(
                    "every seed's least-squares slope of ln L̂_t over its linear phase (L̂ < 1e-2·L̂₀ until 1e-26) is < 0 (max {max_slope:.3e}) with R² ≥ 0.99 (min {min_r2:.5}); measured = median per-step factor e^slope"
                ),
                max_slope < 0.0 && min_r2 >= 0.99,
            ),
            Claim::check(
                "ntk-same-n-error",
                "kernel regression (NTK) with the same n = O(d) samples stays at a much larger error",
                kernel_min,
                format!("≥ ‖P_>2 f*‖²/‖f*‖² = {level2:.4}"),
                format!(
                    "smallest normalised test error of NTK ridge regression (λ = {RIDGE}) over seeds at n = {n} ≥ {level2:.4}, the level no kernel method beats before n ≫ d³ (Thm 1); median {kernel_median:.3} vs ‖P_>1 f*‖²/‖f*‖² = {level1:.4}"
                ),
                kernel_min >= level2,
            ),
            Claim::check(
                "fig3-shape",
                "Fig. 3: kernel regression on ReLU labels improves with n but stays far from the error GD reaches with n = O(d)",
                fig3_last,
                "> 1e-3, Spearman(n, error) ≤ −0.9",
                format!(
                    "median error at n = {} (≈ {:.0}× GD's n) > 1e-3 (‖P_>l f*‖²/‖f*‖² > 1e-3 for every l ≤ {l_eps}, so Thm 1 needs n ≫ d^{} for it) and Spearman ρ(n, error) = {rho:.3} ≤ −0.9; the degree-2 level ‖P_>2 f*‖²/‖f*‖² = {level2:.4} is drawn in the figure",
                    fig3_grid.last().copied().unwrap_or(0),
                    fig3_grid.last().copied().unwrap_or(0) as f64 / n as f64,
                    l_eps + 1
                ),
                fig3_last > 1e-3 && rho <= -0.9,
            ),
        ];

        // Figures.
        let (fig1_abs, fig1_rel) = ctx.figure_path("gd.svg");
        let mut chart = Chart::new(
            format!("Single-neuron GD, d = {d}, n = {n}"),
            "GD step",
            "training loss / normalised test error",
        )
        .scales(AxisScale::Linear, AxisScale::Log);
        for (s, (run, _, _)) in runs.iter().enumerate() {
            let stride = (run.train_loss.len() / 200).max(1);
            chart = chart.with(Series::line(
                format!("train loss, seed {s}"),
                run.train_loss
                    .iter()
                    .enumerate()
                    .step_by(stride)
                    .map(|(t, &l)| (t as f64, l.max(1e-30)))
                    .collect(),
            ));
            if s == 0 {
                chart = chart.with(Series::line(
                    "test error, seed 0",
                    run.test_error
                        .iter()
                        .enumerate()
                        .step_by(stride)
                        .map(|(t, &l)| (t as f64, l.max(1e-30)))
                        .collect(),
                ));
            }
        }
        render_svg(&chart, &fig1_abs)?;

        let (fig2_abs, fig2_rel) = ctx.figure_path("fig3.svg");
        let s_k = Series::line_points(
            "NTK ridge regression (median over teachers)",
            fig3_grid
                .iter()
                .zip(&fig3)
                .map(|(&n, &e)| (n as f64, e))
                .collect(),
        );
        let mut chart2 = Chart::new(
            format!("Fig. 3: kernel regression on ReLU labels, d = {d}"),
            "n (training samples)",
            "test error / ‖f*‖²",
        )
        .scales(AxisScale::Log, AxisScale::Log)
        .with(s_k);
        let x_lo = fig3_grid[0] as f64;
        for l in [0usize, 1, 2, 4] {
            let v = relu_tail_fraction(l);
            chart2 = chart2.with(Series::line(
                format!("‖P_>{l} f*‖²/‖f*‖² = {v:.4}"),
                vec![(x_lo, v), (n_max, v)],
            ));
        }
        let mut s_gd = Series::scatter(
            format!("single-neuron GD at n = {n} (worst seed)"),
            vec![(n as f64, worst_gd.max(1e-16))],
        );
        s_gd.marker = Marker::Scatter;
        chart2 = chart2.with(s_gd);
        render_svg(&chart2, &fig2_abs)?;

        // Tables.
        let mut table = String::new();
        writeln!(
            table,
            "| seed | GD steps | GD test error | ln L̂ slope | R² | fitted steps | NTK KRR test error (n = {n}) | κ(K + λI) | λ_min | λ_max |\n|---|---|---|---|---|---|---|---|---|---|"
        )?;
        for (s, (run, kernel, cond)) in runs.iter().enumerate() {
            writeln!(
                table,
                "| {s} | {} | {:.2e} | {:.4} | {:.5} | {}–{} | {:.4} | {:.3e} | {:.3e} | {:.3e} |",
                run.train_loss.len() - 1,
                run.final_test,
                run.slope,
                run.r_squared,
                run.fit_range.0,
                run.fit_range.1,
                kernel,
                cond.condition_number,
                cond.lambda_min,
                cond.lambda_max
            )?;
        }
        writeln!(
            table,
            "\nFig. 3 data (median over {seeds} teachers; levels ‖P_>l f*‖²/‖f*‖²: l=0 {:.4}, l=1 {level1:.4}, l=2,3 {level2:.4}, l=4,5 {:.4}):\n",
            relu_tail_fraction(0),
            relu_tail_fraction(4)
        )?;
        writeln!(
            table,
            "| n | log n / log d | NTK KRR test error | κ(K + λI) over teachers | λ_min | λ_max |\n|---|---|---|---|---|---|"
        )?;
        for ((&nn, &e), c) in fig3_grid.iter().zip(&fig3).zip(&fig3_cond_range) {
            writeln!(
                table,
                "| {nn} | {:.2} | {e:.4} | {:.3e}–{:.3e} | {:.3e}–{:.3e} | {:.3e}–{:.3e} |",
                (nn as f64).ln() / df.ln(),
                c.condition_number.0,
                c.condition_number.1,
                c.lambda_min.0,
                c.lambda_min.1,
                c.lambda_max.0,
                c.lambda_max.1
            )?;
        }

        let data = json!({
            "d": d, "n": n, "seeds": seeds, "step": STEP, "ridge": RIDGE,
            "gd_test_error": gd_tests, "gd_slope": slopes, "gd_r_squared": r2,
            "gd_train_loss_seed0": runs[0].0.train_loss,
            "kernel_test_error_same_n": kernel_tests,
            "fig3": {"n": fig3_grid, "error": fig3, "raw": fig3_raw},
            "levels": {"l0": relu_tail_fraction(0), "l1": level1, "l2": level2, "l4": relu_tail_fraction(4)},
            "spearman": rho,
            "solve_conditioning": {
                "same_n": cond_same_n.json(),
                "same_n_per_seed": runs.iter().map(|r| r.2.json()).collect::<Vec<_>>(),
                "fig3": cond_fig3.json(),
                "fig3_per_n": fig3_grid.iter().zip(&fig3_cond_range).map(|(&nn, c)| json!({"n": nn, "range": c.json()})).collect::<Vec<_>>(),
            },
        });
        ctx.write_json("runs.json", &data)?;

        let setup = format!(
            "x ~ N(0, I_d), d = {d}; teacher w* uniform on the unit sphere (one per seed), labels \
y = ReLU(⟨w*, x⟩) without noise; n = {SAMPLES_PER_DIM}d = {n} training samples. Student: one ReLU \
neuron f_w(x) = ReLU(⟨w, x⟩) (output weight fixed to 1), w₀ ~ N(0, I_d/d), full-batch GD with step \
η = {STEP} on L̂ = (1/n)Σ(f_w(x_i) − y_i)² for at most {steps} steps (stopping when L̂ < 1e-28). \
Test error = exact population error E(f_w − f*)² (closed form via the arc-cosine kernel) divided by \
‖f*‖² = E y² = 1/2. Kernel regression: the NTK of the two-layer ReLU network with both layers trained, \
K = K^RF + K^NT (seed 004 §1.2 with w ~ N(0, I/d)), ridge λ = {RIDGE}, test error on {n_test} fresh \
Gaussian points, normalised by 1/2. Fig. 3: the same regression for n on a log grid up to {n_max:.0}, \
median over {seeds} teachers, against the levels ‖P_>l f*‖²/‖f*‖² from ReLU's Hermite coefficients \
(μ₀² = 1/(2π), μ₁² = 1/4, μ_k² = ((k−3)!!)²/(2πk!) for even k, 0 for odd k ≥ 3). {seeds} seeds. \
Solves (`kernel_ridge`, Cholesky of K + λI, λ_min/λ_max by its Lanczos estimate): at n = {n}, {}; \
Fig. 3 grid, {} (per n in the table).",
            cond_same_n.markdown(),
            cond_fig3.markdown()
        );
        let interpretation = format!(
            "Gradient descent on the single neuron reaches a normalised test error of at most {worst_gd:.1e} \
with only n = {SAMPLES_PER_DIM}d samples, and ln L̂ decreases linearly (median per-step factor \
{contraction:.4}, R² ≥ {min_r2:.4}): the exponential convergence of Thm 4. With the same samples the \
NTK regression has a normalised error of {kernel_median:.3} (median), above even the degree-1 level \
{level1:.3}: with n ≈ d it has not finished fitting the linear part, and Thm 1 says that with n ≪ d^(l+1) \
no kernel method goes below ‖P_>l f*‖². The Fig. 3 curve decreases with n (Spearman {rho:.2}) and at \
n = {} is still {fig3_last:.3} (the degree-2 level is {level2:.4}; at small d, n = 4d² is already comparable to the dimension B(d, 4) of degree-4 harmonics, so the curve can dip below it): to reach ε ≈ 1e-3 a kernel method \
needs the Hermite tail Σ_(k>l) μ_k² below ε, i.e. l > {l_eps} and n ≫ d^{} — the d^poly(1/ε) of the seed. \
Two slips in the seed's surrounding text: the kernel regime needs γ ≫ 1/N (§1.2 takes γ = 1/√N, Thm 3 \
says γ ≫ 1/N), not γ ∝ 1/N, and the mean-field scaling is γ ∝ 1/N, not 1/N².",
            fig3_grid.last().copied().unwrap_or(0),
            l_eps + 1
        );

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

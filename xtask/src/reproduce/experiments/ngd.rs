//! `ngd`: natural gradient descent on a wide two-layer ReLU net (Zhang, Martens & Grosse 2019,
//! seed 001 Thm 1/3): ‖u(k) − y‖² ≤ (1 − η)^k ‖u(0) − y‖², with an iteration count to ε that
//! does not depend on λ₀, unlike GD whose count grows like 1/λ₀.

use super::du_synthetic::{
    first_below, fixed_sign_net, gaussian_labels, geometric_grid, lambda_max, render,
    sphere_points, sphere_with_close_pair, write_json,
};
use crate::reproduce::experiment::{Claim, Context, Experiment, Findings};
use crate::reproduce::fit::{Bootstrap, power_law_fit};
use crate::reproduce::plot::{AxisScale, Chart, Marker, Series};
use anyhow::Result;
use faer::Par;
use ntk_bounds::lambda_min::lambda_min_eigen;
use ntk_bounds::test_models::h_infinity;
use ntk_dynamics::{GdConfig, NgdConfig, gradient_descent, natural_gradient_descent};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rayon::prelude::*;
use serde_json::json;
use std::fmt::Write as _;

pub struct Ngd;

/// Relative target ‖u − y‖² ≤ ε‖u(0) − y‖² for the iteration counts.
const TARGET: f64 = 1e-3;

impl Experiment for Ngd {
    fn id(&self) -> &'static str {
        "ngd"
    }

    fn title(&self) -> &'static str {
        "Natural gradient descent: linear rate (1 − η)^k independent of λ₀"
    }

    fn source(&self) -> &'static str {
        "seed 001 (Zhang, Martens & Grosse 2019, arXiv:1905.10961, Thm 1 and Thm 3)"
    }

    fn statement(&self) -> &'static str {
        "$$\\boldsymbol{\\theta}(k+1) = \\boldsymbol{\\theta}(k) - \\eta \\mathbf{J}^\\top (\\mathbf{J} \\mathbf{J}^\\top)^{-1} (\\mathbf{u} - \\mathbf{y}),$$\n\n\
Theorem 1 (Natural gradient descent). *Let Condition 1 and 2 hold. Suppose we optimize with NGD using a step size $\\eta \\leq \\frac{1-2C}{(1+C)^2}$. Then for $k = 0, 1, 2, \\dots$ we have*\n\n\
$$\\|\\mathbf{u}(k) - \\mathbf{y}\\|_2^2 \\leq (1 - \\eta)^k \\|\\mathbf{u}(0) - \\mathbf{y}\\|_2^2. \\quad (5)$$\n\n\
Theorem 3 (Natural Gradient Descent for overparameterized Networks). Under Assumption 1, if we i.i.d initialize $\\mathbf{w}_r \\sim \\mathcal{N}(\\mathbf{0}, \\nu^2 \\mathbf{I})$, $a_r \\sim \\text{unif}[\\{-1, +1\\}]$ for $r \\in [m]$, we set the number of hidden nodes $m = \\Omega\\left(\\frac{n^4}{\\nu^2 \\lambda_0^4 \\delta^3}\\right)$, and the step size $\\eta = \\mathcal{O}(1)$, then with probability at least $1 - \\delta$ over the random initialization we have for $k = 0, 1, 2, \\dots$\n\n\
$$\\|\\mathbf{u}(k) - \\mathbf{y}\\|_2^2 \\leq (1 - \\eta)^k \\|\\mathbf{u}(0) - \\mathbf{y}\\|_2^2. \\quad (11)$$"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<Findings> {
        let scale = ctx.scale;
        let n = scale.pick(30, 50, 100);
        let d = 10;
        let width = scale.pick(4096, 16384, 65536);
        let sweep_width = scale.pick(1024, 4096, 16384);
        let etas = [0.1, 0.5, 1.0];
        let mut rng = ctx.rng(1);
        let x = sphere_points(n, d, &mut rng);
        let y = gaussian_labels(n, &mut rng);

        // Part 1: the rate at the largest width.
        let rate_runs: Vec<Result<Vec<f64>>> = etas
            .par_iter()
            .enumerate()
            .map(|(_, &eta)| {
                let mut r = ChaCha8Rng::seed_from_u64(ctx.task_seed(0));
                let (net, theta0) = fixed_sign_net(d, width, false, &mut r)?;
                let steps = if eta < 1.0 {
                    ((TARGET * 1e-3).ln() / (1.0_f64 - eta).ln()).ceil() as usize
                } else {
                    6
                };
                let res = natural_gradient_descent(
                    &net,
                    x.as_ref(),
                    &y,
                    &theta0,
                    &NgdConfig::new(eta, 0.0, steps),
                    |_, _, _| Ok(()),
                )?;
                Ok(res.losses)
            })
            .collect();
        let rate_runs: Vec<Vec<f64>> = rate_runs.into_iter().collect::<Result<_>>()?;
        (ctx.progress)(0.3);
        // worst ratio r_k / ((1 − η)^k r_0) over k ≥ 1 (≤ 1 means the bound holds).
        let worst: Vec<f64> = etas
            .iter()
            .zip(&rate_runs)
            .map(|(&eta, l)| {
                (1..l.len())
                    .map(|k| l[k] / (l[0] * (1.0 - eta).powi(k as i32)))
                    .fold(0.0, f64::max)
            })
            .collect();
        let eta1_residual = rate_runs[2][1] / rate_runs[2][0];

        // Part 2: iteration counts against λ₀ (a close pair at separation t).
        let angles = geometric_grid(0.03, 0.3, scale.pick(4, 5, 7));
        let sweep: Vec<Result<(f64, f64, f64)>> = angles
            .par_iter()
            .enumerate()
            .map(|(i, &t)| {
                let mut r = ChaCha8Rng::seed_from_u64(ctx.task_seed(100 + i as u64));
                let xs = sphere_with_close_pair(n, d, t, &mut r);
                let h = h_infinity(xs.as_ref())?;
                let lambda0 = lambda_min_eigen(h.as_ref(), Par::Seq)?;
                let lam_max = lambda_max(h.as_ref())?;
                let (net, theta0) = fixed_sign_net(d, sweep_width, false, &mut r)?;
                let ngd = natural_gradient_descent(
                    &net,
                    xs.as_ref(),
                    &y,
                    &theta0,
                    &NgdConfig::new(0.5, 0.0, 40),
                    |_, _, _| Ok(()),
                )?;
                let ngd_count =
                    first_below(&ngd.losses, TARGET * ngd.losses[0]).map_or(f64::NAN, |k| k as f64);
                let gd_steps = (6.0 * (1.0 / TARGET).ln() * lam_max / lambda0).ceil() as usize;
                let gd = gradient_descent(
                    &net,
                    xs.as_ref(),
                    &y,
                    &theta0,
                    &GdConfig::new(n as f64 / lam_max, gd_steps),
                    |_, _, _| Ok(()),
                )?;
                let gd_count =
                    first_below(&gd.losses, TARGET * gd.losses[0]).map_or(f64::NAN, |k| k as f64);
                Ok((lambda0, ngd_count, gd_count))
            })
            .collect();
        let sweep: Vec<(f64, f64, f64)> = sweep.into_iter().collect::<Result<_>>()?;
        (ctx.progress)(0.9);
        let lam: Vec<f64> = sweep.iter().map(|s| s.0).collect();
        let ngd_counts: Vec<f64> = sweep.iter().map(|s| s.1).collect();
        let gd_counts: Vec<f64> = sweep.iter().map(|s| s.2).collect();
        // Fits over the data sets where the target was reached (a miss fails the claim below).
        let finite = |c: &[f64]| -> (Vec<f64>, Vec<f64>) {
            lam.iter()
                .zip(c)
                .filter(|(_, v)| v.is_finite())
                .map(|(a, b)| (*a, *b))
                .unzip()
        };
        let (l1, c1) = finite(&ngd_counts);
        let (l2, c2) = finite(&gd_counts);
        let all_reached = c1.len() == lam.len() && c2.len() == lam.len();
        let ngd_slope = power_law_fit(&l1, &c1, Bootstrap::new(ctx.task_seed(900)))
            .map_or(f64::NAN, |f| f.exponent);
        let gd_fit = power_law_fit(&l2, &c2, Bootstrap::new(ctx.task_seed(901)));
        let (gd_slope, gd_interval) = gd_fit
            .as_ref()
            .map_or((f64::NAN, (f64::NAN, f64::NAN)), |f| {
                (f.exponent, f.interval)
            });

        let mut claims = Vec::new();
        for (i, &eta) in etas.iter().enumerate() {
            claims.push(Claim::check(
                &format!("rate-eta-{eta}"),
                &format!(
                    "‖u(k) − y‖² ≤ (1 − η)^k‖u(0) − y‖² at every step, η = {eta}, m = {width}"
                ),
                if eta < 1.0 { worst[i] } else { eta1_residual },
                if eta < 1.0 {
                    "≤ 1".to_string()
                } else {
                    "0 (the bound (1 − 1)^k = 0 for k ≥ 1)".to_string()
                },
                if eta < 1.0 {
                    "max over k ≥ 1 of ‖u(k) − y‖²/((1 − η)^k‖u(0) − y‖²) ≤ 1".to_string()
                } else {
                    "‖u(k) − y‖² ≤ 0 for every k ≥ 1; measured: ‖u(1) − y‖²/‖u(0) − y‖²".to_string()
                },
                if eta < 1.0 {
                    worst[i] <= 1.0
                } else {
                    rate_runs[2][1..].iter().all(|&l| l <= 0.0)
                },
            ));
        }
        claims.push(Claim::check(
            "ngd-count-independent-of-lambda0",
            "NGD's iteration count to ε is independent of λ₀",
            ngd_slope,
            "slope ∈ [−0.1, 0.1]",
            format!("log-log slope of NGD (η = 0.5) iterations to ‖u − y‖² ≤ {TARGET}·‖u(0) − y‖² against λ₀ ∈ [−0.1, 0.1]"),
            all_reached && (-0.1..=0.1).contains(&ngd_slope),
        ));
        claims.push(Claim::check(
            "gd-count-scales-inverse-lambda0",
            "GD's iteration count on the same data scales like 1/λ₀",
            gd_slope,
            "slope ∈ [−1.25, −0.75]",
            "log-log slope of GD (η = 1/λ_max on ½‖u − y‖²) iterations to the same ε against λ₀ ∈ [−1.25, −0.75]",
            all_reached && (-1.25..=-0.75).contains(&gd_slope),
        ));

        let (fig1, rel1) = ctx.figure_path("rate.svg");
        let mut chart = Chart::new(
            format!("NGD residual against (1 − η)^k (n = {n}, d = {d}, m = {width})"),
            "iteration k",
            "‖u(k) − y‖² / ‖u(0) − y‖²",
        )
        .scales(AxisScale::Linear, AxisScale::Log);
        for (i, &eta) in etas.iter().enumerate() {
            let l = &rate_runs[i];
            let mut s = Series::line(
                format!("NGD η = {eta}"),
                l.iter()
                    .enumerate()
                    .map(|(k, &v)| (k as f64, v / l[0]))
                    .collect(),
            );
            s.marker = Marker::LineAndPoints;
            chart = chart.with(s);
            if eta < 1.0 {
                chart = chart.with(Series::line(
                    format!("(1 − {eta})^k"),
                    (0..l.len())
                        .map(|k| (k as f64, (1.0 - eta).powi(k as i32)))
                        .collect(),
                ));
            }
        }
        render(&chart, &fig1)?;
        let (fig2, rel2) = ctx.figure_path("count-vs-lambda0.svg");
        let mut a = Series::line(
            "NGD η = 0.5",
            lam.iter()
                .copied()
                .zip(ngd_counts.iter().copied())
                .collect(),
        );
        a.marker = Marker::LineAndPoints;
        let mut b = Series::line(
            "GD η = 1/λ_max",
            lam.iter().copied().zip(gd_counts.iter().copied()).collect(),
        );
        b.marker = Marker::LineAndPoints;
        let chart = Chart::new(
            format!("Iterations to ‖u − y‖² ≤ {TARGET}·‖u(0) − y‖² against λ₀"),
            "λ₀ = λ_min(H^∞)",
            "iterations",
        )
        .scales(AxisScale::Log, AxisScale::Log)
        .with(a)
        .with(b);
        render(&chart, &fig2)?;

        let mut tables = String::new();
        writeln!(
            tables,
            "| η | steps | worst ‖u(k) − y‖²/((1 − η)^k‖u(0) − y‖²) | ‖u(1) − y‖²/‖u(0) − y‖² | final ratio |\n|---|---|---|---|---|"
        )?;
        for (i, &eta) in etas.iter().enumerate() {
            let l = &rate_runs[i];
            writeln!(
                tables,
                "| {eta} | {} | {:.4} | {:.3e} | {:.3e} |",
                l.len() - 1,
                worst[i],
                l[1] / l[0],
                l[l.len() - 1] / l[0]
            )?;
        }
        writeln!(
            tables,
            "\n| separation t | λ₀ | NGD iterations | GD iterations |\n|---|---|---|---|"
        )?;
        for (t, s) in angles.iter().zip(&sweep) {
            writeln!(tables, "| {t:.4} | {:.3e} | {} | {} |", s.0, s.1, s.2)?;
        }
        writeln!(
            tables,
            "\nSlopes: NGD {ngd_slope:.3}, GD {:.3} (95% bootstrap [{:.3}, {:.3}]).",
            gd_slope, gd_interval.0, gd_interval.1
        )?;

        let setup = format!(
            "n = {n} points uniform on S^(d−1), d = {d}, y ~ N(0, 1). Net f = (1/√m)Σ a_r ReLU(w_rᵀx), \
a_r ∈ {{±1}} fixed (Zhang et al. train only W in their proof; the seed's Thm 3 setup), w_r(0) ~ N(0, ν²I) with ν = 1, \
not centred. NGD θ ← θ − ηJᵀ(JJᵀ)⁻¹(u − y) (damping 0, Cholesky), m = {width}, η ∈ {{0.1, 0.5, 1.0}}, run until \
(1 − η)^k < 1e-6 (6 steps for η = 1). λ₀ sweep: row 1 moved to angle t ∈ [0.03, 0.3] of row 0 (λ₀ ≈ t/(2π)), width \
{sweep_width}, same labels; NGD with η = 0.5 and GD with η = 1/λ_max(H^∞) on ½‖u − y‖² (library step n/λ_max), both \
from the same θ⁰, counted to ‖u − y‖² ≤ {TARGET}·‖u(0) − y‖²."
        );
        let interpretation = format!(
            "For η = 0.1 and 0.5 the measured residual stays below (1 − η)^k‖u(0) − y‖² at every step (worst ratios \
{:.3}, {:.3}): NGD contracts the residual by almost exactly (1 − η) per step, because at this width J stays close \
to J(0) and u(k+1) − y = (1 − η)(u(k) − y) + O(‖J(θ) − J(0)‖). For η = 1 the bound says ‖u(k) − y‖² ≤ 0 for k ≥ 1, \
i.e. exact interpolation after one step; the measured ‖u(1) − y‖²/‖u(0) − y‖² = {eta1_residual:.1e} is the \
second-order Taylor remainder of the network, which is zero only for a linear model. This is outside Thm 1's \
hypothesis η ≤ (1 − 2C)/(1 + C)², which equals 1 only when C = 0 (a Jacobian that never moves); Thm 3's \
\"η = O(1)\" hides a constant below 1. The claim at η = 1 is therefore not a property the theorem promises; it is \
kept, literally, because it was asked for, and it fails for the stated reason (afterwards the residual converges \
quadratically, as Gauss–Newton does). NGD's count to ε is flat in λ₀ (slope {ngd_slope:.2}) while GD's grows like \
1/λ₀ (slope {:.2}): NGD preconditions by (JJᵀ)⁻¹, which removes the spectrum of H^∞ from the rate.",
            worst[0], worst[1], gd_slope
        );
        let data = json!({
            "n": n, "d": d, "width": width, "sweep_width": sweep_width, "etas": etas,
            "losses": rate_runs, "worst_ratio": worst, "eta1_residual_after_one_step": eta1_residual,
            "sweep": sweep.iter().zip(&angles).map(|(s, t)| json!({"t": t, "lambda0": s.0, "ngd": s.1, "gd": s.2})).collect::<Vec<_>>(),
            "ngd_slope": ngd_slope, "gd_slope": gd_slope,
        });
        let (data_abs, _) = ctx.data_path("runs.json");
        write_json(&data_abs, &data)?;
        (ctx.progress)(1.0);
        Ok(Findings {
            setup,
            claims,
            figures: vec![rel1, rel2],
            tables,
            interpretation,
            data,
        })
    }
}

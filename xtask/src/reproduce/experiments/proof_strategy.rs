//! `proof-strategy`: the steps of the lazy-training proof of seed 000 §2 (Chizat, Oyallon & Bach
//! 2019), measured along the gradient flow of seed 000's two-layer network,
//!
//! $$ \dot\theta = -\nabla L(\theta),\qquad L(\theta) = \tfrac{1}{2n}\|f(X;\theta) - y\|^2, $$
//!
//! against the flow θ̃(t) of its linearization f̃(x; θ) = f(x; θ⁰) + ∇θ f(x; θ⁰)ᵀ(θ − θ⁰), whose loss
//! obeys L̃(t) ≤ L(0)e^{−2λt} with λ = λ_min(Θ̂₀/n) (seed 004 Lemma 1): exponential loss decay,
//! ‖θ(t) − θ⁰‖ = O(1) in the width while each neuron moves O(1/√width), and
//! sup_t ‖θ(t) − θ̃(t)‖ → 0.

use super::lazy_ratio::{distance, doubling_grid, fit, unit_sphere_points};
use crate::reproduce::experiment::{Claim, Context, Experiment, Findings};
use crate::reproduce::fit::medians_by;
use crate::reproduce::plot::{AxisScale, Chart, Series, render_svg};
use anyhow::{Context as _, anyhow};
use faer::{MatRef, Par};
use ntk_dynamics::{FlowConfig, LinearizedFlow, gradient_flow};
use ntk_kernels::Activation;
use ntk_nets::{Model, Scaling, SecondLayer, TwoLayer, TwoLayerSpec};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde_json::json;
use std::fmt::Write as _;

pub struct ProofStrategy;

const INPUT_DIM: usize = 10;
const N_TRAIN: usize = 8;
/// Horizon in units of the linearized time scale: T = HORIZON / λ_min(Θ̂₀/n), so the linearized
/// loss bound falls to L(0)·e^{−2·HORIZON}.
const HORIZON: f64 = 4.0;
/// Number of observation intervals of [0, T].
const N_TIMES: usize = 60;
/// Chizat et al.'s proof keeps σ_min(J_t) ≥ σ_min(J₀)/2 inside the ball, i.e. λ_min(Θ̂_t) ≥ λ/4:
/// the guaranteed rate is a quarter of the linearized one.
const RATE_FACTOR: f64 = 0.25;

/// Measurements of one (width, seed) run.
#[derive(Debug, Clone)]
struct Run {
    width: usize,
    seed: usize,
    lambda_min: f64,
    t_end: f64,
    /// min over t of −ln(L(t)/L(0)) / (2λt): the measured rate in units of the linearized one.
    rate_ratio: f64,
    max_distance: f64,
    max_neuron_movement: f64,
    max_gap: f64,
    /// Radius B = σ_min(J₀)/(2β̂) with β̂ = √n·sup_i‖∇²f(xᵢ; θ⁰)‖ (local Lipschitz estimate of J).
    radius: f64,
    times: Vec<f64>,
    loss: Vec<f64>,
    linear_loss: Vec<f64>,
    gap: Vec<f64>,
}

/// max over neurons i of ‖(wᵢ, βᵢ) − (wᵢ⁰, βᵢ⁰)‖ (θ = (W row-major, β)).
fn max_neuron_movement(width: usize, d: usize, theta0: &[f64], theta: &[f64]) -> f64 {
    (0..width)
        .map(|i| {
            let w: f64 = (0..d)
                .map(|k| (theta[i * d + k] - theta0[i * d + k]).powi(2))
                .sum();
            let b = (theta[width * d + i] - theta0[width * d + i]).powi(2);
            (w + b).sqrt()
        })
        .fold(0.0, f64::max)
}

/// Closed-form ‖∇²θ f(x)‖ of the two-layer net (block-diagonal Hessian, see `lazy-ratio`).
fn hessian_norm(net: &TwoLayer, theta: &[f64], x: &[f64]) -> f64 {
    let spec = net.spec();
    let (m, d) = (spec.width, spec.input_dim);
    let x_sq: f64 = x.iter().map(|v| v * v).sum();
    (0..m)
        .map(|i| {
            let z: f64 = (0..d).map(|k| theta[i * d + k] * x[k]).sum();
            let c = theta[m * d + i] * spec.activation.ddphi(z) * x_sq;
            let b = spec.activation.dphi(z) * x_sq.sqrt();
            net.output_scale() * (0.5 * c.abs() + (0.25 * c * c + b * b).sqrt())
        })
        .fold(0.0, f64::max)
}

fn run_one(
    width: usize,
    seed: usize,
    task_seed: u64,
    x: MatRef<'_, f64>,
    y: &[f64],
) -> anyhow::Result<Run> {
    let mut rng = ChaCha8Rng::seed_from_u64(task_seed);
    let spec = TwoLayerSpec {
        input_dim: INPUT_DIM,
        width,
        activation: Activation::Tanh,
        scaling: Scaling::Lazy,
        alpha: 1.0,
        w_init_std: 1.0,
        second_layer: SecondLayer::Trained,
    };
    let net = TwoLayer::new(spec, &mut rng)?.with_parallelism(Par::Seq);
    let theta0 = net.init_params(&mut rng);
    let lin = LinearizedFlow::new(&net, x, y, &theta0)?;
    let eigenvalues = lin.flow_eigenvalues();
    let lambda_min = eigenvalues[0];
    if lambda_min.is_nan() || lambda_min <= 0.0 {
        return Err(anyhow!(
            "width {width}: λ_min(Θ̂₀/n) = {lambda_min:e} is not positive"
        ));
    }
    let sigma_min = (lambda_min * N_TRAIN as f64).sqrt();
    let hessian_sup = (0..x.nrows())
        .map(|i| {
            let xi: Vec<f64> = (0..x.ncols()).map(|j| x[(i, j)]).collect();
            hessian_norm(&net, &theta0, &xi)
        })
        .fold(0.0, f64::max);
    let radius = sigma_min / (2.0 * (N_TRAIN as f64).sqrt() * hessian_sup);
    let t_end = HORIZON / lambda_min;
    let times: Vec<f64> = (0..=N_TIMES)
        .map(|k| t_end * k as f64 / N_TIMES as f64)
        .collect();
    let config = FlowConfig::new(t_end);
    let loss0 = lin.loss(0.0)?;
    let mut loss = Vec::with_capacity(N_TIMES);
    let mut linear_loss = Vec::with_capacity(N_TIMES);
    let mut gap = Vec::with_capacity(N_TIMES);
    let mut max_distance = 0.0f64;
    let mut max_neuron = 0.0f64;
    let mut rate_ratio = f64::INFINITY;
    let mut grad = vec![0.0; theta0.len()];
    gradient_flow(&net, x, y, &theta0, &times, &config, |t, theta| {
        let l = net.loss_and_grad(theta, x, y, &mut grad)?;
        let theta_lin = lin.params(t)?;
        loss.push(l);
        linear_loss.push(lin.loss(t)?);
        gap.push(distance(theta, &theta_lin));
        max_distance = max_distance.max(distance(theta, &theta0));
        max_neuron = max_neuron.max(max_neuron_movement(width, INPUT_DIM, &theta0, theta));
        if t > 0.0 {
            rate_ratio = rate_ratio.min(-(l / loss0).ln() / (2.0 * lambda_min * t));
        }
        Ok(())
    })
    .with_context(|| format!("gradient flow at width {width}, seed {seed}"))?;
    let max_gap = gap.iter().copied().fold(0.0, f64::max);
    Ok(Run {
        width,
        seed,
        lambda_min,
        t_end,
        rate_ratio,
        max_distance,
        max_neuron_movement: max_neuron,
        max_gap,
        radius,
        times,
        loss,
        linear_loss,
        gap,
    })
}

impl Experiment for ProofStrategy {
    fn id(&self) -> &'static str {
        "proof-strategy"
    }

    fn title(&self) -> &'static str {
        "The lazy-training proof strategy along gradient flow: fast loss decay, small moves, closeness to the linearized flow"
    }

    fn source(&self) -> &'static str {
        "seed 000 §2 (Chizat, Oyallon & Bach 2019, arXiv:1812.07956, Thm 2.4); seed 004 Lemma 1"
    }

    fn statement(&self) -> &'static str {
        "Here are the steps we would need to prove this result more rigorously (see [Chizat et al., 2019] for details):\n\n\
- We define a very small radius  $B = \\sigma_{\\min}/2\\gamma$ , where  $\\sigma_{\\min}$  is the minimum singular value of the initial Jacobian and  $\\gamma$  is the maximum value of  $\\ddot{\\sigma}$ . We study neural network optimization under the conditions that  $\\|\\boldsymbol{\\theta} \\boldsymbol{\\theta}^{(0)}\\| \\leq B$ .\n\
- Because we are running gradient descent with an infinitesimally small learning rate, we can rewrite gradient descent as differential equation:\n\n\
$$\\frac{d\\boldsymbol{\\theta}^{(t)}}{dt} = -\\nabla_{\\boldsymbol{\\theta}} \\mathcal{L}(\\boldsymbol{\\theta}^{(t)}).$$\n\n\
- We then prove, using standard differential equation theory, that  $\\mathcal{L}(\\boldsymbol{\\theta}^{(t)})$  decays exponentially quickly as long as  $\\|\\boldsymbol{\\theta}^{(t)} \\boldsymbol{\\theta}^{(0)}\\| \\leq B$ .\n\
- We then prove, again using standard differential equation theory, that  $\\boldsymbol{\\theta}^{(t)}$  remains close to  $\\boldsymbol{\\theta}^{(0)}$ , and—if *d* is large enough— $\\|\\boldsymbol{\\theta}^{(t)} \\boldsymbol{\\theta}^{(0)}\\| \\leq B$  for all  $t \\in [0, \\infty)$ .\n\
- Finally, we show that if we had run gradient descent on the first order Taylor approximation  $\\tilde{f}(\\boldsymbol{x};\\boldsymbol{\\theta})$  to obtain parameters  $\\tilde{\\boldsymbol{\\theta}}^{(t)}$ , then the difference in parameters  $\\|\\tilde{\\boldsymbol{\\theta}}^{(t)} \\boldsymbol{\\theta}^{(t)}\\|$  decays with d because the Jacobian does not change too much.\n\n\
*(The lecture text drops the minus signs: ‖θ − θ⁽⁰⁾‖ and ‖θ̃⁽ᵗ⁾ − θ⁽ᵗ⁾‖ are meant. \"γ the maximum value of σ̈\" stands for the Lipschitz constant of the Jacobian θ ↦ J_θ, which Chizat et al. use; for this network it is ∝ sup|σ̈|/√d, so B grows with the width.)*"
    }

    fn run(&self, ctx: &Context<'_>) -> anyhow::Result<Findings> {
        let widths = doubling_grid(64, ctx.scale.pick(5, 8, 10));
        let seeds: usize = ctx.scale.pick(2, 4, 8);
        let mut data_rng = ctx.rng(1);
        let x = unit_sphere_points(&mut data_rng, N_TRAIN, INPUT_DIM);
        let y: Vec<f64> = (0..N_TRAIN)
            .map(|_| StandardNormal.sample(&mut data_rng))
            .collect();

        let tasks: Vec<(usize, usize)> = widths
            .iter()
            .flat_map(|&w| (0..seeds).map(move |s| (w, s)))
            .collect();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let runs: Vec<anyhow::Result<Run>> = tasks
            .par_iter()
            .enumerate()
            .map(|(k, &(w, s))| {
                let r = run_one(w, s, ctx.task_seed(k as u64), x.as_ref(), &y);
                let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                (ctx.progress)(finished as f64 / tasks.len() as f64);
                r
            })
            .collect();
        let runs: Vec<Run> = runs.into_iter().collect::<anyhow::Result<_>>()?;

        let xs: Vec<f64> = runs.iter().map(|r| r.width as f64).collect();
        let col = |f: fn(&Run) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
        let dist_fit = fit(
            &xs,
            &col(|r| r.max_distance),
            ctx.task_seed(10_001),
            "sup_t ‖θ(t) − θ⁰‖",
        )?;
        let neuron_fit = fit(
            &xs,
            &col(|r| r.max_neuron_movement),
            ctx.task_seed(10_002),
            "max per-neuron movement",
        )?;
        let gap_fit = fit(
            &xs,
            &col(|r| r.max_gap),
            ctx.task_seed(10_003),
            "sup_t ‖θ(t) − θ̃(t)‖",
        )?;
        let min_rate = col(|r| r.rate_ratio)
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        let interval = |f: &crate::reproduce::fit::PowerLawFit| {
            format!("[{:.3}, {:.3}]", f.interval.0, f.interval.1)
        };

        let claims = vec![
            Claim::check(
                "exponential-decay",
                "L(θ(t)) decays exponentially, at a rate ≥ the linearized flow's 2λ_min(Θ̂₀/n) up to a factor",
                min_rate,
                format!("≥ {RATE_FACTOR}"),
                format!(
                    "min over all widths, seeds and t ∈ (0, T] of −ln(L(t)/L(0))/(2λt), λ = λ_min(Θ̂₀/n), T = {HORIZON}/λ; pass if ≥ {RATE_FACTOR} (Chizat et al.: inside the ball σ_min(J_t) ≥ σ_min(J₀)/2, so λ_min(Θ̂_t) ≥ λ/4)"
                ),
                min_rate >= RATE_FACTOR,
            ),
            Claim::check(
                "distance-order-one",
                "‖θ(t) − θ⁰‖ stays O(1) in the width",
                dist_fit.exponent,
                "exponent ∈ [−0.1, 0.1]",
                format!(
                    "exponent of sup_t ‖θ(t) − θ⁰‖ against width over {} runs, 95% bootstrap interval {}; pass if −0.1 ≤ exponent ≤ 0.1",
                    runs.len(),
                    interval(&dist_fit)
                ),
                -0.1 <= dist_fit.exponent && dist_fit.exponent <= 0.1,
            ),
            Claim::check(
                "neuron-movement-shrinks",
                "while the largest movement of a single neuron (wᵢ, βᵢ) shrinks with the width",
                neuron_fit.exponent,
                "exponent ≤ −0.35 (derived: −1/2)",
                format!(
                    "exponent of sup_t maxᵢ ‖(wᵢ, βᵢ)(t) − (wᵢ, βᵢ)(0)‖ against width, interval {}; pass if ≤ −0.35 (each neuron's velocity carries the factor 1/√d)",
                    interval(&neuron_fit)
                ),
                neuron_fit.exponent <= -0.35,
            ),
            Claim::check(
                "linearization-gap",
                "‖θ̃(t) − θ(t)‖ decays with d",
                gap_fit.exponent,
                "exponent ≤ −0.35",
                format!(
                    "exponent of sup_t ‖θ(t) − θ̃(t)‖ against width ({} runs), θ̃ the exact linearized flow, interval {}; pass if ≤ −0.35",
                    runs.len(),
                    interval(&gap_fit)
                ),
                gap_fit.exponent <= -0.35,
            ),
        ];

        let per_width = |f: fn(&Run) -> f64| medians_by(&runs, &widths, |r| r.width, f);
        let lam = per_width(|r| r.lambda_min);
        let rate = per_width(|r| r.rate_ratio);
        let dist = per_width(|r| r.max_distance);
        let neuron = per_width(|r| r.max_neuron_movement);
        let gap = per_width(|r| r.max_gap);
        let radius = per_width(|r| r.radius);
        let in_ball = per_width(|r| r.max_distance / r.radius);

        let wf: Vec<f64> = widths.iter().map(|&w| w as f64).collect();
        let series = |name: &str, v: &[f64]| Series::line_points_xy(name, &wf, v);
        let (fig1_abs, fig1_rel) = ctx.figure_path("scaling.svg");
        let chart = Chart::new(
            "Gradient flow of the two-layer tanh net: movement against width (median over seeds)",
            "width d",
            "value",
        )
        .scales(AxisScale::Log, AxisScale::Log)
        .with(series("sup_t ‖θ(t) − θ⁰‖", &dist))
        .with(series("sup_t maxᵢ ‖θᵢ(t) − θᵢ⁰‖ (one neuron)", &neuron))
        .with(series("sup_t ‖θ(t) − θ̃(t)‖", &gap))
        .with(series("sup_t ‖θ(t) − θ⁰‖ / B", &in_ball))
        .with(Series::power_law("∝ 1/√d", &wf, gap[0], -0.5));
        render_svg(&chart, &fig1_abs)?;

        let (fig2_abs, fig2_rel) = ctx.figure_path("loss.svg");
        let mut chart2 = Chart::new(
            "Loss along gradient flow (seed 0) against the linearized flow",
            "λ_min(Θ̂₀/n)·t",
            "L(t)/L(0)",
        )
        .scales(AxisScale::Linear, AxisScale::Log);
        for &w in [widths[0], widths[widths.len() - 1]].iter() {
            if let Some(r) = runs.iter().find(|r| r.width == w && r.seed == 0) {
                let scaled_t: Vec<f64> = r.times.iter().map(|t| t * r.lambda_min).collect();
                let initial = r.loss[0];
                chart2 = chart2
                    .with(Series::line(
                        format!("network, d = {w}"),
                        scaled_t
                            .iter()
                            .zip(&r.loss)
                            .map(|(&t, &l)| (t, l / initial))
                            .collect(),
                    ))
                    .with(Series::line(
                        format!("linearized, d = {w}"),
                        scaled_t
                            .iter()
                            .zip(&r.linear_loss)
                            .map(|(&t, &l)| (t, l / initial))
                            .collect(),
                    ));
            }
        }
        chart2 = chart2
            .with(Series::line(
                "e^{−2λt} (Lemma 1)",
                (0..=40)
                    .map(|k| {
                        let s = HORIZON * k as f64 / 40.0;
                        (s, (-2.0 * s).exp())
                    })
                    .collect(),
            ))
            .with(Series::line(
                "e^{−2(λ/4)t} (proof's rate)",
                (0..=40)
                    .map(|k| {
                        let s = HORIZON * k as f64 / 40.0;
                        (s, (-2.0 * RATE_FACTOR * s).exp())
                    })
                    .collect(),
            ));
        render_svg(&chart2, &fig2_abs)?;

        let mut table = String::new();
        writeln!(
            table,
            "| width d | λ_min(Θ̂₀/n) | min_t rate / 2λ | sup‖θ−θ⁰‖ | B = σ_min/(2β̂) | sup‖θ−θ⁰‖/B | max neuron move | sup‖θ−θ̃‖ |\n|---|---|---|---|---|---|---|---|"
        )?;
        for (k, &w) in widths.iter().enumerate() {
            writeln!(
                table,
                "| {w} | {:.4} | {:.3} | {:.4} | {:.3} | {:.3e} | {:.4e} | {:.4e} |",
                lam[k], rate[k], dist[k], radius[k], in_ball[k], neuron[k], gap[k]
            )?;
        }
        writeln!(
            table,
            "\nMedians over {seeds} seeds. Fitted exponents (all runs, 95% bootstrap): sup‖θ−θ⁰‖ {:.3} {}, max neuron move {:.3} {}, sup‖θ−θ̃‖ {:.3} {}.",
            dist_fit.exponent,
            interval(&dist_fit),
            neuron_fit.exponent,
            interval(&neuron_fit),
            gap_fit.exponent,
            interval(&gap_fit)
        )?;

        let raw: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                json!({"width": r.width, "seed": r.seed, "lambda_min": r.lambda_min,
                    "t_end": r.t_end, "rate_ratio": r.rate_ratio, "max_distance": r.max_distance,
                    "max_neuron_movement": r.max_neuron_movement, "max_gap": r.max_gap,
                    "radius": r.radius, "times": r.times, "loss": r.loss,
                    "linear_loss": r.linear_loss, "gap": r.gap})
            })
            .collect();
        let data = json!({
            "input_dim": INPUT_DIM, "n_train": N_TRAIN, "horizon": HORIZON, "widths": widths,
            "seeds": seeds, "runs": raw,
            "exponents": {
                "distance": [dist_fit.exponent, dist_fit.interval.0, dist_fit.interval.1],
                "neuron_movement": [neuron_fit.exponent, neuron_fit.interval.0, neuron_fit.interval.1],
                "gap": [gap_fit.exponent, gap_fit.interval.0, gap_fit.interval.1],
            },
            "min_rate_ratio": min_rate,
        });
        ctx.write_json("runs.json", &data)?;

        let setup = format!(
            "Seed 000's two-layer network f(x; θ) = (1/√d) Σᵢ βᵢ tanh(wᵢᵀx) (d = width), θ⁰ i.i.d. N(0, 1), \
input dimension {INPUT_DIM}; {N_TRAIN} training inputs uniform on the unit sphere with labels y ~ N(0, 1) \
(shared by all runs). Gradient flow on L = 1/(2n)‖f(X; θ) − y‖² by adaptive Dormand–Prince 5(4) \
(ntk_dynamics::gradient_flow, rtol 1e-8, atol 1e-10), observed at {N_TIMES} equally spaced times up to \
T = {HORIZON}/λ, λ = λ_min(Θ̂₀/n) of each run's own initialisation. θ̃(t) is the exact linearized flow \
from the eigendecomposition of Θ̂₀ (ntk_dynamics::LinearizedFlow::params). B = σ_min(J₀)/(2β̂) with \
β̂ = √n·sup_i ‖∇²θ f(xᵢ; θ⁰)‖ (closed form, see lazy-ratio), a local estimate of the Lipschitz constant \
of θ ↦ J_θ. Widths {widths:?}, {seeds} initialisations each; exponents by least squares on log–log over all \
runs with a 2000-resample bootstrap."
        );
        let last = widths.len() - 1;
        let interpretation = format!(
            "All steps of the proof strategy are visible. (i) The loss decays exponentially: over all runs the \
effective rate −ln(L(t)/L(0))/(2t) never drops below {min_rate:.3}·λ_min(Θ̂₀/n) (median {:.3} at d = {} and \
{:.3} at d = {}), comfortably above the λ/4 that the proof guarantees inside the ball. (ii) The total \
distance travelled sup_t‖θ(t) − θ⁰‖ is width-independent (exponent {:.3}): it tends to the RKHS-norm-like \
quantity √(r₀ᵀΘ̂₀⁻¹r₀), not to 0, so 'θ stays close to θ⁰' is true only relative to the radius B, which \
grows like √d (sup‖θ − θ⁰‖/B falls from {:.2} to {:.3}; at small widths the trajectory leaves the ball of \
the proof and the guarantee is vacuous, although the loss still decays). (iii) The movement is spread \
over all neurons: the largest single-neuron movement decays like d^{:.3}. (iv) The parameters stay close \
to the linearized flow's: sup_t‖θ(t) − θ̃(t)‖ decays like d^{:.3}, the 1/√d of Chizat et al.'s Thm 2.4 \
(the Jacobian moves by O(‖∇²f‖·‖θ − θ⁰‖) = O(1/√d)).",
            rate[0],
            widths[0],
            rate[last],
            widths[last],
            dist_fit.exponent,
            in_ball[0],
            in_ball[last],
            neuron_fit.exponent,
            gap_fit.exponent,
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

//! `smooth-lipschitz`: Prop. 9 of Bietti & Mairal (2019): for a twice-differentiable σ the kernel
//! map of K_σ(x, x') = ⟨x, x'⟩E[σ'(wᵀx)σ'(wᵀx')] + E[σ(wᵀx)σ(wᵀx')] is Lipschitz on the sphere with
//! constant √((γ₀ + γ₁)·max(1, (2γ₁ + γ₂)/(γ₀ + γ₁))), γⱼ = E[(σ⁽ʲ⁾(u))²].

use super::relu_ntk_closed_form::random_unit;
use crate::reproduce::experiment::{Claim, Context, Experiment, Findings};
use crate::reproduce::plot::{AxisScale, Chart, Series, render_svg};
use ntk_kernels::Activation;
use ntk_kernels::analytic::quadrature::{GAUSS_HERMITE_ORDER, expectation_1d, normal_rule};
use rand::RngExt;
use serde_json::json;
use std::fmt::Write as _;

pub struct SmoothLipschitz;

/// An activation scaled and shifted: σ(u) = scale·base(u) (used for e^{u−2} = e^{−2}·eᵘ).
#[derive(Clone, Copy)]
struct Scaled {
    name: &'static str,
    base: Activation,
    scale: f64,
}

impl Scaled {
    fn derivative(&self, order: usize, u: f64) -> f64 {
        self.scale
            * match order {
                0 => self.base.phi(u),
                1 => self.base.dphi(u),
                _ => self.base.ddphi(u),
            }
    }
}

/// γⱼ = E_{u∼N(0,q)}[(σ⁽ʲ⁾(u))²], j = 0, 1, 2, by the library's Gauss–Hermite rule.
fn gammas(act: &Scaled, variance: f64) -> [f64; 3] {
    [0, 1, 2].map(|j| expectation_1d(variance, |u| act.derivative(j, u).powi(2)))
}

/// ‖Φ_σ(x) − Φ_σ(y)‖² on the sphere at chord d = ‖x − y‖ (u = 1 − d²/2), written without
/// cancellation as E[(σ(a) − σ(b))²] + 2(1 − u)γ₁ + u·E[(σ'(a) − σ'(b))²], (a, b) standard normal
/// with correlation u: a = z₁, b − a = −(1 − u)z₁ + √((1 − u)(1 + u)) z₂ (2-D Gauss–Hermite).
fn phi_distance_sq(act: &Scaled, gamma1: f64, chord: f64) -> f64 {
    let rule = normal_rule();
    let (nodes, weights) = (&rule.nodes, &rule.weights);
    let one_minus_u = 0.5 * chord * chord;
    let u = 1.0 - one_minus_u;
    let s = (one_minus_u * (2.0 - one_minus_u)).max(0.0).sqrt();
    let mut e0 = 0.0;
    let mut e1 = 0.0;
    for (&z1, &w1) in nodes.iter().zip(weights) {
        let sa = act.derivative(0, z1);
        let da = act.derivative(1, z1);
        let mut inner0 = 0.0;
        let mut inner1 = 0.0;
        for (&z2, &w2) in nodes.iter().zip(weights) {
            let b = z1 + (-one_minus_u * z1 + s * z2);
            inner0 += w2 * (sa - act.derivative(0, b)).powi(2);
            inner1 += w2 * (da - act.derivative(1, b)).powi(2);
        }
        e0 += w1 * inner0;
        e1 += w1 * inner1;
    }
    e0 + 2.0 * one_minus_u * gamma1 + u * e1
}

fn bound(g: [f64; 3]) -> f64 {
    ((g[0] + g[1]) * f64::max(1.0, (2.0 * g[1] + g[2]) / (g[0] + g[1]))).sqrt()
}

impl Experiment for SmoothLipschitz {
    fn id(&self) -> &'static str {
        "smooth-lipschitz"
    }

    fn title(&self) -> &'static str {
        "Smooth activations give a Lipschitz NTK map (Prop. 9) and the slide's examples"
    }

    fn source(&self) -> &'static str {
        "seed 001 (Yang), slide \"NTK: Some properties — Smoothness\"; Bietti & Mairal 2019 (arXiv:1905.12173) Prop. 9"
    }

    fn statement(&self) -> &'static str {
        r#"> $$K_{\sigma}(x, x') = \langle x, x' \rangle \mathbb{E}_{w \sim \mathcal{N}(0,1)} [\sigma'(\langle w, x \rangle) \sigma'(\langle w, x' \rangle)] + \mathbb{E}_{w \sim \mathcal{N}(0,1)} [\sigma(\langle w, x \rangle) \sigma(\langle w, x' \rangle)].$$
>
> Proposition 9 (Lipschitzness for smooth activations). *Assume that σ is twice differentiable and that the quantities $\gamma_j := \mathbb{E}_{u \sim \mathcal{N}(0,1)} [(\sigma^{(j)}(u))^2]$ for $j = 0, 1, 2$ are bounded, with $\gamma_0 > 0$. Then, for x, y on the unit sphere, the kernel mapping Φ_{σ} of K_{σ} satisfies*
> $$\|\Phi_{\sigma}(x) - \Phi_{\sigma}(y)\| \leq \sqrt{(\gamma_0 + \gamma_1) \max\left(1, \frac{2\gamma_1 + \gamma_2}{\gamma_0 + \gamma_1}\right)} \cdot \|x - y\|.$$
>
> Example: $\sigma(u) = e^{u-2}$ **Lip**= $\sqrt{3}$
>
> $\sigma(u) = \log(1+e^u)$ **Lip**=1.75(approximate)

(The slide writes w ~ N(0, 1) for a vector w; read as w ~ N(0, I).)"#
    }

    fn run(&self, ctx: &Context<'_>) -> anyhow::Result<Findings> {
        let n_nodes = GAUSS_HERMITE_ORDER;
        let n_pairs = ctx.scale.pick(300, 2_000, 20_000);
        let dim = 5;
        let activations = [
            Scaled {
                name: "exp(u−2)",
                base: Activation::Exp,
                scale: (-2.0f64).exp(),
            },
            Scaled {
                name: "softplus",
                base: Activation::Softplus,
                scale: 1.0,
            },
            Scaled {
                name: "tanh",
                base: Activation::Tanh,
                scale: 1.0,
            },
            Scaled {
                name: "erf",
                base: Activation::Erf,
                scale: 1.0,
            },
            Scaled {
                name: "gelu",
                base: Activation::Gelu,
                scale: 1.0,
            },
        ];

        // Sampled chords: random uniform pairs on S^{dim−1} and pairs at log-uniform distances in
        // [1e-4, 2] (the sup is approached as y → x).
        let mut rng = ctx.rng(1);
        let mut chords = Vec::with_capacity(n_pairs);
        for i in 0..n_pairs {
            if i % 2 == 0 {
                let x = random_unit(&mut rng, dim);
                let y = random_unit(&mut rng, dim);
                let d = x
                    .iter()
                    .zip(&y)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
                    .sqrt();
                chords.push(d);
            } else {
                chords.push(1e-4 * 2e4f64.powf(rng.random::<f64>()));
            }
        }

        struct Row {
            name: &'static str,
            gamma: [f64; 3],
            bound: f64,
            exact_lipschitz: f64,
            empirical_sup: f64,
            curve: Vec<(f64, f64)>,
        }
        let mut rows = Vec::new();
        for (k, act) in activations.iter().enumerate() {
            let g = gammas(act, 1.0);
            let mut sup = 0.0f64;
            for &d in &chords {
                let r = phi_distance_sq(act, g[1], d).sqrt() / d;
                sup = sup.max(r);
            }
            let curve: Vec<(f64, f64)> = (0..=40)
                .map(|i| {
                    let d = 1e-4 * 2e4f64.powf(i as f64 / 40.0);
                    (d, phi_distance_sq(act, g[1], d).sqrt() / d)
                })
                .collect();
            rows.push(Row {
                name: act.name,
                gamma: g,
                bound: bound(g),
                exact_lipschitz: (2.0 * g[1] + g[2]).sqrt(),
                empirical_sup: sup,
                curve,
            });
            (ctx.progress)((k + 1) as f64 / activations.len() as f64 * 0.9);
        }

        // Conventions for the slide's examples.
        let exp_row = &rows[0];
        let softplus_row = &rows[1];
        let exp_gamma_exact = (-2.0f64).exp(); // E[e^{2u−4}] = e^{2−4} by the normal MGF.
        let gamma_err = exp_row
            .gamma
            .iter()
            .map(|g| (g - exp_gamma_exact).abs() / exp_gamma_exact)
            .fold(0.0, f64::max);
        // (B) σ rescaled to unit second moment (c_σ = 1/γ₀ of Arora et al.): γⱼ → γⱼ/γ₀.
        let normalized = |g: [f64; 3]| bound([1.0, g[1] / g[0], g[2] / g[0]]);
        // (C) pre-activations of variance 2 (weights w ~ N(0, 2I), the c_σ = 2 scaling of the
        // slide's two-layer ReLU net), γⱼ = E[(σ⁽ʲ⁾(√2 u))²].
        let exp_var2 = gammas(&activations[0], 2.0);
        let softplus_var2 = gammas(&activations[1], 2.0);
        let conventions = vec![
            (
                "(A) as stated: w ~ N(0, I), γⱼ = E[(σ⁽ʲ⁾(u))²]",
                exp_row.bound,
                softplus_row.bound,
            ),
            (
                "(B) σ rescaled to E[σ²] = 1 (Arora's c_σ = 1/γ₀)",
                normalized(exp_row.gamma),
                normalized(softplus_row.gamma),
            ),
            (
                "(C) pre-activation variance 2 (w ~ N(0, 2I))",
                bound(exp_var2),
                bound(softplus_var2),
            ),
            (
                "(C²) square of (C) (no square root)",
                bound(exp_var2).powi(2),
                bound(softplus_var2).powi(2),
            ),
            (
                "(D) extra factor 2 on K (√(2/m) readout)",
                std::f64::consts::SQRT_2 * exp_row.bound,
                std::f64::consts::SQRT_2 * softplus_row.bound,
            ),
        ];

        let sqrt3 = 3f64.sqrt();
        let mut claims = Vec::new();
        for r in &rows {
            claims.push(Claim::check(
                &format!("bound-holds-{}", r.name.replace(['(', ')', '−'], "")),
                &format!(
                    "Prop. 9 bound ≥ empirical sup of ‖Φ(x) − Φ(y)‖/‖x − y‖ on the sphere, σ = {}",
                    r.name
                ),
                r.empirical_sup / r.bound,
                "≤ 1",
                format!(
                    "empirical sup over {n_pairs} sphere pairs / bound ≤ 1 (bound {:.6}, sup {:.6})",
                    r.bound, r.empirical_sup
                ),
                r.empirical_sup <= r.bound,
            ));
        }
        // Independent check of the machinery: the sup tends to the derived local constant
        // √K'(1) = √(2γ₁ + γ₂) from below; at chord 1e-4 the gap is O(1e-4) relative.
        let max_sup_gap = rows
            .iter()
            .map(|r| (r.exact_lipschitz - r.empirical_sup) / r.exact_lipschitz)
            .fold(0.0, f64::max);
        let min_sup_gap = rows
            .iter()
            .map(|r| (r.exact_lipschitz - r.empirical_sup) / r.exact_lipschitz)
            .fold(f64::MAX, f64::min);
        claims.push(Claim::check(
            "sup-equals-derived-constant",
            "The empirical sup approaches √(2γ₁ + γ₂) = √K'(1) from below (derived exact Lipschitz constant)",
            max_sup_gap,
            "0 ≤ (√(2γ₁+γ₂) − sup)/√(2γ₁+γ₂) ≤ 1e-3",
            "relative gap in [−1e-9, 1e-3] for every activation (chords down to 1e-4 give a gap of order 1e-4)",
            min_sup_gap >= -1e-9 && max_sup_gap <= 1e-3,
        ));
        claims.push(Claim::check(
            "gamma-exp-closed-form",
            "Quadrature γⱼ for σ = e^{u−2} equals the closed form e^{−2} (normal MGF)",
            gamma_err,
            "≤ 1e-12 relative",
            format!("{n_nodes}-node Gauss–Hermite vs e^(−2), max relative error ≤ 1e-12"),
            gamma_err <= 1e-12,
        ));
        claims.push(Claim::refutes_source(
            "slide-exp-sqrt3",
            "Slide: σ(u) = e^{u−2} gives Lip = √3",
            exp_row.bound,
            format!("√3 = {sqrt3:.6}"),
            "Prop. 9's bound under the proposition's own definitions is √(3e^{−2}) = √3/e; √3 needs σ rescaled to unit second moment or pre-activations of variance 2 (see the conventions table)",
        ));
        let softplus_best = conventions
            .iter()
            .map(|c| c.2)
            .min_by(|a, b| (a - 1.75).abs().total_cmp(&(b - 1.75).abs()))
            .unwrap_or(f64::NAN);
        claims.push(Claim::refutes_source(
            "slide-softplus-1.75",
            "Slide: σ(u) = log(1 + eᵘ) gives Lip ≈ 1.75",
            softplus_row.bound,
            "1.75 (approximate)",
            format!(
                "Prop. 9's bound as stated is {:.4}; no convention that gives √3 for e^(u−2) gives 1.75 for softplus (closest over the table: {softplus_best:.4}); exact Lipschitz constant {:.4}",
                softplus_row.bound, softplus_row.exact_lipschitz
            ),
        ));
        (ctx.progress)(0.95);

        let mut tables = String::new();
        writeln!(
            tables,
            "| σ | γ₀ | γ₁ | γ₂ | Prop. 9 bound | √(2γ₁+γ₂) | empirical sup |\n|---|---|---|---|---|---|---|"
        )?;
        for r in &rows {
            writeln!(
                tables,
                "| {} | {:.8} | {:.8} | {:.8} | {:.6} | {:.6} | {:.6} |",
                r.name,
                r.gamma[0],
                r.gamma[1],
                r.gamma[2],
                r.bound,
                r.exact_lipschitz,
                r.empirical_sup
            )?;
        }
        writeln!(
            tables,
            "\n| convention | e^(u−2) | softplus |\n|---|---|---|\n| slide | √3 = {sqrt3:.4} | 1.75 |"
        )?;
        for c in &conventions {
            writeln!(tables, "| {} | {:.4} | {:.4} |", c.0, c.1, c.2)?;
        }

        let (path, rel) = ctx.figure_path("ratio-vs-bound.svg");
        let mut chart = Chart::new(
            "Smooth activations: distance ratio on the sphere vs Prop. 9 bound",
            "‖x − y‖",
            "ratio",
        )
        .scales(AxisScale::Log, AxisScale::Log);
        for r in &rows {
            chart = chart.with(Series::line(
                format!("{}: ‖Φ(x)−Φ(y)‖/‖x−y‖", r.name),
                r.curve.clone(),
            ));
        }
        for r in &rows {
            chart = chart.with(Series::scatter(
                format!("{}: Prop. 9 bound", r.name),
                vec![(1e-4, r.bound), (2.0, r.bound)],
            ));
        }
        render_svg(&chart, &path)?;
        (ctx.progress)(1.0);

        let setup = format!(
            "- γⱼ by {n_nodes}-node Gauss–Hermite quadrature for N(0, 1) \
             (`ntk_kernels::analytic::quadrature::expectation_1d`, the library's cached rule); \
             checked against the closed form e^(−2) for e^(u−2).\n\
             - On the sphere ‖Φ(x) − Φ(y)‖² = K(1) + K(1) − 2K(u) depends on u = ⟨x, y⟩ only; it is \
             evaluated without cancellation as E[(σ(a) − σ(b))²] + 2(1 − u)γ₁ + u·E[(σ'(a) − \
             σ'(b))²] with (a, b) standard normal of correlation u (2-D tensor Gauss–Hermite, b − a \
             formed directly from 1 − u = ‖x − y‖²/2).\n\
             - {n_pairs} sphere pairs in ℝ^{dim}: half uniform, half at chord lengths log-uniform in \
             [1e-4, 2]. Activations: e^(u−2), softplus, tanh, erf, GELU (exact)."
        );
        let interpretation = format!(
            "For every activation the bound of Prop. 9 is above the empirical sup. The derivation \
             behind the sharper column: on the sphere ‖Φ(x) − Φ(y)‖²/‖x − y‖² = (K(1) − K(u))/(1 − u) \
             and K(u) = Σ aₖuᵏ with aₖ ≥ 0 (a dot-product kernel whose derivative is E[σ'σ'] + \
             E[σ'σ'] + uE[σ''σ''] by Price's theorem), so the ratio is at most K'(1) = 2γ₁ + γ₂; the \
             sampled sup approaches √(2γ₁ + γ₂) from below (relative gaps between {min_sup_gap:.1e} \
             and {max_sup_gap:.1e}). Prop. 9's bound √max(γ₀ + γ₁, 2γ₁ + γ₂) is therefore exact when \
             2γ₁ + γ₂ ≥ γ₀ + γ₁ (e^(u−2)) and loose otherwise (softplus: {:.4} vs {:.4}).\n\n\
             The slide's examples: for σ = e^(u−2) the normal MGF gives γ₀ = γ₁ = γ₂ = E[e^(2u−4)] = \
             e^(−2), hence the bound √(3e^(−2)) = √3/e ≈ {:.4}, not √3. √3 is what one gets when σ is \
             rescaled to unit second moment (c_σ = 1/γ₀ as in Arora et al.) or when pre-activations \
             have variance 2 (then γⱼ = E[e^(2√2u−4)] = 1); in either convention softplus gives \
             {:.4} or {:.4}, not 1.75; only the squared bound of convention (C) comes near \
             ({:.4}). We therefore mark both slide values as refuted under the proposition's stated \
             definitions; √3 is recoverable by a change of normalization, 1.75 is not by any \
             convention we found.",
            softplus_row.bound,
            softplus_row.exact_lipschitz,
            exp_row.bound,
            conventions[1].2,
            conventions[2].2,
            conventions[3].2
        );
        let data = json!({
            "n_nodes": n_nodes,
            "n_pairs": n_pairs,
            "activations": rows.iter().map(|r| json!({
                "name": r.name, "gamma": r.gamma, "bound": r.bound,
                "sqrt_2gamma1_plus_gamma2": r.exact_lipschitz, "empirical_sup": r.empirical_sup,
            })).collect::<Vec<_>>(),
            "conventions": conventions.iter().map(|c| json!({"convention": c.0, "exp": c.1, "softplus": c.2})).collect::<Vec<_>>(),
        });
        Ok(Findings {
            setup,
            claims,
            figures: vec![rel],
            tables,
            interpretation,
            data,
        })
    }
}

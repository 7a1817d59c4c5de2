//! `mercer-spectrum`: Mercer eigenvalues of dot-product kernels on S^{p−1} (Bietti & Mairal 2019,
//! Prop. 5): the two-layer ReLU NTK has μ_k = 0 for odd k ≥ 3 and μ_k ~ C(p)k^{−p} for even k; the
//! Laplace kernel e^{−‖x−y‖} decays at the same rate (Geifman et al. 2020; Chen & Xu 2021) and the
//! arc-cosine (random-feature) kernel κ₁ like k^{−p−2}.

use super::du_synthetic::{Conditioning, ConditioningRange};
use crate::reproduce::experiment::{Claim, Context, Experiment, Findings};
use crate::reproduce::fit::linear_fit;
use crate::reproduce::plot::{AxisScale, Chart, Series, render_svg};
use faer::{Mat, Side};
use ntk_kernels::mercer::{
    MercerConfig, arc_cosine_coefficients, mercer_eigenvalues, mercer_eigenvalues_series,
    relu_ntk_coefficients,
};
use ntk_kernels::two_layer::{kappa, kappa1};
use serde_json::json;
use std::fmt::Write as _;

pub struct MercerSpectrum;

/// Least-squares fit of log μ_k = c + s·log k + a/k: the exponent s of μ_k = C k^s (1 + a/k +
/// O(k⁻²)), with the leading pre-asymptotic correction modelled instead of absorbed into the
/// slope (for Gamma-function ratios such as Γ(k + α)/Γ(k + β) the local log–log slope is
/// (α − β) + O((α − β)²/k), i.e. a bias of order p²/k at moderate k). Normal equations solved by
/// Cholesky (faer); returned with the conditioning of the 3 × 3 normal matrix DᵀD.
fn corrected_exponent(points: &[(f64, f64)]) -> anyhow::Result<(f64, Conditioning)> {
    use faer::linalg::solvers::Solve;
    let n = points.len();
    anyhow::ensure!(
        n >= 4,
        "too few points ({n}) for the corrected exponent fit"
    );
    let design = Mat::<f64>::from_fn(n, 3, |i, j| {
        let k = points[i].0;
        match j {
            0 => 1.0,
            1 => k.ln(),
            _ => 1.0 / k,
        }
    });
    let rhs = Mat::<f64>::from_fn(n, 1, |i, _| points[i].1.ln());
    let gram = design.transpose() * &design;
    let moment = design.transpose() * &rhs;
    let llt = gram
        .llt(Side::Lower)
        .map_err(|e| anyhow::anyhow!("normal equations not positive definite: {e:?}"))?;
    let coef = llt.solve(&moment);
    Ok((coef[(1, 0)], Conditioning::of(gram.as_ref())?))
}

/// Plain least-squares slope of log μ_k against log k.
fn plain_slope(points: &[(f64, f64)]) -> anyhow::Result<f64> {
    let (x, y): (Vec<f64>, Vec<f64>) = points.iter().map(|&(k, mu)| (k.ln(), mu.ln())).unzip();
    Ok(linear_fit(&x, &y)
        .map_err(|e| anyhow::anyhow!("log-log fit of the spectrum: {e}"))?
        .slope)
}

struct Spectrum {
    kernel: &'static str,
    p: usize,
    /// The eigenvalues the decay claim is judged on (series for NTK/arc-cosine, quadrature for
    /// Laplace).
    lambda: Vec<f64>,
    /// "series" or "quadrature".
    method: &'static str,
    /// The quadrature eigenvalues (for the odd-degree claim and the cross-check).
    quadrature: Vec<f64>,
    /// Largest relative truncation tail of the series (estimate included in μ_k), k in the fit range.
    max_tail: f64,
    /// Max |series − quadrature|/series over even k with quadrature μ_k/μ₀ ≥ 1e-10.
    series_vs_quadrature: f64,
    max_odd_ratio: f64,
    slope: f64,
    raw_slope: f64,
    /// Conditioning of the normal equations of the corrected-exponent fit.
    fit_conditioning: Conditioning,
    expected: f64,
    range: (usize, usize),
    trace_error: f64,
}

impl Experiment for MercerSpectrum {
    fn id(&self) -> &'static str {
        "mercer-spectrum"
    }

    fn title(&self) -> &'static str {
        "Mercer spectrum of the two-layer ReLU NTK on the sphere (Prop. 5) vs Laplace and arc-cosine kernels"
    }

    fn source(&self) -> &'static str {
        "seed 001 (Yang), slide \"NTK: Some properties — Approximation properties\"; Bietti & Mairal 2019 (arXiv:1905.12173) Prop. 5; seed 000 remark after Geifman et al. 2020 (arXiv:2007.01580)"
    }

    fn statement(&self) -> &'static str {
        r#"> Proposition 5 (Mercer decomposition of ReLU NTK). *For any $x, y \in \mathbb{S}^{p-1}$, we have the following decomposition of the NTK κ :*
> $$\kappa(\langle x, y \rangle) = \sum_{k=0}^{\infty} \mu_k \sum_{j=1}^{N(p,k)} Y_{k,j}(x) Y_{k,j}(y), \quad (10)$$
> where $Y_{k,j}, j = 1, \dots, N(p, k)$ are spherical harmonic polynomials of degree k , and the non-negative eigenvalues μ_k satisfy $\mu_0, \mu_1 > 0$, $\mu_k = 0$ if $k = 2j + 1$ with $j \geq 1$, and otherwise $\mu_k \sim C(p)k^{-p}$ as $k \rightarrow \infty$, with $C(p)$ a constant depending only on p .

Seed 000 (lecture 09) adds, after Geifman et al. 2020, that the NTK and the Laplace kernel e^{−‖x−y‖} have the same RKHS on the sphere (same eigenvalue decay); the arc-cosine kernel of the last layer alone (random features) decays faster, like k^{−p−2} (Bietti & Mairal 2019, Sec. 3.2)."#
    }

    fn run(&self, ctx: &Context<'_>) -> anyhow::Result<Findings> {
        let k_max: usize = ctx.scale.pick(120, 160, 240);
        // Series truncation J = 60·K²: the terms b_j c_{j,k} peak near j ~ k², and beyond J the
        // tail (estimated and added, its size reported) is ≲ 60^(−p/2) of μ_k at k = K.
        let series_terms = 60 * k_max * k_max;
        let dims = [3usize, 5, 10];
        // Quadrature rule: the library default max(512, 8K + 128) Gauss–Legendre nodes in θ.
        let config = |p: usize| MercerConfig::new(p, k_max);
        let n_nodes = config(3).quadrature_nodes;
        let laplace = |t: f64| (-(2.0 - 2.0 * t).max(0.0).sqrt()).exp();
        let ntk_coefficients = relu_ntk_coefficients(series_terms + 1)?;
        let arccos_coefficients = arc_cosine_coefficients(1, series_terms + 1)?;
        // Cross-check of the series coefficients against the closed forms at |t| ≤ 0.9, where
        // 400 terms converge to rounding.
        let mut coefficient_err = 0.0f64;
        for i in 0..=18 {
            let t = -0.9 + 0.1 * i as f64;
            let horner = |b: &[f64]| b[..400].iter().rev().fold(0.0, |acc, c| acc * t + c);
            coefficient_err = coefficient_err.max((horner(&ntk_coefficients) - kappa(t)).abs());
            coefficient_err = coefficient_err.max((horner(&arccos_coefficients) - kappa1(t)).abs());
        }
        type KernelFn<'a> = &'a dyn Fn(f64) -> f64;
        // (name, κ, series coefficients if closed-form, extra decay beyond p, even degrees only)
        type KernelEntry<'a> = (&'static str, KernelFn<'a>, Option<&'a [f64]>, usize, bool);
        let kernels: [KernelEntry<'_>; 3] = [
            ("ReLU NTK κ", &kappa, Some(&ntk_coefficients), 0, true),
            ("Laplace e^(−‖x−y‖)", &laplace, None, 0, false),
            (
                "arc-cosine κ₁ (RF)",
                &kappa1,
                Some(&arccos_coefficients),
                2,
                true,
            ),
        ];
        let mut spectra = Vec::new();
        for (di, &p) in dims.iter().enumerate() {
            for &(name, f, coefficients, extra, even_only) in &kernels {
                let quad = mercer_eigenvalues(f, config(p))?;
                let trace_error = (quad.trace() - f(1.0)).abs() / f(1.0);
                let quadrature = quad.eigenvalues;
                let expected = -(p as f64) - extra as f64;
                let max_odd_ratio = if even_only {
                    (3..=k_max)
                        .step_by(2)
                        .map(|k| (quadrature[k] / quadrature[0]).abs())
                        .fold(0.0, f64::max)
                } else {
                    f64::NAN
                };
                let (lambda, method, tail, k_hi) = match coefficients {
                    Some(b) => {
                        let series = mercer_eigenvalues_series(b, p, k_max)?;
                        (series.spectrum.eigenvalues, "series", series.tail, k_max)
                    }
                    None => {
                        // Quadrature tail range: the largest k whose λ_k/λ_0 stays above 1e-13
                        // (rounding ≈ 1e-16·λ₀).
                        let k_hi = (2..=k_max)
                            .rfind(|&k| quadrature[k] / quadrature[0] > 1e-13)
                            .unwrap_or(2);
                        (quadrature.clone(), "quadrature", vec![0.0; k_max + 1], k_hi)
                    }
                };
                let k_lo = ((k_hi as f64 / 2.5).ceil() as usize).max(4);
                let fit: Vec<(f64, f64)> = (k_lo..=k_hi)
                    .filter(|&k| !even_only || k % 2 == 0)
                    .map(|k| (k as f64, lambda[k]))
                    .collect();
                let raw_slope = plain_slope(&fit)?;
                let (slope, fit_conditioning) = corrected_exponent(&fit)?;
                let max_tail = (k_lo..=k_hi)
                    .map(|k| tail[k] / lambda[k])
                    .fold(0.0, f64::max);
                let series_vs_quadrature = if method == "series" {
                    (0..=k_max)
                        .step_by(2)
                        .filter(|&k| quadrature[k] / quadrature[0] >= 1e-10)
                        .map(|k| (lambda[k] - quadrature[k]).abs() / lambda[k])
                        .fold(0.0, f64::max)
                } else {
                    f64::NAN
                };
                spectra.push(Spectrum {
                    kernel: name,
                    p,
                    lambda,
                    method,
                    quadrature,
                    max_tail,
                    series_vs_quadrature,
                    max_odd_ratio,
                    slope,
                    raw_slope,
                    fit_conditioning,
                    expected,
                    range: (k_lo, k_hi),
                    trace_error,
                });
            }
            (ctx.progress)((di + 1) as f64 / dims.len() as f64 * 0.8);
        }

        let mut claims = Vec::new();
        for s in &spectra {
            let tag = match s.kernel {
                k if k.starts_with("ReLU") => "ntk",
                k if k.starts_with("Laplace") => "laplace",
                _ => "arccos",
            };
            if s.max_odd_ratio.is_finite() {
                claims.push(Claim::check(
                    &format!("{tag}-odd-zero-p{}", s.p),
                    &format!("{}: μ_k = 0 for odd k ≥ 3 on S^{}", s.kernel, s.p - 1),
                    s.max_odd_ratio,
                    "< 1e-12",
                    format!("max over odd 3 ≤ k ≤ {k_max} of |μ_k/μ₀| < 1e-12"),
                    s.max_odd_ratio < 1e-12,
                ));
            }
            claims.push(Claim::check(
                &format!("{tag}-decay-p{}", s.p),
                &format!("{}: μ_k ~ C k^({}) on S^{}", s.kernel, s.expected, s.p - 1),
                s.slope,
                format!("{} ± 0.15", s.expected),
                format!(
                    "exponent s of log μ_k = c + s log k + a/k fitted over {}k ∈ [{}, {}] within ±0.15 of {}",
                    if s.kernel.starts_with("Laplace") {
                        ""
                    } else {
                        "even "
                    },
                    s.range.0,
                    s.range.1,
                    s.expected
                ),
                (s.slope - s.expected).abs() <= 0.15,
            ));
        }
        // The series replaces the quadrature for the decay claims: it must agree with it where
        // the quadrature is accurate. Quadrature absolute error ≈ 1e-16·μ₀ (module docs of
        // ntk_kernels::mercer), i.e. ≤ 1e-6 relative where μ_k/μ₀ ≥ 1e-10; the series' truncation
        // error after its tail estimate is ≤ 1e-6 relative (crate tests): 1e-5 covers both.
        let cross: Vec<&Spectrum> = spectra
            .iter()
            .filter(|s| s.method == "series" && s.p <= 5)
            .collect();
        let max_cross = cross
            .iter()
            .map(|s| s.series_vs_quadrature)
            .fold(0.0, f64::max);
        claims.push(Claim::check(
            "series-matches-quadrature",
            "The power-series eigenvalues equal the quadrature eigenvalues where both are accurate (p = 3, 5)",
            max_cross,
            "≤ 1e-5",
            format!(
                "max over NTK and arc-cosine, p ∈ {{3, 5}}, even k ≤ {k_max} with quadrature μ_k/μ₀ ≥ 1e-10 of |μ_series − μ_quad|/μ_series ≤ 1e-5"
            ),
            max_cross <= 1e-5,
        ));

        let mut tables = String::new();
        writeln!(
            tables,
            "| kernel | p | eigenvalues | fit range k | fitted exponent (with a/k term) | plain log–log slope | expected | max series tail/μ_k in range | series vs quadrature (μ_k/μ₀ ≥ 1e-10) | max odd |μ_k/μ₀| (k ≥ 3, quadrature) | |Σ N(p,k)μ_k − κ(1)|/κ(1), k ≤ {k_max} |\n|---|---|---|---|---|---|---|---|---|---|---|"
        )?;
        let or_dash = |v: f64| {
            if v.is_finite() {
                format!("{v:.1e}")
            } else {
                "—".to_string()
            }
        };
        for s in &spectra {
            writeln!(
                tables,
                "| {} | {} | {} | [{}, {}] | {:.4} | {:.4} | {} | {} | {} | {} | {:.1e} |",
                s.kernel,
                s.p,
                s.method,
                s.range.0,
                s.range.1,
                s.slope,
                s.raw_slope,
                s.expected,
                if s.method == "series" {
                    format!("{:.1e}", s.max_tail)
                } else {
                    "—".to_string()
                },
                or_dash(s.series_vs_quadrature),
                or_dash(s.max_odd_ratio),
                s.trace_error
            )?;
        }
        writeln!(
            tables,
            "\n| k | p | NTK μ_k/μ₀ (series) | NTK μ_k/μ₀ (quadrature) | Laplace μ_k/μ₀ | arc-cos μ_k/μ₀ (series) |\n|---|---|---|---|---|---|"
        )?;
        for &p in &dims {
            let group: Vec<&Spectrum> = spectra.iter().filter(|s| s.p == p).collect();
            for k in [0usize, 1, 2, 3, 4, 8, 16, 32, 64, 128] {
                if k <= k_max {
                    writeln!(
                        tables,
                        "| {k} | {p} | {:.3e} | {:.3e} | {:.3e} | {:.3e} |",
                        group[0].lambda[k] / group[0].lambda[0],
                        group[0].quadrature[k] / group[0].quadrature[0],
                        group[1].lambda[k] / group[1].lambda[0],
                        group[2].lambda[k] / group[2].lambda[0]
                    )?;
                }
            }
        }

        let mut figures = Vec::new();
        for &p in &dims {
            let (path, rel) = ctx.figure_path(&format!("spectrum-p{p}.svg"));
            let mut chart = Chart::new(
                format!(
                    "Mercer eigenvalues on S^{} (p = {p}), even k for NTK/arc-cos",
                    p - 1
                ),
                "degree k",
                "μ_k / μ₀",
            )
            .scales(AxisScale::Log, AxisScale::Log);
            for s in spectra.iter().filter(|s| s.p == p) {
                let step = if s.kernel.starts_with("Laplace") {
                    1
                } else {
                    2
                };
                let series = Series::line_points(
                    format!("{} ({}, fit {:.2})", s.kernel, s.method, s.slope),
                    (2..=k_max)
                        .step_by(step)
                        .filter(|&k| s.lambda[k] / s.lambda[0] > 0.0)
                        .map(|k| (k as f64, s.lambda[k] / s.lambda[0]))
                        .collect(),
                );
                chart = chart.with(series);
                if s.method == "series" && s.kernel.starts_with("ReLU") {
                    chart = chart.with(Series::scatter(
                        format!("{} (quadrature)", s.kernel),
                        (2..=k_max)
                            .step_by(2)
                            .filter(|&k| s.quadrature[k] / s.quadrature[0] > 1e-17)
                            .map(|k| (k as f64, s.quadrature[k] / s.quadrature[0]))
                            .collect(),
                    ));
                }
            }
            chart = chart.with(Series::line(
                format!("k^(−{p})"),
                (2..=k_max)
                    .map(|k| (k as f64, (k as f64 / 2.0).powi(-(p as i32)) * 0.1))
                    .collect(),
            ));
            render_svg(&chart, &path)?;
            figures.push(rel);
        }
        (ctx.progress)(1.0);

        let fit_range = ConditioningRange::new(spectra.iter().map(|s| &s.fit_conditioning));
        let setup = format!(
            "- Eigenvalues in the normalisation κ(t) = Σ_k μ_k N(p, k) P_k(t) (P_k the Legendre \
             polynomial of dimension p, P_k(1) = 1), two independent ways:\n\
             - **Power series** (`ntk_kernels::mercer::mercer_eigenvalues_series`): κ(t) = Σ_j b_j t^j \
             with b_j ≥ 0 in closed form (NTK: b₀ = 1/π, b₁ = 1, b_(2m) = r_(m−1)(2m+1)/(π(2m−1)2m); \
             κ₁: b₀ = 1/π, b₁ = 1/2, b_(2m) = r_(m−1)/(π(2m−1)2m); r_n = C(2n, n)/4ⁿ; max deviation of \
             400 terms from the closed forms on |t| ≤ 0.9: {coefficient_err:.1e}), and the eigenvalue of \
             t^j, c_(j,k) = j!Γ(m+½)Γ(p/2)/(2^k (j−k)! √π Γ(m+k+p/2)), m = (j−k)/2 (Rodrigues' \
             formula), so μ_k = Σ_(j≥k, j≡k) b_j c_(j,k) is a sum of positive terms: no cancellation, \
             full relative precision however small μ_k/μ₀ is. Summed to J = {series_terms} (60·K²) \
             with the remaining tail estimated from the local power law of the last terms; the \
             largest estimated tail in each fit range is in the table. Used for the NTK and \
             arc-cosine decay claims.\n\
             - **Quadrature** (`ntk_kernels::mercer::mercer_eigenvalues`): Funk–Hecke integral in \
             θ = arccos t with {n_nodes} Gauss–Legendre nodes (the kernels are analytic in θ), \
             absolute error ≈ 1e-16·μ₀. Used for the Laplace kernel (no closed-form series), for the \
             odd-degree claims, and as the cross-check of the series where μ_k/μ₀ ≥ 1e-10.\n\
             - Fit range per kernel and p: k ∈ [K/2.5, K] with K = {k_max} for the series; for the \
             quadrature the largest k with μ_k/μ₀ > 1e-13 (three decades above rounding), down to \
             2/5 of it. The exponent is fitted as s in log μ_k = c + s log k + a/k (least squares), \
             i.e. the asymptotic form C k^s (1 + a/k + O(k⁻²)) with its first correction; the plain \
             log–log slope is shown next to it: it carries a bias of order p²/k (e.g. Γ(k)/Γ(k + p) \
             has local slope −p + p(p − 1)/(2k) + …).\n\
             - p ∈ {{3, 5, 10}}; the trace identity Σ N(p,k)μ_k = κ(1) of the quadrature spectra is \
             reported as a check of normalisation (its truncation error is the tail \
             Σ_{{k>{k_max}}} N(p,k)μ_k ~ k_max^(−1) for the NTK at p = 3).\n\
             - Solves: the only linear systems are the 3 × 3 normal equations DᵀD of the \
             corrected-exponent fits (columns 1, log k, 1/k), over all kernels and p: {}; the \
             Cholesky solution's relative error is of order κ·ε ≤ {:.1e}, far below the ±0.15 \
             tolerance of the exponent claims.",
            fit_range.markdown(),
            fit_range.condition_number.1 * f64::EPSILON
        );
        let fitted: Vec<String> = spectra
            .iter()
            .map(|s| format!("{} p={}: {:.3}", s.kernel, s.p, s.slope))
            .collect();
        let interpretation = format!(
            "The odd part of the NTK is exactly u (κ(u) − u is even: uκ₀(u) = u/2 + u·arcsin(u)/π \
             and κ₁(u) = u/2 + (u·arcsin u + √(1 − u²))/π), so only k = 1 survives among odd \
             degrees; the quadrature's odd eigenvalues are at rounding level and the series' are \
             exactly 0. Fitted exponents: {}. The NTK and Laplace spectra decay at the same rate \
             k^(−p) (same RKHS on the sphere, as Geifman et al. 2020 and Chen & Xu 2021 show), two \
             powers slower than the arc-cosine kernel of random features (k^(−p−2)): the gradient \
             w.r.t. the first layer adds the non-smooth κ₀ part that makes the NTK's RKHS larger \
             (better approximation, Cor. 6–7) and its kernel map non-Lipschitz (experiment \
             non-lipschitz).\n\n\
             Why the series: at p = 10 the eigenvalues fall below 1e-13·μ₀ by k ≈ 35–60, so a \
             quadrature-based fit (three decades above double-precision rounding) is confined to \
             a short, pre-asymptotic range where the O(p³/k²) terms are not small; that fit gave \
             −9.85 (NTK) and −11.59 (arc-cosine). The power series has no cancellation and stays \
             accurate to relative rounding down to μ_k/μ₀ ~ 1e-20 and beyond, which reaches the \
             asymptotic range k ≈ {}–{k_max}. It agrees with the quadrature to {max_cross:.1e} \
             (relative) at p = 3, 5 wherever the quadrature is accurate. The Laplace kernel has no \
             simple closed-form series and keeps the quadrature (its p = 10 fit range is therefore \
             short, see the table).",
            fitted.join("; "),
            (k_max as f64 / 2.5).ceil()
        );
        let data = json!({
            "k_max": k_max,
            "n_nodes": n_nodes,
            "series_terms": series_terms,
            "coefficient_closed_form_max_err": coefficient_err,
            "series_vs_quadrature_max_rel": max_cross,
            "spectra": spectra.iter().map(|s| json!({
                "kernel": s.kernel, "p": s.p, "method": s.method, "fit_range": [s.range.0, s.range.1],
                "slope": s.slope, "plain_slope": s.raw_slope, "expected": s.expected,
                "fit_normal_equations_conditioning": s.fit_conditioning.json(),
                "max_series_tail_rel": s.max_tail,
                "series_vs_quadrature_rel": if s.series_vs_quadrature.is_finite() { json!(s.series_vs_quadrature) } else { json!(null) },
                "max_odd_ratio": if s.max_odd_ratio.is_finite() { json!(s.max_odd_ratio) } else { json!(null) },
                "trace_rel_error": s.trace_error,
                "lambda_over_lambda0": s.lambda.iter().map(|l| l / s.lambda[0]).collect::<Vec<_>>(),
                "quadrature_over_lambda0": s.quadrature.iter().map(|l| l / s.quadrature[0]).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        Ok(Findings {
            setup,
            claims,
            figures,
            tables,
            interpretation,
            data,
        })
    }
}

//! Gauss–Hermite quadrature for Gaussian expectations in one and two dimensions.
//!
//! With nodes xₖ and weights wₖ of the rule for the weight e^{−x²},
//!
//! $$ \mathbb E\,f(\sqrt q\,Z) = \pi^{-1/2}\sum_k w_k f(\sqrt{2q}\,x_k), \qquad Z\sim\mathcal N(0,1), $$
//!
//! and for (u, v) ~ N(0, [[q₁, c], [c, q₂]]) through the Cholesky factor of the covariance in
//! correlation form, u = √q₁ z₁, v = √q₂ (ρ z₁ + √(1−ρ²) z₂) with ρ = c/√(q₁q₂):
//!
//! $$ \mathbb E\,f(u)g(v) = \pi^{-1}\sum_{a,b} w_a w_b\, f(\sqrt{2q_1}x_a)\,
//!    g\big(\sqrt{2q_2}(\rho x_a + \sqrt{1-\rho^2}\,x_b)\big). $$
//!
//! # Reference
//! Golub & Welsch 1969, "Calculation of Gauss quadrature rules", Math. Comp. 23 (nodes/weights
//! through the `gauss-quad` crate).

use std::num::NonZeroUsize;
use std::sync::OnceLock;

/// Number of Gauss–Hermite nodes per dimension. An m-point rule is exact for polynomials of
/// degree 2m − 1. Tested in `tests/dual.rs`: exp and sin at variances up to 3.5 to 1e-10 of
/// the natural scale √(E σ(u)² E σ(v)²); erf and GELU (σ and σ') at q ≤ 1 to 1e-10. Sharply
/// peaked integrands (erf' = Gaussian bump at q ≳ 1.5 with |ρ| → 1) converge more slowly
/// (~1e-9): use the closed forms where they exist, as [`super::dual`] does.
pub const GAUSS_HERMITE_ORDER: usize = 64;

/// Nodes and weights of the rule, scaled for the standard normal: E f(Z) ≈ Σ wₖ f(zₖ).
pub struct NormalRule {
    /// zₖ = √2 xₖ.
    pub nodes: Vec<f64>,
    /// wₖ/√π (sum to 1).
    pub weights: Vec<f64>,
}

/// The cached standard-normal Gauss–Hermite rule of order [`GAUSS_HERMITE_ORDER`].
pub fn normal_rule() -> &'static NormalRule {
    static RULE: OnceLock<NormalRule> = OnceLock::new();
    RULE.get_or_init(|| {
        let order = NonZeroUsize::new(GAUSS_HERMITE_ORDER).unwrap_or(NonZeroUsize::MIN);
        let rule = gauss_quad::hermite::GaussHermite::new(order);
        let inv_sqrt_pi = 1.0 / std::f64::consts::PI.sqrt();
        let (nodes, weights) = rule
            .iter()
            .map(|(x, w)| (std::f64::consts::SQRT_2 * x, w * inv_sqrt_pi))
            .unzip();
        NormalRule { nodes, weights }
    })
}

/// E f(√q Z), Z ~ N(0, 1), by Gauss–Hermite quadrature (q < 0 is treated as 0).
///
/// $$ \mathbb E f(\sqrt q Z) \approx \sum_k \tilde w_k f(\sqrt q\, z_k) $$
///
/// # Reference
/// Golub & Welsch 1969, Math. Comp. 23, eq. (2.1).
pub fn expectation_1d(q: f64, f: impl Fn(f64) -> f64) -> f64 {
    let rule = normal_rule();
    let scale = q.max(0.0).sqrt();
    rule.nodes
        .iter()
        .zip(&rule.weights)
        .map(|(&z, &w)| w * f(scale * z))
        .sum()
}

/// (E f(u)g(v), E f'(u)g'(v))-style pairs: E f₁(u)g₁(v) and E f₂(u)g₂(v) for
/// (u, v) ~ N(0, [[q₁, c], [c, q₂]]) in one pass over the m² tensor grid, with ρ = c/√(q₁q₂)
/// clamped into [−1, 1] (ρ = 0 when q₁q₂ = 0).
///
/// # Reference
/// Golub & Welsch 1969, Math. Comp. 23; two-dimensional tensor rule after the Cholesky
/// factorisation of the covariance.
pub fn expectation_2d_pair(
    q1: f64,
    q2: f64,
    c: f64,
    f1: impl Fn(f64) -> f64,
    f2: impl Fn(f64) -> f64,
    g1: impl Fn(f64) -> f64,
    g2: impl Fn(f64) -> f64,
) -> (f64, f64) {
    let rule = normal_rule();
    let q1 = q1.max(0.0);
    let q2 = q2.max(0.0);
    let rho = correlation(q1, q2, c);
    let s1 = q1.sqrt();
    let s2 = q2.sqrt();
    let a = s2 * rho;
    let b = s2 * (1.0 - rho * rho).max(0.0).sqrt();
    let mut first = 0.0;
    let mut second = 0.0;
    for (&za, &wa) in rule.nodes.iter().zip(&rule.weights) {
        let u = s1 * za;
        let (fu1, fu2) = (f1(u), f2(u));
        let mut inner1 = 0.0;
        let mut inner2 = 0.0;
        for (&zb, &wb) in rule.nodes.iter().zip(&rule.weights) {
            let v = a * za + b * zb;
            inner1 += wb * g1(v);
            inner2 += wb * g2(v);
        }
        first += wa * fu1 * inner1;
        second += wa * fu2 * inner2;
    }
    (first, second)
}

/// ρ = c/√(q₁q₂) clamped into [−1, 1]; 0 when q₁q₂ = 0.
#[inline]
pub fn correlation(q1: f64, q2: f64, c: f64) -> f64 {
    let prod = q1 * q2;
    if prod > 0.0 {
        (c / prod.sqrt()).clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

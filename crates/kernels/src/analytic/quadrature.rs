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
/// (~1e-9): use the closed forms where they exist, as [`super::dual`](mod@super::dual) does.
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

/// Nodes of the rule behind [`hermite_coefficients`].
pub const HERMITE_RULE_NODES: usize = 200;

/// Number of Hermite coefficients kept in the Mehler series of [`mehler_series`]: terms
/// k = 0, …, `HERMITE_TERMS` − 1. The rule is exact for σ(√q z)·h_k(z) whenever σ(√q z) is a
/// polynomial of degree ≤ 2·[`HERMITE_RULE_NODES`] − 1 − k.
pub const HERMITE_TERMS: usize = 160;

/// A standard-normal Gauss–Hermite rule whose small weights are accurate to a few ulps
/// *relative*: the nodes from `gauss-quad` are polished by Newton steps on the normalised
/// Hermite polynomial h_m, and the weights are recomputed as wₖ = 1/(m·h_{m−1}(zₖ)²). (Weights
/// from the eigenvectors of the Jacobi matrix carry an absolute error of ~ε, which the huge
/// values of h_k at the outer nodes would amplify.)
pub struct HermiteRule {
    /// zₖ.
    pub nodes: Vec<f64>,
    /// wₖ (sum to 1).
    pub weights: Vec<f64>,
    /// √k for k = 0, …, [`HERMITE_TERMS`].
    sqrt_k: Vec<f64>,
    /// 1/√(k+1) for k = 0, …, [`HERMITE_TERMS`].
    inv_sqrt_k1: Vec<f64>,
}

/// h_{m−1}(z) and h_m(z), h_k = He_k/√(k!) (probabilists' Hermite, orthonormal under N(0, 1)),
/// by the recurrence h_{k+1} = (z h_k − √k h_{k−1})/√(k+1).
fn hermite_pair(m: usize, z: f64) -> (f64, f64) {
    let (mut previous, mut current) = (0.0, 1.0);
    for k in 0..m {
        let next = (z * current - (k as f64).sqrt() * previous) / ((k + 1) as f64).sqrt();
        previous = current;
        current = next;
    }
    (previous, current)
}

/// The cached [`HermiteRule`] with [`HERMITE_RULE_NODES`] nodes.
pub fn hermite_rule() -> &'static HermiteRule {
    static RULE: OnceLock<HermiteRule> = OnceLock::new();
    RULE.get_or_init(|| {
        let m = HERMITE_RULE_NODES;
        let order = NonZeroUsize::new(m).unwrap_or(NonZeroUsize::MIN);
        let rule = gauss_quad::hermite::GaussHermite::new(order);
        let mut nodes = Vec::with_capacity(m);
        let mut weights = Vec::with_capacity(m);
        for (x, _) in rule.iter() {
            let mut z = std::f64::consts::SQRT_2 * x;
            // Newton on h_m (h_m' = √m h_{m−1}); the start is within a few ulps already.
            for _ in 0..2 {
                let (h_prev, h_m) = hermite_pair(m, z);
                z -= h_m / ((m as f64).sqrt() * h_prev);
            }
            let (h_prev, _) = hermite_pair(m, z);
            nodes.push(z);
            weights.push(1.0 / (m as f64 * h_prev * h_prev));
        }
        HermiteRule {
            nodes,
            weights,
            sqrt_k: (0..=HERMITE_TERMS).map(|k| (k as f64).sqrt()).collect(),
            inv_sqrt_k1: (0..=HERMITE_TERMS)
                .map(|k| 1.0 / ((k + 1) as f64).sqrt())
                .collect(),
        }
    })
}

/// Hermite coefficients of two functions of u = √q Z at once:
///
/// $$ a_k = \mathbb E\big[f(\sqrt q Z)\,h_k(Z)\big],\quad b_k = \mathbb E\big[g(\sqrt q Z)\,h_k(Z)\big],
///    \qquad h_k = \mathrm{He}_k/\sqrt{k!},\ k < \texttt{HERMITE\_TERMS}, $$
///
/// by the [`HermiteRule`] (q < 0 is read as 0). With them, E f(u)f(v) for standard-correlated
/// (u, v) is the Mehler series of [`mehler_series`].
///
/// # Reference
/// Mehler 1866; O'Donnell 2014, "Analysis of Boolean Functions", §11.2 (Hermite expansion);
/// Daniely, Frostig & Singer 2016, arXiv:1602.05897, Lemma 11 (dual activation as a power series).
pub fn hermite_coefficients(
    q: f64,
    f: impl Fn(f64) -> f64,
    g: impl Fn(f64) -> f64,
    a: &mut [f64; HERMITE_TERMS],
    b: &mut [f64; HERMITE_TERMS],
) {
    let rule = hermite_rule();
    let scale = q.max(0.0).sqrt();
    a.fill(0.0);
    b.fill(0.0);
    // Nodes in blocks of LANES: the LANES recurrences of a block are independent (they
    // vectorise and overlap), and each coefficient adds its block sums in a fixed order.
    const LANES: usize = 8;
    const _: () = assert!(HERMITE_RULE_NODES.is_multiple_of(LANES));
    for (nodes, weights) in rule
        .nodes
        .chunks_exact(LANES)
        .zip(rule.weights.chunks_exact(LANES))
    {
        let mut fw = [0.0; LANES];
        let mut gw = [0.0; LANES];
        let mut z = [0.0; LANES];
        for l in 0..LANES {
            let u = scale * nodes[l];
            fw[l] = weights[l] * f(u);
            gw[l] = weights[l] * g(u);
            z[l] = nodes[l];
        }
        let mut previous = [0.0; LANES];
        let mut current = [1.0; LANES];
        for k in 0..HERMITE_TERMS {
            a[k] += pairwise_dot(&fw, &current);
            b[k] += pairwise_dot(&gw, &current);
            let (sqrt_k, inv_sqrt_k1) = (rule.sqrt_k[k], rule.inv_sqrt_k1[k]);
            for l in 0..LANES {
                let next = (z[l] * current[l] - sqrt_k * previous[l]) * inv_sqrt_k1;
                previous[l] = current[l];
                current[l] = next;
            }
        }
    }
}

/// Σₗ xₗyₗ over 8 lanes as a fixed pairwise tree (short dependency chains, same order always).
#[inline(always)]
fn pairwise_dot(x: &[f64; 8], y: &[f64; 8]) -> f64 {
    let p: [f64; 8] = std::array::from_fn(|l| x[l] * y[l]);
    ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]))
}

/// The truncated Mehler series Σₖ a₁ₖ a₂ₖ ρᵏ (Horner, highest term first), ρ clamped into
/// [−1, 1].
///
/// For a₁ = coefficients of f at variance q₁ and a₂ = those of g at q₂ ([`hermite_coefficients`]):
///
/// $$ \mathbb E\,f(u)g(v) = \sum_{k\ge0} a_{1k}\,a_{2k}\,\rho^k,\qquad
///    (u, v)\sim\mathcal N\Big(0,\begin{smallmatrix}q_1 & \rho\sqrt{q_1q_2}\\ \rho\sqrt{q_1q_2} & q_2\end{smallmatrix}\Big). $$
///
/// As a kernel on points with correlations ρᵢⱼ (a PSD matrix), each term a₁ₖa₂ₖρᵢⱼᵏ is PSD
/// (Schur product theorem), so the truncated sum is PSD whatever the accuracy of the
/// coefficients, and its value at ρ = 1 is exactly the diagonal Σₖ aₖ².
///
/// # Reference
/// Mehler 1866 (Mehler's formula); Daniely, Frostig & Singer 2016, arXiv:1602.05897, Lemma 11.
#[inline]
pub fn mehler_series(a1: &[f64; HERMITE_TERMS], a2: &[f64; HERMITE_TERMS], rho: f64) -> f64 {
    let rho = rho.clamp(-1.0, 1.0);
    let mut acc = 0.0;
    for k in (0..HERMITE_TERMS).rev() {
        acc = acc * rho + a1[k] * a2[k];
    }
    acc
}

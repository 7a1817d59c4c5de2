//! Width requirements of the over-parameterisation theorems (seed 001), as functions.
//!
//! Convention: every Ω(·)/O(·) constant is an explicit argument (`constant`, default 1 in the
//! reproduce task); the theorems do not state them. Requirements with log m on both sides,
//! m ≥ A·log³m, are solved for their largest root by the fixed point u = ln A + 3 ln u on
//! u = ln m, a contraction with rate 3/u for u > 3.

use crate::error::{Error, Result, check_positive, check_probability};

/// Settings of the implicit (fixed-point) solve for m ≥ A·log³ m.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedPointConfig {
    /// Relative tolerance on ln m.
    pub rel_tol: f64,
    /// Maximum number of fixed-point iterations.
    pub max_iter: usize,
}

impl Default for FixedPointConfig {
    fn default() -> Self {
        Self {
            rel_tol: 1e-12,
            max_iter: 500,
        }
    }
}

/// The smallest width m ≥ 1 beyond which m ≥ A·(ln m)³ holds for good, i.e. the largest root
/// of m = A·ln³m (or 1 when A·ln³m ≤ m for all m ≥ 1, which is the case iff A ≤ e³/27).
///
/// $$ m^\star = \max\{m \ge 1 : m = A \ln^3 m\} $$
///
/// Returns `(m*, fixed-point iterations)`.
///
/// # Reference
/// Zou & Gu 2019, arXiv:1906.04688, Eqs. (3.1)–(3.2): the log³ m factor of the width condition.
pub fn solve_width_log_cubed(a: f64, config: &FixedPointConfig) -> Result<(f64, usize)> {
    check_positive("a", a)?;
    check_positive("rel_tol", config.rel_tol)?;
    // max_m A ln³m / m = 27A/e³ at m = e³.
    if 27.0 * a / 3f64.exp() <= 1.0 {
        return Ok((1.0, 0));
    }
    let ln_a = a.ln();
    // Start above the largest root: u0 with u0 ≥ ln A + 3 ln u0.
    let mut u = (ln_a + 3.0 * (ln_a.abs() + 3.0).ln()).max(3.0) + 10.0;
    while u < ln_a + 3.0 * u.ln() {
        u *= 2.0;
    }
    for iteration in 1..=config.max_iter {
        let next = ln_a + 3.0 * u.ln();
        let change = (next - u).abs();
        u = next;
        if change <= config.rel_tol * u.abs() {
            return Ok((u.exp(), iteration));
        }
    }
    Err(Error::NotConverged {
        what: "fixed point m = A log^3 m",
        iterations: config.max_iter,
        residual: (ln_a + 3.0 * u.ln() - u).abs(),
    })
}

/// Width for the empirical NTK of an L-hidden-layer ReLU net to be (L+1)ε-close to Θ^(L)
/// entrywise with probability 1 − δ (Arora et al. 2019 Thm 3.1, seed 001):
///
/// $$ m \ge C\,\frac{L^6}{\epsilon^4}\,\log(L/\delta) $$
///
/// For L = 1 the log factor is log(1/δ) > 0.
///
/// # Reference
/// Arora, Du, Hu, Li, Salakhutdinov & Wang 2019, arXiv:1904.11955, Thm 3.1.
pub fn arora_ntk_width(n_layers: usize, epsilon: f64, delta: f64, constant: f64) -> Result<f64> {
    check_positive("n_layers", n_layers as f64)?;
    check_positive("epsilon", epsilon)?;
    check_probability("delta", delta)?;
    check_positive("constant", constant)?;
    let l = n_layers as f64;
    Ok(constant * l.powi(6) / epsilon.powi(4) * (l / delta).ln())
}

/// A width requirement with its step size and iteration count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingRequirement {
    /// Required width m (largest root of the implicit condition).
    pub width: f64,
    /// Step size η prescribed at that width.
    pub step_size: f64,
    /// Iterations T to reach training loss ε.
    pub iterations: f64,
    /// Fixed-point iterations used to solve the implicit width condition.
    pub fixed_point_iterations: usize,
}

/// Problem sizes shared by the Zou–Gu requirements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZouGuProblem {
    /// Number of training points n.
    pub n_samples: usize,
    /// Depth L.
    pub n_layers: usize,
    /// Output dimension k.
    pub n_outputs: usize,
    /// Separation φ of Assumption 3.2.
    pub phi: f64,
    /// Target training loss ε ∈ (0, 1).
    pub epsilon: f64,
    /// The common Ω/O constant.
    pub constant: f64,
}

fn check_zou_gu(p: &ZouGuProblem) -> Result<()> {
    check_positive("n_samples", p.n_samples as f64)?;
    check_positive("n_layers", p.n_layers as f64)?;
    check_positive("n_outputs", p.n_outputs as f64)?;
    check_positive("phi", p.phi)?;
    check_probability("epsilon", p.epsilon)?;
    check_positive("constant", p.constant)
}

/// Gradient descent (Zou & Gu 2019 Thm 3.3, seed 001):
///
/// $$ m = \Omega\!\Big(\frac{k n^8 L^{12} \log^3 m}{\phi^4}\Big),\quad
///    \eta = O\!\Big(\frac{k}{L^2 m}\Big),\quad T = O\!\Big(\frac{n^2 L^2 \log(1/\epsilon)}{\phi}\Big) $$
///
/// # Reference
/// Zou & Gu 2019, arXiv:1906.04688, Thm 3.3.
pub fn zou_gu_gd(p: &ZouGuProblem, config: &FixedPointConfig) -> Result<TrainingRequirement> {
    check_zou_gu(p)?;
    let (n, l, k) = (p.n_samples as f64, p.n_layers as f64, p.n_outputs as f64);
    let a = p.constant * k * n.powi(8) * l.powi(12) / p.phi.powi(4);
    let (width, fixed_point_iterations) = solve_width_log_cubed(a, config)?;
    Ok(TrainingRequirement {
        width,
        step_size: p.constant * k / (l * l * width),
        iterations: p.constant * n * n * l * l * (1.0 / p.epsilon).ln() / p.phi,
        fixed_point_iterations,
    })
}

/// Stochastic gradient descent with mini-batch B (Zou & Gu 2019 Thm 3.8, seed 001):
///
/// $$ m = \Omega\!\Big(\frac{k n^{17} L^{12} \log^3 m}{B^4 \phi^8}\Big),\quad
///    \eta = O\!\Big(\frac{k B \phi}{n^3 m \log m}\Big),\quad
///    T = O\!\Big(\frac{n^5 \log m \,\log^2(1/\epsilon)}{B \phi^2}\Big) $$
///
/// # Reference
/// Zou & Gu 2019, arXiv:1906.04688, Thm 3.8.
pub fn zou_gu_sgd(
    p: &ZouGuProblem,
    batch_size: usize,
    config: &FixedPointConfig,
) -> Result<TrainingRequirement> {
    check_zou_gu(p)?;
    check_positive("batch_size", batch_size as f64)?;
    let (n, l, k, b) = (
        p.n_samples as f64,
        p.n_layers as f64,
        p.n_outputs as f64,
        batch_size as f64,
    );
    let a = p.constant * k * n.powi(17) * l.powi(12) / (b.powi(4) * p.phi.powi(8));
    let (width, fixed_point_iterations) = solve_width_log_cubed(a, config)?;
    let log_m = width.ln().max(1.0);
    Ok(TrainingRequirement {
        width,
        step_size: p.constant * k * b * p.phi / (n.powi(3) * width * log_m),
        iterations: p.constant * n.powi(5) * log_m * (1.0 / p.epsilon).ln().powi(2)
            / (b * p.phi * p.phi),
        fixed_point_iterations,
    })
}

/// Natural gradient descent on a two-layer ReLU net (Zhang et al. 2019 Thm 3, seed 001), with
/// step size η = O(1):
///
/// $$ m = \Omega\!\Big(\frac{n^4}{\nu^2 \lambda_0^4 \delta^3}\Big) $$
///
/// # Reference
/// Zhang, Martens & Grosse 2019, arXiv:1905.10961, Thm 3.
pub fn zhang_ngd_width(
    n_samples: usize,
    nu: f64,
    lambda0: f64,
    delta: f64,
    constant: f64,
) -> Result<f64> {
    check_positive("n_samples", n_samples as f64)?;
    check_positive("nu", nu)?;
    if !(lambda0.is_finite() && lambda0 > 0.0) {
        return Err(Error::NotPositiveDefinite {
            lambda_min: lambda0,
        });
    }
    check_probability("delta", delta)?;
    check_positive("constant", constant)?;
    let n = n_samples as f64;
    Ok(constant * n.powi(4) / (nu * nu * lambda0.powi(4) * delta.powi(3)))
}

/// Looseness factor of a width requirement: required width / width at which the measured error
/// actually reached the target.
///
/// $$ \text{looseness} = m_{\text{theory}} / m_{\text{observed}} $$
pub fn looseness_factor(required_width: f64, observed_width: f64) -> Result<f64> {
    check_positive("required_width", required_width)?;
    check_positive("observed_width", observed_width)?;
    Ok(required_width / observed_width)
}

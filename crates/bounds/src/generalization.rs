//! Kernel-norm generalization bounds for wide networks trained by (natural) gradient descent.
//!
//! All are functions of the RKHS norm yᵀK⁻¹y of the labels under the limiting kernel, computed
//! through a faer Cholesky factor; a Gram matrix that is not (numerically) positive definite
//! yields [`Error::NotPositiveDefinite`] with its λ_min instead of an infinite bound.

use faer::{MatRef, Par};

use crate::error::{Error, Result, check_finite, check_positive, check_probability};
use crate::linalg::{check_gram, cholesky_positive_definite, inverse_quadratic_form};

fn check_labels(k: MatRef<'_, f64>, y: &[f64]) -> Result<()> {
    check_gram("k", k)?;
    if y.len() != k.nrows() {
        return Err(Error::ShapeMismatch {
            arg: "y",
            expected: format!("{} labels", k.nrows()),
            found: format!("{} labels", y.len()),
        });
    }
    check_finite("y", y)
}

/// The squared RKHS norm of the minimum-norm interpolant of (X, y) under the kernel K:
///
/// $$ \|f\|_{\mathcal H}^2 = y^\top K^{-1} y $$
///
/// # Reference
/// Schölkopf, Herbrich & Smola 2001, "A generalized representer theorem", COLT, Thm 1;
/// Arora et al. 2019, arXiv:1901.08584, Eq. (4) (the H^∞ case).
pub fn rkhs_norm_squared(k: MatRef<'_, f64>, y: &[f64], par: Par) -> Result<f64> {
    check_labels(k, y)?;
    let l = cholesky_positive_definite(k, par)?;
    Ok(inverse_quadratic_form(l.as_ref(), y, par))
}

/// A generalization bound split into its terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneralizationBound {
    /// The data-dependent complexity term (e.g. sqrt(2yᵀH⁻¹y/n)).
    pub complexity: f64,
    /// The confidence term (depends on δ and n only).
    pub confidence: f64,
    /// Additive slack ε of the theorem (0 where the theorem has none).
    pub epsilon: f64,
    /// complexity + confidence + epsilon.
    pub total: f64,
}

/// Arora et al.'s data-dependent complexity (seed 001, Thm 3.3 / Eq. (4)):
///
/// $$ \sqrt{\frac{2\,y^\top (H^\infty)^{-1} y}{n}} $$
///
/// # Reference
/// Arora, Du, Hu, Li & Wang 2019, "Fine-Grained Analysis of Optimization and Generalization for
/// Overparameterized Two-Layer Neural Networks", arXiv:1901.08584, Thm 5.1 / Eq. (4).
pub fn arora_complexity(h_infinity: MatRef<'_, f64>, y: &[f64], par: Par) -> Result<f64> {
    let norm = rkhs_norm_squared(h_infinity, y, par)?;
    Ok((2.0 * norm / y.len() as f64).sqrt())
}

/// The full Theorem 5.1 of Arora et al. 2019: for a 1-Lipschitz loss with values in [0, 1],
/// with probability ≥ 1 − δ the two-layer ReLU net trained by GD (m, κ, k large enough) has
///
/// $$ L_{\mathcal D}(f) \le \sqrt{\frac{2 y^\top (H^\infty)^{-1} y}{n}}
///    + 3\sqrt{\frac{\log(6/\delta)}{2n}} + \epsilon $$
///
/// # Reference
/// Arora, Du, Hu, Li & Wang 2019, arXiv:1901.08584, Thm 5.1.
pub fn arora_theorem_5_1(
    h_infinity: MatRef<'_, f64>,
    y: &[f64],
    delta: f64,
    epsilon: f64,
    par: Par,
) -> Result<GeneralizationBound> {
    check_probability("delta", delta)?;
    if !(epsilon.is_finite() && epsilon >= 0.0) {
        return Err(Error::InvalidParameter {
            arg: "epsilon",
            value: epsilon,
            reason: "must be finite and >= 0",
        });
    }
    let complexity = arora_complexity(h_infinity, y, par)?;
    let n = y.len() as f64;
    let confidence = 3.0 * ((6.0 / delta).ln() / (2.0 * n)).sqrt();
    Ok(GeneralizationBound {
        complexity,
        confidence,
        epsilon,
        total: complexity + confidence + epsilon,
    })
}

/// Zhang et al.'s Theorem 6 for natural gradient descent (seed 001, Eq. (18)): the same form
/// with G^∞ (equal to H^∞ for unit-norm inputs; it does not depend on the init scale ν):
///
/// $$ \mathcal L_{\mathcal D} \le \sqrt{\frac{2 y^\top (G^\infty)^{-1} y}{n}}
///    + 3\sqrt{\frac{\log(6/\delta)}{2n}} + \epsilon $$
///
/// # Reference
/// Zhang, Martens & Grosse 2019, arXiv:1905.10961, Thm 6.
pub fn zhang_ngd_theorem_6(
    g_infinity: MatRef<'_, f64>,
    y: &[f64],
    delta: f64,
    epsilon: f64,
    par: Par,
) -> Result<GeneralizationBound> {
    arora_theorem_5_1(g_infinity, y, delta, epsilon, par)
}

/// Cao & Gu's NTRF bound on the expected 0-1 error of SGD-trained deep ReLU nets (seed 001,
/// Corollary 3.10) with ỹ = y (feasible for ±1 labels, so this upper-bounds the infimum over
/// ỹᵢyᵢ ≥ 1), hidden Õ/O constants set to 1:
///
/// $$ L \sqrt{\frac{\tilde y^\top (\Theta^{(L)})^{-1} \tilde y}{n}} + \sqrt{\frac{\log(1/\delta)}{n}},
///    \qquad \delta \in (0, e^{-1}] $$
///
/// # Reference
/// Cao & Gu 2019, "Generalization Bounds of Stochastic Gradient Descent for Wide and Deep
/// Neural Networks", arXiv:1905.13210, Corollary 3.10.
pub fn cao_gu_ntrf(
    theta: MatRef<'_, f64>,
    y: &[f64],
    n_layers: usize,
    delta: f64,
    par: Par,
) -> Result<GeneralizationBound> {
    check_positive("n_layers", n_layers as f64)?;
    if !(delta > 0.0 && delta <= (-1.0f64).exp()) {
        return Err(Error::InvalidParameter {
            arg: "delta",
            value: delta,
            reason: "must lie in (0, 1/e]",
        });
    }
    let norm = rkhs_norm_squared(theta, y, par)?;
    let n = y.len() as f64;
    let complexity = n_layers as f64 * (norm / n).sqrt();
    let confidence = ((1.0 / delta).ln() / n).sqrt();
    Ok(GeneralizationBound {
        complexity,
        confidence,
        epsilon: 0.0,
        total: complexity + confidence,
    })
}

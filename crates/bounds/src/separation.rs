//! Data separation and the lower bounds on λ₀ = λ_min(H^∞) it implies.
//!
//! For unit-norm inputs the two-layer ReLU Gram matrix
//! H^∞_ij = xᵢᵀxⱼ(π − arccos xᵢᵀxⱼ)/(2π) is positive definite iff no two inputs are parallel
//! (Du et al. 2019, arXiv:1810.02054, Thm 3.1), and quantitatively λ₀ ≥ C·φ/n² in the separation
//! φ = min_{i≠j} min(‖xᵢ − xⱼ‖, ‖xᵢ + xⱼ‖).

use faer::MatRef;

use crate::error::{Error, Result, check_finite_mat, check_positive};

/// The closest pair of rows of a data matrix and its distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Separation {
    /// The separation value.
    pub value: f64,
    /// Index of the first row of the closest pair.
    pub first: usize,
    /// Index of the second row of the closest pair.
    pub second: usize,
}

fn closest_pair(
    x: MatRef<'_, f64>,
    arg: &'static str,
    distance: impl Fn(usize, usize) -> f64,
) -> Result<Separation> {
    if x.nrows() < 2 || x.ncols() == 0 {
        return Err(Error::InvalidParameter {
            arg,
            value: x.nrows() as f64,
            reason: "need at least two rows with at least one column",
        });
    }
    check_finite_mat(arg, x)?;
    let mut best = Separation {
        value: f64::INFINITY,
        first: 0,
        second: 1,
    };
    for i in 0..x.nrows() {
        for j in (i + 1)..x.nrows() {
            let value = distance(i, j);
            if value < best.value {
                best = Separation {
                    value,
                    first: i,
                    second: j,
                };
            }
        }
    }
    Ok(best)
}

/// The data separation of the rows of `x` (one input per row):
///
/// $$ \phi = \min_{i \ne j} \min(\|x_i - x_j\|_2, \|x_i + x_j\|_2) $$
///
/// φ = 0 iff two inputs are parallel or antiparallel (for unit-norm rows).
///
/// # Reference
/// Oymak & Soltanolkotabi 2019, arXiv:1902.04674, the separation δ of §2; Zou & Gu 2019,
/// arXiv:1906.04688, Prop. 3.6.
pub fn data_separation(x: MatRef<'_, f64>) -> Result<Separation> {
    closest_pair(x, "x", |i, j| {
        let (mut minus, mut plus) = (0.0, 0.0);
        for c in 0..x.ncols() {
            minus += (x[(i, c)] - x[(j, c)]).powi(2);
            plus += (x[(i, c)] + x[(j, c)]).powi(2);
        }
        minus.min(plus).sqrt()
    })
}

/// The minimum pairwise distance min_{i≠j} ‖xᵢ − xⱼ‖₂ of Zou & Gu's Assumption 3.2 (seed 001).
///
/// $$ \phi_{\mathrm{ZG}} = \min_{i \ne j} \|x_i - x_j\|_2 $$
///
/// # Reference
/// Zou & Gu 2019, arXiv:1906.04688, Assumption 3.2.
pub fn min_pairwise_distance(x: MatRef<'_, f64>) -> Result<Separation> {
    closest_pair(x, "x", |i, j| {
        (0..x.ncols())
            .map(|c| (x[(i, c)] - x[(j, c)]).powi(2))
            .sum::<f64>()
            .sqrt()
    })
}

/// The constant C of λ₀ ≥ C·φ/n² for the ReLU Gram matrix, as stated by Oymak &
/// Soltanolkotabi 2019 (arXiv:1902.04674) for unit-norm inputs: C = 1/100. Zou & Gu's Prop. 3.6
/// (seed 001) only says "a sufficiently small constant C" and defers to this result.
pub const OYMAK_SOLTANOLKOTABI_CONSTANT: f64 = 0.01;

/// Lower bound on λ₀ = λ_min(H^∞) from the data separation.
///
/// $$ \lambda_0 \ge C\,\phi\,n^{-2} $$
///
/// Assumes ‖xᵢ‖ = 1 and φ > 0 (use [`require_separated`], which fails with
/// [`Error::ParallelInputs`] when φ ≈ 0).
///
/// # Reference
/// Zou & Gu 2019, arXiv:1906.04688, Prop. 3.6 (seed 001); constant C = 1/100 from Oymak &
/// Soltanolkotabi 2019, arXiv:1902.04674 (ReLU lower bound on λ_min of the NTK covariance).
pub fn separation_lambda0_lower_bound(phi: f64, n: usize, constant: f64) -> Result<f64> {
    check_positive("phi", phi)?;
    check_positive("constant", constant)?;
    check_positive("n", n as f64)?;
    Ok(constant * phi / (n as f64).powi(2))
}

/// The separation of `x`, failing with [`Error::ParallelInputs`] when two rows are parallel up
/// to rounding (φ ≤ √ε): the regime where λ₀ = 0 and every bound that needs λ₀ > 0 is void.
pub fn require_separated(x: MatRef<'_, f64>) -> Result<Separation> {
    let sep = data_separation(x)?;
    if sep.value <= f64::EPSILON.sqrt() {
        return Err(Error::ParallelInputs {
            first: sep.first,
            second: sep.second,
            separation: sep.value,
        });
    }
    Ok(sep)
}

/// Zhang et al.'s Theorem 5 as stated in seed 001: with probability at least
/// 1 − n·exp(−n^β/4), λ₀ = λ_min(G^∞) ≥ n^β/2 for β ∈ (0, 0.5).
///
/// $$ \lambda_0 \ge n^\beta / 2 \quad\text{w.p.}\quad 1 - n e^{-n^\beta/4} $$
///
/// Returns `(bound, probability)`. Note: for unit-norm inputs every diagonal entry of G^∞ is
/// 1/2, so λ₀ ≤ 1/2 < n^β/2 for all n ≥ 2: the statement cannot hold with ‖xᵢ‖ = 1 as
/// transcribed, and the probability is vacuous (≤ 0) unless n^β > 4 ln n. See docs/bounds.md.
///
/// # Reference
/// Zhang, Martens & Grosse 2019, arXiv:1905.10961, Thm 5 (as quoted in seed 001).
pub fn zhang_lambda0_lower_bound(n: usize, beta: f64) -> Result<(f64, f64)> {
    check_positive("n", n as f64)?;
    if !(beta > 0.0 && beta < 0.5) {
        return Err(Error::InvalidParameter {
            arg: "beta",
            value: beta,
            reason: "must lie in (0, 0.5)",
        });
    }
    let nb = (n as f64).powf(beta);
    Ok((nb / 2.0, 1.0 - n as f64 * (-nb / 4.0).exp()))
}

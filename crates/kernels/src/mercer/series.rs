//! Mercer eigenvalues of dot-product kernels from their power series, without quadrature.
//!
//! A dot-product kernel that is positive definite on every sphere has a Taylor series
//! κ(t) = Σ_j b_j t^j with b_j ≥ 0 (Schoenberg 1942). By Rodrigues' formula and k integrations
//! by parts, the eigenvalue of t^j on S^{p−1} (normalisation of [`super::mercer_eigenvalues`]) is,
//! for j ≥ k with j − k = 2m even (and 0 otherwise),
//!
//! $$ c_{j,k} = \frac{\Gamma(p/2)}{\sqrt\pi\,\Gamma(\frac{p-1}{2})}\int_{-1}^{1} t^j P_k^{(p)}(t)(1-t^2)^{\frac{p-3}{2}}dt
//!    = \frac{j!}{2^k\,(j-k)!}\;\frac{\Gamma(m+\frac12)}{\Gamma(\frac12)}\;\frac{\Gamma(\frac p2)}{\Gamma(m+k+\frac p2)} > 0, $$
//!
//! so μ_k = Σ_{j ≥ k, j ≡ k (2)} b_j c_{j,k} is a sum of positive terms: no cancellation, and the
//! relative accuracy of μ_k does not degrade as μ_k/μ_0 falls below the double-precision
//! rounding level that limits any quadrature of the oscillating integrand κ(t)P_k(t).
//!
//! The sum over j converges slowly for kernels with a √(1 − t) singularity at t = 1
//! (b_j ~ j^{−3/2} for the ReLU NTK), its terms peaking near j ~ k². It is summed exactly up to
//! the last given coefficient J and the rest is estimated by the integral of the local power law
//! of the last two terms (Euler–Maclaurin to first order); the estimate is returned so that a
//! caller can check it is small.

use super::{MercerSpectrum, multiplicity};
use crate::{Error, Result};
use rayon::prelude::*;

/// r_n = C(2n, n)/4ⁿ = Γ(n + ½)/(√π n!) for n = 0..len, by r_n = r_{n−1}(2n − 1)/(2n).
fn central_binomial_ratios(len: usize) -> Vec<f64> {
    let mut r = Vec::with_capacity(len);
    let mut value = 1.0;
    for n in 0..len {
        if n > 0 {
            value *= (2 * n - 1) as f64 / (2 * n) as f64;
        }
        r.push(value);
    }
    r
}

/// Taylor coefficients b_0 … b_{n−1} of the arc-cosine kernels of Cho & Saul (2009),
/// order 0 or 1 (positive, from the series of arcsin and √(1 − t²)), with r_n = C(2n, n)/4ⁿ:
///
/// $$ \kappa_0(t) = \tfrac12 + \tfrac{\arcsin t}{\pi} = \tfrac12 + \sum_{n\ge0}\frac{r_n}{\pi(2n+1)}t^{2n+1},\qquad
///    \kappa_1(t) = \tfrac1\pi + \tfrac t2 + \sum_{m\ge1}\frac{r_{m-1}}{\pi(2m-1)(2m)}t^{2m}. $$
///
/// # Errors
/// `order` other than 0 or 1; `n_terms` = 0.
///
/// # Reference
/// Cho & Saul 2009 (NeurIPS), arc-cosine kernels; Bietti & Mairal 2019, arXiv:1905.12173,
/// Appendix C (the same series in the proof of Prop. 5); Abramowitz & Stegun 4.4.40, 3.6.9.
pub fn arc_cosine_coefficients(order: usize, n_terms: usize) -> Result<Vec<f64>> {
    if n_terms == 0 {
        return Err(Error::InvalidParameter {
            arg: "n_terms",
            value: "0".into(),
            reason: "need at least one coefficient",
        });
    }
    if order > 1 {
        return Err(Error::InvalidParameter {
            arg: "order",
            value: order.to_string(),
            reason: "only the arc-cosine kernels of order 0 and 1 are implemented",
        });
    }
    let r = central_binomial_ratios(n_terms / 2 + 1);
    let pi = std::f64::consts::PI;
    let coefficient = |j: usize| -> f64 {
        match (order, j) {
            (0, 0) => 0.5,
            (0, j) if j % 2 == 1 => r[(j - 1) / 2] / (pi * j as f64),
            (1, 0) => 1.0 / pi,
            (1, 1) => 0.5,
            (1, j) if j % 2 == 0 => r[j / 2 - 1] / (pi * ((j - 1) * j) as f64),
            _ => 0.0,
        }
    };
    Ok((0..n_terms).map(coefficient).collect())
}

/// Taylor coefficients b_0 … b_{n−1} of the two-layer ReLU NTK κ(t) = tκ₀(t) + κ₁(t):
///
/// $$ \kappa(t) = \frac1\pi + t + \sum_{m\ge1}\frac{r_{m-1}\,(2m+1)}{\pi\,(2m-1)(2m)}\,t^{2m},
///    \qquad r_n = \binom{2n}{n}4^{-n}, $$
///
/// all positive, the odd part being exactly t (so μ_k = 0 for odd k ≥ 3).
///
/// # Errors
/// `n_terms` = 0.
///
/// # Reference
/// Bietti & Mairal 2019, arXiv:1905.12173, eq. (5) and Appendix C (proof of Prop. 5).
pub fn relu_ntk_coefficients(n_terms: usize) -> Result<Vec<f64>> {
    let k0 = arc_cosine_coefficients(0, n_terms + 1)?;
    let k1 = arc_cosine_coefficients(1, n_terms)?;
    // t·κ₀(t) shifts the coefficients of κ₀ by one power.
    Ok((0..n_terms)
        .map(|j| k1[j] + if j > 0 { k0[j - 1] } else { 0.0 })
        .collect())
}

fn check_sphere(sphere_dim: usize) -> Result<()> {
    if sphere_dim < 2 {
        return Err(Error::InvalidParameter {
            arg: "sphere_dim",
            value: sphere_dim.to_string(),
            reason: "the sphere S^{p-1} needs p >= 2",
        });
    }
    Ok(())
}

/// ln c_{k,k} = ln(k! Γ(p/2) / (2ᵏ Γ(k + p/2))), the first term of the sum for degree k.
fn log_leading_projection(p: f64, k: usize) -> f64 {
    let kf = k as f64;
    libm::lgamma(kf + 1.0) + libm::lgamma(0.5 * p)
        - kf * std::f64::consts::LN_2
        - libm::lgamma(kf + 0.5 * p)
}

/// c_{j+2,k}/c_{j,k} with m = (j − k)/2.
#[inline]
fn projection_ratio(p: f64, j: usize, k: usize) -> f64 {
    let (jf, kf) = (j as f64, k as f64);
    let m = 0.5 * (jf - kf);
    ((jf + 2.0) * (jf + 1.0)) / ((jf - kf + 2.0) * (jf - kf + 1.0)) * (m + 0.5) / (m + kf + 0.5 * p)
}

/// The eigenvalue c_{j,k} of the monomial t^j on S^{p−1} (the closed form in the module docs;
/// 0 when j < k or j − k is odd), through ln Γ.
///
/// # Errors
/// p < 2.
///
/// # Reference
/// Atkinson & Han 2012, *Spherical Harmonics and Approximations on the Unit Sphere*, Prop. 2.26
/// (Rodrigues' formula) and Eq. (2.84); Bietti & Mairal 2019, arXiv:1905.12173, Appendix C.
pub fn monomial_projection(sphere_dim: usize, power: usize, degree: usize) -> Result<f64> {
    check_sphere(sphere_dim)?;
    if power < degree || (power - degree) % 2 == 1 {
        return Ok(0.0);
    }
    let p = sphere_dim as f64;
    let m = 0.5 * (power - degree) as f64;
    let log_value = libm::lgamma(power as f64 + 1.0)
        - libm::lgamma(2.0 * m + 1.0)
        - degree as f64 * std::f64::consts::LN_2
        + libm::lgamma(m + 0.5)
        - libm::lgamma(0.5)
        + libm::lgamma(0.5 * p)
        - libm::lgamma(m + degree as f64 + 0.5 * p);
    Ok(log_value.exp())
}

/// Mercer eigenvalues from a power series, with the estimated truncation tail per degree.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSpectrum {
    /// μ_k (sum up to the last coefficient plus the tail estimate) and N(p, k).
    pub spectrum: MercerSpectrum,
    /// The tail estimate included in each μ_k (0 where the sum has no terms beyond the last
    /// coefficient of its parity); compare with `spectrum.eigenvalues` for the truncation error.
    pub tail: Vec<f64>,
}

/// Mercer eigenvalues μ_0 … μ_K on S^{p−1} of κ(t) = Σ_j b_j t^j from the coefficients
/// `coefficients` = (b_0, …, b_J) (finite, ≥ 0):
///
/// $$ \mu_k = \sum_{j=k,\,k+2,\dots}^{J} b_j\,c_{j,k} \;+\; \underbrace{\frac{T_J\,J^{s}}{2(s-1)}(J+1)^{1-s}}_{\text{tail}},
///    \qquad s = -\frac{\ln(T_J/T_{J-2})}{\ln(J/(J-2))}, $$
///
/// with T_j = b_j c_{j,k} and c_{j,k} from [`monomial_projection`] (first term through ln Γ, the
/// rest by the exact ratio c_{j+2,k}/c_{j,k}). The tail assumes the terms follow their local
/// power law beyond J; it is set to 0 when the last two terms of the parity are not both positive
/// (a polynomial kernel), and it is an error when the terms do not decay faster than 1/j (the
/// truncated sum would not have converged). Degrees are independent and run in parallel; each
/// sum is in a fixed order, so the result does not depend on the thread count.
///
/// # Errors
/// p < 2; empty, negative or non-finite coefficients; K ≥ J (no terms); the first term of a
/// degree underflowing f64 (K in the thousands); [`Error::NotConverged`] when the local decay
/// exponent s ≤ 1 at J (residual = the last term relative to the partial sum).
///
/// # Reference
/// Bietti & Mairal 2019, arXiv:1905.12173, Appendix C (Mercer decomposition through the power
/// series of κ); Schoenberg 1942, Duke Math. J. 9 (b_j ≥ 0); Atkinson & Han 2012, Prop. 2.26.
pub fn mercer_eigenvalues_series(
    coefficients: &[f64],
    sphere_dim: usize,
    max_degree: usize,
) -> Result<SeriesSpectrum> {
    check_sphere(sphere_dim)?;
    if coefficients.is_empty() {
        return Err(Error::Empty {
            arg: "coefficients",
        });
    }
    crate::error::check_finite("coefficients", coefficients)?;
    if let Some(index) = coefficients.iter().position(|&b| b < 0.0) {
        return Err(Error::InvalidParameter {
            arg: "coefficients",
            value: format!("b_{index} = {}", coefficients[index]),
            reason: "the coefficients of a positive-definite dot-product kernel are >= 0",
        });
    }
    let last = coefficients.len() - 1;
    if max_degree >= last {
        return Err(Error::InvalidParameter {
            arg: "max_degree",
            value: max_degree.to_string(),
            reason: "need more series coefficients than the largest degree",
        });
    }
    let p = sphere_dim as f64;
    let per_degree: Vec<Result<(f64, f64)>> = (0..=max_degree)
        .into_par_iter()
        .map(|k| {
            let log_first = log_leading_projection(p, k);
            let mut projection = log_first.exp();
            if projection <= f64::MIN_POSITIVE {
                return Err(Error::InvalidParameter {
                    arg: "max_degree",
                    value: k.to_string(),
                    reason: "the projection c_{k,k} underflows f64 at this degree",
                });
            }
            // Neumaier-compensated sum: up to 10⁶ small terms are added onto a sum of order 1.
            let mut sum = 0.0;
            let mut compensation = 0.0;
            let mut previous_term;
            let mut last_term = 0.0;
            let mut j = k;
            loop {
                let term = coefficients[j] * projection;
                let next = sum + term;
                compensation += if sum >= term {
                    (sum - next) + term
                } else {
                    (term - next) + sum
                };
                sum = next;
                previous_term = std::mem::replace(&mut last_term, term);
                if j + 2 > last {
                    break;
                }
                projection *= projection_ratio(p, j, k);
                j += 2;
            }
            let sum = sum + compensation;
            let tail = if j >= k + 2 && last_term > 0.0 && previous_term > 0.0 {
                let jf = j as f64;
                let exponent = -(last_term / previous_term).ln() / (jf / (jf - 2.0)).ln();
                if exponent <= 1.0 {
                    return Err(Error::NotConverged {
                        what: "power series of the Mercer eigenvalue (terms decay no faster than 1/j)",
                        iterations: j,
                        residual: last_term / sum,
                    });
                }
                last_term * jf.powf(exponent) * (jf + 1.0).powf(1.0 - exponent)
                    / (2.0 * (exponent - 1.0))
            } else {
                0.0
            };
            Ok((sum + tail, tail))
        })
        .collect();
    let mut eigenvalues = Vec::with_capacity(max_degree + 1);
    let mut tail = Vec::with_capacity(max_degree + 1);
    for entry in per_degree {
        let (mu, t) = entry?;
        eigenvalues.push(mu);
        tail.push(t);
    }
    let multiplicities = (0..=max_degree)
        .map(|k| multiplicity(sphere_dim, k))
        .collect::<Result<Vec<_>>>()?;
    Ok(SeriesSpectrum {
        spectrum: MercerSpectrum {
            sphere_dim,
            eigenvalues,
            multiplicities,
        },
        tail,
    })
}

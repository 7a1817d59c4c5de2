//! Mercer spectra of dot-product kernels on the sphere S^{p−1} ⊂ ℝ^p.
//!
//! A kernel K(x, y) = κ(⟨x, y⟩) on S^{p−1} with the uniform probability measure τ diagonalises
//! in spherical harmonics: the degree-k harmonics (a space of dimension N(p, k)) share one
//! eigenvalue, given by the Funk–Hecke formula
//!
//! $$ \mu_k = \frac{|S^{p-2}|}{|S^{p-1}|}\int_{-1}^{1}\kappa(t)\,P_k^{(p)}(t)\,(1-t^2)^{\frac{p-3}{2}}\,dt,
//!    \qquad \frac{|S^{p-2}|}{|S^{p-1}|} = \frac{\Gamma(p/2)}{\sqrt\pi\,\Gamma(\frac{p-1}{2})}, $$
//!
//! with P_k^{(p)} the Gegenbauer (Legendre for p = 3) polynomial normalised by P_k^{(p)}(1) = 1,
//! so that κ(t) = Σ_k N(p, k) μ_k P_k^{(p)}(t) and Σ_k N(p, k) μ_k = κ(1).
//!
//! **Quadrature.** Dot-product kernels of ReLU networks have √(1 − t²)-type singularities at
//! t = ±1 (arccos t, √(1 − t²)), which limit any rule in t to algebraic convergence. With
//! t = cos θ those terms become θ and sin θ, so the integrand
//! κ(cos θ) P_k(cos θ) sin^{p−2} θ is analytic on [0, π] and Gauss–Legendre in θ converges
//! geometrically. The default rule has max(512, 8K + 128) nodes (K the largest degree); for the
//! two-layer ReLU NTK the eigenvalues agree with a rule of twice that size to ~1e-16 absolute,
//! i.e. to ~1e-12 relative up to k ≈ 100 for p = 3 (the tail μ_k ~ k^{−p} eventually sinks into
//! the ~1e-17 absolute rounding floor of the sum, relative error ≈ 1e-17·k^{p}/C).
//!
//! **Power series.** [`series`] computes the same eigenvalues from the Taylor coefficients of κ
//! as a sum of positive terms, exact to relative rounding far into the tail (large p, large k).

use crate::{Error, Result};
use gauss_quad::legendre::GaussLegendre;
use std::num::NonZeroUsize;
use std::ops::RangeInclusive;

pub mod series;
pub use series::{
    SeriesSpectrum, arc_cosine_coefficients, mercer_eigenvalues_series, monomial_projection,
    relu_ntk_coefficients,
};

/// Sphere dimension, largest degree and quadrature size of a Mercer computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MercerConfig {
    /// p: the sphere is S^{p−1} ⊂ ℝ^p (p ≥ 2).
    pub sphere_dim: usize,
    /// K: eigenvalues μ_0 … μ_K are computed.
    pub max_degree: usize,
    /// Gauss–Legendre nodes in θ ∈ [0, π].
    pub quadrature_nodes: usize,
}

impl MercerConfig {
    /// S^{p−1}, degrees 0..=K, with the default max(512, 8K + 128) quadrature nodes.
    pub fn new(sphere_dim: usize, max_degree: usize) -> Self {
        Self {
            sphere_dim,
            max_degree,
            quadrature_nodes: (8 * max_degree + 128).max(512),
        }
    }

    fn check(&self) -> Result<()> {
        if self.sphere_dim < 2 {
            return Err(Error::InvalidParameter {
                arg: "sphere_dim",
                value: self.sphere_dim.to_string(),
                reason: "the sphere S^{p-1} needs p >= 2",
            });
        }
        if self.quadrature_nodes <= self.max_degree {
            return Err(Error::InvalidParameter {
                arg: "quadrature_nodes",
                value: self.quadrature_nodes.to_string(),
                reason: "need more quadrature nodes than the largest degree",
            });
        }
        Ok(())
    }
}

/// The spectrum μ_0 … μ_K with multiplicities N(p, k).
#[derive(Debug, Clone, PartialEq)]
pub struct MercerSpectrum {
    /// p (the sphere is S^{p−1}).
    pub sphere_dim: usize,
    /// μ_k, k = 0..=K.
    pub eigenvalues: Vec<f64>,
    /// N(p, k), k = 0..=K (as f64; exact below 2^53).
    pub multiplicities: Vec<f64>,
}

impl MercerSpectrum {
    /// Σ_{k ≤ K} N(p, k) μ_k (→ κ(1) as K → ∞).
    pub fn trace(&self) -> f64 {
        self.eigenvalues
            .iter()
            .zip(&self.multiplicities)
            .map(|(mu, n)| mu * n)
            .sum()
    }
}

/// Normalised Gegenbauer polynomials P_0^{(p)}(t) … P_K^{(p)}(t) (P_k(1) = 1) into `out`.
///
/// $$ P_0 = 1,\quad P_1 = t,\quad (k + p - 2)\,P_{k+1}(t) = (2k + p - 2)\,t\,P_k(t) - k\,P_{k-1}(t) $$
///
/// (Legendre for p = 3, Chebyshev T_k for p = 2, U_k/(k+1) for p = 4).
///
/// # Reference
/// Atkinson & Han 2012, *Spherical Harmonics and Approximations on the Unit Sphere*, Eq. (2.82).
pub fn gegenbauer(sphere_dim: usize, t: f64, out: &mut [f64]) -> Result<()> {
    if sphere_dim < 2 {
        return Err(Error::InvalidParameter {
            arg: "sphere_dim",
            value: sphere_dim.to_string(),
            reason: "the sphere S^{p-1} needs p >= 2",
        });
    }
    if !t.is_finite() {
        return Err(Error::NonFinite {
            arg: "t",
            index: 0,
            value: t,
        });
    }
    gegenbauer_unchecked(sphere_dim as f64, t, out);
    Ok(())
}

fn gegenbauer_unchecked(p: f64, t: f64, out: &mut [f64]) {
    if out.is_empty() {
        return;
    }
    out[0] = 1.0;
    if out.len() > 1 {
        out[1] = t;
    }
    for k in 1..out.len().saturating_sub(1) {
        let kf = k as f64;
        out[k + 1] = ((2.0 * kf + p - 2.0) * t * out[k] - kf * out[k - 1]) / (kf + p - 2.0);
    }
}

/// Dimension N(p, k) of the degree-k spherical harmonics on S^{p−1}.
///
/// $$ N(p, 0) = 1,\qquad N(p, k) = \frac{2k + p - 2}{k}\binom{k + p - 3}{p - 2} $$
///
/// evaluated through ln Γ (libm `lgamma`, ~1e-15 relative) so that large p, k do not overflow;
/// exact integers are returned while they are below 2^53.
///
/// # Reference
/// Atkinson & Han 2012, Eq. (2.10); Bietti & Mairal 2019, arXiv:1905.12173, §3.
pub fn multiplicity(sphere_dim: usize, degree: usize) -> Result<f64> {
    if sphere_dim < 2 {
        return Err(Error::InvalidParameter {
            arg: "sphere_dim",
            value: sphere_dim.to_string(),
            reason: "the sphere S^{p-1} needs p >= 2",
        });
    }
    if degree == 0 {
        return Ok(1.0);
    }
    let (p, k) = (sphere_dim as f64, degree as f64);
    if sphere_dim == 2 {
        return Ok(2.0);
    }
    // C(k + p − 3, p − 2) = Γ(k + p − 2) / (Γ(p − 1) Γ(k)).
    let log_binomial = libm::lgamma(k + p - 2.0) - libm::lgamma(p - 1.0) - libm::lgamma(k);
    let value = (2.0 * k + p - 2.0) / k * log_binomial.exp();
    if value < 2f64.powi(53) {
        Ok(value.round())
    } else if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            arg: "degree",
            value: degree.to_string(),
            reason: "the multiplicity N(p, k) overflows f64",
        })
    }
}

/// |S^{p−2}|/|S^{p−1}| = Γ(p/2)/(√π Γ((p−1)/2)), the density normalisation of t = ⟨x, e⟩ under
/// the uniform measure on S^{p−1}: 1/π for p = 2, 1/2 for p = 3, then the exact step
/// r(p + 2) = r(p)·p/(p − 1) (relative error ≈ (p/2)·ε, better than ln Γ differences).
///
/// # Reference
/// Atkinson & Han 2012, Eq. (1.16) and Prop. 1.19 (surface areas of spheres).
pub fn sphere_area_ratio(sphere_dim: usize) -> f64 {
    let (mut ratio, mut p) = if sphere_dim.is_multiple_of(2) {
        (std::f64::consts::FRAC_1_PI, 2usize)
    } else {
        (0.5, 3usize)
    };
    while p < sphere_dim {
        ratio *= p as f64 / (p - 1) as f64;
        p += 2;
    }
    ratio
}

/// Mercer eigenvalues μ_0 … μ_K of the dot-product kernel κ(⟨x, y⟩) on S^{p−1} (see the module
/// docs for the Funk–Hecke formula and the quadrature in θ = arccos t).
///
/// $$ \mu_k = \frac{\Gamma(p/2)}{\sqrt\pi\,\Gamma(\frac{p-1}{2})}\int_0^\pi
///    \kappa(\cos\theta)\,P_k^{(p)}(\cos\theta)\,\sin^{p-2}\theta\,d\theta $$
///
/// `kappa` is evaluated at the quadrature nodes t = cos θ ∈ (−1, 1); a non-finite value is
/// [`Error::NonFinite`] with the node index.
///
/// # Reference
/// Bietti & Mairal 2019, arXiv:1905.12173, §3 and Prop. 5; Atkinson & Han 2012, Thm 2.22
/// (Funk–Hecke); Smola, Óvári & Williamson 2001 (dot-product kernels on the sphere).
pub fn mercer_eigenvalues(
    kappa: impl Fn(f64) -> f64,
    config: MercerConfig,
) -> Result<MercerSpectrum> {
    config.check()?;
    let p = config.sphere_dim as f64;
    let nodes = NonZeroUsize::new(config.quadrature_nodes).ok_or(Error::InvalidParameter {
        arg: "quadrature_nodes",
        value: "0".into(),
        reason: "need at least one node",
    })?;
    let rule = GaussLegendre::new(nodes);
    let ratio = sphere_area_ratio(config.sphere_dim);
    let half_pi = std::f64::consts::FRAC_PI_2;
    let n_degrees = config.max_degree + 1;
    let mut eigenvalues = vec![0.0; n_degrees];
    let mut poly = vec![0.0; n_degrees];
    for (index, (x, w)) in rule.iter().enumerate() {
        // x ∈ (−1, 1) ↦ θ = π(x + 1)/2 ∈ (0, π), dθ = (π/2) dx.
        let theta = half_pi * (x + 1.0);
        let t = theta.cos();
        let value = kappa(t);
        if !value.is_finite() {
            return Err(Error::NonFinite {
                arg: "kappa",
                index,
                value,
            });
        }
        let weight = ratio * half_pi * w * theta.sin().powi(config.sphere_dim as i32 - 2) * value;
        gegenbauer_unchecked(p, t, &mut poly);
        for (mu, pk) in eigenvalues.iter_mut().zip(&poly) {
            *mu += weight * pk;
        }
    }
    let multiplicities = (0..n_degrees)
        .map(|k| multiplicity(config.sphere_dim, k))
        .collect::<Result<Vec<_>>>()?;
    Ok(MercerSpectrum {
        sphere_dim: config.sphere_dim,
        eigenvalues,
        multiplicities,
    })
}

/// Which degrees enter a decay fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    Even,
    Odd,
    All,
}

/// Result of a power-law fit μ_k ≈ C·k^{−s}.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecayFit {
    /// The decay exponent s.
    pub exponent: f64,
    /// ln C.
    pub log_prefactor: f64,
    /// Number of degrees used.
    pub n_points: usize,
    /// Largest |residual| of the least-squares fit in ln μ.
    pub max_residual: f64,
}

/// Least-squares fit of ln μ_k = ln C − s·ln k over the degrees in `degrees` with the given
/// parity (all selected μ_k must be > 0; k = 0 is skipped).
///
/// $$ s = -\frac{\sum_k (\ln k - \overline{\ln k})(\ln\mu_k - \overline{\ln\mu})}{\sum_k (\ln k - \overline{\ln k})^2} $$
///
/// # Reference
/// Bietti & Mairal 2019, arXiv:1905.12173, Prop. 5 (μ_k ~ C(p) k^{−p} for even k for the ReLU
/// NTK); ordinary least squares on a log–log scale.
pub fn fit_decay_exponent(
    eigenvalues: &[f64],
    degrees: RangeInclusive<usize>,
    parity: Parity,
) -> Result<DecayFit> {
    let selected: Vec<usize> = degrees
        .filter(|&k| k >= 1 && k < eigenvalues.len())
        .filter(|&k| match parity {
            Parity::Even => k % 2 == 0,
            Parity::Odd => k % 2 == 1,
            Parity::All => true,
        })
        .collect();
    if selected.len() < 2 {
        return Err(Error::InvalidParameter {
            arg: "degrees",
            value: format!("{} usable degrees", selected.len()),
            reason: "a power-law fit needs at least two degrees >= 1 within the spectrum",
        });
    }
    if let Some(&k) = selected
        .iter()
        .find(|&&k| !(eigenvalues[k].is_finite() && eigenvalues[k] > 0.0))
    {
        return Err(Error::InvalidParameter {
            arg: "eigenvalues",
            value: format!("mu_{k} = {}", eigenvalues[k]),
            reason: "a power-law fit needs positive eigenvalues at the selected degrees",
        });
    }
    let xs: Vec<f64> = selected.iter().map(|&k| (k as f64).ln()).collect();
    let ys: Vec<f64> = selected.iter().map(|&k| eigenvalues[k].ln()).collect();
    let m = xs.len() as f64;
    let x_mean = xs.iter().sum::<f64>() / m;
    let y_mean = ys.iter().sum::<f64>() / m;
    let sxx: f64 = xs.iter().map(|x| (x - x_mean).powi(2)).sum();
    let sxy: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (x - x_mean) * (y - y_mean))
        .sum();
    let slope = sxy / sxx;
    let intercept = y_mean - slope * x_mean;
    let max_residual = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (y - intercept - slope * x).abs())
        .fold(0.0, f64::max);
    Ok(DecayFit {
        exponent: -slope,
        log_prefactor: intercept,
        n_points: selected.len(),
        max_residual,
    })
}

//! Two-layer ReLU kernels of the lecture material and the Bietti–Mairal deep ReLU NTK recursion.
//!
//! $$ \kappa_0(u) = \frac{\pi-\arccos u}{\pi},\quad \kappa_1(u) = \frac{u(\pi-\arccos u)+\sqrt{1-u^2}}{\pi},\quad
//!    \kappa(u) = u\kappa_0(u)+\kappa_1(u),\quad K(x,x') = \|x\|\|x'\|\,\kappa\Big(\tfrac{\langle x,x'\rangle}{\|x\|\|x'\|}\Big). $$
//!
//! Convention map to neural-tangents: with c_σ = 2, Σ⁽⁰⁾ = xᵀx' (Arora et al. 2019) the NTK of a
//! ReLU net with L hidden layers and no biases equals d/2 times neural-tangents' Θ for
//! `Dense(W_std = √2, b_std = None)` layers (its Σ⁽⁰⁾ = xᵀx'/d and the readout's w² = 2 supply the
//! factor 2/d, and the ReLU recursion is positively 1-homogeneous). See `docs/kernels.md`.

use crate::{Error, Result};
use std::f64::consts::PI;

/// κ₀(u) = (π − arccos u)/π, u clamped into [−1, 1].
///
/// # Reference
/// Bietti & Mairal 2019, arXiv:1905.12173, eq. (4); Cho & Saul 2009 (arc-cosine kernel of degree 0).
pub fn kappa0(u: f64) -> f64 {
    let u = u.clamp(-1.0, 1.0);
    (PI - u.acos()) / PI
}

/// κ₁(u) = (u(π − arccos u) + √(1 − u²))/π, u clamped into [−1, 1].
///
/// # Reference
/// Bietti & Mairal 2019, arXiv:1905.12173, eq. (4); Cho & Saul 2009 (degree 1).
pub fn kappa1(u: f64) -> f64 {
    let u = u.clamp(-1.0, 1.0);
    (u * (PI - u.acos()) + (1.0 - u * u).max(0.0).sqrt()) / PI
}

/// κ(u) = u κ₀(u) + κ₁(u), the two-layer ReLU NTK on the sphere.
///
/// # Reference
/// Bietti & Mairal 2019, arXiv:1905.12173, eq. (5).
pub fn kappa(u: f64) -> f64 {
    u.clamp(-1.0, 1.0) * kappa0(u) + kappa1(u)
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn check_pair(x: &[f64], y: &[f64]) -> Result<(f64, f64, f64)> {
    if x.is_empty() {
        return Err(Error::Empty { arg: "x" });
    }
    if x.len() != y.len() {
        return Err(Error::ShapeMismatch {
            arg: "y",
            expected: x.len().to_string(),
            found: y.len().to_string(),
        });
    }
    crate::error::check_finite("x", x)?;
    crate::error::check_finite("y", y)?;
    let (nx, ny) = (norm(x), norm(y));
    if nx == 0.0 {
        return Err(Error::ZeroNorm { arg: "x", index: 0 });
    }
    if ny == 0.0 {
        return Err(Error::ZeroNorm { arg: "y", index: 0 });
    }
    let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
    Ok((nx, ny, (dot / (nx * ny)).clamp(-1.0, 1.0)))
}

/// K(x, x') = ‖x‖‖x'‖ κ(cos∠(x, x')), the NTK of a two-layer ReLU network.
///
/// # Errors
/// Empty, mismatched or non-finite inputs; a zero-norm input (the angle is undefined).
///
/// # Reference
/// Bietti & Mairal 2019, arXiv:1905.12173, eq. (5).
pub fn two_layer_ntk(x: &[f64], y: &[f64]) -> Result<f64> {
    let (nx, ny, u) = check_pair(x, y)?;
    Ok(nx * ny * kappa(u))
}

/// Du et al.'s Gram entry H^∞(x, x') = E_w[xᵀx' 1{wᵀx ≥ 0, wᵀx' ≥ 0}] = xᵀx'(π − arccos u)/(2π),
/// u = cos∠(x, x') (= xᵀx' on the unit sphere, where this is the paper's formula).
///
/// # Errors
/// As [`two_layer_ntk`].
///
/// # Reference
/// Du et al. 2019, arXiv:1810.02054, eq. (3)–(4) and Sec. 3.
pub fn du_gram_entry(x: &[f64], y: &[f64]) -> Result<f64> {
    let (nx, ny, u) = check_pair(x, y)?;
    Ok(nx * ny * u * kappa0(u) / 2.0)
}

/// The Bietti–Mairal Lemma 1 recursion as a kernel recursion for a ReLU net with `n_hidden`
/// hidden layers (c_σ = 2, no biases): with u₀ = cos∠(x, x'), Σ₀ = ‖x‖‖x'‖u₀, Θ₀ = Σ₀,
///
/// $$ u_k = \kappa_1(u_{k-1}),\quad \Sigma_k = \|x\|\|x'\|u_k,\quad
///    \Theta_k = \Theta_{k-1}\,\kappa_0(u_{k-1}) + \Sigma_k,\qquad k = 1..L, $$
///
/// returning Θ_L (= Arora et al.'s Θ⁽ᴸ⁾ = d/2 × neural-tangents' Θ with W_std = √2, b_std = None).
///
/// # Errors
/// As [`two_layer_ntk`].
///
/// # Reference
/// Bietti & Mairal 2019, arXiv:1905.12173, Lemma 1 and Prop. 2; Arora et al. 2019,
/// arXiv:1904.11955, Thm 3.1.
pub fn bietti_mairal_ntk(x: &[f64], y: &[f64], n_hidden: usize) -> Result<f64> {
    let (nx, ny, mut u) = check_pair(x, y)?;
    let scale = nx * ny;
    let mut theta = scale * u;
    for _ in 0..n_hidden {
        let next = kappa1(u);
        theta = theta * kappa0(u) + scale * next;
        u = next;
    }
    Ok(theta)
}

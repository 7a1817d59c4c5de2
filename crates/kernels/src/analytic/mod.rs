//! Analytic infinite-width kernels of deep fully-connected networks.
//!
//! A `Dense` layer maps the pair kernel (Σ, Θ) affinely, a nonlinearity through its dual
//! activation ([`dual`](mod@dual)):
//!
//! $$ \Sigma \leftarrow w^2\Sigma + b^2,\quad \Theta \leftarrow \Sigma_{\rm new} + w^2\Theta \quad
//!    \text{(NTK parameterization)};\qquad
//!    \Sigma \leftarrow \mathbb E[\sigma(u)\sigma(v)],\quad \Theta \leftarrow \mathbb E[\sigma'(u)\sigma'(v)]\,\Theta, $$
//!
//! starting from Σ⁽⁰⁾ = xᵀx'/d, Θ⁽⁰⁾ = 0 (neural-tangents 0.6.5 conventions, see `docs/kernels.md`).
//!
//! - [`dual`](mod@dual): Gaussian expectations per activation (closed forms, quadrature);
//! - [`quadrature`]: Gauss–Hermite rules;
//! - [`arc`]: vectorisable arcsine/arccosine for the elementwise loops.

pub mod arc;
pub mod dual;
pub mod quadrature;

pub use dual::{Dual, HermiteCoefficients, dual, dual_diagonal};
pub mod recursion;

pub use recursion::{
    Get, Kernel, LayerKernel, kernel, kernel_diagonal, kernel_into, kernel_layerwise,
};

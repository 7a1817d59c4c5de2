//! # ntk-bounds: the quantitative side of the over-parameterisation theorems
//!
//! Wide two-layer and deep ReLU networks trained by (stochastic, natural) gradient descent
//! behave like kernel regression with a fixed Gram matrix H^∞ / Θ^(L) (Du et al. 2019,
//! arXiv:1810.02054; Arora et al. 2019, arXiv:1904.11955). Everything those analyses promise is
//! a function of that Gram matrix:
//!
//! * its smallest eigenvalue λ₀ = λ_min(H^∞), positive iff no two inputs are parallel, with
//!   λ₀ ≥ Cφ/n² in the data separation φ ([`gram`], [`lambda_min`], [`separation`]), and how
//!   λ_min of the empirical Θ̂ of a width-m network approaches λ_min(Θ^(L)) ([`ntk_gram`]);
//! * the widths m that make the theorems apply ([`width`]);
//! * generalization bounds in the RKHS norm yᵀK⁻¹y, e.g.
//!   $$ L_{\mathcal D} \le \sqrt{2 y^\top (H^\infty)^{-1} y / n} + 3\sqrt{\log(6/\delta)/(2n)} $$
//!   ([`generalization`], [`rademacher`]);
//! * how fast a finite-N kernel concentrates, ‖K^{−1/2}K_N K^{−1/2} − I‖ ≲ √((n+d)/(Nd))
//!   ([`concentration`]);
//! * all evaluated on real data: the UCI digits ([`digits`], [`label_noise`]).
//!
//! Gram matrices are passed as faer `MatRef<f64>`; every function validates its input and
//! returns [`Error`] (never a panic, an infinity or a NaN) on bad input.

pub mod concentration;
pub mod digits;
pub mod error;
pub mod fashion_mnist;
pub mod generalization;
pub mod gram;
pub mod label_noise;
pub mod lambda_min;
mod linalg;
pub mod ntk_gram;
pub mod rademacher;
pub mod separation;
pub mod sha256;
pub mod test_models;
pub mod width;

pub use error::{Error, Result};
pub use linalg::check_gram;

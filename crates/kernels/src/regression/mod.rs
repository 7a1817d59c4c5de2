//! Kernel regression and the infinite-width predictions of trained networks.
//!
//! - [`least_norm_interpolator`]: f̂(x) = k(x, X)K⁻¹y, the limit of a wide network trained to
//!   zero loss from f₀ = 0 (Pleiss, Lecture 09 = seed 000, Thm 1);
//! - [`kernel_ridge`]: f̂(x) = k(x, X)(λI + K)⁻¹y (Lecture 11 = seed 004, §1.2);
//! - [`gp_inference`]: Gaussian-process posterior mean and covariance;
//! - [`GradientDescentMse`]: f_t on train and test points under MSE gradient flow with a fixed
//!   NTK, for any t ≥ 0 and t = ∞ (Lee et al. 2019, arXiv:1902.06720, Eqs. (10)–(11));
//! - [`NtkGp`]: mean and covariance of the ensemble of infinitely wide networks trained by MSE
//!   gradient flow (Lee et al. 2019, Eqs. (15)–(16));
//! - [`conjugate_gradient`], [`gradient_flow_lanczos`]: the same predictions at t = ∞ and finite
//!   t from products with the kernel only ([`SymmetricOperator`]), for kernels streamed from disk;
//!   [`preconditioned_conjugate_gradient`] with a [`Nystrom`] preconditioner for large, badly
//!   conditioned kernels.
//!
//! Every solve goes through faer (Cholesky for t = ∞, one self-adjoint eigendecomposition for all
//! finite t) and reports its condition number in a [`SolveInfo`] (for the Cholesky solves of
//! [`GradientDescentMse`] and [`NtkGp`], on request: `info`). A singular or indefinite
//! kernel matrix is [`crate::Error::NotPositiveDefinite`] with λ_min; a ridge/jitter is added only
//! when the caller passes one.

mod conjugate_gradient;
mod eigen;
mod gradient_flow;
mod krylov_flow;
mod lanczos;
mod nystrom;
mod preconditioner;
mod ridge;
mod spd;

pub use conjugate_gradient::{
    CgConfig, CgInfo, DenseOperator, SymmetricOperator, conjugate_gradient,
    preconditioned_conjugate_gradient, preconditioned_conjugate_gradient_ridges,
};
pub use eigen::Eigen;
pub use gradient_flow::{
    EnsemblePrediction, EnsembleTestSet, GradientDescentMse, MseConfig, MsePrediction, NtkGp,
    TestSet,
};
pub use krylov_flow::{CHECK_EVERY, FlowVectors, LanczosConfig, gradient_flow_lanczos};
pub use lanczos::{LANCZOS_RTOL, LANCZOS_STEPS};
pub use nystrom::{Nystrom, NystromConfig};
pub use preconditioner::{Jacobi, Preconditioner};
pub use ridge::{Gaussian, Prediction, gp_inference, kernel_ridge, least_norm_interpolator};
pub use spd::{Cholesky, SolveInfo};

//! # ntk-nets: finite-width networks with hand-written derivatives
//!
//! Multi-layer perceptrons in neural-tangents' parameterizations, the two-layer models of the
//! lecture material, and everything needed to compare them with the infinite-width kernels of
//! `ntk-kernels`: batched forward/backward passes, Jacobians, the empirical NTK
//! Θ̂(x, x') = ⟨∇θ f(x), ∇θ f(x')⟩, Hessian-vector products and Hessian norms, and the
//! lazy-training ratio κ = ‖∇²θ f‖·‖f − y‖/‖∇θ f‖² (Chizat et al. 2019, arXiv:1812.07956).

pub mod error;
pub mod model;

pub use error::{Error, Result};
pub use model::Model;

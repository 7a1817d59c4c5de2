//! # ntk-nets: finite-width networks with hand-written derivatives
//!
//! Multi-layer perceptrons in neural-tangents' parameterizations, the two-layer models of the
//! lecture material, and everything needed to compare them with the infinite-width kernels of
//! `ntk-kernels`: batched forward/backward passes, Jacobians, the empirical NTK
//! Θ̂(x, x') = ⟨∇θ f(x), ∇θ f(x')⟩, Hessian-vector products and Hessian norms, and the
//! lazy-training ratio κ = ‖∇²θ f‖·‖f − y‖/‖∇θ f‖² (Chizat et al. 2019, arXiv:1812.07956).
//!
//! All derivatives are hand-written (no autodiff): reverse mode for gradients and Jacobians,
//! forward-over-reverse (Pearlmutter's R-operator) for Hessian-vector products, and the
//! structured identity Θ̂ = Σₗ (s_w² G⁽ˡ⁻¹⁾G'⁽ˡ⁻¹⁾ᵀ + s_b²) ⊙ Δ⁽ˡ⁾Δ'⁽ˡ⁾ᵀ for the empirical NTK.

pub mod classifier;
pub mod conv;
pub mod error;
pub mod mlp;
pub mod model;
pub mod test_models;
pub mod two_layer;
mod validate;

pub use classifier::{ClassificationLoss, Classifier};
pub use conv::ConvNet;
pub use error::{Error, Result};
pub use mlp::{Mlp, MlpSpec};
pub use model::Model;
pub use two_layer::{Scaling, SecondLayer, TwoLayer, TwoLayerSpec};
pub mod hessian;
pub mod lanczos;
pub mod monte_carlo;

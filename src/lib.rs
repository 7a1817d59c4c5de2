//! # ntk-lab
//!
//! The theory of wide neural networks as code you can run: the neural tangent kernel (NTK), the
//! NNGP kernel, random-feature kernels, hand-differentiated MLPs, gradient-flow dynamics and the
//! bounds of the lazy-training literature. This facade re-exports the four crates of the
//! workspace:
//!
//! - [`kernels`] (`ntk-kernels`): analytic NNGP/NTK/RF/NT kernels, kernel regression, NTK-GP
//!   predictions, Mercer spectra on the sphere;
//! - [`nets`] (`ntk-nets`): MLPs with hand-written forward/backward passes, Jacobians, empirical
//!   NTKs, Hessian-vector products and Hessian norms;
//! - [`dynamics`] (`ntk-dynamics`): gradient flow (adaptive Dormand–Prince), GD/SGD/NGD, the
//!   linearized flow, the catapult mechanism;
//! - [`bounds`] (`ntk-bounds`): λ_min, width requirements, generalization and Rademacher bounds,
//!   kernel concentration, the UCI digits data.
//!
//! `cargo xtask reproduce` re-derives the claims of the lecture material with pass/fail verdicts.

pub use ntk_bounds as bounds;
pub use ntk_dynamics as dynamics;
pub use ntk_kernels as kernels;
pub use ntk_nets as nets;

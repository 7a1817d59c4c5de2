//! # ntk-dynamics: training dynamics of wide networks against their linearization
//!
//! A model f(x; θ) trained on L(θ) = 1/(2n) Σᵢ (f(xᵢ; θ) − yᵢ)² by gradient flow
//! θ' = −∇L = −Jᵀ(u − y)/n moves its outputs by u' = −Θ̂_t (u − y)/n, Θ̂_t = J Jᵀ. Its
//! first-order Taylor model f_lin(x; θ) = f(x; θ⁰) + J₀(θ − θ⁰) has the constant kernel Θ̂₀ and
//! the closed form u(t) = y + e^{−tΘ̂₀/n}(u₀ − y). This crate integrates the first (adaptive
//! Dormand–Prince 5(4), GD, SGD, natural gradient), solves the second exactly, and measures the
//! distance between them (Jacot et al. 2018, arXiv:1806.07572; Lee et al. 2019,
//! arXiv:1902.06720; Chizat et al. 2019, arXiv:1812.07956), together with the catapult phase of
//! large learning rates (Lewkowycz et al. 2020, arXiv:2003.02218).

pub mod catapult;
pub mod error;
pub mod flow;
pub mod lazy;
pub mod linearized;
pub mod observers;
pub mod ode;
pub mod optim;
pub mod test_models;

pub use catapult::{
    CatapultState, EtaMax, EtaSweepConfig, Phase, PhaseCriteria, catapult_gd, catapult_recursion,
    classify, find_eta_max, find_eta_max_toy, gd_phase, top_ntk_eigenvalue,
};
pub use error::{Error, Result};
pub use flow::{GradientFlow, gradient_flow, gradient_flow_states};
pub use lazy::{AlphaScaled, LazyPoint, lazy_training_sweep};
pub use linearized::LinearizedFlow;
pub use observers::{HiddenUnits, ObserverOptions, Snapshot, TrajectoryObserver};
pub use ode::{FlowConfig, OdeSystem, Stats, Trajectory};
pub use optim::{
    DescentResult, GdConfig, NgdConfig, SgdConfig, gradient_descent, natural_gradient_descent,
    stochastic_gradient_descent,
};

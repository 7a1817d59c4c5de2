//! The registry of experiments, in report order. Add a module per experiment and one line to
//! [`registry`].

use super::experiment::Experiment;

/// Every experiment of `cargo xtask reproduce`, in report order.
pub fn registry() -> Vec<Box<dyn Experiment>> {
    vec![
        // (experiments are registered here)
    ]
}

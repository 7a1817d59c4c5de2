//! Discrete optimisers on L(θ) = 1/(2n) Σᵢ (f(xᵢ; θ) − yᵢ)²: full-batch gradient descent,
//! minibatch SGD and natural gradient descent. Each calls an observer
//! `observer(step, θ_k, loss_k)` before every update and once after the last one, stops with
//! [`crate::Error::Diverged`] when the loss exceeds `divergence_factor · L(θ₀)`, and returns the
//! final parameters with the loss of every step. [`classification`] trains multi-output
//! classifiers (GD/SGD with momentum, Adam; MSE-to-one-hot or cross-entropy) with the update
//! rules of [`update`].

pub mod classification;
pub mod gd;
pub mod ngd;
pub mod sgd;
pub mod update;

pub use classification::{
    Augmentation, ClassifierConfig, EpochReport, LabelledRows, Selection, TrainedClassifier,
    TrainingEvent, evaluate, train_classifier, validation_split,
};
pub use gd::{GdConfig, gradient_descent};
pub use ngd::{NgdConfig, natural_gradient_descent};
pub use sgd::{SgdConfig, stochastic_gradient_descent};
pub use update::{Optimizer, OptimizerState, Schedule};

use crate::error::{Error, Result, check_positive};

/// Outcome of a discrete run.
#[derive(Debug, Clone, PartialEq)]
pub struct DescentResult {
    /// θ after the last step.
    pub theta: Vec<f64>,
    /// `losses[k]` = loss at θ_k, k = 0..=n_steps (for SGD: the minibatch loss used at step k,
    /// and the full-batch loss at k = 0 and k = n_steps).
    pub losses: Vec<f64>,
}

pub(crate) fn check_step_settings(learning_rate: f64, divergence_factor: f64) -> Result<()> {
    check_positive("learning_rate", learning_rate)?;
    if !(divergence_factor.is_finite() && divergence_factor > 1.0) {
        return Err(Error::InvalidParameter {
            arg: "divergence_factor",
            value: divergence_factor.to_string(),
            reason: "must be finite and > 1",
        });
    }
    Ok(())
}

/// Divergence check shared by the discrete optimisers: non-finite loss or loss > threshold.
pub(crate) fn check_divergence(
    step: usize,
    learning_rate: f64,
    loss: f64,
    threshold: f64,
    theta: &[f64],
) -> Result<()> {
    if theta.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFiniteState {
            t: step as f64 * learning_rate,
            step,
        });
    }
    if !loss.is_finite() || loss > threshold {
        return Err(Error::Diverged {
            t: step as f64 * learning_rate,
            step,
            loss,
            threshold,
        });
    }
    Ok(())
}

/// 1/(2n)‖u − y‖².
pub(crate) fn mse(u: &[f64], y: &[f64]) -> f64 {
    u.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / (2.0 * y.len() as f64)
}

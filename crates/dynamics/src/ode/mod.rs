//! Adaptive integration of dy/dt = F(t, y) on plain slices.
//!
//! The one integrator is Dormand–Prince 5(4) ([`dopri5`]): an embedded explicit Runge–Kutta pair
//! with local extrapolation (the 5th-order solution is propagated), FSAL, a standard step-size
//! controller and the 4th-order continuous extension used to report the state at requested times.
//! Gradient flow, the catapult flow and the lazy-training flow are all [`OdeSystem`]s.

pub mod dopri5;

pub use dopri5::{integrate, solve};

use crate::error::{Error, Result, check_positive};

/// A first-order system dy/dt = F(t, y).
pub trait OdeSystem {
    /// Writes F(t, y) into `dy`.
    fn rhs(&mut self, t: f64, y: &[f64], dy: &mut [f64]) -> Result<()>;

    /// Called after every accepted step with the new time, the number of accepted steps so far
    /// and the new state; an error stops the integration (divergence checks). The last call to
    /// [`OdeSystem::rhs`] before this one was made at `(t, y)` (FSAL).
    fn after_step(&mut self, _t: f64, _step: usize, _y: &[f64]) -> Result<()> {
        Ok(())
    }
}

/// Adapts a closure `|t, y, dy| -> Result<()>` into an [`OdeSystem`].
pub struct FnSystem<F>(pub F);

impl<F> OdeSystem for FnSystem<F>
where
    F: FnMut(f64, &[f64], &mut [f64]) -> Result<()>,
{
    fn rhs(&mut self, t: f64, y: &[f64], dy: &mut [f64]) -> Result<()> {
        (self.0)(t, y, dy)
    }
}

/// Configuration of the adaptive integrator. Build with [`FlowConfig::new`] and adjust fields.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowConfig {
    /// Relative tolerance per component (> 0).
    pub rtol: f64,
    /// Absolute tolerance per component (> 0).
    pub atol: f64,
    /// Final time (> 0); integration runs on [0, t_end].
    pub t_end: f64,
    /// Maximum number of attempted steps (accepted + rejected, ≥ 1).
    pub max_steps: usize,
    /// Initial step; `None` selects it by Hairer's rule from F(0, y₀).
    pub h0: Option<f64>,
    /// Largest allowed step (> 0, may be infinite).
    pub h_max: f64,
    /// Smallest allowed step (≥ 0); below max(h_min, 16 ε |t|) the run fails with
    /// [`Error::StepSizeTooSmall`].
    pub h_min: f64,
    /// Gradient flows stop with [`Error::Diverged`] once the loss exceeds this factor times
    /// L(0) (> 1).
    pub divergence_factor: f64,
}

impl FlowConfig {
    /// Defaults: rtol = 1e-8, atol = 1e-10, max_steps = 100 000, automatic h0, no h_max,
    /// h_min = 0, divergence_factor = 1e6.
    pub fn new(t_end: f64) -> Self {
        Self {
            rtol: 1e-8,
            atol: 1e-10,
            t_end,
            max_steps: 100_000,
            h0: None,
            h_max: f64::INFINITY,
            h_min: 0.0,
            divergence_factor: 1e6,
        }
    }

    /// Checks every field; called by every integrator entry point.
    pub fn validate(&self) -> Result<()> {
        check_positive("rtol", self.rtol)?;
        check_positive("atol", self.atol)?;
        check_positive("t_end", self.t_end)?;
        if self.max_steps == 0 {
            return Err(Error::InvalidParameter {
                arg: "max_steps",
                value: "0".into(),
                reason: "must be >= 1",
            });
        }
        if let Some(h0) = self.h0 {
            check_positive("h0", h0)?;
        }
        if self.h_max.is_nan() || self.h_max <= 0.0 {
            return Err(Error::InvalidParameter {
                arg: "h_max",
                value: self.h_max.to_string(),
                reason: "must be > 0",
            });
        }
        if !(self.h_min.is_finite() && self.h_min >= 0.0) {
            return Err(Error::InvalidParameter {
                arg: "h_min",
                value: self.h_min.to_string(),
                reason: "must be finite and >= 0",
            });
        }
        if !(self.divergence_factor.is_finite() && self.divergence_factor > 1.0) {
            return Err(Error::InvalidParameter {
                arg: "divergence_factor",
                value: self.divergence_factor.to_string(),
                reason: "must be finite and > 1",
            });
        }
        Ok(())
    }
}

/// Work counters of one integration (diagnostics, not failures).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Evaluations of F, including the one for the initial step selection.
    pub rhs_evals: usize,
    /// Accepted steps.
    pub accepted_steps: usize,
    /// Rejected steps.
    pub rejected_steps: usize,
}

/// States at the requested times: row k of `states` is y(`times[k]`).
#[derive(Debug, Clone)]
pub struct Trajectory {
    /// The requested times.
    pub times: Vec<f64>,
    /// len(times) × dim, row-major.
    pub states: Vec<f64>,
    /// Dimension of the state.
    pub dim: usize,
    /// Work counters.
    pub stats: Stats,
}

impl Trajectory {
    /// The state at `times[k]`.
    pub fn state(&self, k: usize) -> &[f64] {
        &self.states[k * self.dim..(k + 1) * self.dim]
    }
}

//! Gradient flow dθ/dt = −∇L(θ) of any [`Model`] under L(θ) = 1/(2n) Σᵢ (f(xᵢ; θ) − yᵢ)².
//!
//! $$ \frac{d\theta}{dt} = -\nabla L(\theta) = -\tfrac1n J(\theta)^T (u - y) $$

use crate::error::{Error, Result, check_data, check_theta};
use crate::ode::{FlowConfig, OdeSystem, Stats, Trajectory, integrate, solve};
use faer::MatRef;
use ntk_nets::Model;

/// The gradient-flow system of a model on a training set, with divergence detection: after
/// every accepted step the loss (evaluated by the FSAL stage at the new state) is compared with
/// `divergence_factor · L(θ₀)`.
pub struct GradientFlow<'a, M: Model + ?Sized> {
    model: &'a M,
    x: MatRef<'a, f64>,
    y: &'a [f64],
    threshold: f64,
    last_loss: f64,
}

impl<'a, M: Model + ?Sized> GradientFlow<'a, M> {
    /// Validates the data and θ₀, evaluates L(θ₀) and sets the divergence threshold.
    pub fn new(
        model: &'a M,
        x: MatRef<'a, f64>,
        y: &'a [f64],
        theta0: &[f64],
        divergence_factor: f64,
    ) -> Result<Self> {
        check_data(x, y, model.input_dim())?;
        check_theta(theta0, model.n_params())?;
        let mut grad = vec![0.0; theta0.len()];
        let loss0 = model.loss_and_grad(theta0, x, y, &mut grad)?;
        if !loss0.is_finite() {
            return Err(Error::NonFinite {
                arg: "L(theta0)",
                index: 0,
                value: loss0,
            });
        }
        Ok(Self {
            model,
            x,
            y,
            threshold: divergence_factor * loss0.max(f64::MIN_POSITIVE),
            last_loss: loss0,
        })
    }
}

impl<M: Model + ?Sized> OdeSystem for GradientFlow<'_, M> {
    fn rhs(&mut self, _t: f64, theta: &[f64], dtheta: &mut [f64]) -> Result<()> {
        self.last_loss = self.model.loss_and_grad(theta, self.x, self.y, dtheta)?;
        for g in dtheta.iter_mut() {
            *g = -*g;
        }
        Ok(())
    }

    fn after_step(&mut self, t: f64, step: usize, _theta: &[f64]) -> Result<()> {
        if !self.last_loss.is_finite() || self.last_loss > self.threshold {
            return Err(Error::Diverged {
                t,
                step,
                loss: self.last_loss,
                threshold: self.threshold,
            });
        }
        Ok(())
    }
}

/// Integrates the gradient flow θ' = −∇L(θ) from θ₀ on [0, t_end] by Dormand–Prince 5(4),
/// calling `observer(t, θ(t))` at each requested time; returns the work counters.
///
/// $$ \dot\theta = -\tfrac1n J(\theta)^T\big(f(X;\theta) - y\big) $$
///
/// Errors as [`crate::ode::integrate`], plus [`Error::Diverged`] when L exceeds
/// `config.divergence_factor · L(θ₀)`.
///
/// # Reference
/// Jacot, Gabriel & Hongler 2018, arXiv:1806.07572, Sec. 3 (gradient flow in parameter space);
/// Dormand & Prince 1980.
pub fn gradient_flow<M, O>(
    model: &M,
    x: MatRef<'_, f64>,
    y: &[f64],
    theta0: &[f64],
    times: &[f64],
    config: &FlowConfig,
    observer: O,
) -> Result<Stats>
where
    M: Model + ?Sized,
    O: FnMut(f64, &[f64]) -> Result<()>,
{
    config.validate()?;
    let mut system = GradientFlow::new(model, x, y, theta0, config.divergence_factor)?;
    integrate(&mut system, theta0, times, config, observer)
}

/// [`gradient_flow`] returning θ(t) at every requested time.
///
/// # Reference
/// Jacot, Gabriel & Hongler 2018, arXiv:1806.07572, Sec. 3.
pub fn gradient_flow_states<M: Model + ?Sized>(
    model: &M,
    x: MatRef<'_, f64>,
    y: &[f64],
    theta0: &[f64],
    times: &[f64],
    config: &FlowConfig,
) -> Result<Trajectory> {
    config.validate()?;
    let mut system = GradientFlow::new(model, x, y, theta0, config.divergence_factor)?;
    solve(&mut system, theta0, times, config)
}

//! Full-batch gradient descent θ_{k+1} = θ_k − η ∇L(θ_k).

use super::{DescentResult, check_divergence, check_step_settings, mse};
use crate::error::{Result, check_data, check_theta};
use faer::MatRef;
use ntk_nets::Model;

/// Settings of [`gradient_descent`].
#[derive(Debug, Clone, PartialEq)]
pub struct GdConfig {
    /// Step size η > 0.
    pub learning_rate: f64,
    /// Number of updates.
    pub n_steps: usize,
    /// Stop with `Diverged` once L > divergence_factor · L(θ₀) (> 1).
    pub divergence_factor: f64,
}

impl GdConfig {
    /// η and the number of steps, divergence_factor = 1e6.
    pub fn new(learning_rate: f64, n_steps: usize) -> Self {
        Self {
            learning_rate,
            n_steps,
            divergence_factor: 1e6,
        }
    }
}

/// Full-batch gradient descent
///
/// $$ \theta_{k+1} = \theta_k - \eta\,\nabla L(\theta_k) = \theta_k - \tfrac{\eta}{n} J_k^T (u_k - y), $$
///
/// calling `observer(k, θ_k, L(θ_k))` for k = 0..=n_steps.
///
/// # Reference
/// Du, Zhai, Poczos & Singh 2019, arXiv:1810.02054, Sec. 5 (GD on the two-layer net);
/// Lee et al. 2019, arXiv:1902.06720, Sec. 2.2.
pub fn gradient_descent<M, O>(
    model: &M,
    x: MatRef<'_, f64>,
    y: &[f64],
    theta0: &[f64],
    config: &GdConfig,
    mut observer: O,
) -> Result<DescentResult>
where
    M: Model + ?Sized,
    O: FnMut(usize, &[f64], f64) -> Result<()>,
{
    check_step_settings(config.learning_rate, config.divergence_factor)?;
    check_data(x, y, model.input_dim())?;
    check_theta(theta0, model.n_params())?;
    let mut theta = theta0.to_vec();
    let mut grad = vec![0.0; theta.len()];
    let mut losses = Vec::with_capacity(config.n_steps + 1);
    let mut threshold = f64::INFINITY;
    for step in 0..config.n_steps {
        let loss = model.loss_and_grad(&theta, x, y, &mut grad)?;
        if step == 0 {
            threshold = config.divergence_factor * loss.max(f64::MIN_POSITIVE);
        }
        check_divergence(step, config.learning_rate, loss, threshold, &theta)?;
        observer(step, &theta, loss)?;
        losses.push(loss);
        for (t, g) in theta.iter_mut().zip(&grad) {
            *t -= config.learning_rate * g;
        }
    }
    let loss = mse(&model.forward(&theta, x)?, y);
    if config.n_steps == 0 {
        threshold = config.divergence_factor * loss.max(f64::MIN_POSITIVE);
    }
    check_divergence(
        config.n_steps,
        config.learning_rate,
        loss,
        threshold,
        &theta,
    )?;
    observer(config.n_steps, &theta, loss)?;
    losses.push(loss);
    Ok(DescentResult { theta, losses })
}

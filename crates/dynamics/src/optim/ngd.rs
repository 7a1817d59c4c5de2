//! Natural gradient descent with a damped NTK Gram matrix, solved by Cholesky.

use super::{DescentResult, check_divergence, check_step_settings, mse};
use crate::error::{Error, Result, check_data, check_theta};
use faer::linalg::matmul::matmul;
use faer::linalg::solvers::Solve;
use faer::{Accum, Col, Mat, MatRef, Par, Side};
use ntk_nets::Model;

/// Settings of [`natural_gradient_descent`].
#[derive(Debug, Clone, PartialEq)]
pub struct NgdConfig {
    /// Step size η > 0.
    pub learning_rate: f64,
    /// Damping λ ≥ 0 added to the diagonal of JJᵀ.
    pub damping: f64,
    /// Number of updates.
    pub n_steps: usize,
    /// Stop with `Diverged` once L > divergence_factor · L(θ₀) (> 1).
    pub divergence_factor: f64,
}

impl NgdConfig {
    /// η, λ and the number of steps; divergence_factor = 1e6.
    pub fn new(learning_rate: f64, damping: f64, n_steps: usize) -> Self {
        Self {
            learning_rate,
            damping,
            n_steps,
            divergence_factor: 1e6,
        }
    }
}

/// Natural gradient descent (Gauss–Newton in function space, damped):
///
/// $$ \theta_{k+1} = \theta_k - \eta\, J_k^T (J_k J_k^T + \lambda I)^{-1} (u_k - y), $$
///
/// with the n × n system solved by faer's Cholesky factorisation. On a linear model with
/// η = 1 and λ → 0 one step interpolates the data. Fails with
/// [`Error::NotPositiveDefinite`] (reporting λ_min of JJᵀ + λI) when the factorisation does.
///
/// # Reference
/// Zhang, Martens & Grosse 2019, arXiv:1905.10961, eq. (4) and Sec. 3 (NGD for overparameterized
/// networks, using JJᵀ = Θ̂ and the pseudo-inverse form of the Fisher step).
pub fn natural_gradient_descent<M, O>(
    model: &M,
    x: MatRef<'_, f64>,
    y: &[f64],
    theta0: &[f64],
    config: &NgdConfig,
    mut observer: O,
) -> Result<DescentResult>
where
    M: Model + ?Sized,
    O: FnMut(usize, &[f64], f64) -> Result<()>,
{
    check_step_settings(config.learning_rate, config.divergence_factor)?;
    if !(config.damping.is_finite() && config.damping >= 0.0) {
        return Err(Error::InvalidParameter {
            arg: "damping",
            value: config.damping.to_string(),
            reason: "must be finite and >= 0",
        });
    }
    check_data(x, y, model.input_dim())?;
    check_theta(theta0, model.n_params())?;
    let n = x.nrows();
    let mut theta = theta0.to_vec();
    let mut losses = Vec::with_capacity(config.n_steps + 1);
    let mut threshold = f64::INFINITY;
    let mut gram = Mat::<f64>::zeros(n, n);
    for step in 0..=config.n_steps {
        let u = model.forward(&theta, x)?;
        let loss = mse(&u, y);
        if step == 0 {
            threshold = config.divergence_factor * loss.max(f64::MIN_POSITIVE);
        }
        check_divergence(step, config.learning_rate, loss, threshold, &theta)?;
        observer(step, &theta, loss)?;
        losses.push(loss);
        if step == config.n_steps {
            break;
        }
        let jacobian = model.jacobian(&theta, x)?;
        matmul(
            gram.as_mut(),
            Accum::Replace,
            jacobian.as_ref(),
            jacobian.transpose(),
            1.0,
            Par::rayon(0),
        );
        for i in 0..n {
            gram[(i, i)] += config.damping;
        }
        let residual = Col::from_fn(n, |i| u[i] - y[i]);
        let llt = match gram.llt(Side::Lower) {
            Ok(llt) => llt,
            Err(_) => {
                let lambda_min = gram
                    .self_adjoint_eigenvalues(Side::Lower)
                    .ok()
                    .and_then(|v| v.first().copied())
                    .unwrap_or(f64::NAN);
                return Err(Error::NotPositiveDefinite {
                    arg: "J J^T + damping I",
                    lambda_min,
                });
            }
        };
        let coef = llt.solve(&residual);
        let coef: Vec<f64> = (0..n).map(|i| coef[i]).collect();
        let direction = model.vjp(&theta, x, &coef)?;
        for (t, d) in theta.iter_mut().zip(&direction) {
            *t -= config.learning_rate * d;
        }
    }
    Ok(DescentResult { theta, losses })
}

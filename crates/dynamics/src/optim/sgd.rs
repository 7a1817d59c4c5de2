//! Minibatch stochastic gradient descent with seeded epoch-wise shuffling.

use super::{DescentResult, check_divergence, check_step_settings, mse};
use crate::error::{Error, Result, check_data, check_theta};
use faer::{Mat, MatRef};
use ntk_nets::Model;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Settings of [`stochastic_gradient_descent`].
#[derive(Debug, Clone, PartialEq)]
pub struct SgdConfig {
    /// Step size η > 0.
    pub learning_rate: f64,
    /// Minibatch size b, 1 ≤ b ≤ n.
    pub batch_size: usize,
    /// Number of updates.
    pub n_steps: usize,
    /// Seed of the `ChaCha8Rng` that shuffles the data.
    pub seed: u64,
    /// Stop with `Diverged` once a loss exceeds divergence_factor · L(θ₀) (> 1).
    pub divergence_factor: f64,
}

impl SgdConfig {
    /// η, b, the number of steps and the seed; divergence_factor = 1e6.
    pub fn new(learning_rate: f64, batch_size: usize, n_steps: usize, seed: u64) -> Self {
        Self {
            learning_rate,
            batch_size,
            n_steps,
            seed,
            divergence_factor: 1e6,
        }
    }
}

/// Minibatch SGD
///
/// $$ \theta_{k+1} = \theta_k - \eta\,\nabla L_{B_k}(\theta_k),\qquad
///    L_B(\theta) = \tfrac{1}{2|B|}\sum_{i\in B}(f(x_i;\theta) - y_i)^2. $$
///
/// Sampling: without replacement within an epoch. At the start of every epoch the indices
/// 0..n are shuffled by Fisher–Yates (`SliceRandom::shuffle`) with one `ChaCha8Rng` seeded by
/// `config.seed`; the epoch is cut into ⌊n/b⌋ consecutive batches (the remaining n mod b indices
/// are skipped for that epoch). `observer(k, θ_k, L_{B_k}(θ_k))` is called before each update,
/// and `observer(n_steps, θ, L(θ))` with the full-batch loss at the end.
///
/// # Reference
/// Robbins & Monro 1951; Bottou, Curtis & Nocedal 2018, arXiv:1606.04838, Alg. 4.1
/// (minibatch variant, eq. (4.1)).
pub fn stochastic_gradient_descent<M, O>(
    model: &M,
    x: MatRef<'_, f64>,
    y: &[f64],
    theta0: &[f64],
    config: &SgdConfig,
    mut observer: O,
) -> Result<DescentResult>
where
    M: Model + ?Sized,
    O: FnMut(usize, &[f64], f64) -> Result<()>,
{
    check_step_settings(config.learning_rate, config.divergence_factor)?;
    check_data(x, y, model.input_dim())?;
    check_theta(theta0, model.n_params())?;
    let n = x.nrows();
    let b = config.batch_size;
    if b == 0 || b > n {
        return Err(Error::InvalidParameter {
            arg: "batch_size",
            value: b.to_string(),
            reason: "must satisfy 1 <= batch_size <= n",
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let batches_per_epoch = n / b;
    let mut theta = theta0.to_vec();
    let mut grad = vec![0.0; theta.len()];
    let loss0 = mse(&model.forward(&theta, x)?, y);
    let threshold = config.divergence_factor * loss0.max(f64::MIN_POSITIVE);
    check_divergence(0, config.learning_rate, loss0, threshold, &theta)?;
    let mut losses = Vec::with_capacity(config.n_steps + 1);
    let mut x_batch = Mat::<f64>::zeros(b, x.ncols());
    let mut y_batch = vec![0.0; b];
    for step in 0..config.n_steps {
        let batch_idx = step % batches_per_epoch;
        if batch_idx == 0 {
            order.shuffle(&mut rng);
        }
        for (row, &i) in order[batch_idx * b..(batch_idx + 1) * b].iter().enumerate() {
            for j in 0..x.ncols() {
                x_batch[(row, j)] = x[(i, j)];
            }
            y_batch[row] = y[i];
        }
        let loss = model.loss_and_grad(&theta, x_batch.as_ref(), &y_batch, &mut grad)?;
        check_divergence(step, config.learning_rate, loss, threshold, &theta)?;
        let recorded = if step == 0 { loss0 } else { loss };
        observer(step, &theta, recorded)?;
        losses.push(recorded);
        for (t, g) in theta.iter_mut().zip(&grad) {
            *t -= config.learning_rate * g;
        }
    }
    let loss = mse(&model.forward(&theta, x)?, y);
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

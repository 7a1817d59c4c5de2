//! First-order update rules on a flat parameter vector: (Nesterov) heavy-ball momentum and Adam,
//! with decoupled weight decay.
//!
//! Momentum (Polyak 1964; Sutskever et al. 2013, ICML, Eq. (1)–(2)):
//! $$ m_{t+1} = \mu m_t + g_t,\qquad \theta_{t+1} = \theta_t - \eta_t\,(g_t + \mu m_{t+1})\ \text{(Nesterov)}\ \text{or}\ \theta_t - \eta_t m_{t+1}; $$
//! μ = 0 is plain (minibatch or full-batch) gradient descent.
//!
//! Adam (Kingma & Ba 2015, arXiv:1412.6980, Algorithm 1), with the decoupled weight decay of
//! AdamW (Loshchilov & Hutter 2019, arXiv:1711.05101, Algorithm 2):
//! $$ m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
//!    \theta \leftarrow \theta - \eta_t\Big(\frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)}+\epsilon} + \lambda\theta\Big). $$

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// (Minibatch) gradient descent with heavy-ball momentum μ ∈ [0, 1) (μ = 0: plain GD/SGD).
    Momentum { momentum: f64, nesterov: bool },
    /// Adam with β₁, β₂ ∈ [0, 1) and ε > 0.
    Adam {
        beta1: f64,
        beta2: f64,
        epsilon: f64,
    },
}

impl Optimizer {
    /// Adam with the defaults of Kingma & Ba (β₁ = 0.9, β₂ = 0.999, ε = 1e-8).
    pub fn adam() -> Self {
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        let unit = |arg: &'static str, v: f64| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::InvalidParameter {
                    arg,
                    value: v.to_string(),
                    reason: "must be in [0, 1)",
                })
            }
        };
        match *self {
            Optimizer::Momentum { momentum, .. } => unit("momentum", momentum),
            Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                unit("beta1", beta1)?;
                unit("beta2", beta2)?;
                crate::error::check_positive("epsilon", epsilon)
            }
        }
    }
}

/// The optimiser state (moment buffers and step count).
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerState {
    optimizer: Optimizer,
    first: Vec<f64>,
    second: Vec<f64>,
    steps: u64,
}

impl OptimizerState {
    /// Zero moments for `n_params` parameters.
    pub fn new(optimizer: Optimizer, n_params: usize) -> Result<Self> {
        optimizer.check()?;
        let second = match optimizer {
            Optimizer::Adam { .. } => vec![0.0; n_params],
            Optimizer::Momentum { .. } => Vec::new(),
        };
        Ok(Self {
            optimizer,
            first: vec![0.0; n_params],
            second,
            steps: 0,
        })
    }

    /// One update of θ with gradient g, step size η and decoupled weight decay λ.
    pub fn step(&mut self, theta: &mut [f64], grad: &[f64], learning_rate: f64, weight_decay: f64) {
        self.steps += 1;
        match self.optimizer {
            Optimizer::Momentum { momentum, nesterov } => {
                for ((t, &g), m) in theta.iter_mut().zip(grad).zip(&mut self.first) {
                    *m = momentum * *m + g;
                    let direction = if nesterov { g + momentum * *m } else { *m };
                    *t -= learning_rate * (direction + weight_decay * *t);
                }
            }
            Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                let c1 = 1.0 - beta1.powf(self.steps as f64);
                let c2 = 1.0 - beta2.powf(self.steps as f64);
                for (((t, &g), m), v) in theta
                    .iter_mut()
                    .zip(grad)
                    .zip(&mut self.first)
                    .zip(&mut self.second)
                {
                    *m = beta1 * *m + (1.0 - beta1) * g;
                    *v = beta2 * *v + (1.0 - beta2) * g * g;
                    let update = (*m / c1) / ((*v / c2).sqrt() + epsilon);
                    *t -= learning_rate * (update + weight_decay * *t);
                }
            }
        }
    }
}

/// A learning-rate schedule η_t = η₀ · s(t/T) over T total steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// s = 1.
    Constant,
    /// Linear warm-up over the first `warmup` fraction of the steps, then cosine decay to
    /// `final_fraction` (Loshchilov & Hutter 2017, arXiv:1608.03983, Eq. (5), one cycle).
    WarmupCosine { warmup: f64, final_fraction: f64 },
    /// s = factor^⌊epoch/every⌋ (step decay; `every` in epochs).
    StepDecay { every: usize, factor: f64 },
}

impl Schedule {
    /// The multiplier s at step `step` of `total` (epoch `epoch`).
    pub fn multiplier(&self, step: usize, total: usize, epoch: usize) -> f64 {
        match *self {
            Schedule::Constant => 1.0,
            Schedule::WarmupCosine {
                warmup,
                final_fraction,
            } => {
                let t = step as f64 / total.max(1) as f64;
                if t < warmup {
                    (step + 1) as f64 / (warmup * total as f64).max(1.0)
                } else {
                    let progress = (t - warmup) / (1.0 - warmup).max(f64::MIN_POSITIVE);
                    final_fraction
                        + (1.0 - final_fraction)
                            * 0.5
                            * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
                }
            }
            Schedule::StepDecay { every, factor } => factor.powi((epoch / every.max(1)) as i32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On f(θ) = ½ a θ² (gradient aθ) the heavy-ball recursion is linear: with μ = 0 one step
    /// gives θ(1 − ηa) exactly, and Adam's first step has size η·g/(|g| + ε) (Kingma & Ba §2:
    /// |Δ| ≈ η at t = 1), to rounding.
    #[test]
    fn closed_form_steps() {
        let mut theta = [2.0];
        let mut sgd = OptimizerState::new(
            Optimizer::Momentum {
                momentum: 0.0,
                nesterov: false,
            },
            1,
        )
        .unwrap();
        sgd.step(&mut theta, &[3.0 * 2.0], 0.1, 0.0);
        assert!((theta[0] - 2.0 * (1.0 - 0.3)).abs() <= 1e-15);
        // Heavy ball, two steps: m1 = g0, m2 = μ g0 + g1.
        let mut theta = [1.0];
        let mut hb = OptimizerState::new(
            Optimizer::Momentum {
                momentum: 0.5,
                nesterov: false,
            },
            1,
        )
        .unwrap();
        hb.step(&mut theta, &[1.0], 0.1, 0.0);
        hb.step(&mut theta, &[0.9], 0.1, 0.0);
        assert!((theta[0] - (1.0 - 0.1 - 0.1 * (0.5 + 0.9))).abs() <= 1e-15);
        let mut theta = [1.0];
        let mut adam = OptimizerState::new(Optimizer::adam(), 1).unwrap();
        adam.step(&mut theta, &[-4.0], 0.01, 0.0);
        assert!((theta[0] - (1.0 + 0.01 * 4.0 / (4.0 + 1e-8))).abs() <= 1e-15);
        assert!(
            OptimizerState::new(
                Optimizer::Momentum {
                    momentum: 1.0,
                    nesterov: true
                },
                1
            )
            .is_err()
        );
    }

    #[test]
    fn schedules() {
        let s = Schedule::WarmupCosine {
            warmup: 0.1,
            final_fraction: 0.0,
        };
        assert!((s.multiplier(9, 100, 0) - 1.0).abs() <= 1e-15);
        assert!((s.multiplier(55, 100, 0) - 0.5).abs() <= 1e-12);
        assert!(s.multiplier(100, 100, 0).abs() <= 1e-15);
        let d = Schedule::StepDecay {
            every: 2,
            factor: 0.5,
        };
        assert_eq!(d.multiplier(0, 10, 5), 0.25);
    }
}

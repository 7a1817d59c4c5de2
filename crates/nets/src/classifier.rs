//! Multi-output models trained for classification: the [`Classifier`] trait and the two losses
//! of the kernel and the deep-learning literature on k classes, with one-hot targets eᵧ:
//!
//! $$ L_{\mathrm{MSE}} = \frac1{2n}\sum_{i=1}^n \lVert f(x_i) - e_{y_i}\rVert^2, \qquad
//!    L_{\mathrm{CE}} = \frac1n\sum_{i=1}^n \Big(\log\sum_{j=1}^k e^{f_j(x_i)} - f_{y_i}(x_i)\Big), $$
//!
//! with output gradients (f(xᵢ) − e_{yᵢ})/n and (softmax(f(xᵢ)) − e_{yᵢ})/n. The MSE-to-one-hot
//! loss is the one whose gradient flow is kernel regression with the NTK (Lee et al. 2019,
//! arXiv:1902.06720, §2.3; Arora et al. 2019, arXiv:1904.11955, §6).

use crate::{Error, Result};
use faer::{Mat, MatRef};
use serde::{Deserialize, Serialize};

/// The training loss of a classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassificationLoss {
    /// Mean squared error to one-hot targets, 1/(2n) Σ ‖f − e_y‖².
    MseOneHot,
    /// Softmax cross-entropy, 1/n Σ (logsumexp f − f_y).
    CrossEntropy,
}

impl ClassificationLoss {
    /// The loss summed over the rows of `outputs` (row-major, k per row) and divided by
    /// `n_total`, and writes ∂L/∂f into `seed` (same layout).
    pub fn value_and_seed(
        self,
        outputs: &[f64],
        labels: &[usize],
        k: usize,
        n_total: usize,
        seed: &mut [f64],
    ) -> f64 {
        let scale = 1.0 / n_total as f64;
        let mut loss = 0.0;
        for ((row, &label), grad) in outputs
            .chunks_exact(k)
            .zip(labels)
            .zip(seed.chunks_exact_mut(k))
        {
            match self {
                ClassificationLoss::MseOneHot => {
                    for (j, (&f, g)) in row.iter().zip(grad.iter_mut()).enumerate() {
                        let r = f - if j == label { 1.0 } else { 0.0 };
                        loss += 0.5 * r * r;
                        *g = r * scale;
                    }
                }
                ClassificationLoss::CrossEntropy => {
                    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = row.iter().map(|f| (f - max).exp()).sum();
                    loss += max + sum.ln() - row[label];
                    for (j, (&f, g)) in row.iter().zip(grad.iter_mut()).enumerate() {
                        let softmax = (f - max).exp() / sum;
                        *g = (softmax - if j == label { 1.0 } else { 0.0 }) * scale;
                    }
                }
            }
        }
        loss * scale
    }
}

/// A model with k outputs ("logits") per input, trainable on class labels.
pub trait Classifier: Sync + Send {
    /// Number of parameters P.
    fn n_params(&self) -> usize;
    /// Input dimension d.
    fn input_dim(&self) -> usize;
    /// Number of outputs k (classes).
    fn n_classes(&self) -> usize;
    /// The outputs f(xᵢ; θ), one row per row of `x` (n × k).
    fn logits(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Mat<f64>>;
    /// The loss on (x, labels) and its gradient, written into `grad`.
    fn classification_loss_and_grad(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        labels: &[usize],
        loss: ClassificationLoss,
        grad: &mut [f64],
    ) -> Result<f64>;
}

/// Checks that there is one label per row and every label is < k.
pub(crate) fn check_labels(labels: &[usize], n: usize, k: usize) -> Result<()> {
    if labels.len() != n {
        return Err(Error::ShapeMismatch {
            arg: "labels",
            expected: format!("length {n}"),
            found: format!("length {}", labels.len()),
        });
    }
    if let Some(&bad) = labels.iter().find(|&&l| l >= k) {
        return Err(Error::InvalidParameter {
            arg: "labels",
            value: bad.to_string(),
            reason: "a label must be smaller than the number of outputs",
        });
    }
    Ok(())
}

/// The fraction of rows whose largest output is at the label (ties: the first maximum).
pub fn accuracy(logits: MatRef<'_, f64>, labels: &[usize]) -> Result<f64> {
    check_labels(labels, logits.nrows(), logits.ncols())?;
    if labels.is_empty() {
        return Err(Error::Empty { arg: "labels" });
    }
    let correct = (0..logits.nrows())
        .filter(|&i| {
            let mut best = 0;
            for j in 1..logits.ncols() {
                if logits[(i, j)] > logits[(i, best)] {
                    best = j;
                }
            }
            best == labels[i]
        })
        .count();
    Ok(correct as f64 / labels.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds are the derivatives of the loss: central differences with h = 1e-6 agree to
    /// 1e-8 (error O(h²·f''') + O(ε/h) ≈ 1e-10 for these O(1) losses).
    #[test]
    fn seeds_are_loss_derivatives() {
        let outputs = [0.3, -1.2, 2.0, 0.5, 0.1, -0.4];
        let labels = [2, 0];
        for loss in [
            ClassificationLoss::MseOneHot,
            ClassificationLoss::CrossEntropy,
        ] {
            let mut seed = [0.0; 6];
            loss.value_and_seed(&outputs, &labels, 3, 2, &mut seed);
            let mut scratch = [0.0; 6];
            for j in 0..6 {
                let mut plus = outputs;
                plus[j] += 1e-6;
                let mut minus = outputs;
                minus[j] -= 1e-6;
                let fd = (loss.value_and_seed(&plus, &labels, 3, 2, &mut scratch)
                    - loss.value_and_seed(&minus, &labels, 3, 2, &mut scratch))
                    / 2e-6;
                assert!(
                    (fd - seed[j]).abs() <= 1e-8,
                    "{loss:?} {j}: {fd} vs {}",
                    seed[j]
                );
            }
        }
        // Cross-entropy of uniform logits is ln k (closed form).
        let mut seed = [0.0; 3];
        let value =
            ClassificationLoss::CrossEntropy.value_and_seed(&[1.0; 3], &[1], 3, 1, &mut seed);
        assert!((value - 3f64.ln()).abs() <= 1e-15);
    }

    #[test]
    fn accuracy_counts_argmax() {
        let logits = Mat::from_fn(3, 2, |i, j| if (i + j) % 2 == 0 { 1.0 } else { 0.0 });
        assert_eq!(accuracy(logits.as_ref(), &[0, 1, 1]).unwrap(), 2.0 / 3.0);
        assert!(accuracy(logits.as_ref(), &[0, 2, 1]).is_err());
    }
}

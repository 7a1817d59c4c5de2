//! The batched public API of [`ConvNet`] (outputs, VJP, JVP, loss gradients for
//! classification) and its [`Model`] (scalar readout) and [`Classifier`] implementations.

use super::ConvNet;
use super::buffers;
use crate::classifier::{ClassificationLoss, Classifier, check_labels};
use crate::{Error, Model, Result};
use faer::{Mat, MatRef};
use rayon::prelude::*;
use std::ops::Range;

/// Chunks processed per parallel wave (bounds the per-chunk gradient buffers kept at once).
const WAVE: usize = 16;

impl ConvNet {
    /// Runs `f` on every chunk of a batch of `n` images in parallel and returns the results in
    /// chunk order.
    pub(crate) fn map_chunks<T: Send>(
        &self,
        n: usize,
        f: impl Fn(Range<usize>) -> T + Sync,
    ) -> Vec<T> {
        self.chunks(n).into_par_iter().map(&f).collect()
    }

    /// Σ over chunks (in chunk order) of per-chunk gradient-like vectors of length P.
    pub(crate) fn sum_over_chunks(
        &self,
        n: usize,
        f: impl Fn(Range<usize>, &mut [f64]) + Sync,
    ) -> Vec<f64> {
        let mut total = vec![0.0; self.n_params];
        for wave in self.chunks(n).chunks(WAVE) {
            let parts: Vec<Vec<f64>> = wave
                .par_iter()
                .map(|rows| {
                    let mut part = buffers::take(self.n_params);
                    f(rows.clone(), &mut part);
                    part
                })
                .collect();
            for part in &parts {
                for (t, p) in total.iter_mut().zip(part) {
                    *t += p;
                }
            }
            buffers::give(parts);
        }
        total
    }

    /// The outputs f(xᵢ; θ) (n × k); rows of `x` are NHWC-flattened images.
    pub fn outputs(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        self.check_theta(theta)?;
        self.check_x("x", x)?;
        Ok(self.outputs_unchecked(theta, x))
    }

    pub(crate) fn outputs_unchecked(&self, theta: &[f64], x: MatRef<'_, f64>) -> Mat<f64> {
        let k = self.output_dim();
        let parts = self.map_chunks(x.nrows(), |rows| {
            let images = rows.len();
            let trace = self.forward_chunk(theta, self.load_chunk(x, rows.clone()), images);
            let out = trace.output().to_vec();
            trace.recycle();
            (rows.start, out)
        });
        let mut result = Mat::zeros(x.nrows(), k);
        for (start, out) in parts {
            for (local, row) in out.chunks_exact(k).enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    result[(start + local, j)] = v;
                }
            }
        }
        result
    }

    /// Jᵀr = Σᵢⱼ rᵢⱼ ∇θ fⱼ(xᵢ) for r of shape n × k.
    pub fn vjp_outputs(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        r: MatRef<'_, f64>,
    ) -> Result<Vec<f64>> {
        self.check_theta(theta)?;
        self.check_x("x", x)?;
        self.check_output_matrix("r", r, x.nrows())?;
        Ok(self.sum_over_chunks(x.nrows(), |rows, grad| {
            let trace = self.forward_chunk(theta, self.load_chunk(x, rows.clone()), rows.len());
            let seed = self.load_chunk(r, rows);
            self.vjp_chunk(theta, &trace, seed, grad);
            trace.recycle();
        }))
    }

    /// J v (n × k): the directional derivative of the outputs along v.
    pub fn jvp_outputs(&self, theta: &[f64], x: MatRef<'_, f64>, v: &[f64]) -> Result<Mat<f64>> {
        self.check_theta(theta)?;
        self.check_x("x", x)?;
        crate::validate::check_vector("v", v, self.n_params)?;
        let k = self.output_dim();
        let parts = self.map_chunks(x.nrows(), |rows| {
            let trace = self.forward_chunk(theta, self.load_chunk(x, rows.clone()), rows.len());
            let tangent = self.tangent_chunk(theta, v, &trace);
            let out = tangent.output().to_vec();
            trace.recycle();
            tangent.recycle();
            (rows.start, out)
        });
        let mut result = Mat::zeros(x.nrows(), k);
        for (start, out) in parts {
            for (local, row) in out.chunks_exact(k).enumerate() {
                for (j, &val) in row.iter().enumerate() {
                    result[(start + local, j)] = val;
                }
            }
        }
        Ok(result)
    }

    /// The classification loss on (x, labels) and its gradient (written into `grad`), one fused
    /// forward/backward pass per chunk.
    pub fn loss_and_grad_labels(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        labels: &[usize],
        loss: ClassificationLoss,
        grad: &mut [f64],
    ) -> Result<f64> {
        self.check_theta(theta)?;
        self.check_x("x", x)?;
        check_labels(labels, x.nrows(), self.output_dim())?;
        crate::validate::check_len("grad", grad.len(), self.n_params)?;
        let n = x.nrows();
        let k = self.output_dim();
        let losses = std::sync::Mutex::new(vec![0.0; self.chunks(n).len()]);
        let chunk = self.chunk_size(n);
        let total = self.sum_over_chunks(n, |rows, part| {
            let images = rows.len();
            let trace = self.forward_chunk(theta, self.load_chunk(x, rows.clone()), images);
            let mut seed = buffers::take(images * k);
            let value = loss.value_and_seed(trace.output(), &labels[rows.clone()], k, n, &mut seed);
            self.vjp_chunk(theta, &trace, seed, part);
            trace.recycle();
            losses.lock().expect("no panics while held")[rows.start / chunk] = value;
        });
        grad.copy_from_slice(&total);
        let value: f64 = losses.into_inner().expect("no panics").iter().sum();
        if !value.is_finite() {
            return Err(Error::NonFinite {
                arg: "loss",
                index: 0,
                value,
            });
        }
        Ok(value)
    }

    pub(crate) fn check_output_matrix(
        &self,
        arg: &'static str,
        r: MatRef<'_, f64>,
        n: usize,
    ) -> Result<()> {
        if r.nrows() != n || r.ncols() != self.output_dim() {
            return Err(Error::ShapeMismatch {
                arg,
                expected: format!("{n} × {}", self.output_dim()),
                found: format!("{} × {}", r.nrows(), r.ncols()),
            });
        }
        crate::validate::check_inputs(arg, r, self.output_dim())
    }

    fn require_scalar(&self) -> Result<()> {
        if self.output_dim() == 1 {
            Ok(())
        } else {
            Err(Error::InvalidParameter {
                arg: "readout",
                value: self.output_dim().to_string(),
                reason: "the scalar Model interface needs a Dense(1) readout",
            })
        }
    }
}

fn column(values: &[f64]) -> Mat<f64> {
    Mat::from_fn(values.len(), 1, |i, _| values[i])
}

/// The scalar-output interface (readout Dense(1)), so that `ntk-dynamics` trains conv nets.
impl Model for ConvNet {
    fn n_params(&self) -> usize {
        self.n_params
    }

    fn input_dim(&self) -> usize {
        ConvNet::input_dim(self)
    }

    fn forward(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Vec<f64>> {
        self.require_scalar()?;
        Ok(self.outputs(theta, x)?.col_as_slice(0).to_vec())
    }

    fn loss_and_grad(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        y: &[f64],
        grad: &mut [f64],
    ) -> Result<f64> {
        self.require_scalar()?;
        crate::validate::check_vector("y", y, x.nrows())?;
        let u = self.outputs(theta, x)?;
        let n = y.len() as f64;
        let residual = Mat::from_fn(y.len(), 1, |i, _| (u[(i, 0)] - y[i]) / n);
        let loss = (0..y.len())
            .map(|i| (u[(i, 0)] - y[i]).powi(2))
            .sum::<f64>()
            / (2.0 * n);
        crate::validate::check_len("grad", grad.len(), self.n_params)?;
        grad.copy_from_slice(&self.vjp_outputs(theta, x, residual.as_ref())?);
        Ok(loss)
    }

    fn jacobian(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        self.require_scalar()?;
        self.jacobian_outputs(theta, x)
    }

    fn vjp(&self, theta: &[f64], x: MatRef<'_, f64>, r: &[f64]) -> Result<Vec<f64>> {
        self.require_scalar()?;
        crate::validate::check_vector("r", r, x.nrows())?;
        self.vjp_outputs(theta, x, column(r).as_ref())
    }

    fn jvp(&self, theta: &[f64], x: MatRef<'_, f64>, v: &[f64]) -> Result<Vec<f64>> {
        self.require_scalar()?;
        Ok(self.jvp_outputs(theta, x, v)?.col_as_slice(0).to_vec())
    }

    fn empirical_ntk(
        &self,
        theta: &[f64],
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
    ) -> Result<Mat<f64>> {
        self.require_scalar()?;
        self.empirical_ntk_outputs(theta, x1, x2)
    }

    fn hvp(&self, theta: &[f64], x: MatRef<'_, f64>, c: &[f64], v: &[f64]) -> Result<Vec<f64>> {
        self.require_scalar()?;
        crate::validate::check_vector("c", c, x.nrows())?;
        self.hvp_outputs(theta, x, column(c).as_ref(), v)
    }
}

impl Classifier for ConvNet {
    fn n_params(&self) -> usize {
        self.n_params
    }

    fn input_dim(&self) -> usize {
        ConvNet::input_dim(self)
    }

    fn n_classes(&self) -> usize {
        self.output_dim()
    }

    fn logits(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        self.outputs(theta, x)
    }

    fn classification_loss_and_grad(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        labels: &[usize],
        loss: ClassificationLoss,
        grad: &mut [f64],
    ) -> Result<f64> {
        self.loss_and_grad_labels(theta, x, labels, loss, grad)
    }
}

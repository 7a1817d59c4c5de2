//! The [`Model`] trait: a scalar-output parametric model f(x; θ) with a flat parameter vector θ.
//!
//! Every trainable model of ntk-lab (deep MLPs, the two-layer nets of the lecture material,
//! linear models used as known-solution problems) implements it, and `ntk-dynamics` trains any
//! `Model` by gradient flow, GD, SGD or NGD.
//!
//! Conventions shared by all implementations:
//! - inputs are the rows of `x` (n × d), outputs one scalar per row;
//! - the loss is the mean squared error L(θ) = 1/(2n) Σᵢ (f(xᵢ; θ) − yᵢ)², so
//!   ∇L = Jᵀ(u − y)/n with u = f(X; θ) and J ∈ R^{n×P} the Jacobian;
//! - the empirical NTK is Θ̂(X1, X2) = J(X1) J(X2)ᵀ (no 1/n factor).

use crate::{Error, Result};
use faer::{Mat, MatRef};

/// A scalar-output model f(x; θ) with hand-written first and second derivatives.
pub trait Model: Sync + Send {
    /// Number of parameters P (length of θ).
    fn n_params(&self) -> usize;

    /// Input dimension d.
    fn input_dim(&self) -> usize;

    /// Outputs f(xᵢ; θ) for every row of `x`.
    fn forward(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Vec<f64>>;

    /// The loss L(θ) = 1/(2n) Σ (f(xᵢ; θ) − yᵢ)² and its gradient, written into `grad` (length P).
    ///
    /// The provided implementation is one forward pass and one VJP, ∇L = Jᵀ(u − y)/n; models
    /// with a fused forward/backward pass override it.
    fn loss_and_grad(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        y: &[f64],
        grad: &mut [f64],
    ) -> Result<f64> {
        let u = self.forward(theta, x)?;
        if y.len() != u.len() {
            return Err(shape_mismatch("y", u.len(), y.len()));
        }
        let n = u.len() as f64;
        let loss = u.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / (2.0 * n);
        let r: Vec<f64> = u.iter().zip(y).map(|(a, b)| (a - b) / n).collect();
        let g = self.vjp(theta, x, &r)?;
        if grad.len() != g.len() {
            return Err(shape_mismatch("grad", g.len(), grad.len()));
        }
        grad.copy_from_slice(&g);
        Ok(loss)
    }

    /// The Jacobian J ∈ R^{n×P}, row i = ∇θ f(xᵢ; θ).
    fn jacobian(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Mat<f64>>;

    /// Jᵀ r (vector-Jacobian product), length P.
    fn vjp(&self, theta: &[f64], x: MatRef<'_, f64>, r: &[f64]) -> Result<Vec<f64>>;

    /// J v (Jacobian-vector product), length n.
    fn jvp(&self, theta: &[f64], x: MatRef<'_, f64>, v: &[f64]) -> Result<Vec<f64>>;

    /// The empirical NTK Θ̂(X1, X2) = J(X1) J(X2)ᵀ (n1 × n2).
    fn empirical_ntk(
        &self,
        theta: &[f64],
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
    ) -> Result<Mat<f64>>;

    /// Σᵢ cᵢ ∇²θ f(xᵢ; θ) · v: a weighted sum of per-input Hessian-vector products (for one input
    /// pass a 1-row `x` and c = (1)). The loss Hessian is JᵀJ/n + this with c = (u − y)/n.
    fn hvp(&self, theta: &[f64], x: MatRef<'_, f64>, c: &[f64], v: &[f64]) -> Result<Vec<f64>>;
}

fn shape_mismatch(arg: &'static str, expected: usize, found: usize) -> Error {
    Error::ShapeMismatch {
        arg,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

//! Known-solution models shared by tests, benches and experiments.
//!
//! - [`LinearModel`]: f(x; θ) = θᵀx. Its gradient flow under L = 1/(2n)‖Xθ − y‖² is the linear
//!   ODE θ' = −(XᵀX/n)θ + Xᵀy/n, solved in closed form by [`linear_flow_exact`]; it equals its own
//!   linearization, so every "gap to the linearized model" vanishes for it.
//! - [`LinearTwoLayer`]: f(x; U, v) = vᵀUx/√m, the width-m linear two-layer network of the
//!   catapult toy model (Lewkowycz et al. 2020, arXiv:2003.02218, Sec. 2) for input dimension d.

use crate::error::{Error, Result};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par, Side};
use ntk_nets::Model;

fn nets_shape(arg: &'static str, expected: usize, found: usize) -> ntk_nets::Error {
    ntk_nets::Error::ShapeMismatch {
        arg,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

fn check_args(
    theta: &[f64],
    n_params: usize,
    x: MatRef<'_, f64>,
    d: usize,
) -> ntk_nets::Result<()> {
    if theta.len() != n_params {
        return Err(nets_shape("theta", n_params, theta.len()));
    }
    if x.ncols() != d {
        return Err(nets_shape("x.ncols", d, x.ncols()));
    }
    Ok(())
}

fn ntk_from_jacobians(j1: &Mat<f64>, j2: &Mat<f64>) -> Mat<f64> {
    let mut out = Mat::zeros(j1.nrows(), j2.nrows());
    matmul(
        out.as_mut(),
        Accum::Replace,
        j1.as_ref(),
        j2.transpose(),
        1.0,
        Par::Seq,
    );
    out
}

/// The linear model f(x; θ) = θᵀx (P = d).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearModel {
    /// Input dimension d = number of parameters.
    pub input_dim: usize,
}

impl Model for LinearModel {
    fn n_params(&self) -> usize {
        self.input_dim
    }
    fn input_dim(&self) -> usize {
        self.input_dim
    }
    fn forward(&self, theta: &[f64], x: MatRef<'_, f64>) -> ntk_nets::Result<Vec<f64>> {
        check_args(theta, self.input_dim, x, self.input_dim)?;
        Ok((0..x.nrows())
            .map(|i| (0..x.ncols()).map(|j| x[(i, j)] * theta[j]).sum())
            .collect())
    }
    fn jacobian(&self, theta: &[f64], x: MatRef<'_, f64>) -> ntk_nets::Result<Mat<f64>> {
        check_args(theta, self.input_dim, x, self.input_dim)?;
        Ok(x.to_owned())
    }
    fn vjp(&self, theta: &[f64], x: MatRef<'_, f64>, r: &[f64]) -> ntk_nets::Result<Vec<f64>> {
        check_args(theta, self.input_dim, x, self.input_dim)?;
        if r.len() != x.nrows() {
            return Err(nets_shape("r", x.nrows(), r.len()));
        }
        Ok((0..x.ncols())
            .map(|j| (0..x.nrows()).map(|i| x[(i, j)] * r[i]).sum())
            .collect())
    }
    fn jvp(&self, theta: &[f64], x: MatRef<'_, f64>, v: &[f64]) -> ntk_nets::Result<Vec<f64>> {
        check_args(theta, self.input_dim, x, self.input_dim)?;
        if v.len() != theta.len() {
            return Err(nets_shape("v", theta.len(), v.len()));
        }
        self.forward(v, x)
    }
    fn empirical_ntk(
        &self,
        theta: &[f64],
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
    ) -> ntk_nets::Result<Mat<f64>> {
        let j1 = self.jacobian(theta, x1)?;
        let j2 = self.jacobian(theta, x2)?;
        Ok(ntk_from_jacobians(&j1, &j2))
    }
    fn hvp(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        c: &[f64],
        v: &[f64],
    ) -> ntk_nets::Result<Vec<f64>> {
        check_args(theta, self.input_dim, x, self.input_dim)?;
        if c.len() != x.nrows() || v.len() != theta.len() {
            return Err(nets_shape("c/v", x.nrows(), c.len()));
        }
        Ok(vec![0.0; theta.len()])
    }
}

/// The width-m linear two-layer network f(x; U, v) = vᵀUx/√m, θ = (U row-major m × d, v).
///
/// With d = 1 and the single data point (x = 1, y) it is the catapult toy model of seed 003:
/// GD on L = (f − y)²/2 gives u ← u − η Δf v/√m, v ← v − η Δf u/√m.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearTwoLayer {
    /// Hidden width m.
    pub width: usize,
    /// Input dimension d.
    pub input_dim: usize,
}

impl LinearTwoLayer {
    fn split<'a>(&self, theta: &'a [f64]) -> (&'a [f64], &'a [f64]) {
        theta.split_at(self.width * self.input_dim)
    }
    /// Hidden features H = X Uᵀ (n × m).
    fn hidden(&self, theta: &[f64], x: MatRef<'_, f64>) -> Mat<f64> {
        let (u, _) = self.split(theta);
        let u_mat = MatRef::from_row_major_slice(u, self.width, self.input_dim);
        let mut h = Mat::zeros(x.nrows(), self.width);
        matmul(
            h.as_mut(),
            Accum::Replace,
            x,
            u_mat.transpose(),
            1.0,
            Par::Seq,
        );
        h
    }
}

impl Model for LinearTwoLayer {
    fn n_params(&self) -> usize {
        self.width * (self.input_dim + 1)
    }
    fn input_dim(&self) -> usize {
        self.input_dim
    }
    fn forward(&self, theta: &[f64], x: MatRef<'_, f64>) -> ntk_nets::Result<Vec<f64>> {
        check_args(theta, self.n_params(), x, self.input_dim)?;
        let h = self.hidden(theta, x);
        let (_, v) = self.split(theta);
        let scale = 1.0 / (self.width as f64).sqrt();
        Ok((0..x.nrows())
            .map(|i| scale * (0..self.width).map(|r| v[r] * h[(i, r)]).sum::<f64>())
            .collect())
    }
    fn jacobian(&self, theta: &[f64], x: MatRef<'_, f64>) -> ntk_nets::Result<Mat<f64>> {
        check_args(theta, self.n_params(), x, self.input_dim)?;
        let h = self.hidden(theta, x);
        let (_, v) = self.split(theta);
        let (m, d) = (self.width, self.input_dim);
        let scale = 1.0 / (m as f64).sqrt();
        Ok(Mat::from_fn(x.nrows(), self.n_params(), |i, p| {
            if p < m * d {
                scale * v[p / d] * x[(i, p % d)]
            } else {
                scale * h[(i, p - m * d)]
            }
        }))
    }
    fn vjp(&self, theta: &[f64], x: MatRef<'_, f64>, r: &[f64]) -> ntk_nets::Result<Vec<f64>> {
        check_args(theta, self.n_params(), x, self.input_dim)?;
        if r.len() != x.nrows() {
            return Err(nets_shape("r", x.nrows(), r.len()));
        }
        let h = self.hidden(theta, x);
        let (_, v) = self.split(theta);
        let (m, d) = (self.width, self.input_dim);
        let scale = 1.0 / (m as f64).sqrt();
        // s = Xᵀ r (d), then ∂/∂U_{rj} = v_r s_j/√m and ∂/∂v_r = (Hᵀ r)_r/√m.
        let s: Vec<f64> = (0..d)
            .map(|j| (0..x.nrows()).map(|i| x[(i, j)] * r[i]).sum())
            .collect();
        let mut out = vec![0.0; self.n_params()];
        for row in 0..m {
            for j in 0..d {
                out[row * d + j] = scale * v[row] * s[j];
            }
            out[m * d + row] = scale * (0..x.nrows()).map(|i| h[(i, row)] * r[i]).sum::<f64>();
        }
        Ok(out)
    }
    fn jvp(&self, theta: &[f64], x: MatRef<'_, f64>, dir: &[f64]) -> ntk_nets::Result<Vec<f64>> {
        check_args(theta, self.n_params(), x, self.input_dim)?;
        if dir.len() != theta.len() {
            return Err(nets_shape("v", theta.len(), dir.len()));
        }
        let (_, v) = self.split(theta);
        let (du, dv) = self.split(dir);
        let h = self.hidden(theta, x);
        let dh = {
            let du_mat = MatRef::from_row_major_slice(du, self.width, self.input_dim);
            let mut dh = Mat::zeros(x.nrows(), self.width);
            matmul(
                dh.as_mut(),
                Accum::Replace,
                x,
                du_mat.transpose(),
                1.0,
                Par::Seq,
            );
            dh
        };
        let scale = 1.0 / (self.width as f64).sqrt();
        Ok((0..x.nrows())
            .map(|i| {
                scale
                    * (0..self.width)
                        .map(|r| v[r] * dh[(i, r)] + dv[r] * h[(i, r)])
                        .sum::<f64>()
            })
            .collect())
    }
    fn empirical_ntk(
        &self,
        theta: &[f64],
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
    ) -> ntk_nets::Result<Mat<f64>> {
        let j1 = self.jacobian(theta, x1)?;
        let j2 = self.jacobian(theta, x2)?;
        Ok(ntk_from_jacobians(&j1, &j2))
    }
    fn hvp(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        c: &[f64],
        dir: &[f64],
    ) -> ntk_nets::Result<Vec<f64>> {
        check_args(theta, self.n_params(), x, self.input_dim)?;
        if c.len() != x.nrows() {
            return Err(nets_shape("c", x.nrows(), c.len()));
        }
        if dir.len() != theta.len() {
            return Err(nets_shape("v", theta.len(), dir.len()));
        }
        let (m, d) = (self.width, self.input_dim);
        let (du, dv) = self.split(dir);
        let scale = 1.0 / (m as f64).sqrt();
        // f is bilinear in (U, v): ∇²f·(dU, dv) = (dv xᵀ, dU x)/√m; weight by cᵢ via s = Σ cᵢ xᵢ.
        let s: Vec<f64> = (0..d)
            .map(|j| (0..x.nrows()).map(|i| x[(i, j)] * c[i]).sum())
            .collect();
        let mut out = vec![0.0; self.n_params()];
        for row in 0..m {
            for j in 0..d {
                out[row * d + j] = scale * dv[row] * s[j];
            }
            out[m * d + row] = scale * (0..d).map(|j| du[row * d + j] * s[j]).sum::<f64>();
        }
        Ok(out)
    }
}

/// Closed-form gradient flow of [`LinearModel`]: with A = XᵀX/n and b = Xᵀy/n,
///
/// $$ \theta(t) = V\big(e^{-t\Lambda} V^T\theta_0 + \varphi_t(\Lambda) V^T b\big),\qquad
///    \varphi_t(\lambda) = (1 - e^{-t\lambda})/\lambda\ (= t \text{ at } \lambda = 0), $$
///
/// through the eigendecomposition A = VΛVᵀ (faer). Independent of the Runge–Kutta integrator,
/// used as its reference.
///
/// # Reference
/// Chizat, Oyallon & Bach 2019, arXiv:1812.07956, Sec. 2 (the linear evolution θ' = −Aθ + b).
pub fn linear_flow_exact(
    x: MatRef<'_, f64>,
    y: &[f64],
    theta0: &[f64],
    t: f64,
) -> Result<Vec<f64>> {
    let n = x.nrows();
    let d = x.ncols();
    if n == 0 {
        return Err(Error::Empty { arg: "x" });
    }
    if theta0.len() != d || y.len() != n {
        return Err(Error::ShapeMismatch {
            arg: "theta0/y",
            expected: format!("{d}/{n}"),
            found: format!("{}/{}", theta0.len(), y.len()),
        });
    }
    let mut a = Mat::<f64>::zeros(d, d);
    matmul(
        a.as_mut(),
        Accum::Replace,
        x.transpose(),
        x,
        1.0 / n as f64,
        Par::Seq,
    );
    let b: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|i| x[(i, j)] * y[i]).sum::<f64>() / n as f64)
        .collect();
    let eig = a
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::LinearAlgebra {
            what: "linear_flow_exact",
            detail: format!("{e:?}"),
        })?;
    let vecs = eig.U();
    let vals = eig.S().column_vector();
    let mut out = vec![0.0; d];
    for k in 0..d {
        let lambda = vals[k].max(0.0);
        let proj_theta: f64 = (0..d).map(|j| vecs[(j, k)] * theta0[j]).sum();
        let proj_b: f64 = (0..d).map(|j| vecs[(j, k)] * b[j]).sum();
        let phi = if lambda == 0.0 {
            t
        } else {
            -(-t * lambda).exp_m1() / lambda
        };
        let coef = (-t * lambda).exp() * proj_theta + phi * proj_b;
        for j in 0..d {
            out[j] += vecs[(j, k)] * coef;
        }
    }
    Ok(out)
}

/// A rows × cols matrix of independent N(0, 1) entries from `ChaCha8Rng::seed_from_u64(seed)`,
/// filled row by row.
pub fn gaussian_matrix(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(rows * cols);
    for _ in 0..rows * cols {
        values.push(rng.sample::<f64, _>(rand_distr::StandardNormal));
    }
    Mat::from_fn(rows, cols, |i, j| values[i * cols + j])
}

/// A vector of independent N(0, 1) entries (the first column of [`gaussian_matrix`]).
pub fn gaussian_vector(len: usize, seed: u64) -> Vec<f64> {
    let m = gaussian_matrix(len, 1, seed);
    (0..len).map(|i| m[(i, 0)]).collect()
}

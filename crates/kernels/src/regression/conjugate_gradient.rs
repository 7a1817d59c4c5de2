//! Kernel regression without factoring the kernel: Jacobi-preconditioned conjugate gradients
//! with iterative refinement, on any symmetric operator v ↦ Kv (an in-memory matrix, or a
//! kernel streamed from disk in row blocks).
//!
//! For A = K + ρI (SPD) and M = diag(A), each column b of the right-hand side is solved by
//!
//! $$ x_{k+1} = x_k + \alpha_k p_k,\ r_{k+1} = r_k - \alpha_k A p_k,\ z = M^{-1} r,\
//!    p_{k+1} = z_{k+1} + \beta_k p_k,\quad \alpha_k = \frac{r_k^\top z_k}{p_k^\top A p_k},\
//!    \beta_k = \frac{r_{k+1}^\top z_{k+1}}{r_k^\top z_k}, $$
//!
//! stopping when ‖r‖ ≤ rtol·‖b‖; the true residual b − Ax is then recomputed with one more
//! product and, if it is still too large, the correction equation A d = b − Ax is solved the same
//! way (iterative refinement). The CG coefficients are those of a Lanczos tridiagonal T of
//! M^{−1/2}AM^{−1/2}; its extreme eigenvalues (Ritz values) give the reported condition estimate,
//! a lower bound on κ(M^{−1/2}AM^{−1/2}).
//!
//! # Reference
//! Hestenes & Stiefel 1952, J. Res. NBS 49(6); Saad 2003, *Iterative Methods for Sparse Linear
//! Systems* (2nd ed.), Alg. 9.1 (PCG) and §6.7.3 (the Lanczos tridiagonal from CG coefficients);
//! Higham 2002, *Accuracy and Stability of Numerical Algorithms* §12.1 (iterative refinement).

use super::spd::gemm;
use crate::{Error, Result};
use faer::{Accum, Mat, MatRef, Par, Side};

/// A symmetric positive semi-definite n × n operator, applied to blocks of vectors.
///
/// Implementations must be deterministic: the same `v` gives the same bits whatever the number
/// of threads (fixed-order reductions).
pub trait SymmetricOperator: Sync {
    /// The size n.
    fn dim(&self) -> usize;
    /// K·v for v of size n × c.
    fn apply(&self, v: MatRef<'_, f64>) -> Result<Mat<f64>>;
    /// The diagonal of K.
    fn diagonal(&self) -> Result<Vec<f64>>;
}

/// An in-memory symmetric kernel matrix as a [`SymmetricOperator`] (products by faer in fixed
/// row blocks, so the result does not depend on the thread count).
#[derive(Debug, Clone, Copy)]
pub struct DenseOperator<'a> {
    k: MatRef<'a, f64>,
    par: Par,
}

impl<'a> DenseOperator<'a> {
    /// Wraps a square matrix (assumed symmetric; only checked to be square and finite).
    pub fn new(k: MatRef<'a, f64>, par: Par) -> Result<Self> {
        if k.nrows() == 0 {
            return Err(Error::Empty { arg: "k" });
        }
        if k.nrows() != k.ncols() {
            return Err(Error::ShapeMismatch {
                arg: "k",
                expected: format!("{0}x{0}", k.nrows()),
                found: format!("{}x{}", k.nrows(), k.ncols()),
            });
        }
        crate::error::check_finite_mat("k", k)?;
        Ok(Self { k, par })
    }
}

impl SymmetricOperator for DenseOperator<'_> {
    fn dim(&self) -> usize {
        self.k.nrows()
    }

    fn apply(&self, v: MatRef<'_, f64>) -> Result<Mat<f64>> {
        crate::error::check_rows("v", v, self.k.nrows())?;
        let mut out = Mat::<f64>::zeros(self.k.nrows(), v.ncols());
        gemm(out.as_mut(), Accum::Replace, self.k, v, 1.0, self.par);
        Ok(out)
    }

    fn diagonal(&self) -> Result<Vec<f64>> {
        Ok((0..self.k.nrows()).map(|i| self.k[(i, i)]).collect())
    }
}

/// Stopping rules of [`conjugate_gradient`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgConfig {
    /// Relative residual target ‖b − Ax‖ ≤ rtol·‖b‖ per column.
    pub rtol: f64,
    /// Largest number of CG iterations per (refinement) solve.
    pub max_iterations: usize,
    /// Largest number of refinement steps after the first solve.
    pub max_refinements: usize,
}

impl Default for CgConfig {
    fn default() -> Self {
        Self {
            rtol: 1e-10,
            max_iterations: 10_000,
            max_refinements: 3,
        }
    }
}

/// Diagnostics of a CG solve.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CgInfo {
    /// Products with the operator (CG iterations over all refinement steps, plus the residual
    /// checks).
    pub products: usize,
    /// CG iterations of the first solve (the largest over columns).
    pub iterations: usize,
    /// Refinement steps taken.
    pub refinements: usize,
    /// Largest true relative residual ‖b − Ax‖/‖b‖ over columns, recomputed at the end.
    pub relative_residual: f64,
    /// Condition estimate λ_max/λ_min of the Jacobi-preconditioned A from the Ritz values of the
    /// first solve (largest over columns; a lower bound on the true value).
    pub condition_estimate: f64,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn col(m: &Mat<f64>, j: usize) -> &[f64] {
    m.col(j)
        .try_as_col_major()
        .expect("owned column")
        .as_slice()
}

/// (A + ρI)·v through the operator.
fn apply_shifted(op: &dyn SymmetricOperator, ridge: f64, v: &Mat<f64>) -> Result<Mat<f64>> {
    let mut out = op.apply(v.as_ref())?;
    if ridge != 0.0 {
        for j in 0..v.ncols() {
            for i in 0..v.nrows() {
                out[(i, j)] += ridge * v[(i, j)];
            }
        }
    }
    Ok(out)
}

/// The (α_k, β_k) of one column's CG iteration.
type Coefficients = Vec<(f64, f64)>;

/// One preconditioned CG solve of A x = b for every column of b, sharing the products.
/// Returns x, the iterations and the per-column Lanczos coefficients (α_k, β_k).
fn pcg(
    op: &dyn SymmetricOperator,
    ridge: f64,
    inv_diag: &[f64],
    b: &Mat<f64>,
    config: &CgConfig,
) -> Result<(Mat<f64>, usize, Vec<Coefficients>)> {
    let (n, c) = (b.nrows(), b.ncols());
    let mut x = Mat::<f64>::zeros(n, c);
    let mut r = b.clone();
    let mut z = Mat::from_fn(n, c, |i, j| r[(i, j)] * inv_diag[i]);
    let mut p = z.clone();
    let mut rz: Vec<f64> = (0..c).map(|j| dot(col(&r, j), col(&z, j))).collect();
    let b_norm: Vec<f64> = (0..c).map(|j| dot(col(b, j), col(b, j)).sqrt()).collect();
    let mut active: Vec<bool> = (0..c)
        .map(|j| dot(col(&r, j), col(&r, j)).sqrt() > config.rtol * b_norm[j])
        .collect();
    let mut coefficients = vec![Vec::new(); c];
    let mut iterations = 0;
    while active.iter().any(|&a| a) {
        if iterations == config.max_iterations {
            let residual = (0..c)
                .filter(|&j| active[j])
                .map(|j| dot(col(&r, j), col(&r, j)).sqrt() / b_norm[j])
                .fold(0.0, f64::max);
            return Err(Error::NotConverged {
                what: "conjugate gradients",
                iterations,
                residual,
            });
        }
        iterations += 1;
        let q = apply_shifted(op, ridge, &p)?;
        for j in 0..c {
            if !active[j] {
                continue;
            }
            let pq = dot(col(&p, j), col(&q, j));
            if pq.is_nan() || pq <= 0.0 {
                return Err(Error::NotPositiveDefinite { lambda_min: pq });
            }
            let alpha = rz[j] / pq;
            for i in 0..n {
                x[(i, j)] += alpha * p[(i, j)];
                r[(i, j)] -= alpha * q[(i, j)];
                z[(i, j)] = r[(i, j)] * inv_diag[i];
            }
            let rz_new = dot(col(&r, j), col(&z, j));
            let beta = rz_new / rz[j];
            rz[j] = rz_new;
            coefficients[j].push((alpha, beta));
            for i in 0..n {
                p[(i, j)] = z[(i, j)] + beta * p[(i, j)];
            }
            if dot(col(&r, j), col(&r, j)).sqrt() <= config.rtol * b_norm[j] {
                active[j] = false;
            }
        }
    }
    Ok((x, iterations, coefficients))
}

/// λ_max/λ_min of the Lanczos tridiagonal built from CG coefficients (Saad 2003 §6.7.3):
/// T_kk = 1/α_k + β_{k−1}/α_{k−1}, T_{k,k+1} = √β_k/α_k.
fn ritz_condition(coefficients: &[(f64, f64)]) -> Result<f64> {
    let m = coefficients.len();
    if m == 0 {
        return Ok(1.0);
    }
    let t = Mat::<f64>::from_fn(m, m, |i, j| {
        if i == j {
            let (alpha, _) = coefficients[i];
            let previous = if i == 0 {
                0.0
            } else {
                let (alpha_prev, beta_prev) = coefficients[i - 1];
                beta_prev / alpha_prev
            };
            1.0 / alpha + previous
        } else if i + 1 == j || j + 1 == i {
            let k = i.min(j);
            let (alpha, beta) = coefficients[k];
            beta.sqrt() / alpha
        } else {
            0.0
        }
    });
    let values = t
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
    let (lo, hi) = (values[0], values[m - 1]);
    Ok(if lo > 0.0 { hi / lo } else { f64::INFINITY })
}

/// Solves (K + ρI) X = B for every column of `b` by Jacobi-preconditioned CG with iterative
/// refinement (see the module documentation).
///
/// $$ X = (K + \rho I)^{-1} B $$
///
/// # Errors
/// Shape mismatch, non-finite `b` or ρ < 0, a non-positive curvature pᵀAp ≤ 0
/// ([`Error::NotPositiveDefinite`]), no convergence within the iteration limits
/// ([`Error::NotConverged`]).
///
/// # Reference
/// Saad 2003, Alg. 9.1 and §6.7.3; Higham 2002 §12.1.
pub fn conjugate_gradient(
    op: &dyn SymmetricOperator,
    ridge: f64,
    b: MatRef<'_, f64>,
    config: CgConfig,
) -> Result<(Mat<f64>, CgInfo)> {
    super::spd::check_ridge("ridge", ridge)?;
    crate::error::check_rows("b", b, op.dim())?;
    crate::error::check_finite_mat("b", b)?;
    let diagonal = op.diagonal()?;
    let inv_diag: Vec<f64> = diagonal
        .iter()
        .map(|&d| {
            let shifted = d + ridge;
            if shifted > 0.0 { 1.0 / shifted } else { 1.0 }
        })
        .collect();
    let b = b.to_owned();
    let c = b.ncols();
    let b_norm: Vec<f64> = (0..c).map(|j| dot(col(&b, j), col(&b, j)).sqrt()).collect();
    let (mut x, iterations, coefficients) = pcg(op, ridge, &inv_diag, &b, &config)?;
    let mut products = iterations;
    let mut condition_estimate: f64 = 1.0;
    for column in &coefficients {
        condition_estimate = condition_estimate.max(ritz_condition(column)?);
    }
    let mut refinements = 0;
    loop {
        let ax = apply_shifted(op, ridge, &x)?;
        products += 1;
        let residual = &b - &ax;
        let relative_residual = (0..c)
            .map(|j| {
                let norm = dot(col(&residual, j), col(&residual, j)).sqrt();
                if b_norm[j] > 0.0 {
                    norm / b_norm[j]
                } else {
                    norm
                }
            })
            .fold(0.0, f64::max);
        if relative_residual <= config.rtol || refinements == config.max_refinements {
            let info = CgInfo {
                products,
                iterations,
                refinements,
                relative_residual,
                condition_estimate,
            };
            return Ok((x, info));
        }
        refinements += 1;
        // The correction d solves A d = r to the same relative accuracy, measured against ‖b‖.
        let scaled = CgConfig {
            rtol: (config.rtol * b_norm.iter().cloned().fold(0.0, f64::max)
                / (0..c)
                    .map(|j| dot(col(&residual, j), col(&residual, j)).sqrt())
                    .fold(f64::MIN_POSITIVE, f64::max))
            .min(0.5),
            ..config
        };
        let (correction, more, _) = pcg(op, ridge, &inv_diag, &residual, &scaled)?;
        products += more;
        x += &correction;
    }
}

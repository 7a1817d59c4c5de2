//! Kernel regression without factoring the kernel: preconditioned conjugate gradients (Jacobi by
//! default, or any [`Preconditioner`] such as the Nyström one) with iterative refinement, on any symmetric operator v ↦ Kv (an in-memory matrix, or a
//! kernel streamed from disk in row blocks).
//!
//! For A = K + ρI (SPD) and a preconditioner M ≈ A (Jacobi: M = diag(A)), each column b of the right-hand side is solved by
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

use super::preconditioner::{Jacobi, Preconditioner};
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
    /// The columns K[:, idx] (n × |idx|). The default applies K to the selecting unit vectors
    /// (one product); operators that can read columns (or, by symmetry, rows) directly override
    /// it.
    fn columns(&self, idx: &[usize]) -> Result<Mat<f64>> {
        let n = self.dim();
        if let Some(&bad) = idx.iter().find(|&&i| i >= n) {
            return Err(Error::InvalidParameter {
                arg: "idx",
                value: bad.to_string(),
                reason: "column index out of range",
            });
        }
        let selector = Mat::<f64>::from_fn(n, idx.len(), |i, k| f64::from(idx[k] == i));
        self.apply(selector.as_ref())
    }
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

    fn columns(&self, idx: &[usize]) -> Result<Mat<f64>> {
        let n = self.k.nrows();
        if let Some(&bad) = idx.iter().find(|&&i| i >= n) {
            return Err(Error::InvalidParameter {
                arg: "idx",
                value: bad.to_string(),
                reason: "column index out of range",
            });
        }
        Ok(Mat::from_fn(n, idx.len(), |i, k| self.k[(i, idx[k])]))
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
    /// Condition estimate λ_max/λ_min of the preconditioned A (M⁻¹A) from the Ritz values of the
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

/// (K + ρ_j I)·v_j for every column j of v, through one product with the operator.
fn apply_shifted(op: &dyn SymmetricOperator, ridges: &[f64], v: &Mat<f64>) -> Result<Mat<f64>> {
    let mut out = op.apply(v.as_ref())?;
    for (j, &ridge) in ridges.iter().enumerate() {
        if ridge != 0.0 {
            for i in 0..v.nrows() {
                out[(i, j)] += ridge * v[(i, j)];
            }
        }
    }
    Ok(out)
}

/// As [`apply_shifted`] for the `active` columns only (the others of the result are zero): the
/// product with K, the expensive part, is taken with the active columns gathered, so columns
/// that have converged cost nothing.
fn apply_shifted_active(
    op: &dyn SymmetricOperator,
    ridges: &[f64],
    v: &Mat<f64>,
    active: &[bool],
) -> Result<Mat<f64>> {
    let columns: Vec<usize> = (0..v.ncols()).filter(|&j| active[j]).collect();
    if columns.len() == v.ncols() {
        return apply_shifted(op, ridges, v);
    }
    let gathered = Mat::<f64>::from_fn(v.nrows(), columns.len(), |i, k| v[(i, columns[k])]);
    let gathered_ridges: Vec<f64> = columns.iter().map(|&j| ridges[j]).collect();
    let product = apply_shifted(op, &gathered_ridges, &gathered)?;
    let mut out = Mat::<f64>::zeros(v.nrows(), v.ncols());
    for (k, &j) in columns.iter().enumerate() {
        out.as_mut().col_mut(j).copy_from(product.col(k));
    }
    Ok(out)
}

/// The (α_k, β_k) of one column's CG iteration.
type Coefficients = Vec<(f64, f64)>;

/// One preconditioned CG solve of A x = b for every column of b, sharing the products with A
/// and with M⁻¹. Returns x, the iterations and the per-column Lanczos coefficients (α_k, β_k).
fn pcg(
    op: &dyn SymmetricOperator,
    ridges: &[f64],
    preconditioner: &dyn Preconditioner,
    b: &Mat<f64>,
    config: &CgConfig,
) -> Result<(Mat<f64>, usize, Vec<Coefficients>)> {
    let (n, c) = (b.nrows(), b.ncols());
    let mut x = Mat::<f64>::zeros(n, c);
    let mut r = b.clone();
    let mut z = preconditioner.solve(ridges, r.as_ref())?;
    let mut p = z.clone();
    let mut rz: Vec<f64> = (0..c).map(|j| dot(col(&r, j), col(&z, j))).collect();
    let b_norm: Vec<f64> = (0..c).map(|j| dot(col(b, j), col(b, j)).sqrt()).collect();
    let mut active: Vec<bool> = (0..c)
        .map(|j| dot(col(&r, j), col(&r, j)).sqrt() > config.rtol * b_norm[j])
        .collect();
    let mut coefficients = vec![Vec::new(); c];
    let mut alphas = vec![0.0; c];
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
        let q = apply_shifted_active(op, ridges, &p, &active)?;
        for j in 0..c {
            if !active[j] {
                continue;
            }
            let pq = dot(col(&p, j), col(&q, j));
            if pq.is_nan() || pq <= 0.0 {
                return Err(Error::NotPositiveDefinite { lambda_min: pq });
            }
            let alpha = rz[j] / pq;
            alphas[j] = alpha;
            for i in 0..n {
                x[(i, j)] += alpha * p[(i, j)];
                r[(i, j)] -= alpha * q[(i, j)];
            }
        }
        z = preconditioner.solve(ridges, r.as_ref())?;
        for j in 0..c {
            if !active[j] {
                continue;
            }
            let rz_new = dot(col(&r, j), col(&z, j));
            if rz_new.is_nan() || rz_new < 0.0 {
                return Err(Error::NotPositiveDefinite { lambda_min: rz_new });
            }
            let beta = rz_new / rz[j];
            rz[j] = rz_new;
            coefficients[j].push((alphas[j], beta));
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
    let jacobi = Jacobi::new(op.diagonal()?)?;
    preconditioned_conjugate_gradient(op, ridge, b, config, &jacobi)
}

/// Solves (K + ρI) X = B for every column of `b` by CG preconditioned with `preconditioner`
/// (e.g. [`Nystrom`](super::Nystrom)), with iterative refinement, as [`conjugate_gradient`]
/// does with the Jacobi preconditioner.
///
/// $$ X = (K + \rho I)^{-1} B $$
///
/// # Errors
/// As [`conjugate_gradient`]; also a preconditioner of another size, or one that is not
/// positive definite (rᵀM⁻¹r < 0, [`Error::NotPositiveDefinite`]).
///
/// # Reference
/// Saad 2003, Alg. 9.1 and §6.7.3; Higham 2002 §12.1.
pub fn preconditioned_conjugate_gradient(
    op: &dyn SymmetricOperator,
    ridge: f64,
    b: MatRef<'_, f64>,
    config: CgConfig,
    preconditioner: &dyn Preconditioner,
) -> Result<(Mat<f64>, CgInfo)> {
    let ridges = vec![ridge; b.ncols()];
    let (x, info, _) = solve_columns(op, &ridges, b, config, preconditioner)?;
    Ok((x, info))
}

/// Solves (K + ρ_k I) X_k = B for every ridge ρ_k in `ridges` at once: the k·c columns share
/// each product with K (one pass over a streamed kernel serves every ridge), each column runs
/// its own CG recurrence and stopping test. Returns X_k with the diagnostics of its columns
/// (iterations and residual of the ridge's own columns; products counted for the whole solve).
///
/// $$ X_k = (K + \rho_k I)^{-1} B $$
///
/// # Errors
/// As [`preconditioned_conjugate_gradient`]; an empty `ridges`.
///
/// # Reference
/// Saad 2003, Alg. 9.1; Higham 2002 §12.1.
pub fn preconditioned_conjugate_gradient_ridges(
    op: &dyn SymmetricOperator,
    ridges: &[f64],
    b: MatRef<'_, f64>,
    config: CgConfig,
    preconditioner: &dyn Preconditioner,
) -> Result<Vec<(Mat<f64>, CgInfo)>> {
    if ridges.is_empty() {
        return Err(Error::Empty { arg: "ridges" });
    }
    let c = b.ncols();
    let stacked = Mat::<f64>::from_fn(b.nrows(), c * ridges.len(), |i, j| b[(i, j % c)]);
    let per_column: Vec<f64> = (0..c * ridges.len()).map(|j| ridges[j / c]).collect();
    let (x, info, columns) =
        solve_columns(op, &per_column, stacked.as_ref(), config, preconditioner)?;
    Ok((0..ridges.len())
        .map(|k| {
            let own = &columns[k * c..(k + 1) * c];
            let info = CgInfo {
                iterations: own.iter().map(|s| s.iterations).max().unwrap_or(0),
                relative_residual: own.iter().map(|s| s.relative_residual).fold(0.0, f64::max),
                condition_estimate: own.iter().map(|s| s.condition_estimate).fold(1.0, f64::max),
                ..info
            };
            (x.as_ref().subcols(k * c, c).to_owned(), info)
        })
        .collect())
}

/// Per-column diagnostics of [`solve_columns`].
#[derive(Debug, Clone, Copy)]
struct ColumnStats {
    iterations: usize,
    relative_residual: f64,
    condition_estimate: f64,
}

/// The shared driver: column j solves (K + ρ_j I) x_j = b_j; PCG, then iterative refinement
/// until every column's true residual meets `rtol`.
fn solve_columns(
    op: &dyn SymmetricOperator,
    ridges: &[f64],
    b: MatRef<'_, f64>,
    config: CgConfig,
    preconditioner: &dyn Preconditioner,
) -> Result<(Mat<f64>, CgInfo, Vec<ColumnStats>)> {
    for &ridge in ridges {
        super::spd::check_ridge("ridge", ridge)?;
    }
    crate::error::check_rows("b", b, op.dim())?;
    crate::error::check_finite_mat("b", b)?;
    if preconditioner.dim() != op.dim() {
        return Err(Error::ShapeMismatch {
            arg: "preconditioner",
            expected: format!("size {}", op.dim()),
            found: format!("size {}", preconditioner.dim()),
        });
    }
    let b = b.to_owned();
    let c = b.ncols();
    let b_norm: Vec<f64> = (0..c).map(|j| dot(col(&b, j), col(&b, j)).sqrt()).collect();
    let (mut x, iterations, coefficients) = pcg(op, ridges, preconditioner, &b, &config)?;
    let mut products = iterations;
    let conditions = coefficients
        .iter()
        .map(|column| ritz_condition(column))
        .collect::<Result<Vec<f64>>>()?;
    let condition_estimate = conditions.iter().cloned().fold(1.0, f64::max);
    let mut refinements = 0;
    loop {
        let ax = apply_shifted(op, ridges, &x)?;
        products += 1;
        let residual = &b - &ax;
        let residuals: Vec<f64> = (0..c)
            .map(|j| {
                let norm = dot(col(&residual, j), col(&residual, j)).sqrt();
                if b_norm[j] > 0.0 {
                    norm / b_norm[j]
                } else {
                    norm
                }
            })
            .collect();
        let relative_residual = residuals.iter().cloned().fold(0.0, f64::max);
        if relative_residual <= config.rtol || refinements == config.max_refinements {
            let info = CgInfo {
                products,
                iterations,
                refinements,
                relative_residual,
                condition_estimate,
            };
            let stats = (0..c)
                .map(|j| ColumnStats {
                    iterations: coefficients[j].len(),
                    relative_residual: residuals[j],
                    condition_estimate: conditions[j],
                })
                .collect();
            return Ok((x, info, stats));
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
        let (correction, more, _) = pcg(op, ridges, preconditioner, &residual, &scaled)?;
        products += more;
        x += &correction;
    }
}

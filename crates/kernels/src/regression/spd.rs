//! Symmetric positive-definite kernel matrices: validation, the Cholesky factor and the
//! condition number of each solve.
//!
//! A Gram matrix K (plus an optional ridge λ·I) is checked and copied in one pass, then factored
//! as K = LLᵀ (faer Cholesky). A failed factorisation, or one whose smallest eigenvalue is below
//! n·ε·λ_max (numerically singular, e.g. duplicate training points), is
//! [`Error::NotPositiveDefinite`] with the measured λ_min. λ_max and λ_min come from block
//! Lanczos on LLᵀ and (LLᵀ)⁻¹ (`super::lanczos`), computed with the factor ([`Cholesky::new`]) or
//! on first request ([`Cholesky::factor`]).

use super::eigen::exact_lambda_min;
use super::lanczos::extreme_eigenvalues;
use crate::{Error, Result};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky;
use faer::linalg::matmul::matmul;
use faer::{Accum, Conj, Mat, MatRef, Par};
use std::sync::OnceLock;

/// Diagnostics of one positive-definite factorisation (not failures).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolveInfo {
    /// Size n of the factored matrix.
    pub n: usize,
    /// The ridge λ added to the diagonal before factoring (0 if none).
    pub ridge: f64,
    /// Largest eigenvalue of K + λI (Lanczos estimate, or exact from an eigendecomposition).
    pub lambda_max: f64,
    /// Smallest eigenvalue of K + λI (Lanczos estimate, or exact from an eigendecomposition).
    pub lambda_min: f64,
    /// Spectral condition number λ_max / λ_min.
    pub condition_number: f64,
    /// Whether the eigenvalues come from a full eigendecomposition (`true`) or Lanczos.
    pub exact: bool,
}

impl SolveInfo {
    pub(crate) fn new(n: usize, ridge: f64, lambda_min: f64, lambda_max: f64, exact: bool) -> Self {
        Self {
            n,
            ridge,
            lambda_max,
            lambda_min,
            condition_number: lambda_max / lambda_min,
            exact,
        }
    }
}

/// Checks that `k` is a square, finite, symmetric matrix; `arg` names it in errors.
pub(crate) fn check_gram(arg: &'static str, k: MatRef<'_, f64>) -> Result<()> {
    checked_copy(arg, k, 0.0).map(drop)
}

/// Side of the square tiles of [`checked_copy`]: a pair of 64 × 64 tiles (64 KB) stays in L1/L2
/// while it is read row- and column-wise.
const TILE: usize = 64;

/// Checks that `k` is a square, finite, symmetric matrix and returns K + ridge·I, in one tiled
/// pass that reads each entry once (the pair K_ij, K_ji together). `arg` names `k` in errors;
/// non-finite entries are reported before asymmetry, as [`crate::error::check_finite_mat`] would.
/// Symmetry is required up to rounding of the routine that built K: |K_ij − K_ji| ≤
/// 1e3·ε·max_i |K_ii|.
pub(crate) fn checked_copy(arg: &'static str, k: MatRef<'_, f64>, ridge: f64) -> Result<Mat<f64>> {
    if k.nrows() == 0 {
        return Err(Error::Empty { arg });
    }
    if k.nrows() != k.ncols() {
        return Err(Error::ShapeMismatch {
            arg,
            expected: format!("{0}x{0}", k.nrows()),
            found: format!("{}x{}", k.nrows(), k.ncols()),
        });
    }
    let n = k.nrows();
    let scale = (0..n).map(|i| k[(i, i)].abs()).fold(0.0, f64::max);
    let tol = 1e3 * f64::EPSILON * scale.max(f64::MIN_POSITIVE);
    let mut out = Mat::<f64>::zeros(n, n);
    let columns: Option<Vec<&[f64]>> = (0..n)
        .map(|j| k.col(j).try_as_col_major().map(|c| c.as_slice()))
        .collect();
    let (finite, asymmetric) = match columns {
        Some(columns) => copy_tiles_contiguous(&columns, &mut out, tol),
        None => copy_tiles_strided(k, &mut out, tol),
    };
    if !finite {
        crate::error::check_finite_mat(arg, k)?;
    }
    if let Some((i, j)) = asymmetric {
        return Err(Error::InvalidParameter {
            arg,
            value: format!("K[{i},{j}] = {} vs K[{j},{i}] = {}", k[(i, j)], k[(j, i)]),
            reason: "a kernel matrix must be symmetric",
        });
    }
    if ridge != 0.0 {
        for i in 0..n {
            out[(i, i)] += ridge;
        }
    }
    Ok(out)
}

/// Tiled copy of a column-major K (one slice per column) into `out`, returning whether every
/// entry is finite and the first entry (tile order, then column-major within the tile) whose
/// mirror differs by more than `tol`.
fn copy_tiles_contiguous(
    columns: &[&[f64]],
    out: &mut Mat<f64>,
    tol: f64,
) -> (bool, Option<(usize, usize)>) {
    let n = columns.len();
    let all_finite = |values: &[f64]| values.iter().fold(true, |ok, v| ok & v.is_finite());
    let mut finite = true;
    let mut asymmetric = None;
    for j0 in (0..n).step_by(TILE) {
        let j1 = (j0 + TILE).min(n);
        for i0 in (j0..n).step_by(TILE) {
            let i1 = (i0 + TILE).min(n);
            // Tile (i0.., j0..) and, off the diagonal, its mirror (j0.., i0..): column pieces.
            for j in j0..j1 {
                let piece = &columns[j][i0..i1];
                finite &= all_finite(piece);
                out.col_as_slice_mut(j)[i0..i1].copy_from_slice(piece);
            }
            if i0 != j0 {
                for i in i0..i1 {
                    let piece = &columns[i][j0..j1];
                    finite &= all_finite(piece);
                    out.col_as_slice_mut(i)[j0..j1].copy_from_slice(piece);
                }
            }
            let mut worst = 0.0_f64;
            for j in j0..j1 {
                let column = &columns[j];
                for i in i0.max(j + 1)..i1 {
                    worst = worst.max((column[i] - columns[i][j]).abs());
                }
            }
            if worst > tol && asymmetric.is_none() {
                asymmetric = (j0..j1)
                    .flat_map(|j| (i0.max(j + 1)..i1).map(move |i| (i, j)))
                    .find(|&(i, j)| (columns[j][i] - columns[i][j]).abs() > tol);
            }
        }
    }
    (finite, asymmetric)
}

/// As [`copy_tiles_contiguous`] for a K with any strides.
fn copy_tiles_strided(
    k: MatRef<'_, f64>,
    out: &mut Mat<f64>,
    tol: f64,
) -> (bool, Option<(usize, usize)>) {
    let n = k.nrows();
    let mut finite = true;
    let mut asymmetric = None;
    for j0 in (0..n).step_by(TILE) {
        let j1 = (j0 + TILE).min(n);
        for i0 in (j0..n).step_by(TILE) {
            let i1 = (i0 + TILE).min(n);
            let mut worst = 0.0_f64;
            for j in j0..j1 {
                for i in i0.max(j)..i1 {
                    let (lower, upper) = (k[(i, j)], k[(j, i)]);
                    finite &= lower.is_finite() & upper.is_finite();
                    worst = worst.max((lower - upper).abs());
                    out[(i, j)] = lower;
                    out[(j, i)] = upper;
                }
            }
            if worst > tol && asymmetric.is_none() {
                asymmetric = (j0..j1)
                    .flat_map(|j| (i0.max(j + 1)..i1).map(move |i| (i, j)))
                    .find(|&(i, j)| (k[(i, j)] - k[(j, i)]).abs() > tol);
            }
        }
    }
    (finite, asymmetric)
}

pub(crate) fn check_ridge(arg: &'static str, ridge: f64) -> Result<()> {
    if !(ridge.is_finite() && ridge >= 0.0) {
        return Err(Error::InvalidParameter {
            arg,
            value: ridge.to_string(),
            reason: "must be finite and >= 0",
        });
    }
    Ok(())
}

/// faer may split the reduction of a thin product (a matrix–vector product, or a product with
/// few output rows or columns) across threads, which changes the rounding with the thread count.
/// Such products are memory-bound anyway, so they run sequentially; wide products keep `par`.
pub(crate) fn deterministic_par(rows: usize, cols: usize, par: Par) -> Par {
    if rows.min(cols) < 32 { Par::Seq } else { par }
}

/// Output rows per task of a thin product.
const ROWS_PER_TASK: usize = 128;

/// `dst ← accum(dst, alpha·a·b)`. Wide products use faer with `par` (its GEMM partitions the
/// output, so its rounding does not depend on the thread count). Thin products are split into
/// fixed blocks of [`ROWS_PER_TASK`] output rows, each a sequential product, run in parallel
/// unless `par` is sequential: the same partition for any thread count.
pub(crate) fn gemm(
    dst: faer::MatMut<'_, f64>,
    accum: Accum,
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    alpha: f64,
    par: Par,
) {
    if !matches!(deterministic_par(dst.nrows(), dst.ncols(), par), Par::Seq) {
        matmul(dst, accum, a, b, alpha, par);
        return;
    }
    let rows = dst.nrows();
    let mut blocks = Vec::with_capacity(rows.div_ceil(ROWS_PER_TASK));
    let mut rest = dst;
    let mut first = 0;
    while first < rows {
        let len = ROWS_PER_TASK.min(rows - first);
        let (top, bottom) = rest.split_at_row_mut(len);
        blocks.push((first, top));
        rest = bottom;
        first += len;
    }
    let task = |(first, block): (usize, faer::MatMut<'_, f64>)| {
        let len = block.nrows();
        matmul(block, accum, a.subrows(first, len), b, alpha, Par::Seq);
    };
    if matches!(par, Par::Seq) || blocks.len() == 1 {
        blocks.into_iter().for_each(task);
    } else {
        use rayon::prelude::*;
        blocks.into_par_iter().for_each(task);
    }
}

/// K + ridge·I as an owned matrix (lower triangle is what the factorisations read).
pub(crate) fn with_ridge(k: MatRef<'_, f64>, ridge: f64) -> Mat<f64> {
    let mut a = k.to_owned();
    if ridge != 0.0 {
        for i in 0..a.nrows() {
            a[(i, i)] += ridge;
        }
    }
    a
}

/// Cholesky factor of a positive-definite kernel matrix K + λI, with its [`SolveInfo`].
#[derive(Debug, Clone)]
pub struct Cholesky {
    lower: Mat<f64>,
    ridge: f64,
    par: Par,
    info: OnceLock<SolveInfo>,
}

impl Cholesky {
    /// Factors K + ridge·I = LLᵀ and estimates its extreme eigenvalues.
    ///
    /// $$ K + \lambda I = L L^\top, \qquad \kappa = \lambda_{\max}/\lambda_{\min} $$
    ///
    /// Errors: empty, non-square, non-finite or non-symmetric `k`; negative/non-finite `ridge`;
    /// [`Error::NotPositiveDefinite`] when the factorisation fails or λ_min ≤ n·ε·λ_max.
    ///
    /// # Reference
    /// Golub & Van Loan 2013, *Matrix Computations* (4th ed.), Alg. 4.2.2 (Cholesky) and §10.3.6
    /// (block Lanczos).
    pub fn new(k: MatRef<'_, f64>, ridge: f64, par: Par) -> Result<Self> {
        let factor = Self::factor(k, ridge, par)?;
        factor.info()?;
        Ok(factor)
    }

    /// Factors K + ridge·I = LLᵀ only; the extreme eigenvalues and condition number are
    /// estimated on the first call of [`Cholesky::info`]. Errors as [`Cholesky::new`], except
    /// that a factorisation that succeeds with λ_min ≤ n·ε·λ_max (numerically singular) is only
    /// reported by [`Cholesky::info`].
    ///
    /// $$ K + \lambda I = L L^\top $$
    ///
    /// # Reference
    /// Golub & Van Loan 2013, *Matrix Computations* (4th ed.), Alg. 4.2.2.
    pub fn factor(k: MatRef<'_, f64>, ridge: f64, par: Par) -> Result<Self> {
        check_ridge("ridge", ridge)?;
        let a = checked_copy("k_train_train", k, ridge)?;
        Self::from_checked(a, k, ridge, par)
    }

    /// Factors an already validated copy `lower` = K + ridge·I of `k` (consumed and overwritten
    /// by L; `k` is read again only if the factorisation fails).
    pub(crate) fn from_checked(
        mut lower: Mat<f64>,
        k: MatRef<'_, f64>,
        ridge: f64,
        par: Par,
    ) -> Result<Self> {
        let n = lower.nrows();
        let diagonal: Vec<f64> = (0..n).map(|i| lower[(i, i)]).collect();
        let mut mem = MemBuffer::new(cholesky::llt::factor::cholesky_in_place_scratch::<f64>(
            n,
            par,
            Default::default(),
        ));
        let factored = cholesky::llt::factor::cholesky_in_place(
            lower.as_mut(),
            Default::default(),
            par,
            MemStack::new(&mut mem),
            Default::default(),
        );
        if factored.is_err() {
            // The failed factorisation overwrote `lower`: λ_min of K + λI from `k` itself.
            return Err(Error::NotPositiveDefinite {
                lambda_min: exact_lambda_min(with_ridge(k, ridge).as_ref(), par)?,
            });
        }
        // Zero the strict upper triangle, column by column (contiguous, no per-entry bounds check).
        for j in 1..n {
            lower.as_mut().col_mut(j).subrows_mut(0, j).fill(0.0);
        }
        // Cheap screen for numerical singularity: every pivot L_jj² is a diagonal entry of a
        // Schur complement, so λ_min ≤ min_j L_jj², and λ_max ≥ max_i A_ii. A pivot below
        // n·ε·max_i A_ii therefore means λ_min ≤ n·ε·λ_max: confirm and report it with the
        // Lanczos estimate.
        let largest_diagonal = diagonal.iter().fold(0.0_f64, |m, &v| m.max(v));
        let smallest_pivot = (0..n).fold(f64::INFINITY, |m, j| m.min(lower[(j, j)].powi(2)));
        let factor = Self {
            lower,
            ridge,
            par,
            info: OnceLock::new(),
        };
        if smallest_pivot <= n as f64 * f64::EPSILON * largest_diagonal {
            factor.info()?;
        }
        Ok(factor)
    }

    /// Diagnostics of the factorisation: λ_max and λ_min by block Lanczos on LLᵀ and (LLᵀ)⁻¹
    /// (computed on the first call and kept).
    ///
    /// Errors: [`Error::NotPositiveDefinite`] when λ_min ≤ n·ε·λ_max.
    pub fn info(&self) -> Result<SolveInfo> {
        if let Some(info) = self.info.get() {
            return Ok(*info);
        }
        let n = self.lower.nrows();
        let (lambda_min, lambda_max) = extreme_eigenvalues(self.lower.as_ref(), self.par)?;
        if lambda_min.is_nan() || lambda_min <= n as f64 * f64::EPSILON * lambda_max {
            return Err(Error::NotPositiveDefinite { lambda_min });
        }
        let info = SolveInfo::new(n, self.ridge, lambda_min, lambda_max, false);
        Ok(*self.info.get_or_init(|| info))
    }

    /// The lower-triangular factor L.
    pub fn lower(&self) -> MatRef<'_, f64> {
        self.lower.as_ref()
    }

    /// Solves (K + λI) X = B.
    pub fn solve(&self, rhs: MatRef<'_, f64>, par: Par) -> Result<Mat<f64>> {
        if rhs.nrows() != self.lower.nrows() {
            return Err(Error::ShapeMismatch {
                arg: "rhs",
                expected: format!("{} rows", self.lower.nrows()),
                found: format!("{} rows", rhs.nrows()),
            });
        }
        let mut x = rhs.to_owned();
        let par = deterministic_par(x.nrows(), x.ncols(), par);
        solve_with_lower(self.lower.as_ref(), x.as_mut(), par);
        Ok(x)
    }
}

pub(crate) fn solve_with_lower(lower: MatRef<'_, f64>, rhs: faer::MatMut<'_, f64>, par: Par) {
    let n = lower.nrows();
    let mut mem = MemBuffer::new(cholesky::llt::solve::solve_in_place_scratch::<f64>(
        n,
        rhs.ncols(),
        par,
    ));
    cholesky::llt::solve::solve_in_place_with_conj(
        lower,
        Conj::No,
        rhs,
        par,
        MemStack::new(&mut mem),
    );
}

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
use faer::linalg::cholesky::llt::factor::LltParams;
use faer::linalg::matmul::matmul;
use faer::{Accum, Conj, Mat, MatMut, MatRef, Par, Spec};
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

/// Side of the square tiles of [`checked_copy`] and [`symmetric_from_upper`]: a pair of
/// 64 × 64 tiles (64 KB) stays in L1/L2 while it is read row- and column-wise.
const TILE: usize = 64;

/// Splits `out` into blocks of `width` columns and runs `task(j0, block)` on each (block = the
/// columns j0..j0 + width), in parallel unless `par` is sequential; results in block order. Each
/// task owns its columns, so the output does not depend on the thread count.
fn for_column_blocks<T: Send>(
    out: MatMut<'_, f64>,
    width: usize,
    par: Par,
    task: impl Fn(usize, MatMut<'_, f64>) -> T + Sync,
) -> Vec<T> {
    let n = out.ncols();
    let mut blocks = Vec::with_capacity(n.div_ceil(width));
    let mut rest = out;
    let mut j0 = 0;
    while j0 < n {
        let columns = width.min(n - j0);
        let (left, right) = rest.split_at_col_mut(columns);
        blocks.push((j0, left));
        rest = right;
        j0 += columns;
    }
    if matches!(par, Par::Seq) {
        blocks.into_iter().map(|(j0, b)| task(j0, b)).collect()
    } else {
        use rayon::prelude::*;
        blocks.into_par_iter().map(|(j0, b)| task(j0, b)).collect()
    }
}

/// Checks that `k` is a square, finite, symmetric matrix and returns K + ridge·I, symmetrised
/// from the lower triangle of `k` (the triangle every factorisation here reads; the upper one
/// only has to agree with it). One tiled pass, parallel over blocks of columns unless `par` is
/// sequential. `arg` names `k` in errors; non-finite entries are reported before asymmetry, as
/// [`crate::error::check_finite_mat`] would. Symmetry is required up to rounding of the routine
/// that built K: |K_ij − K_ji| ≤ 1e3·ε·max_i |K_ii|; the first offending pair in a fixed order is
/// reported, whatever the thread count.
pub(crate) fn checked_copy(
    arg: &'static str,
    k: MatRef<'_, f64>,
    ridge: f64,
    par: Par,
) -> Result<Mat<f64>> {
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
    // The tiles read columns as slices: a strided `k` (e.g. a transposed view) is made
    // column-major first.
    let contiguous;
    let source = if (0..n).all(|j| k.col(j).try_as_col_major().is_some()) {
        k
    } else {
        contiguous = k.to_owned();
        contiguous.as_ref()
    };
    let columns: Vec<&[f64]> = (0..n)
        .filter_map(|j| source.col(j).try_as_col_major().map(|c| c.as_slice()))
        .collect();
    if columns.len() != n {
        return Err(Error::LinearAlgebra(
            "column-major copy is not contiguous".into(),
        ));
    }
    let mut out = Mat::<f64>::zeros(n, n);
    let blocks = for_column_blocks(out.as_mut(), TILE, par, |j0, block| {
        copy_block_from_lower(&columns, j0, block, tol)
    });
    let finite = blocks.iter().all(|(finite, _)| *finite);
    let asymmetric = blocks.iter().find_map(|(_, pair)| *pair);
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

/// Columns j0.. of [`checked_copy`]'s output (`block`), from a column-major K given as one slice
/// per column: out_ij = K_max(i,j),min(i,j). Returns whether every entry of K read by this block
/// is finite (together the blocks read all of K) and the first pair (i > j, tile order, then
/// column-major within the tile) whose mirror differs by more than `tol`.
fn copy_block_from_lower(
    columns: &[&[f64]],
    j0: usize,
    mut block: MatMut<'_, f64>,
    tol: f64,
) -> (bool, Option<(usize, usize)>) {
    let n = columns.len();
    let j1 = j0 + block.ncols();
    let all_finite = |values: &[f64]| values.iter().fold(true, |ok, v| ok & v.is_finite());
    let mut finite = true;
    // Lower triangle and diagonal of the block's columns: contiguous column pieces.
    for j in j0..j1 {
        let piece = &columns[j][j..];
        finite &= all_finite(piece);
        for (i, &value) in (j..n).zip(piece) {
            block[(i, j - j0)] = value;
        }
    }
    // Strict upper triangle, out_ij = K_ji (i < j): rows j0..j1 of the columns i < j, tile by
    // tile.
    for i0 in (0..j1).step_by(TILE) {
        let i1 = (i0 + TILE).min(j1);
        for i in i0..i1 {
            let row = &columns[i][j0..j1];
            for j in (i + 1).max(j0)..j1 {
                block[(i, j - j0)] = row[j - j0];
            }
        }
    }
    // Symmetry of the tiles (i0 ≥ j0, j0) against their mirrors, which also reads (and checks
    // the finiteness of) the strict upper triangle of K in rows j0..j1.
    let mut asymmetric = None;
    for i0 in (j0..n).step_by(TILE) {
        let i1 = (i0 + TILE).min(n);
        for i in i0..i1 {
            finite &= all_finite(&columns[i][j0..j1]);
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
    (finite, asymmetric)
}

/// The symmetric matrix A whose strict upper triangle is that of `storage` and whose diagonal is
/// `diagonal` (LAPACK's convention: a Cholesky factor stored in the lower triangle keeps A in the
/// upper one). Tiled and parallel over blocks of columns unless `par` is sequential.
pub(crate) fn symmetric_from_upper(
    storage: MatRef<'_, f64>,
    diagonal: &[f64],
    par: Par,
) -> Mat<f64> {
    let n = storage.nrows();
    let mut out = Mat::<f64>::zeros(n, n);
    for_column_blocks(out.as_mut(), TILE, par, |j0, mut block| {
        let j1 = j0 + block.ncols();
        for j in j0..j1 {
            for i in 0..j {
                block[(i, j - j0)] = storage[(i, j)];
            }
            block[(j, j - j0)] = diagonal[j];
        }
        // Below the diagonal, out_ij = A_ji: rows j0..j1 of the columns i > j, tile by tile.
        for i0 in (j0..n).step_by(TILE) {
            let i1 = (i0 + TILE).min(n);
            for i in i0..i1 {
                for j in j0..j1.min(i) {
                    block[(i, j - j0)] = storage[(j, i)];
                }
            }
        }
    });
    out
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
    // Row blocks of dst are column blocks of dstᵀ.
    for_column_blocks(dst.transpose_mut(), ROWS_PER_TASK, par, |first, block| {
        let block = block.transpose_mut();
        let len = block.nrows();
        matmul(block, accum, a.subrows(first, len), b, alpha, Par::Seq);
    });
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
///
/// Stored as LAPACK's `dpotrf` leaves it: L in the lower triangle, the strict upper triangle of
/// A = K + λI untouched above it, and A's diagonal aside, so that A can be rebuilt without having
/// kept a second n × n copy ([`GradientDescentMse`](super::GradientDescentMse) factors its only
/// copy of Θ this way and still has Θ for an eigendecomposition).
#[derive(Debug, Clone)]
pub struct Cholesky {
    /// L in the lower triangle (diagonal included), A's strict upper triangle above it.
    storage: Mat<f64>,
    /// The diagonal of A = K + λI.
    diagonal: Vec<f64>,
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
        let a = checked_copy("k_train_train", k, ridge, par)?;
        Self::factor_in_place(a, ridge, par).map_err(|(error, _)| error)
    }

    /// Factors an already validated symmetric `a` = K + ridge·I in place: L overwrites its lower
    /// triangle, its strict upper triangle is kept. On failure, the error comes with the storage,
    /// whose strict upper triangle is still A's.
    pub(crate) fn factor_in_place(
        mut a: Mat<f64>,
        ridge: f64,
        par: Par,
    ) -> std::result::Result<Self, (Error, Mat<f64>)> {
        let n = a.nrows();
        let diagonal: Vec<f64> = (0..n).map(|i| a[(i, i)]).collect();
        let params: Spec<LltParams, f64> = Default::default();
        // faer's blocked LLᵀ reads and writes the lower triangle only, except in its unblocked
        // base case (diagonal blocks of at most `recursion_threshold` columns), whose SIMD
        // kernel also overwrites the upper triangle of the block. That part lies in the band
        // 0 < j − i < recursion_threshold: saved here and restored below (tested in this module).
        let band = params.recursion_threshold.max(1);
        let saved: Vec<f64> = (0..n)
            .flat_map(|j| (j.saturating_sub(band - 1)..j).map(move |i| (i, j)))
            .map(|(i, j)| a[(i, j)])
            .collect();
        let mut mem = MemBuffer::new(cholesky::llt::factor::cholesky_in_place_scratch::<f64>(
            n, par, params,
        ));
        let factored = cholesky::llt::factor::cholesky_in_place(
            a.as_mut(),
            Default::default(),
            par,
            MemStack::new(&mut mem),
            params,
        );
        let mut values = saved.into_iter();
        for j in 0..n {
            for i in j.saturating_sub(band - 1)..j {
                if let Some(value) = values.next() {
                    a[(i, j)] = value;
                }
            }
        }
        if factored.is_err() {
            // The failed factorisation overwrote the lower triangle: λ_min of A from its upper
            // triangle and diagonal.
            let source = symmetric_from_upper(a.as_ref(), &diagonal, par);
            let error = match exact_lambda_min(source.as_ref(), par) {
                Ok(lambda_min) => Error::NotPositiveDefinite { lambda_min },
                Err(error) => error,
            };
            return Err((error, a));
        }
        // Cheap screen for numerical singularity: every pivot L_jj² is a diagonal entry of a
        // Schur complement, so λ_min ≤ min_j L_jj², and λ_max ≥ max_i A_ii. A pivot below
        // n·ε·max_i A_ii therefore means λ_min ≤ n·ε·λ_max: confirm and report it with the
        // Lanczos estimate.
        let largest_diagonal = diagonal.iter().fold(0.0_f64, |m, &v| m.max(v));
        let smallest_pivot = (0..n).fold(f64::INFINITY, |m, j| m.min(a[(j, j)].powi(2)));
        let factor = Self {
            storage: a,
            diagonal,
            ridge,
            par,
            info: OnceLock::new(),
        };
        if smallest_pivot <= n as f64 * f64::EPSILON * largest_diagonal
            && let Err(error) = factor.info()
        {
            return Err((error, factor.storage));
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
        let n = self.storage.nrows();
        let (lambda_min, lambda_max) = extreme_eigenvalues(self.storage.as_ref(), self.par)?;
        if lambda_min.is_nan() || lambda_min <= n as f64 * f64::EPSILON * lambda_max {
            return Err(Error::NotPositiveDefinite { lambda_min });
        }
        let info = SolveInfo::new(n, self.ridge, lambda_min, lambda_max, false);
        Ok(*self.info.get_or_init(|| info))
    }

    /// The lower-triangular factor L, as a new matrix (zeros above the diagonal).
    pub fn lower(&self) -> Mat<f64> {
        let n = self.storage.nrows();
        Mat::from_fn(n, n, |i, j| if i >= j { self.storage[(i, j)] } else { 0.0 })
    }

    /// The factor's storage: L in the lower triangle; above it, A's strict upper triangle (only
    /// for routines that read the lower triangle alone).
    pub(crate) fn storage(&self) -> MatRef<'_, f64> {
        self.storage.as_ref()
    }

    /// A = K + λI, rebuilt from the storage's upper triangle and the saved diagonal.
    pub(crate) fn source(&self) -> Mat<f64> {
        symmetric_from_upper(self.storage.as_ref(), &self.diagonal, self.par)
    }

    /// Solves (K + λI) X = B.
    pub fn solve(&self, rhs: MatRef<'_, f64>, par: Par) -> Result<Mat<f64>> {
        crate::error::check_rows("rhs", rhs, self.storage.nrows())?;
        let mut x = rhs.to_owned();
        let par = deterministic_par(x.nrows(), x.ncols(), par);
        solve_with_lower(self.storage.as_ref(), x.as_mut(), par);
        Ok(x)
    }
}

/// Solves LLᵀX = B in place, reading the lower triangle of `lower` only.
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The in-place storage relies on faer's LLᵀ reading and writing the lower triangle only:
    /// after factoring (blocked and recursive paths: n = 300, 777 > faer's block size, both
    /// `Par`s),
    /// the strict upper triangle is A's bit for bit and A is rebuilt exactly.
    #[test]
    fn factor_leaves_the_upper_triangle_untouched() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in [300, 777] {
            let g = Mat::<f64>::from_fn(n, n, |_, _| rng.random::<f64>() - 0.5);
            let mut a = Mat::<f64>::zeros(n, n);
            matmul(
                a.as_mut(),
                Accum::Replace,
                g.as_ref(),
                g.transpose(),
                1.0,
                Par::Seq,
            );
            for i in 0..n {
                a[(i, i)] += 1.0;
            }
            for par in [Par::Seq, Par::rayon(2)] {
                let factor = Cholesky::factor_in_place(a.clone(), 0.0, par)
                    .map_err(|e| e.0)
                    .unwrap();
                let storage = factor.storage();
                let changed: Vec<(usize, usize)> = (0..n)
                    .flat_map(|j| (0..j).map(move |i| (i, j)))
                    .filter(|&(i, j)| storage[(i, j)] != a[(i, j)])
                    .collect();
                assert!(
                    changed.is_empty(),
                    "{} changed, first {:?}",
                    changed.len(),
                    &changed[..changed.len().min(5)]
                );
                assert!(factor.source() == a);
            }
        }
    }
}

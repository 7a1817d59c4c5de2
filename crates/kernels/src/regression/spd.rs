//! Symmetric positive-definite kernel matrices: Cholesky factor, eigendecomposition and the
//! extreme-eigenvalue estimates that give the condition number of each solve.
//!
//! A Gram matrix K (plus an optional ridge λ·I) is factored as K = LLᵀ (faer Cholesky). A failed
//! factorisation, or one whose smallest eigenvalue is below n·ε·λ_max (numerically singular, e.g.
//! duplicate training points), is [`Error::NotPositiveDefinite`] with the measured λ_min.
//! λ_max and λ_min are estimated by Lanczos iteration (Golub & Van Loan 2013, §10.1) on K and on
//! K⁻¹ (through the Cholesky factor), which costs O(n²) per step instead of the O(n³) of a full
//! eigendecomposition.

use crate::{Error, Result};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::matmul;
use faer::linalg::{cholesky, evd};
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Conj, Mat, MatMut, MatRef, Par};
use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Largest number of (block) Lanczos steps used to estimate λ_max and λ_min; each step adds
/// up to 8 vectors, so the estimates are exact when n ≤ 8 × this.
pub const LANCZOS_STEPS: usize = 40;

/// Lanczos stops early once the top Ritz value changes by at most this fraction in one (block)
/// step.
pub const LANCZOS_RTOL: f64 = 1e-6;

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
    fn new(n: usize, ridge: f64, lambda_min: f64, lambda_max: f64, exact: bool) -> Self {
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
    crate::error::check_finite_mat(arg, k)?;
    let n = k.nrows();
    let scale = (0..n).map(|i| k[(i, i)].abs()).fold(0.0, f64::max);
    // Symmetry up to rounding of the routine that built it: 1e3·ε relative to the diagonal.
    let tol = 1e3 * f64::EPSILON * scale.max(f64::MIN_POSITIVE);
    // 64 × 64 tiles, so that the transposed reads stay in cache.
    const TILE: usize = 64;
    for j0 in (0..n).step_by(TILE) {
        for i0 in (j0..n).step_by(TILE) {
            for j in j0..(j0 + TILE).min(n) {
                for i in i0.max(j + 1)..(i0 + TILE).min(n) {
                    if (k[(i, j)] - k[(j, i)]).abs() > tol {
                        return Err(Error::InvalidParameter {
                            arg,
                            value: format!(
                                "K[{i},{j}] = {} vs K[{j},{i}] = {}",
                                k[(i, j)],
                                k[(j, i)]
                            ),
                            reason: "a kernel matrix must be symmetric",
                        });
                    }
                }
            }
        }
    }
    Ok(())
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

/// Smallest eigenvalue by a full symmetric eigendecomposition (used on the error path only).
fn exact_lambda_min(k: MatRef<'_, f64>, par: Par) -> Result<f64> {
    let values = eigen_in_place(k, false, par)?.0;
    Ok(values[0])
}

/// Degree of parallelism given to faer's symmetric eigendecomposition. Its tridiagonal
/// reduction splits each matrix–vector product into one partial sum per thread of the `Par` it
/// is given, so the rounding depends on that number: we always give it the same one.
const EIGEN_PARTITION: usize = 2;

/// Eigenvalues (ascending) and optionally eigenvectors of a symmetric matrix, with a fixed
/// partition ([`EIGEN_PARTITION`]) so that the result is the same for any `par` and thread
/// count: on the current rayon pool when `par` is parallel, otherwise on a private one-thread
/// pool (sequential execution, same partition).
fn eigen_in_place(
    k: MatRef<'_, f64>,
    vectors: bool,
    par: Par,
) -> Result<(Vec<f64>, Option<Mat<f64>>)> {
    let fixed = Par::rayon(EIGEN_PARTITION);
    match par {
        Par::Seq => rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map_err(|e| Error::LinearAlgebra(format!("thread pool: {e}")))?
            .install(|| eigen_with_par(k, vectors, fixed)),
        _ => eigen_with_par(k, vectors, fixed),
    }
}

/// Eigenvalues (ascending) and optionally eigenvectors of a symmetric matrix (faer, `par` as
/// given).
fn eigen_with_par(
    k: MatRef<'_, f64>,
    vectors: bool,
    par: Par,
) -> Result<(Vec<f64>, Option<Mat<f64>>)> {
    let n = k.nrows();
    let mut s = faer::diag::Diag::<f64>::zeros(n);
    let mut u = if vectors {
        Some(Mat::<f64>::zeros(n, n))
    } else {
        None
    };
    let compute = if vectors {
        evd::ComputeEigenvectors::Yes
    } else {
        evd::ComputeEigenvectors::No
    };
    let mut mem = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        compute,
        par,
        Default::default(),
    ));
    evd::self_adjoint_evd(
        k,
        s.as_mut(),
        u.as_mut().map(|u| u.as_mut()),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| Error::LinearAlgebra(format!("symmetric eigendecomposition: {e:?}")))?;
    let values = (0..n).map(|i| s[i]).collect();
    Ok((values, u))
}

/// K + ridge·I as an owned matrix (lower triangle is what the factorisations read).
fn with_ridge(k: MatRef<'_, f64>, ridge: f64) -> Mat<f64> {
    let mut a = k.to_owned();
    if ridge != 0.0 {
        for i in 0..a.nrows() {
            a[(i, i)] += ridge;
        }
    }
    a
}

/// Vectors per block of the block Lanczos iteration.
const LANCZOS_BLOCK: usize = 8;

/// Block Lanczos with full reorthogonalisation: the largest Ritz value of the symmetric operator
/// `apply` (`apply(v, w)` sets w = A·v for a block v of columns) on the block Krylov space
/// span{V, AV, A²V, …} of a fixed pseudo-random n × [`LANCZOS_BLOCK`] start block, after at most
/// [`LANCZOS_STEPS`] block steps (a lower bound on the largest eigenvalue; exact once the space
/// is all of Rⁿ). Each step applies the operator to a whole block, so one pass over the matrix
/// serves [`LANCZOS_BLOCK`] vectors. Everything runs sequentially in a fixed order.
///
/// # Reference
/// Golub & Van Loan 2013, *Matrix Computations* (4th ed.), §10.3.6 (block Lanczos).
fn lanczos_largest(
    n: usize,
    mut apply: impl FnMut(MatRef<'_, f64>, MatMut<'_, f64>),
) -> Result<f64> {
    let block = LANCZOS_BLOCK.min(n);
    let max_dim = n.min(LANCZOS_STEPS * block);
    // A fixed pseudo-random start block: deterministic and generically not orthogonal to the
    // top eigenvector.
    let mut rng = ChaCha8Rng::seed_from_u64(0x6c61_6e63_7a6f_7321);
    let mut candidate = Mat::<f64>::from_fn(n, block, |_, _| rng.random::<f64>() - 0.5);
    let mut basis = Mat::<f64>::zeros(n, max_dim);
    // T = Qᵀ A Q, filled block column by block column.
    let mut projected = Mat::<f64>::zeros(max_dim, max_dim);
    let mut image = Mat::<f64>::zeros(n, block);
    let mut dim = 0;
    let mut previous = f64::NAN;
    let mut ritz = f64::NAN;
    loop {
        let added = extend_basis(basis.as_mut(), dim, candidate.as_mut(), max_dim - dim);
        if added == 0 {
            break; // invariant subspace: the Ritz values are eigenvalues
        }
        let new = basis.as_ref().subcols(dim, added);
        let mut w = image.as_mut().subcols_mut(0, added);
        apply(new, w.rb_mut());
        dim += added;
        // New columns of T: Q[:, ..dim]ᵀ (A Q_new), mirrored into the new rows.
        let mut column = Mat::<f64>::zeros(dim, added);
        matmul(
            column.as_mut(),
            Accum::Replace,
            basis.as_ref().subcols(0, dim).transpose(),
            w.rb(),
            1.0,
            Par::Seq,
        );
        for j in 0..added {
            for i in 0..dim {
                let value = column[(i, j)];
                projected[(i, dim - added + j)] = value;
                projected[(dim - added + j, i)] = value;
            }
        }
        let t = projected.as_ref().subrows(0, dim).subcols(0, dim);
        let values = eigen_with_par(t, false, Par::Seq)?.0;
        ritz = values[dim - 1];
        // Stop once the top Ritz value has settled (relative change ≤ LANCZOS_RTOL).
        if (ritz - previous).abs() <= LANCZOS_RTOL * ritz.abs() || dim == max_dim {
            break;
        }
        previous = ritz;
        candidate = Mat::<f64>::zeros(n, added);
        candidate.copy_from(w.rb());
    }
    Ok(ritz)
}

/// Orthonormalises the columns of `candidate` against `basis[:, ..dim]` and each other (block
/// classical Gram–Schmidt twice, then modified Gram–Schmidt twice within the block; twice is
/// enough, Giraud et al. 2005) and appends at most `room` of them to the basis. Columns that
/// lose all but 1e-10 of their norm (already in the span) are dropped. Returns how many were
/// appended.
fn extend_basis(
    mut basis: MatMut<'_, f64>,
    dim: usize,
    mut candidate: MatMut<'_, f64>,
    room: usize,
) -> usize {
    let width = candidate.ncols();
    if dim > 0 {
        let mut coefficients = Mat::<f64>::zeros(dim, width);
        for _ in 0..2 {
            let previous = basis.rb().subcols(0, dim);
            matmul(
                coefficients.as_mut(),
                Accum::Replace,
                previous.transpose(),
                candidate.rb(),
                1.0,
                Par::Seq,
            );
            matmul(
                candidate.rb_mut(),
                Accum::Add,
                previous,
                coefficients.as_ref(),
                -1.0,
                Par::Seq,
            );
        }
    }
    let mut added = 0;
    for j in 0..width {
        if added == room {
            break;
        }
        let original = candidate.rb().col(j).norm_l2();
        let mut v = candidate.rb().col(j).to_owned();
        for _ in 0..2 {
            for i in 0..added {
                let q = basis.rb().col(dim + i);
                let c = q.transpose() * &v;
                v -= faer::Scale(c) * q;
            }
        }
        let norm = v.norm_l2();
        if norm.is_nan() || norm <= 1e-10 * original {
            continue;
        }
        basis
            .rb_mut()
            .col_mut(dim + added)
            .copy_from(&v / faer::Scale(norm));
        added += 1;
    }
    added
}

/// Cholesky factor of a positive-definite kernel matrix K + λI, with its [`SolveInfo`].
#[derive(Debug, Clone)]
pub struct Cholesky {
    lower: Mat<f64>,
    info: SolveInfo,
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
    /// Golub & Van Loan 2013, *Matrix Computations* (4th ed.), Alg. 4.2.2 (Cholesky) and §10.1
    /// (Lanczos).
    pub fn new(k: MatRef<'_, f64>, ridge: f64, par: Par) -> Result<Self> {
        check_gram("k_train_train", k)?;
        check_ridge("ridge", ridge)?;
        let n = k.nrows();
        let mut lower = with_ridge(k, ridge);
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
            return Err(Error::NotPositiveDefinite {
                lambda_min: exact_lambda_min(with_ridge(k, ridge).as_ref(), par)?,
            });
        }
        for j in 0..n {
            for i in 0..j {
                lower[(i, j)] = 0.0;
            }
        }
        // λ_max on K + λI and λ_max of (K + λI)⁻¹ through the factor: two independent,
        // internally sequential iterations, run side by side when `par` allows.
        let lower_ref = lower.as_ref();
        let largest = || {
            lanczos_largest(n, |v, mut w| {
                matmul(w.rb_mut(), Accum::Replace, k, v, 1.0, Par::Seq);
                if ridge != 0.0 {
                    w += faer::Scale(ridge) * v;
                }
            })
        };
        // The block's columns are solved in two fixed halves (in parallel unless `par` is
        // sequential): the same partition for any thread count.
        let parallel = !matches!(par, Par::Seq);
        let inverse = || {
            lanczos_largest(n, |v, mut w| {
                w.copy_from(v);
                let half = w.ncols() / 2;
                let (left, right) = w.split_at_col_mut(half);
                let solve = |block: MatMut<'_, f64>| {
                    if block.ncols() > 0 {
                        solve_with_lower(lower_ref, block, Par::Seq);
                    }
                };
                if parallel {
                    rayon::join(|| solve(left), || solve(right));
                } else {
                    solve(left);
                    solve(right);
                }
            })
        };
        let (lambda_max, inverse_max) = match par {
            Par::Seq => (largest(), inverse()),
            _ => rayon::join(largest, inverse),
        };
        let (lambda_max, inverse_max) = (lambda_max?, inverse_max?);
        let lambda_min = 1.0 / inverse_max;
        if lambda_min.is_nan() || lambda_min <= n as f64 * f64::EPSILON * lambda_max {
            return Err(Error::NotPositiveDefinite { lambda_min });
        }
        Ok(Self {
            lower,
            info: SolveInfo::new(n, ridge, lambda_min, lambda_max, false),
        })
    }

    /// Diagnostics of the factorisation.
    pub fn info(&self) -> SolveInfo {
        self.info
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

fn solve_with_lower(lower: MatRef<'_, f64>, rhs: faer::MatMut<'_, f64>, par: Par) {
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

/// Eigendecomposition K + λI = U diag(s) Uᵀ of a positive-definite kernel matrix.
#[derive(Debug, Clone)]
pub struct Eigen {
    values: Vec<f64>,
    vectors: Mat<f64>,
    info: SolveInfo,
}

impl Eigen {
    /// Eigendecomposes K + ridge·I (faer self-adjoint EVD, eigenvalues ascending).
    ///
    /// $$ K + \lambda I = U\,\mathrm{diag}(s)\,U^\top $$
    ///
    /// Errors as [`Cholesky::new`]: λ_min ≤ n·ε·λ_max is [`Error::NotPositiveDefinite`].
    ///
    /// # Reference
    /// Golub & Van Loan 2013, *Matrix Computations* (4th ed.), §8.3 (symmetric QR algorithm).
    pub fn new(k: MatRef<'_, f64>, ridge: f64, par: Par) -> Result<Self> {
        check_gram("k_train_train", k)?;
        check_ridge("ridge", ridge)?;
        let n = k.nrows();
        let a = with_ridge(k, ridge);
        let (values, vectors) = eigen_in_place(a.as_ref(), true, par)?;
        let vectors = vectors.ok_or_else(|| {
            Error::LinearAlgebra("eigendecomposition returned no eigenvectors".into())
        })?;
        let lambda_min = values[0];
        let lambda_max = values[n - 1];
        if lambda_min.is_nan() || lambda_min <= n as f64 * f64::EPSILON * lambda_max.abs() {
            return Err(Error::NotPositiveDefinite { lambda_min });
        }
        Ok(Self {
            values,
            vectors,
            info: SolveInfo::new(n, ridge, lambda_min, lambda_max, true),
        })
    }

    /// Eigenvalues s, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Orthonormal eigenvectors U (columns).
    pub fn vectors(&self) -> MatRef<'_, f64> {
        self.vectors.as_ref()
    }

    /// Diagnostics (exact extreme eigenvalues).
    pub fn info(&self) -> SolveInfo {
        self.info
    }
}

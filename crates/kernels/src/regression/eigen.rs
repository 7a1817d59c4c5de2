//! Symmetric eigendecomposition K + λI = U diag(s) Uᵀ of a positive-definite kernel matrix, kept
//! in factored form U = Q·U_T: Q the Householder reflections of the tridiagonal reduction
//! QᵀAQ = T, U_T the eigenvectors of T. Products with U and Uᵀ apply the two factors in turn, so
//! the 2n³-flop back-transformation Q·U_T is only formed when the full eigenvector matrix is
//! asked for ([`Eigen::vectors`]).

use super::spd::{check_ridge, checked_copy, gemm};
use crate::{Error, Result};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::{evd, householder};
use faer::{Accum, Col, Conj, Mat, MatMut, MatRef, Par};
use std::sync::OnceLock;

/// Degree of parallelism given to faer's symmetric eigendecomposition. Its tridiagonal
/// reduction splits each matrix–vector product into one partial sum per thread of the `Par` it
/// is given, so the rounding depends on that number: we always give it the same one.
const EIGEN_PARTITION: usize = 2;

/// Runs `f` with the fixed partition [`EIGEN_PARTITION`]: on the current rayon pool when `par`
/// is parallel, otherwise on a private one-thread pool (sequential execution, same partition),
/// so that the result is the same for any `par` and thread count.
fn with_fixed_partition<T: Send>(par: Par, f: impl FnOnce(Par) -> T + Send) -> Result<T> {
    let fixed = Par::rayon(EIGEN_PARTITION);
    match par {
        Par::Seq => Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map_err(|e| Error::LinearAlgebra(format!("thread pool: {e}")))?
            .install(|| f(fixed))),
        _ => Ok(f(fixed)),
    }
}

/// Eigenvalues (ascending) of a symmetric matrix (faer, `par` as given; lower triangle read).
pub(crate) fn eigen_with_par(k: MatRef<'_, f64>, par: Par) -> Result<Vec<f64>> {
    let n = k.nrows();
    let mut s = faer::diag::Diag::<f64>::zeros(n);
    let mut mem = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        evd::ComputeEigenvectors::No,
        par,
        Default::default(),
    ));
    evd::self_adjoint_evd(
        k,
        s.as_mut(),
        None,
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| Error::LinearAlgebra(format!("symmetric eigenvalues: {e:?}")))?;
    Ok((0..n).map(|i| s[i]).collect())
}

/// Smallest eigenvalue by a full symmetric eigendecomposition with the fixed partition (used on
/// error paths only).
pub(crate) fn exact_lambda_min(k: MatRef<'_, f64>, par: Par) -> Result<f64> {
    let values = with_fixed_partition(par, |fixed| eigen_with_par(k, fixed))??;
    values.first().copied().ok_or(Error::Empty {
        arg: "k_train_train",
    })
}

/// The factored eigendecomposition: T = QᵀAQ stored in place (Householder vectors below the
/// subdiagonal), the block Householder factor, eigenvalues and eigenvectors of T.
struct Factored {
    reduced: Mat<f64>,
    householder_factor: Mat<f64>,
    values: Vec<f64>,
    tridiagonal_vectors: Mat<f64>,
}

/// faer's `self_adjoint_evd` in its three stages, stopping before the back-transformation.
fn factor(mut a: Mat<f64>, par: Par) -> Result<Factored> {
    let n = a.nrows();
    let block = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(n, n);
    let mut householder_factor = Mat::<f64>::zeros(block, n.saturating_sub(1));
    let mut mem = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        evd::ComputeEigenvectors::Yes,
        par,
        Default::default(),
    ));
    evd::tridiag::tridiag_in_place(
        a.as_mut(),
        householder_factor.as_mut(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    );
    let diagonal = Col::<f64>::from_fn(n, |i| a[(i, i)]);
    let subdiagonal = Col::<f64>::from_fn(n, |i| if i + 1 < n { a[(i + 1, i)] } else { 0.0 });
    let mut s = faer::diag::Diag::<f64>::zeros(n);
    let mut tridiagonal_vectors = Mat::<f64>::zeros(n, n);
    evd::tridiagonal_self_adjoint_evd(
        diagonal.as_diagonal(),
        subdiagonal.as_diagonal(),
        s.as_mut(),
        Some(tridiagonal_vectors.as_mut()),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| Error::LinearAlgebra(format!("symmetric eigendecomposition: {e:?}")))?;
    Ok(Factored {
        reduced: a,
        householder_factor,
        values: (0..n).map(|i| s[i]).collect(),
        tridiagonal_vectors,
    })
}

/// Eigenvalues (ascending) and orthonormal eigenvectors (columns) of a symmetric matrix `a`
/// (lower triangle read), with the fixed partition of [`Eigen::new`] so that the result does not
/// depend on the thread count. No definiteness is required (used for small PSD Gram matrices
/// whose smallest eigenvalues may round to zero or below).
pub(crate) fn symmetric_eigen(a: Mat<f64>, par: Par) -> Result<(Vec<f64>, Mat<f64>)> {
    let n = a.nrows();
    if n == 0 {
        return Err(Error::Empty { arg: "a" });
    }
    let factored = with_fixed_partition(par, |fixed| factor(a, fixed))??;
    let eigen = Eigen::from_factored(factored, 0.0, par);
    let vectors = eigen.vectors().to_owned();
    Ok((eigen.values, vectors))
}

/// Eigendecomposition K + λI = U diag(s) Uᵀ of a positive-definite kernel matrix.
#[derive(Debug, Clone)]
pub struct Eigen {
    values: Vec<f64>,
    reduced: Mat<f64>,
    householder_factor: Mat<f64>,
    tridiagonal_vectors: Mat<f64>,
    vectors: OnceLock<Mat<f64>>,
    par: Par,
    info: super::SolveInfo,
}

impl Eigen {
    /// Eigendecomposes K + ridge·I (faer tridiagonal reduction and divide-and-conquer, with a
    /// fixed partition so that the result does not depend on the thread count; eigenvalues
    /// ascending).
    ///
    /// $$ K + \lambda I = Q T Q^\top, \qquad T = U_T\,\mathrm{diag}(s)\,U_T^\top, \qquad U = Q U_T $$
    ///
    /// Errors as [`super::Cholesky::new`]: λ_min ≤ n·ε·λ_max is [`Error::NotPositiveDefinite`].
    ///
    /// # Reference
    /// Golub & Van Loan 2013, *Matrix Computations* (4th ed.), §8.3.1 (Householder
    /// tridiagonalisation) and §8.4.4 (divide and conquer).
    pub fn new(k: MatRef<'_, f64>, ridge: f64, par: Par) -> Result<Self> {
        check_ridge("ridge", ridge)?;
        Self::from_checked(checked_copy("k_train_train", k, ridge, par)?, ridge, par)
    }

    /// As [`Eigen::new`] for an already validated K + ridge·I (consumed).
    pub(crate) fn from_checked(a: Mat<f64>, ridge: f64, par: Par) -> Result<Self> {
        let n = a.nrows();
        let factored = with_fixed_partition(par, |fixed| factor(a, fixed))??;
        let lambda_min = factored.values[0];
        let lambda_max = factored.values[n - 1];
        if lambda_min.is_nan() || lambda_min <= n as f64 * f64::EPSILON * lambda_max.abs() {
            return Err(Error::NotPositiveDefinite { lambda_min });
        }
        Ok(Self::from_factored(factored, ridge, par))
    }

    /// The decomposition of a factored matrix (eigenvectors formed on first use).
    fn from_factored(factored: Factored, ridge: f64, par: Par) -> Self {
        let n = factored.values.len();
        let (lambda_min, lambda_max) = (factored.values[0], factored.values[n - 1]);
        Self {
            values: factored.values,
            reduced: factored.reduced,
            householder_factor: factored.householder_factor,
            tridiagonal_vectors: factored.tridiagonal_vectors,
            vectors: OnceLock::new(),
            par,
            info: super::SolveInfo::new(n, ridge, lambda_min, lambda_max, true),
        }
    }

    /// Eigenvalues s, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Orthonormal eigenvectors U = Q·U_T (columns), formed on first use (2n³ flops, with the
    /// fixed partition of [`Eigen::new`]) and kept.
    pub fn vectors(&self) -> MatRef<'_, f64> {
        self.vectors
            .get_or_init(|| {
                let mut u = self.tridiagonal_vectors.clone();
                let apply = |fixed: Par| self.apply_reflections(u.as_mut(), false, fixed);
                if with_fixed_partition(self.par, apply).is_err() {
                    // No private pool could be built: the same fixed partition on the
                    // current pool.
                    self.apply_reflections(u.as_mut(), false, Par::rayon(EIGEN_PARTITION));
                }
                u
            })
            .as_ref()
    }

    /// U·C (n × c) without forming U: Q·(U_T·C).
    pub fn apply_vectors(&self, c: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let n = self.values.len();
        crate::error::check_rows("c", c, n)?;
        let mut out = Mat::<f64>::zeros(n, c.ncols());
        gemm(
            out.as_mut(),
            Accum::Replace,
            self.tridiagonal_vectors.as_ref(),
            c,
            1.0,
            self.par,
        );
        self.apply_reflections(out.as_mut(), false, Par::Seq);
        Ok(out)
    }

    /// Uᵀ·B (n × c) without forming U: U_Tᵀ·(Qᵀ·B).
    pub fn project(&self, b: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let n = self.values.len();
        crate::error::check_rows("b", b, n)?;
        let mut rotated = b.to_owned();
        self.apply_reflections(rotated.as_mut(), true, Par::Seq);
        let mut out = Mat::<f64>::zeros(n, b.ncols());
        gemm(
            out.as_mut(),
            Accum::Replace,
            self.tridiagonal_vectors.as_ref().transpose(),
            rotated.as_ref(),
            1.0,
            self.par,
        );
        Ok(out)
    }

    /// B ← Q·B (or Qᵀ·B when `transpose`), Q = H₁H₂⋯H_{n−1} from the tridiagonal reduction.
    fn apply_reflections(&self, b: MatMut<'_, f64>, transpose: bool, par: Par) {
        let n = self.values.len();
        if n < 2 {
            return;
        }
        let basis = self.reduced.as_ref().submatrix(1, 0, n - 1, n - 1);
        let factor = self.householder_factor.as_ref();
        let block = factor.nrows();
        let cols = b.ncols();
        let rows = b.subrows_mut(1, n - 1);
        if transpose {
            let mut mem = MemBuffer::new(
                householder::apply_block_householder_sequence_transpose_on_the_left_in_place_scratch::<f64>(
                    n - 1, block, cols,
                ),
            );
            householder::apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj(
                basis,
                factor,
                Conj::No,
                rows,
                par,
                MemStack::new(&mut mem),
            );
        } else {
            let mut mem = MemBuffer::new(
                householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(
                    n - 1,
                    block,
                    cols,
                ),
            );
            householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
                basis,
                factor,
                Conj::No,
                rows,
                par,
                MemStack::new(&mut mem),
            );
        }
    }

    /// Diagnostics (exact extreme eigenvalues).
    pub fn info(&self) -> super::SolveInfo {
        self.info
    }
}

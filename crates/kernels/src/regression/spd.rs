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
use faer::{Accum, Conj, Mat, MatRef, Par};
use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Largest number of Lanczos steps used to estimate λ_max and λ_min (exact when n ≤ this).
pub const LANCZOS_STEPS: usize = 40;

/// Lanczos stops early once the top Ritz value changes by at most this fraction in one step.
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
    for j in 0..n {
        for i in j + 1..n {
            if (k[(i, j)] - k[(j, i)]).abs() > tol {
                return Err(Error::InvalidParameter {
                    arg,
                    value: format!("K[{i},{j}] = {} vs K[{j},{i}] = {}", k[(i, j)], k[(j, i)]),
                    reason: "a kernel matrix must be symmetric",
                });
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

/// `dst ← accum(dst, alpha·a·b)` with [`deterministic_par`].
pub(crate) fn gemm(
    dst: faer::MatMut<'_, f64>,
    accum: Accum,
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    alpha: f64,
    par: Par,
) {
    let par = deterministic_par(dst.nrows(), dst.ncols(), par);
    matmul(dst, accum, a, b, alpha, par);
}

/// Smallest eigenvalue by a full symmetric eigendecomposition (used on the error path only).
fn exact_lambda_min(k: MatRef<'_, f64>, par: Par) -> Result<f64> {
    let values = eigen_in_place(k, false, par)?.0;
    Ok(values[0])
}

/// Eigenvalues (ascending) and optionally eigenvectors of a symmetric matrix.
fn eigen_in_place(
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

/// Lanczos with full reorthogonalisation: the largest Ritz value of the symmetric operator
/// `apply` after `min(n, LANCZOS_STEPS)` steps (a lower bound on its largest eigenvalue).
fn lanczos_largest(n: usize, mut apply: impl FnMut(&Mat<f64>) -> Mat<f64>) -> Result<f64> {
    let steps = n.min(LANCZOS_STEPS);
    // A fixed pseudo-random start vector: deterministic and generically not orthogonal to the
    // top eigenvector.
    let mut rng = ChaCha8Rng::seed_from_u64(0x6c61_6e63_7a6f_7321);
    let mut v = Mat::<f64>::from_fn(n, 1, |_, _| rng.random::<f64>() - 0.5);
    let norm = v.norm_l2();
    v /= faer::Scale(norm);
    let mut basis: Vec<Mat<f64>> = Vec::with_capacity(steps);
    let mut alpha = Vec::with_capacity(steps);
    let mut beta: Vec<f64> = Vec::with_capacity(steps);
    let mut previous = f64::NAN;
    let mut ritz = f64::NAN;
    for _ in 0..steps {
        let mut w = apply(&v);
        let a = (v.transpose() * &w)[(0, 0)];
        alpha.push(a);
        basis.push(v.clone());
        // Full reorthogonalisation (twice is enough; Giraud et al. 2005).
        for _ in 0..2 {
            for q in &basis {
                let c = (q.transpose() * &w)[(0, 0)];
                w -= faer::Scale(c) * q;
            }
        }
        ritz = largest_ritz_value(&alpha, &beta)?;
        // Stop once the top Ritz value has settled (relative change ≤ LANCZOS_RTOL).
        if (ritz - previous).abs() <= LANCZOS_RTOL * ritz.abs() {
            break;
        }
        previous = ritz;
        let b = w.norm_l2();
        if b.is_nan() || b <= 1e-14 * a.abs().max(f64::MIN_POSITIVE) || basis.len() == steps {
            break;
        }
        beta.push(b);
        v = w / faer::Scale(b);
    }
    Ok(ritz)
}

/// Largest eigenvalue of the tridiagonal Lanczos matrix with diagonal `alpha` and
/// off-diagonal `beta` (len(beta) = len(alpha) − 1).
fn largest_ritz_value(alpha: &[f64], beta: &[f64]) -> Result<f64> {
    let m = alpha.len();
    let t = Mat::<f64>::from_fn(m, m, |i, j| {
        if i == j {
            alpha[i]
        } else if i == j + 1 {
            beta[j]
        } else if j == i + 1 {
            beta[i]
        } else {
            0.0
        }
    });
    let values = eigen_in_place(t.as_ref(), false, Par::Seq)?.0;
    Ok(values[m - 1])
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
        let a = with_ridge(k, ridge);
        let mut lower = a.clone();
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
                lambda_min: exact_lambda_min(a.as_ref(), par)?,
            });
        }
        for j in 0..n {
            for i in 0..j {
                lower[(i, j)] = 0.0;
            }
        }
        let lambda_max = lanczos_largest(n, |v| {
            let mut w = Mat::<f64>::zeros(n, 1);
            matmul(
                w.as_mut(),
                Accum::Replace,
                a.as_ref(),
                v.as_ref(),
                1.0,
                Par::Seq,
            );
            w
        })?;
        let lower_ref = lower.as_ref();
        let inverse_max = lanczos_largest(n, |v| {
            let mut w = v.clone();
            solve_with_lower(lower_ref, w.as_mut(), Par::Seq);
            w
        })?;
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

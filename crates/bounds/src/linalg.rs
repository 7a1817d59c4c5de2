//! Dense symmetric linear algebra on Gram matrices through faer, with explicit parallelism.
//!
//! Every bound in this crate needs one of three operations on a symmetric n×n Gram matrix K:
//! the Cholesky factor K = LLᵀ (quadratic forms yᵀK⁻¹y = ‖L⁻¹y‖²), its eigenvalues, or its
//! eigendecomposition K = UΛUᵀ. They are gathered here so that validation (square, finite,
//! symmetric) happens once at the boundary.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{
    LltRegularization, cholesky_in_place, cholesky_in_place_scratch,
};
use faer::linalg::evd::{ComputeEigenvectors, self_adjoint_evd, self_adjoint_evd_scratch};
use faer::{Mat, MatRef, Par};

use crate::error::{Error, Result, check_finite_mat};

/// Checks that `k` is a non-empty, square, finite, symmetric matrix.
///
/// Symmetry is required to `64·ε·max|K_ij|` per entry: Gram matrices assembled from inner
/// products are symmetric up to a few roundings.
pub fn check_gram(arg: &'static str, k: MatRef<'_, f64>) -> Result<()> {
    if k.nrows() == 0 || k.ncols() == 0 {
        return Err(Error::Empty { arg });
    }
    if k.nrows() != k.ncols() {
        return Err(Error::ShapeMismatch {
            arg,
            expected: format!("square {0}x{0}", k.nrows()),
            found: format!("{}x{}", k.nrows(), k.ncols()),
        });
    }
    check_finite_mat(arg, k)?;
    let n = k.nrows();
    let mut scale = 0.0f64;
    for j in 0..n {
        for i in 0..n {
            scale = scale.max(k[(i, j)].abs());
        }
    }
    let tol = 64.0 * f64::EPSILON * scale;
    for j in 0..n {
        for i in (j + 1)..n {
            let asymmetry = (k[(i, j)] - k[(j, i)]).abs();
            if asymmetry > tol {
                return Err(Error::NotSymmetric {
                    arg,
                    row: i,
                    col: j,
                    asymmetry,
                });
            }
        }
    }
    Ok(())
}

/// The lower Cholesky factor of `k - shift·I`, or `None` when faer meets a non-positive pivot
/// (so `k - shift·I` is not positive definite). No validation: callers check `k` first.
pub(crate) fn cholesky_shifted(k: MatRef<'_, f64>, shift: f64, par: Par) -> Option<Mat<f64>> {
    let n = k.nrows();
    let mut factor = Mat::from_fn(n, n, |i, j| {
        if i >= j {
            k[(i, j)] - if i == j { shift } else { 0.0 }
        } else {
            0.0
        }
    });
    let mut buffer = MemBuffer::new(cholesky_in_place_scratch::<f64>(n, par, Default::default()));
    let stack = MemStack::new(&mut buffer);
    match cholesky_in_place(
        factor.as_mut(),
        LltRegularization::default(),
        par,
        stack,
        Default::default(),
    ) {
        Ok(_) => {
            for j in 0..n {
                for i in 0..j {
                    factor[(i, j)] = 0.0;
                }
            }
            Some(factor)
        }
        Err(_) => None,
    }
}

/// Eigenvalues of the symmetric matrix `k`, ascending.
pub(crate) fn eigenvalues(k: MatRef<'_, f64>, par: Par) -> Result<Vec<f64>> {
    let n = k.nrows();
    let mut s = Diag::<f64>::zeros(n);
    let mut buffer = MemBuffer::new(self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::No,
        par,
        Default::default(),
    ));
    let stack = MemStack::new(&mut buffer);
    self_adjoint_evd(k, s.as_mut(), None, par, stack, Default::default())
        .map_err(|e| Error::LinearAlgebra(format!("symmetric eigensolver: {e:?}")))?;
    Ok((0..n).map(|i| s[i]).collect())
}

/// Eigendecomposition `k = U diag(s) Uᵀ` of the symmetric matrix `k`, eigenvalues ascending.
pub(crate) fn eigen(k: MatRef<'_, f64>, par: Par) -> Result<(Vec<f64>, Mat<f64>)> {
    let n = k.nrows();
    let mut s = Diag::<f64>::zeros(n);
    let mut u = Mat::<f64>::zeros(n, n);
    let mut buffer = MemBuffer::new(self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        par,
        Default::default(),
    ));
    let stack = MemStack::new(&mut buffer);
    self_adjoint_evd(
        k,
        s.as_mut(),
        Some(u.as_mut()),
        par,
        stack,
        Default::default(),
    )
    .map_err(|e| Error::LinearAlgebra(format!("symmetric eigensolver: {e:?}")))?;
    Ok(((0..n).map(|i| s[i]).collect(), u))
}

/// Relative pivot floor below which a Cholesky factor is treated as numerically singular:
/// a pivot L_ii² ≤ n·ε·max_i K_ii is at the level of the rounding error of the factorisation.
fn pivot_floor(k: MatRef<'_, f64>) -> f64 {
    let n = k.nrows();
    let max_diag = (0..n).map(|i| k[(i, i)].abs()).fold(0.0, f64::max);
    (n as f64) * f64::EPSILON * max_diag
}

/// The lower Cholesky factor of a Gram matrix that must be (numerically) positive definite.
///
/// Fails with [`Error::NotPositiveDefinite`] carrying the exact λ_min (from the symmetric
/// eigensolver) when faer meets a non-positive pivot or when a pivot L_ii² falls below
/// n·ε·max K_ii (e.g. two identical inputs, where λ_min = 0 up to rounding).
pub(crate) fn cholesky_positive_definite(k: MatRef<'_, f64>, par: Par) -> Result<Mat<f64>> {
    let floor = pivot_floor(k);
    let factor = cholesky_shifted(k, 0.0, par)
        .filter(|l| (0..l.nrows()).all(|i| l[(i, i)] * l[(i, i)] > floor));
    match factor {
        Some(l) => Ok(l),
        None => {
            let lambda_min = eigenvalues(k, par)?.first().copied().unwrap_or(0.0);
            Err(Error::NotPositiveDefinite { lambda_min })
        }
    }
}

/// Solves `L z = rhs` in place for the lower-triangular `l`.
pub(crate) fn solve_lower_in_place(l: MatRef<'_, f64>, rhs: faer::MatMut<'_, f64>, par: Par) {
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(l, rhs, par);
}

/// The quadratic form yᵀK⁻¹y through the Cholesky factor: ‖L⁻¹y‖².
pub(crate) fn inverse_quadratic_form(l: MatRef<'_, f64>, y: &[f64], par: Par) -> f64 {
    let mut z = Mat::from_fn(y.len(), 1, |i, _| y[i]);
    solve_lower_in_place(l, z.as_mut(), par);
    (0..y.len()).map(|i| z[(i, 0)] * z[(i, 0)]).sum()
}

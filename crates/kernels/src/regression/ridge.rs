//! Kernel interpolation, kernel ridge regression and Gaussian-process inference.
//!
//! All three solve one positive-definite system with the train Gram matrix K (plus a ridge or
//! noise term λ when, and only when, the caller passes one) through a faer Cholesky factor.

use super::spd::{Cholesky, SolveInfo, check_ridge, deterministic_par, gemm};
use crate::{Error, Result};

use faer::{Accum, Mat, MatRef, Par};

/// Predictions of a kernel regressor with the diagnostics of its solve.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// Predicted values, one row per test point and one column per output.
    pub mean: Mat<f64>,
    /// Condition number and extreme eigenvalues of the solved system.
    pub info: SolveInfo,
}

/// A Gaussian over test outputs: mean (m × outputs) and covariance (m × m, shared by outputs).
#[derive(Debug, Clone)]
pub struct Gaussian {
    /// Posterior mean, one row per test point and one column per output.
    pub mean: Mat<f64>,
    /// Posterior covariance between test points (`None` when not requested).
    pub covariance: Option<Mat<f64>>,
    /// Condition number and extreme eigenvalues of the solved system.
    pub info: SolveInfo,
}

/// Checks the shapes and values of a test-train kernel (m × n) and targets (n × outputs).
pub(crate) fn check_problem(
    n_train: usize,
    k_test_train: MatRef<'_, f64>,
    y_train: MatRef<'_, f64>,
) -> Result<()> {
    if y_train.nrows() == 0 || y_train.ncols() == 0 {
        return Err(Error::Empty { arg: "y_train" });
    }
    if y_train.nrows() != n_train {
        return Err(Error::ShapeMismatch {
            arg: "y_train",
            expected: format!("{n_train} rows"),
            found: format!("{} rows", y_train.nrows()),
        });
    }
    crate::error::check_finite_mat("y_train", y_train)?;
    check_test_train(n_train, k_test_train)
}

pub(crate) fn check_test_train(n_train: usize, k_test_train: MatRef<'_, f64>) -> Result<()> {
    if k_test_train.nrows() == 0 {
        return Err(Error::Empty {
            arg: "k_test_train",
        });
    }
    if k_test_train.ncols() != n_train {
        return Err(Error::ShapeMismatch {
            arg: "k_test_train",
            expected: format!("{n_train} columns"),
            found: format!("{} columns", k_test_train.ncols()),
        });
    }
    crate::error::check_finite_mat("k_test_train", k_test_train)
}

pub(crate) fn check_test_test(n_test: usize, k_test_test: MatRef<'_, f64>) -> Result<()> {
    if k_test_test.nrows() != n_test || k_test_test.ncols() != n_test {
        return Err(Error::ShapeMismatch {
            arg: "k_test_test",
            expected: format!("{n_test}x{n_test}"),
            found: format!("{}x{}", k_test_test.nrows(), k_test_test.ncols()),
        });
    }
    crate::error::check_finite_mat("k_test_test", k_test_test)
}

/// k(X*, X)·α for α = (K + λI)⁻¹ y.
fn predict_with(
    factor: &Cholesky,
    k_test_train: MatRef<'_, f64>,
    y_train: MatRef<'_, f64>,
    par: Par,
) -> Result<Mat<f64>> {
    let alpha = factor.solve(y_train, par)?;
    let mut mean = Mat::<f64>::zeros(k_test_train.nrows(), y_train.ncols());
    gemm(
        mean.as_mut(),
        Accum::Replace,
        k_test_train,
        alpha.as_ref(),
        1.0,
        par,
    );
    Ok(mean)
}

/// The minimum-norm kernel interpolant evaluated on test points.
///
/// $$ \hat f(x) = k(x, X)\,K^{-1} y, \qquad K_{ij} = k(x_i, x_j) $$
///
/// `k_train_train` is n × n, `k_test_train` is m × n, `y_train` is n × outputs. K must be
/// positive definite: a singular or indefinite K is [`Error::NotPositiveDefinite`] (use
/// [`kernel_ridge`] to regularise).
///
/// # Reference
/// Pleiss, Lecture 09 (seed 000), Thm 1; Jacot, Gabriel & Hongler 2018, arXiv:1806.07572, §5.
pub fn least_norm_interpolator(
    k_train_train: MatRef<'_, f64>,
    k_test_train: MatRef<'_, f64>,
    y_train: MatRef<'_, f64>,
    par: Par,
) -> Result<Prediction> {
    kernel_ridge(k_train_train, k_test_train, y_train, 0.0, par)
}

/// Kernel ridge regression with ridge λ ≥ 0 (λ = 0 is the interpolant).
///
/// $$ \hat f(x) = k(x, X)\,(\lambda I_n + K)^{-1} y $$
///
/// # Reference
/// Lecture 11 (seed 004), §1.2 ("Interlude: kernel methods"); Schölkopf & Smola 2002,
/// *Learning with Kernels*, Thm 4.2 (representer theorem).
pub fn kernel_ridge(
    k_train_train: MatRef<'_, f64>,
    k_test_train: MatRef<'_, f64>,
    y_train: MatRef<'_, f64>,
    ridge: f64,
    par: Par,
) -> Result<Prediction> {
    check_ridge("ridge", ridge)?;
    check_problem(k_train_train.nrows(), k_test_train, y_train)?;
    let factor = Cholesky::new(k_train_train, ridge, par)?;
    let mean = predict_with(&factor, k_test_train, y_train, par)?;
    Ok(Prediction {
        mean,
        info: factor.info()?,
    })
}

/// Gaussian-process posterior with observation-noise variance σ² ≥ 0 (neural-tangents'
/// `predict.gp_inference` with `diag_reg_absolute_scale=True`).
///
/// $$ \mu_* = K_{*X}(K + \sigma^2 I)^{-1} y, \qquad
///    \Sigma_{**} = K_{**} - K_{*X}(K + \sigma^2 I)^{-1} K_{X*} $$
///
/// The covariance is returned when `k_test_test` (m × m) is given.
///
/// # Reference
/// Rasmussen & Williams 2006, *Gaussian Processes for Machine Learning*, Eqs. (2.25)–(2.26),
/// Alg. 2.1; Lee et al. 2018, arXiv:1711.00165, Eqs. (8)–(9).
pub fn gp_inference(
    k_train_train: MatRef<'_, f64>,
    k_test_train: MatRef<'_, f64>,
    k_test_test: Option<MatRef<'_, f64>>,
    y_train: MatRef<'_, f64>,
    noise_variance: f64,
    par: Par,
) -> Result<Gaussian> {
    check_ridge("noise_variance", noise_variance)?;
    check_problem(k_train_train.nrows(), k_test_train, y_train)?;
    let factor = Cholesky::new(k_train_train, noise_variance, par)?;
    let mean = predict_with(&factor, k_test_train, y_train, par)?;
    let covariance = match k_test_test {
        None => None,
        Some(k_tt) => {
            let m = k_test_train.nrows();
            check_test_test(m, k_tt)?;
            // V = L⁻¹ K_X*, Σ = K_** − VᵀV.
            let mut v = k_test_train.transpose().to_owned();
            let solve_par = deterministic_par(v.nrows(), v.ncols(), par);
            faer::linalg::triangular_solve::solve_lower_triangular_in_place(
                factor.storage(),
                v.as_mut(),
                solve_par,
            );
            let mut cov = k_tt.to_owned();
            gemm(
                cov.as_mut(),
                Accum::Add,
                v.transpose(),
                v.as_ref(),
                -1.0,
                par,
            );
            Some(cov)
        }
    };
    Ok(Gaussian {
        mean,
        covariance,
        info: factor.info()?,
    })
}

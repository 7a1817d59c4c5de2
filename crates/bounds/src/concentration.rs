//! Concentration of a finite-N kernel K_N around its limit K in the relative operator norm
//! (seed 004 Thm 2; Montanari & Zhong 2022).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use crate::error::{Error, Result, check_positive};
use crate::linalg::{check_gram, cholesky_positive_definite, eigen, eigenvalues};

fn check_pair(k: MatRef<'_, f64>, k_finite: MatRef<'_, f64>) -> Result<()> {
    check_gram("k", k)?;
    check_gram("k_finite", k_finite)?;
    if k.nrows() != k_finite.nrows() {
        return Err(Error::ShapeMismatch {
            arg: "k_finite",
            expected: format!("{0}x{0}", k.nrows()),
            found: format!("{0}x{0}", k_finite.nrows()),
        });
    }
    Ok(())
}

/// Relative deviation of a finite-N kernel from its limit, via the Cholesky factor K = LLᵀ
/// (L⁻¹K_N L⁻ᵀ is orthogonally similar to K^{-1/2}K_N K^{-1/2}):
///
/// $$ \big\|K^{-1/2} K_N K^{-1/2} - I_n\big\|_{\mathrm{op}}
///    = \max_i |\lambda_i(L^{-1} K_N L^{-\top}) - 1| $$
///
/// # Reference
/// Montanari & Zhong 2022, "The interpolation phase transition in neural networks: memorization
/// and generalization under lazy training", arXiv:2007.12826 (seed 004, Thm 2).
pub fn kernel_concentration_error(
    k: MatRef<'_, f64>,
    k_finite: MatRef<'_, f64>,
    par: Par,
) -> Result<f64> {
    check_pair(k, k_finite)?;
    let n = k.nrows();
    let l = cholesky_positive_definite(k, par)?;
    // M = L⁻¹ K_N L⁻ᵀ: solve from the left, transpose, solve again (K_N symmetric).
    let mut left = k_finite.to_owned();
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(l.as_ref(), left.as_mut(), par);
    let mut m = left.transpose().to_owned();
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(l.as_ref(), m.as_mut(), par);
    let sym = Mat::from_fn(n, n, |i, j| 0.5 * (m[(i, j)] + m[(j, i)]));
    let s = eigenvalues(sym.as_ref(), par)?;
    Ok(s.iter().map(|v| (v - 1.0).abs()).fold(0.0, f64::max))
}

/// The same deviation through the symmetric square root K^{-1/2} = U Λ^{-1/2} Uᵀ from the
/// eigendecomposition of K: an independent route used to cross-check
/// [`kernel_concentration_error`].
///
/// $$ \big\|K^{-1/2} K_N K^{-1/2} - I_n\big\|_{\mathrm{op}},\quad K^{-1/2} = U\Lambda^{-1/2}U^\top $$
///
/// # Reference
/// Montanari & Zhong 2022, arXiv:2007.12826 (seed 004, Thm 2).
pub fn kernel_concentration_error_eigen(
    k: MatRef<'_, f64>,
    k_finite: MatRef<'_, f64>,
    par: Par,
) -> Result<f64> {
    check_pair(k, k_finite)?;
    let n = k.nrows();
    let (s, u) = eigen(k, par)?;
    if s[0] <= (n as f64) * f64::EPSILON * s[n - 1].abs() {
        return Err(Error::NotPositiveDefinite { lambda_min: s[0] });
    }
    let scaled = Mat::from_fn(n, n, |i, j| u[(i, j)] / s[j].sqrt());
    let mut inv_sqrt = Mat::<f64>::zeros(n, n);
    matmul(
        inv_sqrt.as_mut(),
        Accum::Replace,
        scaled.as_ref(),
        u.transpose(),
        1.0,
        par,
    );
    let mut tmp = Mat::<f64>::zeros(n, n);
    matmul(
        tmp.as_mut(),
        Accum::Replace,
        inv_sqrt.as_ref(),
        k_finite,
        1.0,
        par,
    );
    let mut m = Mat::<f64>::zeros(n, n);
    matmul(
        m.as_mut(),
        Accum::Replace,
        tmp.as_ref(),
        inv_sqrt.as_ref(),
        1.0,
        par,
    );
    let sym = Mat::from_fn(n, n, |i, j| 0.5 * (m[(i, j)] + m[(j, i)]));
    let ev = eigenvalues(sym.as_ref(), par)?;
    Ok(ev.iter().map(|v| (v - 1.0).abs()).fold(0.0, f64::max))
}

/// The reference rate of seed 004 Thm 2 (up to logarithmic factors):
///
/// $$ \sqrt{\frac{n + d}{N d}} $$
///
/// # Reference
/// Montanari & Zhong 2022, arXiv:2007.12826 (seed 004, Thm 2).
pub fn montanari_zhong_rate(n_samples: usize, dim: usize, n_features: usize) -> Result<f64> {
    check_positive("n_samples", n_samples as f64)?;
    check_positive("dim", dim as f64)?;
    check_positive("n_features", n_features as f64)?;
    let (n, d, big_n) = (n_samples as f64, dim as f64, n_features as f64);
    Ok(((n + d) / (big_n * d)).sqrt())
}

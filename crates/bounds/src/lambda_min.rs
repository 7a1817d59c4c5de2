//! The smallest eigenvalue λ_min(K) of a Gram matrix by three independent methods, and the
//! condition number κ(K) = λ_max/λ_min.
//!
//! * exact: faer's symmetric eigensolver (O(n³), fine up to n ≈ 5000);
//! * bisection: K − σI ≻ 0 iff its Cholesky factorisation succeeds, so λ_min is the boundary
//!   between succeeding and failing shifts, bracketed by Gershgorin and min_i K_ii;
//! * Lanczos with shift-invert: the largest eigenvalue θ of (K − σI)⁻¹ (σ < λ_min, applied
//!   through one Cholesky factor) gives λ_min = σ + 1/θ.

use faer::{Mat, MatRef, Par};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result, check_positive};
use crate::linalg::{cholesky_shifted, eigen, eigenvalues};

pub use crate::linalg::check_gram;

/// Settings of the iterative λ_min methods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LambdaMinConfig {
    /// Target relative accuracy of λ_min.
    pub rel_tol: f64,
    /// Maximum number of Cholesky factorisations (bisection) or Lanczos steps.
    pub max_iter: usize,
    /// Seed of the Lanczos start vector.
    pub seed: u64,
    /// Parallelism passed to faer.
    pub par: Par,
}

impl Default for LambdaMinConfig {
    fn default() -> Self {
        Self {
            rel_tol: 1e-12,
            max_iter: 300,
            seed: 0,
            par: Par::Seq,
        }
    }
}

/// An iterative λ_min estimate with its diagnostics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LambdaMinEstimate {
    /// The estimate of λ_min.
    pub lambda_min: f64,
    /// Cholesky factorisations (bisection) or Lanczos steps used.
    pub iterations: usize,
    /// Final bracket width (bisection) or Ritz residual bound on |λ − λ_min| (Lanczos).
    pub residual: f64,
}

/// λ_min(K) from faer's symmetric eigensolver.
///
/// $$ \lambda_{\min}(K) = \min_{\|v\|=1} v^\top K v $$
///
/// # Reference
/// Golub & Van Loan 2013, *Matrix Computations* 4th ed., §8.3 (symmetric QR algorithm).
pub fn lambda_min_eigen(k: MatRef<'_, f64>, par: Par) -> Result<f64> {
    check_gram("k", k)?;
    Ok(eigenvalues(k, par)?[0])
}

/// The spectral condition number κ(K) = λ_max(K)/λ_min(K) of a positive definite Gram matrix.
///
/// $$ \kappa(K) = \lambda_{\max}(K) / \lambda_{\min}(K) $$
///
/// Fails with [`Error::NotPositiveDefinite`] when λ_min ≤ n·ε·λ_max.
///
/// # Reference
/// Golub & Van Loan 2013, *Matrix Computations* 4th ed., §2.6.2.
pub fn condition_number(k: MatRef<'_, f64>, par: Par) -> Result<f64> {
    check_gram("k", k)?;
    let s = eigenvalues(k, par)?;
    let (lo, hi) = (s[0], s[s.len() - 1]);
    if lo <= (k.nrows() as f64) * f64::EPSILON * hi.abs() {
        return Err(Error::NotPositiveDefinite { lambda_min: lo });
    }
    Ok(hi / lo)
}

/// Gershgorin lower bound min_i (K_ii − Σ_{j≠i} |K_ij|) ≤ λ_min and the Rayleigh upper bound
/// min_i K_ii ≥ λ_min.
fn bracket(k: MatRef<'_, f64>) -> (f64, f64) {
    let n = k.nrows();
    let mut lower = f64::INFINITY;
    let mut upper = f64::INFINITY;
    for i in 0..n {
        let off: f64 = (0..n).filter(|&j| j != i).map(|j| k[(i, j)].abs()).sum();
        lower = lower.min(k[(i, i)] - off);
        upper = upper.min(k[(i, i)]);
    }
    (lower, upper)
}

/// λ_min(K) by bisection on the shift σ, using that the Cholesky factorisation of K − σI
/// succeeds iff σ < λ_min (Sylvester's law of inertia).
///
/// $$ \lambda_{\min}(K) = \sup\{\sigma : K - \sigma I \succ 0\}, \qquad
///    \min_i\Big(K_{ii} - \sum_{j\ne i}|K_{ij}|\Big) \le \lambda_{\min} \le \min_i K_{ii} $$
///
/// Stops when the bracket is narrower than `rel_tol·max(|lo|, |hi|)` or the rounding floor
/// `n·ε·max|K_ii|` below which Cholesky cannot decide.
///
/// # Reference
/// Golub & Van Loan 2013, *Matrix Computations* 4th ed., §4.2 (Cholesky exists iff K ≻ 0)
/// and §8.4.1 (bisection on inertia).
pub fn lambda_min_bisection(
    k: MatRef<'_, f64>,
    config: &LambdaMinConfig,
) -> Result<LambdaMinEstimate> {
    check_gram("k", k)?;
    check_positive("rel_tol", config.rel_tol)?;
    let n = k.nrows();
    let (gershgorin, diag_min) = bracket(k);
    let max_diag = (0..n).map(|i| k[(i, i)].abs()).fold(0.0, f64::max);
    let floor = (n as f64) * f64::EPSILON * max_diag.max(f64::MIN_POSITIVE);
    // Widen both ends by the rounding floor so that lo is certainly below λ_min and hi above.
    let mut lo = gershgorin - floor;
    let mut hi = diag_min + floor;
    let mut iterations = 0;
    while hi - lo > (config.rel_tol * lo.abs().max(hi.abs())).max(floor) {
        if iterations >= config.max_iter {
            return Err(Error::NotConverged {
                what: "lambda_min bisection",
                iterations,
                residual: hi - lo,
            });
        }
        let mid = 0.5 * (lo + hi);
        iterations += 1;
        if cholesky_shifted(k, mid, config.par).is_some() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(LambdaMinEstimate {
        lambda_min: 0.5 * (lo + hi),
        iterations,
        residual: hi - lo,
    })
}

/// λ_min(K) by the Lanczos method with full reorthogonalisation applied to the shift-inverted
/// operator (K − σI)⁻¹, whose largest eigenvalue θ_max = 1/(λ_min − σ) is well separated when
/// σ lies just below λ_min.
///
/// $$ \lambda_{\min}(K) = \sigma + 1/\theta_{\max}\big((K-\sigma I)^{-1}\big), \qquad
///    |\lambda - \lambda_{\min}| \lesssim \frac{\beta_j |s_j|}{\theta^2} $$
///
/// with β_j|s_j| the Ritz residual of the Lanczos pair (θ, s). The shift starts at
/// σ = −10⁻³·tr(K)/n and moves down (×10) until K − σI admits a Cholesky factor.
///
/// # Reference
/// Ericsson & Ruhe 1980, "The spectral transformation Lanczos method", Math. Comp. 35;
/// Golub & Van Loan 2013, *Matrix Computations* 4th ed., §10.1 (Lanczos), Thm 10.1.1.
pub fn lambda_min_lanczos(
    k: MatRef<'_, f64>,
    config: &LambdaMinConfig,
) -> Result<LambdaMinEstimate> {
    check_gram("k", k)?;
    check_positive("rel_tol", config.rel_tol)?;
    let n = k.nrows();
    let par = config.par;
    let trace: f64 = (0..n).map(|i| k[(i, i)]).sum();
    let (gershgorin, _) = bracket(k);
    let scale = (trace.abs() / n as f64).max(f64::MIN_POSITIVE);
    // Below the Gershgorin bound (minus the rounding floor) the factorisation must succeed.
    let safe = gershgorin - 1e-8 * scale - (n as f64) * f64::EPSILON * scale;
    let mut shift = -1e-3 * scale;
    let factor = loop {
        if let Some(l) = cholesky_shifted(k, shift, par) {
            break l;
        }
        if shift <= safe {
            return Err(Error::LinearAlgebra(
                "no shift below the Gershgorin bound admits a Cholesky factor".into(),
            ));
        }
        shift = (shift * 10.0).max(safe);
    };
    // (K − σI)⁻¹ v = L⁻ᵀ L⁻¹ v
    let apply = |v: &Mat<f64>| -> Mat<f64> {
        let mut z = v.clone();
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
            factor.as_ref(),
            z.as_mut(),
            par,
        );
        faer::linalg::triangular_solve::solve_upper_triangular_in_place(
            factor.transpose(),
            z.as_mut(),
            par,
        );
        z
    };

    let max_steps = config.max_iter.min(n).max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut basis = Mat::<f64>::zeros(n, max_steps + 1);
    let start: Vec<f64> = (0..n).map(|_| rng.random::<f64>() - 0.5).collect();
    let start_norm = start.iter().map(|v| v * v).sum::<f64>().sqrt();
    for i in 0..n {
        basis[(i, 0)] = start[i] / start_norm;
    }
    let mut alpha = Vec::with_capacity(max_steps);
    let mut beta: Vec<f64> = Vec::with_capacity(max_steps);
    let mut last = (f64::NAN, f64::INFINITY);
    for step in 0..max_steps {
        let q = Mat::from_fn(n, 1, |i, _| basis[(i, step)]);
        let mut w = apply(&q);
        let a: f64 = (0..n).map(|i| w[(i, 0)] * q[(i, 0)]).sum();
        alpha.push(a);
        // Full reorthogonalisation, twice ("twice is enough").
        for _ in 0..2 {
            for col in 0..=step {
                let dot: f64 = (0..n).map(|i| w[(i, 0)] * basis[(i, col)]).sum();
                for i in 0..n {
                    w[(i, 0)] -= dot * basis[(i, col)];
                }
            }
        }
        let b = (0..n).map(|i| w[(i, 0)] * w[(i, 0)]).sum::<f64>().sqrt();
        let steps = step + 1;
        let check = steps == max_steps || steps % 5 == 0 || b <= f64::EPSILON * a.abs();
        if check {
            let tridiagonal = Mat::from_fn(steps, steps, |i, j| {
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
            let (ritz, vectors) = eigen(tridiagonal.as_ref(), Par::Seq)?;
            let theta = ritz[steps - 1];
            let ritz_residual = b * vectors[(steps - 1, steps - 1)].abs();
            let lambda = shift + 1.0 / theta;
            let error_bound = ritz_residual / (theta * theta);
            last = (lambda, error_bound);
            let invariant = b <= f64::EPSILON * theta.abs();
            if invariant
                || steps == n
                || error_bound <= config.rel_tol * lambda.abs().max(f64::MIN_POSITIVE)
            {
                return Ok(LambdaMinEstimate {
                    lambda_min: lambda,
                    iterations: steps,
                    residual: error_bound,
                });
            }
        }
        beta.push(b);
        if step + 1 < basis.ncols() {
            for i in 0..n {
                basis[(i, step + 1)] = w[(i, 0)] / b;
            }
        }
    }
    Err(Error::NotConverged {
        what: "shift-invert Lanczos for lambda_min",
        iterations: max_steps,
        residual: last.1,
    })
}

//! MSE gradient flow at a finite time without an eigendecomposition of the kernel: the matrix
//! functions of Lee et al. 2019 applied to the targets through a Lanczos (Krylov) approximation.
//!
//! With A = Θ + ρI and a = η t / N (N = n · outputs), gradient flow from f₀ = 0 gives
//!
//! $$ f_t(X) = \big(I - e^{-aA}\big)\,y, \qquad f_t(X_*) = \Theta_{*X}\,\varphi(A)\,y, \qquad
//!    \varphi(\lambda) = \frac{1 - e^{-a\lambda}}{\lambda}. $$
//!
//! For each column y, m steps of Lanczos with full reorthogonalisation give A Q_m = Q_m T_m +
//! β_m q_{m+1} e_mᵀ, and g(A) y ≈ ‖y‖ Q_m g(T_m) e₁ for g ∈ {φ, e^{−a·}}, with g(T_m) from the
//! eigendecomposition of the small tridiagonal T_m (faer). Every `CHECK_EVERY` steps the
//! approximation of φ(A)y is compared with the previous one; the iteration stops when their
//! difference ‖Q(c_m − c_prev)‖ = ‖c_m − c_prev‖ is below rtol·‖c_m‖ (or on an invariant
//! subspace, where the approximation is exact). Both functions are entire, so the error decays
//! superlinearly once m exceeds √(a·λ_max) (Hochbruck & Lubich 1997, Thm 2).
//!
//! Chosen over a Chebyshev expansion because it needs no spectral bounds and its work adapts
//! to the time: small a·λ_max converges in a few steps.
//!
//! # Reference
//! Lee et al. 2019, arXiv:1902.06720, Eqs. (10)–(11); Saad 1992, SIAM J. Numer. Anal. 29(1),
//! "Analysis of some Krylov subspace approximations to the matrix exponential operator", §2;
//! Hochbruck & Lubich 1997, SIAM J. Numer. Anal. 34(5), Thm 2.

use super::conjugate_gradient::SymmetricOperator;
use crate::{Error, Result};
use faer::{Mat, MatRef, Side};

/// Steps between two convergence checks.
pub const CHECK_EVERY: usize = 5;

/// Stopping rules of [`gradient_flow_lanczos`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LanczosConfig {
    /// Relative change of φ(A)y between two checks at which the iteration stops.
    pub rtol: f64,
    /// Largest Krylov dimension m (memory: m·n·outputs·8 bytes for the basis).
    pub max_steps: usize,
}

impl Default for LanczosConfig {
    fn default() -> Self {
        Self {
            rtol: 1e-12,
            max_steps: 500,
        }
    }
}

/// The two matrix functions of the flow applied to the targets, with diagnostics.
#[derive(Debug, Clone)]
pub struct FlowVectors {
    /// φ(A)y, n × outputs: the test prediction is Θ_{*X}·this.
    pub phi_y: Mat<f64>,
    /// e^{−aA}y, n × outputs: the train prediction is y − this.
    pub exp_y: Mat<f64>,
    /// Krylov dimension used (largest over columns).
    pub steps: usize,
    /// Last relative change of φ(A)y (largest over columns; 0 on an invariant subspace).
    pub relative_change: f64,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// ‖y‖·g(T)e₁ for g = φ and g = e^{−a·}, T the m × m Lanczos tridiagonal.
fn small_functions(alpha: &[f64], beta: &[f64], a: f64, norm: f64) -> Result<(Vec<f64>, Vec<f64>)> {
    let m = alpha.len();
    let t = Mat::<f64>::from_fn(m, m, |i, j| {
        if i == j {
            alpha[i]
        } else if i + 1 == j || j + 1 == i {
            beta[i.min(j)]
        } else {
            0.0
        }
    });
    let eigen = t
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
    let (values, vectors) = (eigen.S(), eigen.U());
    let mut phi = vec![0.0; m];
    let mut exp = vec![0.0; m];
    for k in 0..m {
        let lambda = values[k];
        if lambda.is_nan() || lambda <= 0.0 {
            return Err(Error::NotPositiveDefinite { lambda_min: lambda });
        }
        let weight = norm * vectors[(0, k)];
        let phi_k = -(-a * lambda).exp_m1() / lambda;
        let exp_k = (-a * lambda).exp();
        for i in 0..m {
            phi[i] += vectors[(i, k)] * phi_k * weight;
            exp[i] += vectors[(i, k)] * exp_k * weight;
        }
    }
    Ok((phi, exp))
}

/// φ(A)y and e^{−aA}y for A = Θ + ρI, a = `time_scale` (η t / N), every column of `y` at once
/// (one operator product per Lanczos step for all columns).
///
/// $$ \varphi(A)y \approx \|y\|\,Q_m\,\varphi(T_m)\,e_1, \qquad e^{-aA}y \approx \|y\|\,Q_m\,e^{-aT_m}e_1 $$
///
/// # Errors
/// Shape mismatch, non-finite input, ρ < 0 or a ≤ 0, an indefinite A, no convergence within
/// `max_steps` ([`Error::NotConverged`]).
///
/// # Reference
/// Saad 1992, §2; Lee et al. 2019, arXiv:1902.06720, Eqs. (10)–(11).
pub fn gradient_flow_lanczos(
    op: &dyn SymmetricOperator,
    ridge: f64,
    y: MatRef<'_, f64>,
    time_scale: f64,
    config: LanczosConfig,
) -> Result<FlowVectors> {
    super::spd::check_ridge("ridge", ridge)?;
    if !(time_scale.is_finite() && time_scale > 0.0) {
        return Err(Error::InvalidParameter {
            arg: "time_scale",
            value: time_scale.to_string(),
            reason: "must be finite and > 0 (use conjugate gradients for t = ∞)",
        });
    }
    let n = op.dim();
    crate::error::check_rows("y", y, n)?;
    crate::error::check_finite_mat("y", y)?;
    let c = y.ncols();
    let norms: Vec<f64> = (0..c)
        .map(|j| (0..n).map(|i| y[(i, j)] * y[(i, j)]).sum::<f64>().sqrt())
        .collect();
    // basis[k] holds q_k of every column (n × c); a column whose Krylov space closed is frozen.
    let mut basis: Vec<Mat<f64>> = vec![Mat::from_fn(n, c, |i, j| {
        if norms[j] > 0.0 {
            y[(i, j)] / norms[j]
        } else {
            0.0
        }
    })];
    let mut alpha: Vec<Vec<f64>> = vec![Vec::new(); c];
    let mut beta: Vec<Vec<f64>> = vec![Vec::new(); c];
    let mut done: Vec<bool> = norms.iter().map(|&v| v == 0.0).collect();
    let mut coefficients: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); c];
    let mut change = vec![0.0f64; c];
    let mut steps = 0;
    while done.iter().any(|d| !d) {
        if steps == config.max_steps {
            return Err(Error::NotConverged {
                what: "Lanczos approximation of the gradient-flow matrix functions",
                iterations: steps,
                residual: change.iter().cloned().fold(0.0, f64::max),
            });
        }
        let current = basis.last().expect("basis starts non-empty");
        let mut w = op.apply(current.as_ref())?;
        steps += 1;
        let mut next = Mat::<f64>::zeros(n, c);
        for j in 0..c {
            if done[j] {
                continue;
            }
            let wj: &mut [f64] = w
                .col_mut(j)
                .try_as_col_major_mut()
                .expect("owned")
                .as_slice_mut();
            let qj = current.col(j).try_as_col_major().expect("owned").as_slice();
            for i in 0..n {
                wj[i] += ridge * qj[i];
            }
            let a_k = dot(wj, qj);
            // Full reorthogonalisation, two classical Gram–Schmidt passes in fixed order.
            for _pass in 0..2 {
                for q in &basis {
                    let q = q.col(j).try_as_col_major().expect("owned").as_slice();
                    let h = dot(wj, q);
                    for i in 0..n {
                        wj[i] -= h * q[i];
                    }
                }
            }
            alpha[j].push(a_k);
            let b_k = dot(wj, wj).sqrt();
            let closed = b_k <= 1e-14 * a_k.abs().max(f64::MIN_POSITIVE);
            let check = closed || steps % CHECK_EVERY == 0 || steps == config.max_steps;
            if check {
                let (phi, exp) = small_functions(&alpha[j], &beta[j], time_scale, norms[j])?;
                let previous = &coefficients[j].0;
                let diff: f64 = phi
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v - previous.get(i).copied().unwrap_or(0.0)).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let size = dot(&phi, &phi).sqrt();
                change[j] = if closed {
                    0.0
                } else {
                    diff / size.max(f64::MIN_POSITIVE)
                };
                coefficients[j] = (phi, exp);
                if closed || change[j] <= config.rtol {
                    done[j] = true;
                    continue;
                }
            }
            beta[j].push(b_k);
            for i in 0..n {
                next[(i, j)] = wj[i] / b_k;
            }
        }
        if done.iter().any(|d| !d) {
            basis.push(next);
        }
    }
    let mut phi_y = Mat::<f64>::zeros(n, c);
    let mut exp_y = Mat::<f64>::zeros(n, c);
    for j in 0..c {
        let (phi, exp) = &coefficients[j];
        for (k, q) in basis.iter().enumerate().take(phi.len()) {
            for i in 0..n {
                phi_y[(i, j)] += phi[k] * q[(i, j)];
                exp_y[(i, j)] += exp[k] * q[(i, j)];
            }
        }
    }
    Ok(FlowVectors {
        phi_y,
        exp_y,
        steps,
        relative_change: change.iter().cloned().fold(0.0, f64::max),
    })
}

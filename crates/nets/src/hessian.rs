//! Second-order quantities of a [`Model`]: the Hessian operator norm ‖∇²θ f(x)‖ (Lanczos on
//! exact HVPs), the Jacobian norm ‖∇θ f(x)‖, their suprema over probe inputs, the lazy-training
//! ratio κ of Chizat et al., and the loss Hessian as an operator,
//!
//! $$ \nabla^2 L(\theta) = \tfrac1n J^\top J + \tfrac1n \sum_k r_k \nabla^2_\theta f(x_k), \qquad r = f(X) - y. $$
//!
//! # Reference
//! Chizat, Oyallon, Bach 2019, arXiv:1812.07956, Sec. 2 (κ); seed 000 (Pleiss, Lecture 09),
//! Eq. (3); Sagun et al. 2017, arXiv:1706.04454 (Gauss–Newton + residual split of the loss Hessian).

use crate::lanczos::{LanczosConfig, LanczosStats, Which, lanczos};
use crate::validate::{check_inputs, check_vector};
use crate::{Model, Result};
use faer::{MatRef, Side};

/// A norm with the statistics of the iteration that produced it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormEstimate {
    pub value: f64,
    pub stats: LanczosStats,
}

/// The operator norm ‖∇²θ f(x)‖₂ = max |λ(∇²θ f(x))| for one input `x` (a length-d slice), by
/// Lanczos on exact Hessian-vector products (`config.which` is forced to largest magnitude and
/// `n_eigenvalues` to 1).
///
/// $$ \|\nabla^2_\theta f(x)\| = \max_{\|v\|=1} |v^\top \nabla^2_\theta f(x)\, v| $$
///
/// # Reference
/// Seed 000 (Pleiss, Lecture 09), definition below Eq. (1); Golub & Van Loan 2013, Sec. 10.1.
pub fn hessian_norm<M: Model + ?Sized>(
    model: &M,
    theta: &[f64],
    x: &[f64],
    config: &LanczosConfig,
) -> Result<NormEstimate> {
    check_vector("x", x, model.input_dim())?;
    let x_row = MatRef::from_row_major_slice(x, 1, x.len());
    let config = LanczosConfig {
        n_eigenvalues: 1,
        which: Which::LargestMagnitude,
        ..*config
    };
    let res = lanczos(
        model.n_params(),
        |v, out| {
            out.copy_from_slice(&model.hvp(theta, x_row, &[1.0], v)?);
            Ok(())
        },
        &config,
    )?;
    Ok(NormEstimate {
        value: res.eigenvalues[0].abs(),
        stats: res.stats,
    })
}

/// The Jacobian norm ‖∇θ f(x)‖₂ = √Θ̂(x, x) of one input.
///
/// # Reference
/// Jacot, Gabriel, Hongler 2018, arXiv:1806.07572, Sec. 4 (Θ̂(x,x) = ‖∇θ f(x)‖²).
pub fn jacobian_norm<M: Model + ?Sized>(model: &M, theta: &[f64], x: &[f64]) -> Result<f64> {
    check_vector("x", x, model.input_dim())?;
    let x_row = MatRef::from_row_major_slice(x, 1, x.len());
    Ok(model.empirical_ntk(theta, x_row, x_row)?[(0, 0)]
        .max(0.0)
        .sqrt())
}

/// Suprema of the Hessian and Jacobian norms over the rows of a probe set, with the per-probe
/// values.
#[derive(Debug, Clone, PartialEq)]
pub struct NormSuprema {
    /// sup_x ‖∇²θ f(x)‖.
    pub hessian: f64,
    /// sup_x ‖∇θ f(x)‖.
    pub jacobian: f64,
    /// ‖∇²θ f(xᵢ)‖ per probe.
    pub hessian_per_probe: Vec<f64>,
    /// ‖∇θ f(xᵢ)‖ per probe.
    pub jacobian_per_probe: Vec<f64>,
    /// Total Lanczos iterations (HVPs).
    pub hvp_count: usize,
}

/// sup over the rows x of `probes` of ‖∇²θ f(x)‖ and ‖∇θ f(x)‖ (each Hessian norm to the
/// tolerance of `config`).
///
/// # Reference
/// Seed 000 (Pleiss, Lecture 09): ‖∇²θ f(·; θ)‖ := sup_x ‖∇²θ f(x; θ)‖.
pub fn norm_suprema<M: Model + ?Sized>(
    model: &M,
    theta: &[f64],
    probes: MatRef<'_, f64>,
    config: &LanczosConfig,
) -> Result<NormSuprema> {
    check_inputs("probes", probes, model.input_dim())?;
    let mut res = NormSuprema {
        hessian: 0.0,
        jacobian: 0.0,
        hessian_per_probe: Vec::with_capacity(probes.nrows()),
        jacobian_per_probe: Vec::with_capacity(probes.nrows()),
        hvp_count: 0,
    };
    for i in 0..probes.nrows() {
        let x: Vec<f64> = (0..probes.ncols()).map(|j| probes[(i, j)]).collect();
        let h = hessian_norm(model, theta, &x, config)?;
        let g = jacobian_norm(model, theta, &x)?;
        res.hessian = res.hessian.max(h.value);
        res.jacobian = res.jacobian.max(g);
        res.hvp_count += h.stats.iterations;
        res.hessian_per_probe.push(h.value);
        res.jacobian_per_probe.push(g);
    }
    Ok(res)
}

/// The lazy-training ratio and its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct LazyRatio {
    /// κ = hessian_norm / jacobian_norm² · residual_norm.
    pub kappa: f64,
    /// sup over the training inputs of ‖∇²θ f(xᵢ)‖.
    pub hessian_norm: f64,
    /// ‖J‖₂ = √λ_max(Θ̂(X, X)), the operator norm of the Jacobian of θ ↦ f(X; θ).
    pub jacobian_norm: f64,
    /// ‖f(X; θ) − y‖₂.
    pub residual_norm: f64,
}

/// The lazy-training ratio of seed 000 Eq. (3) / Chizat et al. (2019),
///
/// $$ \kappa = \frac{\sup_i \|\nabla^2_\theta f(x_i)\|}{\|J\|_2^2}\, \|f(X;\theta) - y\|_2, $$
///
/// with J ∈ R^{n×P} the Jacobian on the training inputs (‖J‖₂² = λ_max of the empirical NTK).
/// κ ≪ 1 means gradient descent reduces the loss before the Jacobian moves (lazy regime).
///
/// # Reference
/// Chizat, Oyallon, Bach 2019, arXiv:1812.07956, Sec. 2, κ_h = ‖h − y*‖·‖D²h‖/‖Dh‖²;
/// seed 000 (Pleiss, Lecture 09), Eq. (3).
pub fn lazy_ratio<M: Model + ?Sized>(
    model: &M,
    theta: &[f64],
    x: MatRef<'_, f64>,
    y: &[f64],
    config: &LanczosConfig,
) -> Result<LazyRatio> {
    check_inputs("x", x, model.input_dim())?;
    check_vector("y", y, x.nrows())?;
    let u = model.forward(theta, x)?;
    let residual_norm = u
        .iter()
        .zip(y)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    let ntk = model.empirical_ntk(theta, x, x)?;
    let eigenvalues =
        ntk.self_adjoint_eigenvalues(Side::Lower)
            .map_err(|e| crate::Error::InvalidParameter {
                arg: "empirical_ntk",
                value: format!("{e:?}"),
                reason: "eigendecomposition failed",
            })?;
    let lambda_max = eigenvalues.iter().fold(0.0f64, |a, &b| a.max(b));
    let sup = norm_suprema(model, theta, x, config)?;
    let jacobian_norm = lambda_max.sqrt();
    Ok(LazyRatio {
        kappa: sup.hessian / lambda_max.max(f64::MIN_POSITIVE) * residual_norm,
        hessian_norm: sup.hessian,
        jacobian_norm,
        residual_norm,
    })
}

/// The Hessian of the MSE loss L = 1/(2n) Σ (f(xᵢ) − yᵢ)² at θ, as an operator.
pub struct LossHessian<'a, M: Model + ?Sized> {
    model: &'a M,
    theta: &'a [f64],
    x: MatRef<'a, f64>,
    /// (f(X) − y)/n.
    scaled_residual: Vec<f64>,
}

impl<'a, M: Model + ?Sized> LossHessian<'a, M> {
    /// Validates the inputs and evaluates the residual once.
    pub fn new(model: &'a M, theta: &'a [f64], x: MatRef<'a, f64>, y: &[f64]) -> Result<Self> {
        check_inputs("x", x, model.input_dim())?;
        check_vector("y", y, x.nrows())?;
        let u = model.forward(theta, x)?;
        let n = x.nrows() as f64;
        Ok(Self {
            model,
            theta,
            x,
            scaled_residual: u.iter().zip(y).map(|(a, b)| (a - b) / n).collect(),
        })
    }

    /// Dimension P.
    pub fn dim(&self) -> usize {
        self.model.n_params()
    }

    /// The Gauss–Newton part JᵀJ v / n.
    pub fn gauss_newton_matvec(&self, v: &[f64]) -> Result<Vec<f64>> {
        let n = self.x.nrows() as f64;
        let jv: Vec<f64> = self
            .model
            .jvp(self.theta, self.x, v)?
            .iter()
            .map(|a| a / n)
            .collect();
        self.model.vjp(self.theta, self.x, &jv)
    }

    /// ∇²L v = JᵀJ v/n + Σₖ rₖ ∇²f(xₖ) v / n.
    ///
    /// # Reference
    /// Seed 003 (Yarotsky, "NTK and the Hessian of the loss"); Sagun et al. 2017, arXiv:1706.04454.
    pub fn matvec(&self, v: &[f64]) -> Result<Vec<f64>> {
        let mut out = self.gauss_newton_matvec(v)?;
        let curvature = self
            .model
            .hvp(self.theta, self.x, &self.scaled_residual, v)?;
        out.iter_mut().zip(curvature).for_each(|(a, b)| *a += b);
        Ok(out)
    }
}

//! λ_min of the analytic NTK Gram matrix Θ^(L) and of the empirical Θ̂ of a finite-width network.
//!
//! For a fully-connected network in the NTK parameterization, Θ̂(x, x') = ⟨∇_θ f(x; θ₀),
//! ∇_θ f(x'; θ₀)⟩ at a random θ₀ converges to the deterministic Θ^(L) as every width m → ∞
//! (Jacot et al. 2018), with fluctuations of order m^{−1/2} (Arora et al. 2019, Thm 3.1:
//! |Θ̂ − Θ^(L)| ≤ (L+1)ε once m ≳ L⁶/ε⁴ log(L/δ), a much slower rate than the CLT). By Weyl's
//! inequality
//!
//! $$ |\lambda_{\min}(\hat\Theta) - \lambda_{\min}(\Theta^{(L)})| \le \|\hat\Theta - \Theta^{(L)}\|_{op}, $$
//!
//! so λ_min(Θ̂) inherits the rate of the kernel. [`finite_width_lambda_min`] measures both sides
//! over a grid of widths and seeds.
//!
//! Θ^(L) comes from [`ntk_kernels::analytic::kernel`], Θ̂ from [`ntk_nets::Mlp`] built from the
//! same [`Architecture`] (Σ⁽⁰⁾ = xᵀx'/d, neural-tangents' conventions).

use faer::{Mat, MatRef, Par};
use ntk_kernels::analytic::{Get, kernel};
use ntk_kernels::{Activation, Architecture, Parameterization};
use ntk_nets::{Mlp, Model};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result, check_finite_mat};
use crate::lambda_min::lambda_min_eigen;
use crate::linalg::eigenvalues;

fn symmetrized(k: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(k.nrows(), k.ncols(), |i, j| 0.5 * (k[(i, j)] + k[(j, i)]))
}

fn check_data(x: MatRef<'_, f64>) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::Empty { arg: "x" });
    }
    check_finite_mat("x", x)
}

/// The analytic NTK Gram matrix Θ^(L)(X, X) of `arch` on the rows of `x` (n × n, symmetric).
///
/// $$ \Theta^{(h)} = \Sigma^{(h)} + w^2\,\dot\Sigma^{(h)}\,\Theta^{(h-1)},\qquad \Sigma^{(0)} = \tfrac1d\,xx'^\top $$
///
/// # Errors
/// Empty or non-finite `x`; errors of the kernel recursion ([`Error::Kernels`]).
///
/// # Reference
/// Jacot, Gabriel & Hongler 2018, arXiv:1806.07572, Thm 1; Arora et al. 2019, arXiv:1904.11955,
/// Thm 3.1 and Eq. (7).
pub fn analytic_ntk_gram(arch: &Architecture, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
    check_data(x)?;
    let k = kernel(
        arch,
        x,
        None,
        Get {
            nngp: false,
            ntk: true,
        },
    )?;
    let theta = k.ntk.ok_or(Error::LinearAlgebra(
        "the kernel recursion returned no NTK".into(),
    ))?;
    Ok(symmetrized(&theta))
}

/// The empirical NTK Gram matrix Θ̂(X, X) = J(θ₀)J(θ₀)ᵀ of the finite network described by
/// `arch` (its `Dense` widths are the hidden widths), at θ₀ drawn from
/// `ChaCha8Rng::seed_from_u64(seed)` by [`Mlp::init_params`].
///
/// $$ \hat\Theta(x, x') = \langle \nabla_\theta f(x;\theta_0), \nabla_\theta f(x';\theta_0)\rangle $$
///
/// `par` is passed to the network's matrix products (`Par::Seq` inside rayon loops).
///
/// # Errors
/// Empty or non-finite `x`; errors of the network ([`Error::Nets`]).
///
/// # Reference
/// Jacot, Gabriel & Hongler 2018, arXiv:1806.07572, Eq. (1) and Thm 1; Lee et al. 2019,
/// arXiv:1902.06720, Eq. (4).
pub fn empirical_ntk_gram(
    arch: &Architecture,
    x: MatRef<'_, f64>,
    seed: u64,
    par: Par,
) -> Result<Mat<f64>> {
    check_data(x)?;
    let mlp = Mlp::from_architecture(arch, x.ncols())?.with_parallelism(par);
    let theta = mlp.init_params(&mut ChaCha8Rng::seed_from_u64(seed));
    let k = mlp.empirical_ntk(&theta, x, x)?;
    Ok(symmetrized(&k))
}

/// The network family of a finite-width λ_min sweep: `n_hidden` × [Dense(m), σ] then the
/// Dense(1) readout, for every m in `widths`, `n_seeds` initialisations per width.
#[derive(Debug, Clone, PartialEq)]
pub struct FiniteWidthConfig {
    /// Number of hidden layers L.
    pub n_hidden: usize,
    /// The nonlinearity σ.
    pub activation: Activation,
    /// Weight standard deviation of every Dense layer.
    pub w_std: f64,
    /// Bias standard deviation (`None`: no biases).
    pub b_std: Option<f64>,
    /// NTK or standard parameterization (Θ^(L) is width-independent only for `Ntk`).
    pub parameterization: Parameterization,
    /// Hidden widths m.
    pub widths: Vec<usize>,
    /// Initialisations per width.
    pub n_seeds: usize,
    /// Task (width index w, seed index s) uses seed `base_seed + w·n_seeds + s`.
    pub base_seed: u64,
}

impl FiniteWidthConfig {
    fn architecture(&self, width: usize) -> Result<Architecture> {
        Ok(Architecture::mlp(
            self.n_hidden,
            width,
            self.activation,
            self.w_std,
            self.b_std,
            self.parameterization,
        )?)
    }
}

/// One finite-width sample: a network of hidden width `width` at one seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WidthSample {
    /// Hidden width m.
    pub width: usize,
    /// Seed of θ₀.
    pub seed: u64,
    /// λ_min(Θ̂).
    pub lambda_min_empirical: f64,
    /// (λ_min(Θ̂) − λ_min(Θ^(L))) / λ_min(Θ^(L)) (signed).
    pub relative_deviation: f64,
    /// ‖Θ̂ − Θ^(L)‖_op / λ_min(Θ^(L)): the Weyl bound on |relative_deviation|.
    pub relative_operator_deviation: f64,
}

/// The result of [`finite_width_lambda_min`].
#[derive(Debug, Clone, PartialEq)]
pub struct FiniteWidthLambdaMin {
    /// λ_min(Θ^(L)) of the analytic kernel.
    pub lambda_min_analytic: f64,
    /// λ_max(Θ^(L)).
    pub lambda_max_analytic: f64,
    /// One entry per (width, seed), widths in the order of the config, seeds ascending.
    pub samples: Vec<WidthSample>,
}

impl FiniteWidthLambdaMin {
    /// Mean of |relative_deviation| over the seeds of each width, in the order of the widths.
    pub fn mean_abs_relative_deviation(&self) -> Vec<(usize, f64)> {
        let mut out: Vec<(usize, f64, usize)> = Vec::new();
        for s in &self.samples {
            match out.last_mut() {
                Some(last) if last.0 == s.width => {
                    last.1 += s.relative_deviation.abs();
                    last.2 += 1;
                }
                _ => out.push((s.width, s.relative_deviation.abs(), 1)),
            }
        }
        out.into_iter()
            .map(|(w, sum, count)| (w, sum / count as f64))
            .collect()
    }
}

/// λ_min(Θ̂) at every width and seed of `config` against λ_min(Θ^(L)):
///
/// $$ r(m, s) = \frac{\lambda_{\min}(\hat\Theta_{m,s}) - \lambda_{\min}(\Theta^{(L)})}{\lambda_{\min}(\Theta^{(L)})},
///    \qquad |r| \le \frac{\|\hat\Theta_{m,s} - \Theta^{(L)}\|_{op}}{\lambda_{\min}(\Theta^{(L)})} $$
///
/// Tasks run in parallel (rayon) with `Par::Seq` inside and fixed per-task seeds, collected in
/// order: the result does not depend on the number of threads.
///
/// # Errors
/// Empty or non-finite `x`; empty `widths`, a zero width or `n_seeds = 0`
/// ([`Error::InvalidParameter`]); a singular analytic kernel ([`Error::NotPositiveDefinite`],
/// e.g. two equal rows); kernel or network errors.
///
/// # Reference
/// Jacot et al. 2018, arXiv:1806.07572, Thm 1; Arora et al. 2019, arXiv:1904.11955, Thm 3.1;
/// Weyl 1912 (eigenvalue perturbation).
pub fn finite_width_lambda_min(
    x: MatRef<'_, f64>,
    config: &FiniteWidthConfig,
) -> Result<FiniteWidthLambdaMin> {
    check_data(x)?;
    if config.widths.is_empty() {
        return Err(Error::Empty { arg: "widths" });
    }
    if config.widths.contains(&0) {
        return Err(Error::InvalidParameter {
            arg: "widths",
            value: 0.0,
            reason: "every width must be >= 1",
        });
    }
    if config.n_seeds == 0 {
        return Err(Error::InvalidParameter {
            arg: "n_seeds",
            value: 0.0,
            reason: "must be >= 1",
        });
    }
    let theta = analytic_ntk_gram(&config.architecture(config.widths[0])?, x)?;
    let spectrum = eigenvalues(theta.as_ref(), Par::Seq)?;
    let (lambda_min, lambda_max) = (spectrum[0], spectrum[spectrum.len() - 1]);
    if lambda_min <= (x.nrows() as f64) * f64::EPSILON * lambda_max.abs() {
        return Err(Error::NotPositiveDefinite { lambda_min });
    }
    let tasks: Vec<(usize, u64)> = config
        .widths
        .iter()
        .enumerate()
        .flat_map(|(w_idx, &width)| {
            (0..config.n_seeds).map(move |s| {
                (
                    width,
                    config
                        .base_seed
                        .wrapping_add((w_idx * config.n_seeds + s) as u64),
                )
            })
        })
        .collect();
    let samples = tasks
        .par_iter()
        .map(|&(width, seed)| -> Result<WidthSample> {
            let arch = config.architecture(width)?;
            let empirical = empirical_ntk_gram(&arch, x, seed, Par::Seq)?;
            let lambda_min_empirical = lambda_min_eigen(empirical.as_ref(), Par::Seq)?;
            let diff = Mat::from_fn(x.nrows(), x.nrows(), |i, j| {
                empirical[(i, j)] - theta[(i, j)]
            });
            let diff_spectrum = eigenvalues(diff.as_ref(), Par::Seq)?;
            let op = diff_spectrum[0]
                .abs()
                .max(diff_spectrum[diff_spectrum.len() - 1].abs());
            Ok(WidthSample {
                width,
                seed,
                lambda_min_empirical,
                relative_deviation: (lambda_min_empirical - lambda_min) / lambda_min,
                relative_operator_deviation: op / lambda_min,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(FiniteWidthLambdaMin {
        lambda_min_analytic: lambda_min,
        lambda_max_analytic: lambda_max,
        samples,
    })
}

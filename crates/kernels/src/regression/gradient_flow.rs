//! Closed-form MSE gradient flow in function space, and the NTK Gaussian process of an infinite
//! ensemble of infinitely wide networks trained by it.
//!
//! For the loss ℒ = ½·mean over all N = n·outputs entries of (f(X) − y)², a network in the
//! linear (lazy) regime evolves under gradient flow with learning rate η as
//!
//! $$ f_t(X) = y + e^{-\eta t\Theta/N}(f_0(X) - y), \qquad
//!    f_t(x) = f_0(x) + \Theta(x, X)\,\Theta^{-1}\big(I - e^{-\eta t\Theta/N}\big)(y - f_0(X)) $$
//!
//! (neural-tangents' `predict.gradient_descent_mse`, whose time is in units of the learning rate
//! and whose MSE is a mean over `y_train.size`). One eigendecomposition Θ = U diag(λ) Uᵀ serves
//! every finite t; t = ∞ uses a Cholesky solve. The optional `diag_reg` adds ρ·I to Θ, with
//! ρ = diag_reg (absolute scale) or ρ = diag_reg · tr(Θ)/n (neural-tangents' default).

use super::eigen::Eigen;
use super::ridge::{check_problem, check_test_test, check_test_train};
use super::spd::{Cholesky, SolveInfo, checked_copy, gemm, symmetric_from_upper, with_ridge};
use crate::{Error, Result};

use faer::{Accum, Mat, MatRef, Par};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// Hyper-parameters of MSE gradient flow (neural-tangents' `learning_rate`, `diag_reg`,
/// `diag_reg_absolute_scale`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MseConfig {
    /// Learning rate η; time is in units of η (absolute time η·t).
    pub learning_rate: f64,
    /// Diagonal regulariser added to the train kernel (0 = none).
    pub diag_reg: f64,
    /// `true`: add `diag_reg`·I; `false`: add `diag_reg`·tr(K)/n·I.
    pub diag_reg_absolute_scale: bool,
}

impl Default for MseConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1.0,
            diag_reg: 0.0,
            diag_reg_absolute_scale: false,
        }
    }
}

impl MseConfig {
    fn check(&self) -> Result<()> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::InvalidParameter {
                arg: "learning_rate",
                value: self.learning_rate.to_string(),
                reason: "must be finite and > 0",
            });
        }
        super::spd::check_ridge("diag_reg", self.diag_reg)
    }

    /// The absolute ridge ρ added to the diagonal of `k`.
    fn ridge(&self, k: MatRef<'_, f64>) -> f64 {
        if self.diag_reg_absolute_scale || self.diag_reg == 0.0 {
            self.diag_reg
        } else {
            let n = k.nrows();
            let trace: f64 = (0..n).map(|i| k[(i, i)]).sum();
            self.diag_reg * trace / n as f64
        }
    }
}

fn check_times(times: &[f64]) -> Result<()> {
    if times.is_empty() {
        return Err(Error::Empty { arg: "times" });
    }
    match times.iter().position(|t| t.is_nan() || *t < 0.0) {
        Some(index) => Err(Error::InvalidParameter {
            arg: "times",
            value: format!("times[{index}] = {}", times[index]),
            reason: "times must be >= 0 (f64::INFINITY for t = ∞)",
        }),
        None => Ok(()),
    }
}

fn missing_kernel() -> Error {
    Error::LinearAlgebra("the train kernel is neither stored nor factored".into())
}

/// Caches a fallible computation in a `OnceLock`.
fn cached<T>(cell: &OnceLock<T>, make: impl FnOnce() -> Result<T>) -> Result<&T> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let value = make()?;
    Ok(cell.get_or_init(|| value))
}

/// Columns of `a` scaled by `g`: a·diag(g).
fn scale_columns(a: MatRef<'_, f64>, g: &[f64]) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] * g[j])
}

fn product(a: MatRef<'_, f64>, b: MatRef<'_, f64>, par: Par) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(a.nrows(), b.ncols());
    gemm(out.as_mut(), Accum::Replace, a, b, 1.0, par);
    out
}

/// Test-set inputs of a prediction: the test-train kernel (m × n) and the outputs at t = 0
/// (m × outputs).
#[derive(Debug, Clone, Copy)]
pub struct TestSet<'a> {
    pub k_test_train: MatRef<'a, f64>,
    pub fx_test_0: MatRef<'a, f64>,
}

/// Train (and test) outputs at one time t.
#[derive(Debug, Clone)]
pub struct MsePrediction {
    /// The time t (in units of the learning rate; `f64::INFINITY` for t = ∞).
    pub t: f64,
    /// f_t(X), n × outputs.
    pub fx_train: Mat<f64>,
    /// f_t(X*), m × outputs, when a [`TestSet`] was given.
    pub fx_test: Option<Mat<f64>>,
}

/// MSE gradient flow with a fixed train kernel, for many times and initial outputs.
///
/// Build once with [`GradientDescentMse::new`]; the first finite-time prediction
/// eigendecomposes Θ + ρI, the first t = ∞ prediction Cholesky-factors it, and both are reused.
#[derive(Debug)]
pub struct GradientDescentMse {
    /// Θ (symmetric copy) until the first t = ∞ prediction, which factors this one copy in
    /// place: then `None`, and Θ + ρI lives on in the Cholesky factor's upper triangle.
    k_train_train: Mutex<Option<Mat<f64>>>,
    /// The diagonal of Θ (without ρ), to restore Θ if its factorisation fails.
    k_diagonal: Vec<f64>,
    y_train: Mat<f64>,
    config: MseConfig,
    ridge: f64,
    par: Par,
    eigen: OnceLock<Eigen>,
    cholesky: OnceLock<Cholesky>,
}

impl GradientDescentMse {
    /// Checks the train kernel Θ (n × n, symmetric, finite), targets y (n × outputs) and
    /// configuration. `par` is used for every factorisation and product.
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, Eqs. (10)–(11); neural-tangents
    /// `predict.gradient_descent_mse`.
    pub fn new(
        k_train_train: MatRef<'_, f64>,
        y_train: MatRef<'_, f64>,
        config: MseConfig,
        par: Par,
    ) -> Result<Self> {
        config.check()?;
        let k_owned = checked_copy("k_train_train", k_train_train, 0.0, par)?;
        let n = k_train_train.nrows();
        check_problem(n, Mat::<f64>::zeros(1, n).as_ref(), y_train)?;
        Ok(Self {
            k_diagonal: (0..n).map(|i| k_owned[(i, i)]).collect(),
            k_train_train: Mutex::new(Some(k_owned)),
            y_train: y_train.to_owned(),
            ridge: config.ridge(k_train_train),
            config,
            par,
            eigen: OnceLock::new(),
            cholesky: OnceLock::new(),
        })
    }

    /// The eigendecomposition of Θ + ρI (computed on first use).
    pub fn eigen(&self) -> Result<&Eigen> {
        cached(&self.eigen, || {
            let a = {
                let theta = self.lock_theta();
                match (theta.as_ref(), self.cholesky.get()) {
                    (Some(theta), _) => with_ridge(theta.as_ref(), self.ridge),
                    // Θ was factored in place: Θ + ρI from the factor's upper triangle.
                    (None, Some(factor)) => factor.source(),
                    (None, None) => return Err(missing_kernel()),
                }
            };
            Eigen::from_checked(a, self.ridge, self.par)
        })
    }

    /// The Cholesky factor of Θ + ρI (computed on first use, as [`Cholesky::factor`]: its
    /// condition number is estimated when [`Cholesky::info`] or [`GradientDescentMse::info`] is
    /// first called). The copy of Θ is factored in place (no second n × n copy); Θ stays
    /// available to [`GradientDescentMse::eigen`] from the factor's upper triangle.
    pub fn cholesky(&self) -> Result<&Cholesky> {
        if let Some(factor) = self.cholesky.get() {
            return Ok(factor);
        }
        let mut theta = self.lock_theta();
        if let Some(factor) = self.cholesky.get() {
            return Ok(factor);
        }
        let mut a = theta.take().ok_or_else(missing_kernel)?;
        if self.ridge != 0.0 {
            for (i, &value) in self.k_diagonal.iter().enumerate() {
                a[(i, i)] = value + self.ridge;
            }
        }
        match Cholesky::factor_in_place(a, self.ridge, self.par) {
            Ok(factor) => Ok(self.cholesky.get_or_init(|| factor)),
            Err((error, storage)) => {
                // Restore Θ (its upper triangle is intact) for later eigendecompositions.
                *theta = Some(symmetric_from_upper(
                    storage.as_ref(),
                    &self.k_diagonal,
                    self.par,
                ));
                Err(error)
            }
        }
    }

    /// The train-kernel slot; a poisoned lock (a panic elsewhere while it was held) still
    /// holds a consistent value, as it is only replaced whole.
    fn lock_theta(&self) -> MutexGuard<'_, Option<Mat<f64>>> {
        self.k_train_train
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Diagnostics of the factorisation used for the given times (eigendecomposition if any
    /// time is finite, otherwise Cholesky, whose λ_min/λ_max are estimated on the first call).
    ///
    /// Errors: [`Error::NotPositiveDefinite`] when λ_min ≤ n·ε·λ_max.
    pub fn info(&self, times: &[f64]) -> Result<SolveInfo> {
        if times.iter().all(|t| t.is_infinite()) {
            self.cholesky()?.info()
        } else {
            Ok(self.eigen()?.info())
        }
    }

    /// Outputs at each time in `times` (t ≥ 0, `f64::INFINITY` for t = ∞).
    ///
    /// $$ f_t(X) = y + U e^{-\eta t\Lambda/N} U^\top (f_0(X) - y), \qquad
    ///    f_t(X_*) = f_0(X_*) - \Theta_{*X} U\,\frac{1 - e^{-\eta t\Lambda/N}}{\Lambda}\,U^\top (f_0(X) - y) $$
    ///
    /// with N = n·outputs; at t = ∞, f(X) = y and f(X*) = f₀(X*) + Θ_{*X}(Θ + ρI)⁻¹(y − f₀(X)).
    /// Products with U and Uᵀ use the factored eigenvectors ([`Eigen::apply_vectors`],
    /// [`Eigen::project`]). The t = ∞ solve does not estimate the condition number (as
    /// neural-tangents, it only factors Θ + ρI; a pivot below n·ε·max Θ_ii is still
    /// [`Error::NotPositiveDefinite`]); ask [`GradientDescentMse::info`] for it.
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, Eqs. (10)–(11); Jacot et al. 2018, arXiv:1806.07572,
    /// §5; neural-tangents `predict.gradient_descent_mse`.
    pub fn predict(
        &self,
        times: &[f64],
        fx_train_0: MatRef<'_, f64>,
        test: Option<TestSet<'_>>,
    ) -> Result<Vec<MsePrediction>> {
        check_times(times)?;
        let n = self.y_train.nrows();
        let outputs = self.y_train.ncols();
        if fx_train_0.nrows() != n || fx_train_0.ncols() != outputs {
            return Err(Error::ShapeMismatch {
                arg: "fx_train_0",
                expected: format!("{n}x{outputs}"),
                found: format!("{}x{}", fx_train_0.nrows(), fx_train_0.ncols()),
            });
        }
        crate::error::check_finite_mat("fx_train_0", fx_train_0)?;
        if let Some(test) = test {
            check_test_train(n, test.k_test_train)?;
            let m = test.k_test_train.nrows();
            if test.fx_test_0.nrows() != m || test.fx_test_0.ncols() != outputs {
                return Err(Error::ShapeMismatch {
                    arg: "fx_test_0",
                    expected: format!("{m}x{outputs}"),
                    found: format!("{}x{}", test.fx_test_0.nrows(), test.fx_test_0.ncols()),
                });
            }
            crate::error::check_finite_mat("fx_test_0", test.fx_test_0)?;
        }
        let residual = fx_train_0 - &self.y_train; // f₀(X) − y
        let scale = self.config.learning_rate / (n * outputs) as f64;
        let par = self.par;

        // All finite times at once: z = Uᵀ(f₀ − y), then one product
        // U·[z∘e^{−aλ} | z∘(1 − e^{−aλ})/λ] over every time, and Θ_{*X} times the second half.
        let finite: Vec<f64> = times.iter().copied().filter(|t| t.is_finite()).collect();
        let count = finite.len();
        let mut train_terms = None;
        let mut test_terms = None;
        if count > 0 {
            let eigen = self.eigen()?;
            let z = eigen.project(residual.as_ref())?;
            let coefficients = Mat::<f64>::from_fn(n, 2 * count * outputs, |i, col| {
                let (half, rest) = (col / (count * outputs), col % (count * outputs));
                let (time, output) = (rest / outputs, rest % outputs);
                let (l, a) = (eigen.values()[i], scale * finite[time]);
                // (1 − e^{−aλ})/λ without cancellation for small aλ.
                let factor = if half == 0 {
                    (-a * l).exp()
                } else {
                    -(-a * l).exp_m1() / l
                };
                z[(i, output)] * factor
            });
            let both = eigen.apply_vectors(coefficients.as_ref())?;
            if let Some(test) = test {
                let growth = both.as_ref().subcols(count * outputs, count * outputs);
                test_terms = Some(product(test.k_test_train, growth, par));
            }
            train_terms = Some(both);
        }

        let mut out = Vec::with_capacity(times.len());
        let mut finite_index = 0;
        for &t in times {
            if t.is_infinite() {
                let fx_train = self.y_train.clone();
                let fx_test = match test {
                    None => None,
                    Some(test) => {
                        let alpha = self.cholesky()?.solve((-&residual).as_ref(), par)?;
                        let mut fx = test.fx_test_0.to_owned();
                        gemm(
                            fx.as_mut(),
                            Accum::Add,
                            test.k_test_train,
                            alpha.as_ref(),
                            1.0,
                            par,
                        );
                        Some(fx)
                    }
                };
                out.push(MsePrediction {
                    t,
                    fx_train,
                    fx_test,
                });
                continue;
            }
            let first = finite_index * outputs;
            finite_index += 1;
            let train = train_terms
                .as_ref()
                .ok_or_else(|| Error::LinearAlgebra("missing eigenbasis".into()))?;
            let fx_train = &self.y_train + train.as_ref().subcols(first, outputs);
            let fx_test = match (test, test_terms.as_ref()) {
                (Some(test), Some(terms)) => {
                    Some(test.fx_test_0 - terms.as_ref().subcols(first, outputs))
                }
                _ => None,
            };
            out.push(MsePrediction {
                t,
                fx_train,
                fx_test,
            });
        }
        Ok(out)
    }
}

/// Mean and covariance over test points of the infinite ensemble at one time t.
#[derive(Debug, Clone)]
pub struct EnsemblePrediction {
    /// The time t (`f64::INFINITY` for t = ∞).
    pub t: f64,
    /// Mean, m × outputs.
    pub mean: Mat<f64>,
    /// Covariance between test points, m × m (`None` when `nngp_test_test` was not given).
    pub covariance: Option<Mat<f64>>,
}

/// Test-set kernels of an NTK-GP prediction: Θ(X*, X), K(X*, X) (both m × n) and optionally
/// K(X*, X*) (m × m) for the covariance.
#[derive(Debug, Clone, Copy)]
pub struct EnsembleTestSet<'a> {
    pub ntk_test_train: MatRef<'a, f64>,
    pub nngp_test_train: MatRef<'a, f64>,
    pub nngp_test_test: Option<MatRef<'a, f64>>,
}

/// The NTK Gaussian process: outputs of an ensemble of infinitely wide networks, initialised
/// from the NNGP prior K and trained by MSE gradient flow with NTK Θ.
///
/// $$ \mu_t(x) = \Theta_{xX}\Theta^{-1}(I - e^{-\eta t\Theta/N})\,y $$
/// $$ \Sigma_t(x, x') = K_{xx'} + \Theta_{xX}\Theta^{-1}(I - e^{-\eta t\Theta/N})\,K\,
///    (I - e^{-\eta t\Theta/N})\Theta^{-1}\Theta_{Xx'}
///    - \big(\Theta_{xX}\Theta^{-1}(I - e^{-\eta t\Theta/N})K_{Xx'} + (x \leftrightarrow x')\big) $$
///
/// # Reference
/// Lee et al. 2019, arXiv:1902.06720, Eqs. (15)–(16); neural-tangents
/// `predict.gradient_descent_mse_ensemble(get='ntk')`.
#[derive(Debug)]
pub struct NtkGp {
    flow: GradientDescentMse,
    nngp_train_train: Mat<f64>,
}

impl NtkGp {
    /// Checks Θ(X, X), K(X, X) (n × n each), targets (n × outputs) and the configuration.
    pub fn new(
        ntk_train_train: MatRef<'_, f64>,
        nngp_train_train: MatRef<'_, f64>,
        y_train: MatRef<'_, f64>,
        config: MseConfig,
        par: Par,
    ) -> Result<Self> {
        let flow = GradientDescentMse::new(ntk_train_train, y_train, config, par)?;
        let nngp_owned = checked_copy("nngp_train_train", nngp_train_train, 0.0, par)?;
        if nngp_train_train.nrows() != ntk_train_train.nrows() {
            return Err(Error::ShapeMismatch {
                arg: "nngp_train_train",
                expected: format!("{0}x{0}", ntk_train_train.nrows()),
                found: format!("{0}x{0}", nngp_train_train.nrows()),
            });
        }
        Ok(Self {
            flow,
            nngp_train_train: nngp_owned,
        })
    }

    /// The underlying deterministic flow (its factorisations and [`SolveInfo`]).
    pub fn flow(&self) -> &GradientDescentMse {
        &self.flow
    }

    /// Mean and (optionally) covariance on the test set at each time (`f64::INFINITY` = ∞).
    pub fn predict(
        &self,
        times: &[f64],
        test: EnsembleTestSet<'_>,
    ) -> Result<Vec<EnsemblePrediction>> {
        check_times(times)?;
        let n = self.nngp_train_train.nrows();
        check_test_train(n, test.ntk_test_train)?;
        check_test_train(n, test.nngp_test_train)?;
        let m = test.ntk_test_train.nrows();
        if test.nngp_test_train.nrows() != m {
            return Err(Error::ShapeMismatch {
                arg: "nngp_test_train",
                expected: format!("{m} rows"),
                found: format!("{} rows", test.nngp_test_train.nrows()),
            });
        }
        if let Some(k_tt) = test.nngp_test_test {
            check_test_test(m, k_tt)?;
        }
        let y = &self.flow.y_train;
        let outputs = y.ncols();
        let par = self.flow.par;
        let zeros_test = Mat::<f64>::zeros(m, outputs);
        let zeros_train = Mat::<f64>::zeros(n, outputs);
        let means = self.flow.predict(
            times,
            zeros_train.as_ref(),
            Some(TestSet {
                k_test_train: test.ntk_test_train,
                fx_test_0: zeros_test.as_ref(),
            }),
        )?;
        let scale = self.flow.config.learning_rate / (n * outputs) as f64;

        // Finite-time covariance pieces: A = Θ_{*X}U, B = K_{*X}U, C = UᵀKU.
        let finite = times.iter().any(|t| t.is_finite()) && test.nngp_test_test.is_some();
        let pieces = if finite {
            let eigen = self.flow.eigen()?;
            let u = eigen.vectors();
            let a = product(test.ntk_test_train, u, par);
            let b = product(test.nngp_test_train, u, par);
            let ku = product(self.nngp_train_train.as_ref(), u, par);
            let c = product(u.transpose(), ku.as_ref(), par);
            Some((a, b, c))
        } else {
            None
        };

        let mut out = Vec::with_capacity(times.len());
        for (t, mean) in times.iter().copied().zip(means) {
            let covariance = match test.nngp_test_test {
                None => None,
                Some(k_tt) if t.is_infinite() => {
                    // S = Θ⁻¹Θ_{X*}; Σ = K_** + SᵀKS − (SᵀK_{X*} + K_{*X}S).
                    let s = self
                        .flow
                        .cholesky()?
                        .solve(test.ntk_test_train.transpose(), par)?;
                    let ks = product(self.nngp_train_train.as_ref(), s.as_ref(), par);
                    let mut cov = k_tt.to_owned();
                    gemm(
                        cov.as_mut(),
                        Accum::Add,
                        s.transpose(),
                        ks.as_ref(),
                        1.0,
                        par,
                    );
                    let cross = product(s.transpose(), test.nngp_test_train.transpose(), par);
                    cov -= &cross;
                    cov -= cross.transpose();
                    Some(cov)
                }
                Some(k_tt) => {
                    let (a, b, c) = pieces
                        .as_ref()
                        .ok_or_else(|| Error::LinearAlgebra("missing eigenbasis".into()))?;
                    let eigen = self.flow.eigen()?;
                    let growth: Vec<f64> = eigen
                        .values()
                        .iter()
                        .map(|&l| -(-scale * t * l).exp_m1() / l)
                        .collect();
                    let ag = scale_columns(a.as_ref(), &growth);
                    let agc = product(ag.as_ref(), c.as_ref(), par);
                    let mut cov = k_tt.to_owned();
                    gemm(
                        cov.as_mut(),
                        Accum::Add,
                        agc.as_ref(),
                        ag.transpose(),
                        1.0,
                        par,
                    );
                    let cross = product(ag.as_ref(), b.transpose(), par);
                    cov -= &cross;
                    cov -= cross.transpose();
                    Some(cov)
                }
            };
            out.push(EnsemblePrediction {
                t,
                mean: mean.fx_test.unwrap_or_else(|| Mat::zeros(m, outputs)),
                covariance,
            });
        }
        Ok(out)
    }
}

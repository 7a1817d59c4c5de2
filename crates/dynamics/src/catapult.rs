//! The catapult phase of large-learning-rate GD (Lewkowycz et al. 2020, arXiv:2003.02218).
//!
//! Toy model (seed 003): the width-m linear two-layer net f = m^{−1/2} vᵀu x trained on one
//! point (x = 1, y) with L = (f − y)²/2. With Δf = f − y and the NTK λ = (‖u‖² + ‖v‖²)/m,
//! GD u ← u − η m^{−1/2}Δf v, v ← v − η m^{−1/2}Δf u evolves exactly as
//!
//! $$ \Delta f_{t+1} = \big(1 - \eta\lambda_t + \eta^2 f_t\Delta f_t/m\big)\Delta f_t,\qquad
//!    \lambda_{t+1} = \lambda_t + \eta(\eta\lambda_t\Delta f_t - 4 f_t)\Delta f_t/m, $$
//!
//! with f_t = Δf_t + y. For y = 0 this is the recursion of seed 003 and of the paper,
//! Δf_{t+1} = (1 − ηλ_t + η²Δf_t²/m)Δf_t, λ_{t+1} = λ_t + η(ηλ_t − 4)Δf_t²/m; for y ≠ 0 that
//! form is not exact (expanding u_{t+1}, v_{t+1} gives the f_t factors above), so the general
//! form is implemented.
//!
//! Phases: η < 2/λ₀ lazy, 2/λ₀ < η < η_max catapult (λ_t decreases until η < 2/λ_t), η > η_max
//! divergent, with η_max = 4/λ₀ for the toy and c/λ₀, c ≈ 4–12, for ReLU nets.
//!
//! For any [`Model`] under our loss L = 1/(2n)‖u − y‖², GD's linearization
//! r ← (I − ηΘ̂₀/n) r is stable iff η < 2/λ₀ with **λ₀ = λ_max(Θ̂₀)/n**; [`find_eta_max`] reports
//! η_max·λ₀ in these units (so the lazy/catapult boundary is at 2 for every model).

use crate::error::{Error, Result, check_positive};
use crate::optim::{GdConfig, gradient_descent};
use faer::{MatRef, Side};
use ntk_nets::Model;

/// (Δf_t, λ_t) of the toy model at one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CatapultState {
    /// Δf_t = f_t − y.
    pub delta_f: f64,
    /// λ_t = (‖u_t‖² + ‖v_t‖²)/m.
    pub lambda: f64,
}

/// Runs the exact recursion for `n_steps` steps from (Δf₀, λ₀) with target y; returns the states
/// t = 0..=n_steps, stopping early (shorter output) once |Δf| or λ is non-finite or exceeds 1e150.
///
/// $$ \Delta f_{t+1} = (1 - \eta\lambda_t + \eta^2 f_t\Delta f_t/m)\Delta f_t,\quad
///    \lambda_{t+1} = \lambda_t + \eta(\eta\lambda_t\Delta f_t - 4 f_t)\Delta f_t/m,\quad
///    f_t = \Delta f_t + y $$
///
/// (for y = 0 exactly the paper's eqs. (3)–(4)).
///
/// # Reference
/// Lewkowycz, Bahri, Dyer, Sohl-Dickstein & Gur-Ari 2020, arXiv:2003.02218, eqs. (3)–(4).
pub fn catapult_recursion(
    delta_f0: f64,
    lambda0: f64,
    target: f64,
    learning_rate: f64,
    width: usize,
    n_steps: usize,
) -> Result<Vec<CatapultState>> {
    check_positive("learning_rate", learning_rate)?;
    check_positive("lambda0", lambda0)?;
    if !delta_f0.is_finite() || !target.is_finite() {
        return Err(Error::NonFinite {
            arg: "delta_f0",
            index: 0,
            value: delta_f0,
        });
    }
    if width == 0 {
        return Err(Error::InvalidParameter {
            arg: "width",
            value: "0".into(),
            reason: "must be >= 1",
        });
    }
    let m = width as f64;
    let eta = learning_rate;
    let mut states = Vec::with_capacity(n_steps + 1);
    let mut state = CatapultState {
        delta_f: delta_f0,
        lambda: lambda0,
    };
    states.push(state);
    for _ in 0..n_steps {
        let delta_f = state.delta_f;
        let f = delta_f + target;
        let next = CatapultState {
            delta_f: (1.0 - eta * state.lambda + eta * eta * f * delta_f / m) * delta_f,
            lambda: state.lambda + eta * (eta * state.lambda * delta_f - 4.0 * f) * delta_f / m,
        };
        if !(next.delta_f.abs() <= 1e150 && next.lambda.abs() <= 1e150) {
            break;
        }
        state = next;
        states.push(state);
    }
    Ok(states)
}

/// Plain GD on (u, v) for the toy model f = m^{−1/2} vᵀu, L = (f − y)²/2, recording (Δf_t, λ_t)
/// for t = 0..=n_steps (stopping early like [`catapult_recursion`]).
///
/// $$ u_{t+1} = u_t - \eta m^{-1/2}\Delta f_t v_t,\qquad v_{t+1} = v_t - \eta m^{-1/2}\Delta f_t u_t $$
///
/// # Reference
/// Lewkowycz et al. 2020, arXiv:2003.02218, Sec. 2 (eq. (2)); seed 003, "A toy model".
pub fn catapult_gd(
    u0: &[f64],
    v0: &[f64],
    y: f64,
    learning_rate: f64,
    n_steps: usize,
) -> Result<Vec<CatapultState>> {
    check_positive("learning_rate", learning_rate)?;
    if u0.is_empty() {
        return Err(Error::Empty { arg: "u0" });
    }
    if u0.len() != v0.len() {
        return Err(Error::ShapeMismatch {
            arg: "v0",
            expected: format!("length {}", u0.len()),
            found: format!("length {}", v0.len()),
        });
    }
    crate::error::check_finite("u0", u0)?;
    crate::error::check_finite("v0", v0)?;
    let m = u0.len() as f64;
    let scale = 1.0 / m.sqrt();
    let (mut u, mut v) = (u0.to_vec(), v0.to_vec());
    let measure = |u: &[f64], v: &[f64]| CatapultState {
        delta_f: scale * u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>() - y,
        lambda: (u.iter().map(|a| a * a).sum::<f64>() + v.iter().map(|b| b * b).sum::<f64>()) / m,
    };
    let mut states = vec![measure(&u, &v)];
    for _ in 0..n_steps {
        let coef = learning_rate * scale * states[states.len() - 1].delta_f;
        for (a, b) in u.iter_mut().zip(v.iter_mut()) {
            let (a_old, b_old) = (*a, *b);
            *a = a_old - coef * b_old;
            *b = b_old - coef * a_old;
        }
        let next = measure(&u, &v);
        if !(next.delta_f.abs() <= 1e150 && next.lambda.abs() <= 1e150) {
            break;
        }
        states.push(next);
    }
    Ok(states)
}

/// The phase of a GD run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The loss never rose above L₀ and fell below `convergence_ratio · L₀`.
    Lazy,
    /// The loss rose above L₀, then fell below `convergence_ratio · L₀`.
    Catapult,
    /// The loss became non-finite or exceeded `divergence_factor · L₀`.
    Divergent,
    /// Neither converged nor diverged within the steps run.
    Unresolved,
}

/// Thresholds of [`classify`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseCriteria {
    /// A loss above divergence_factor · L₀ means divergence (> 1).
    pub divergence_factor: f64,
    /// A final loss below convergence_ratio · L₀ means convergence (in (0, 1)).
    pub convergence_ratio: f64,
}

impl Default for PhaseCriteria {
    /// divergence_factor = 1e6, convergence_ratio = 1e-6.
    fn default() -> Self {
        Self {
            divergence_factor: 1e6,
            convergence_ratio: 1e-6,
        }
    }
}

/// Classifies a loss curve L₀, L₁, … (a truncated curve counts as divergent): divergent if any
/// loss is non-finite or exceeds divergence_factor·L₀ or the curve was cut short
/// (`expected_len`), else lazy/catapult when the last loss is below convergence_ratio·L₀
/// according to whether max_t L_t > L₀, else unresolved.
///
/// # Reference
/// Lewkowycz et al. 2020, arXiv:2003.02218, Sec. 2.1 (the three phases).
pub fn classify(losses: &[f64], expected_len: usize, criteria: &PhaseCriteria) -> Result<Phase> {
    let Some(&loss0) = losses.first() else {
        return Err(Error::Empty { arg: "losses" });
    };
    if losses.len() < expected_len
        || losses
            .iter()
            .any(|l| !l.is_finite() || *l > criteria.divergence_factor * loss0)
    {
        return Ok(Phase::Divergent);
    }
    let last = losses[losses.len() - 1];
    if last > criteria.convergence_ratio * loss0 {
        return Ok(Phase::Unresolved);
    }
    let rose = losses.iter().any(|l| *l > loss0);
    Ok(if rose { Phase::Catapult } else { Phase::Lazy })
}

/// λ₀ = λ_max(Θ̂₀)/n: the top eigenvalue of the matrix driving the linearized GD
/// r ← (I − ηΘ̂₀/n) r under L = 1/(2n)‖u − y‖².
///
/// # Reference
/// Lewkowycz et al. 2020, arXiv:2003.02218, Sec. 2 (λ₀ with their loss normalisation).
pub fn top_ntk_eigenvalue<M: Model + ?Sized>(
    model: &M,
    x: MatRef<'_, f64>,
    theta0: &[f64],
) -> Result<f64> {
    crate::error::check_theta(theta0, model.n_params())?;
    if x.nrows() == 0 {
        return Err(Error::Empty { arg: "x" });
    }
    let ntk = model.empirical_ntk(theta0, x, x)?;
    let values = ntk
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| Error::LinearAlgebra {
            what: "eigenvalues of the empirical NTK",
            detail: format!("{e:?}"),
        })?;
    Ok(values[values.len() - 1] / x.nrows() as f64)
}

/// Runs `n_steps` of GD at η and classifies it ([`classify`]); divergence detected by the
/// optimiser is reported as [`Phase::Divergent`], not as an error.
///
/// # Reference
/// Lewkowycz et al. 2020, arXiv:2003.02218, Sec. 2.1.
pub fn gd_phase<M: Model + ?Sized>(
    model: &M,
    x: MatRef<'_, f64>,
    y: &[f64],
    theta0: &[f64],
    learning_rate: f64,
    n_steps: usize,
    criteria: &PhaseCriteria,
) -> Result<Phase> {
    let config = GdConfig {
        learning_rate,
        n_steps,
        divergence_factor: criteria.divergence_factor,
    };
    match gradient_descent(model, x, y, theta0, &config, |_, _, _| Ok(())) {
        Ok(run) => classify(&run.losses, n_steps + 1, criteria),
        Err(Error::Diverged { .. }) | Err(Error::NonFiniteState { .. }) => Ok(Phase::Divergent),
        Err(e) => Err(e),
    }
}

/// Settings of [`find_eta_max`].
#[derive(Debug, Clone, PartialEq)]
pub struct EtaSweepConfig {
    /// GD steps per trial learning rate.
    pub n_steps: usize,
    /// Divergence and convergence thresholds.
    pub criteria: PhaseCriteria,
    /// Lower end c_lo of the bracket for c = η·λ₀ (must not diverge).
    pub lower: f64,
    /// Upper end c_hi (must diverge).
    pub upper: f64,
    /// Stop when c_hi − c_lo ≤ tolerance (> 0).
    pub tolerance: f64,
}

impl EtaSweepConfig {
    /// Bracket [1, 16], tolerance 1e-3, default criteria.
    pub fn new(n_steps: usize) -> Self {
        Self {
            n_steps,
            criteria: PhaseCriteria::default(),
            lower: 1.0,
            upper: 16.0,
            tolerance: 1e-3,
        }
    }
}

/// Result of [`find_eta_max`].
#[derive(Debug, Clone, PartialEq)]
pub struct EtaMax {
    /// λ₀ = λ_max(Θ̂₀)/n.
    pub lambda0: f64,
    /// Midpoint of the final bracket of c = η_max·λ₀.
    pub eta_max_lambda0: f64,
    /// Final bracket (largest non-divergent c, smallest divergent c) found.
    pub bracket: (f64, f64),
    /// GD runs performed.
    pub runs: usize,
}

/// Finds c* = η_max·λ₀ by bisection on "GD diverges within n_steps" over c = η·λ₀, assuming
/// divergence is monotone in η. Errors if c_lo diverges or c_hi does not.
///
/// # Reference
/// Lewkowycz et al. 2020, arXiv:2003.02218, Sec. 3 (η_max ≈ c/λ₀ with c ≈ 4–12 for ReLU nets).
pub fn find_eta_max<M: Model + ?Sized>(
    model: &M,
    x: MatRef<'_, f64>,
    y: &[f64],
    theta0: &[f64],
    config: &EtaSweepConfig,
) -> Result<EtaMax> {
    let lambda0 = top_ntk_eigenvalue(model, x, theta0)?;
    check_positive("lambda0 (top NTK eigenvalue / n)", lambda0)?;
    bisect_divergence(config, lambda0, |c| {
        Ok(gd_phase(
            model,
            x,
            y,
            theta0,
            c / lambda0,
            config.n_steps,
            &config.criteria,
        )? == Phase::Divergent)
    })
}

/// The same bisection as [`find_eta_max`] on the toy recursion [`catapult_recursion`] with loss
/// Δf²/2.
///
/// # Reference
/// Lewkowycz et al. 2020, arXiv:2003.02218, Sec. 2 (η_max = 4/λ₀ for the toy model).
pub fn find_eta_max_toy(
    delta_f0: f64,
    lambda0: f64,
    target: f64,
    width: usize,
    config: &EtaSweepConfig,
) -> Result<EtaMax> {
    bisect_divergence(config, lambda0, |c| {
        let states = catapult_recursion(
            delta_f0,
            lambda0,
            target,
            c / lambda0,
            width,
            config.n_steps,
        )?;
        let losses: Vec<f64> = states.iter().map(|s| 0.5 * s.delta_f * s.delta_f).collect();
        Ok(classify(&losses, config.n_steps + 1, &config.criteria)? == Phase::Divergent)
    })
}

fn bisect_divergence(
    config: &EtaSweepConfig,
    lambda0: f64,
    mut diverges: impl FnMut(f64) -> Result<bool>,
) -> Result<EtaMax> {
    check_positive("lower", config.lower)?;
    check_positive("tolerance", config.tolerance)?;
    if !(config.upper.is_finite() && config.upper > config.lower) {
        return Err(Error::InvalidParameter {
            arg: "upper",
            value: config.upper.to_string(),
            reason: "must be finite and > lower",
        });
    }
    let (mut lo, mut hi) = (config.lower, config.upper);
    if diverges(lo)? {
        return Err(Error::InvalidParameter {
            arg: "lower",
            value: lo.to_string(),
            reason: "GD already diverges at the lower end of the bracket",
        });
    }
    if !diverges(hi)? {
        return Err(Error::InvalidParameter {
            arg: "upper",
            value: hi.to_string(),
            reason: "GD does not diverge at the upper end of the bracket",
        });
    }
    let mut runs = 2;
    let max_iterations = 200;
    while hi - lo > config.tolerance {
        if runs > max_iterations {
            return Err(Error::NotConverged {
                what: "eta_max bisection",
                iterations: runs,
                residual: hi - lo,
            });
        }
        let mid = 0.5 * (lo + hi);
        if diverges(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
        runs += 1;
    }
    Ok(EtaMax {
        lambda0,
        eta_max_lambda0: 0.5 * (lo + hi),
        bracket: (lo, hi),
        runs,
    })
}

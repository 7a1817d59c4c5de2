//! The error type of `ntk-dynamics`.

/// Everything that can go wrong in `ntk-dynamics`, with the offending argument and value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A data set or argument that must not be empty is empty.
    #[error("`{arg}` is empty")]
    Empty { arg: &'static str },
    /// Two shapes that must agree do not.
    #[error("shape mismatch in `{arg}`: expected {expected}, found {found}")]
    ShapeMismatch {
        arg: &'static str,
        expected: String,
        found: String,
    },
    /// A non-finite value (NaN or infinity) in an input.
    #[error("non-finite value {value} in `{arg}` at index {index}")]
    NonFinite {
        arg: &'static str,
        index: usize,
        value: f64,
    },
    /// A parameter outside its valid range (non-positive tolerance, zero steps, ...).
    #[error("invalid `{arg}` = {value}: {reason}")]
    InvalidParameter {
        arg: &'static str,
        value: String,
        reason: &'static str,
    },
    /// The adaptive step size fell below the resolution of the time axis.
    #[error("step size {h:e} too small at t = {t}")]
    StepSizeTooSmall { t: f64, h: f64 },
    /// The integrator used up its step budget before reaching `t_end`.
    #[error("maximum number of steps {max_steps} reached at t = {t} (t_end = {t_end})")]
    MaxStepsReached {
        t: f64,
        t_end: f64,
        max_steps: usize,
    },
    /// The state became non-finite.
    #[error("state became non-finite at t = {t} (step {step})")]
    NonFiniteState { t: f64, step: usize },
    /// The loss grew past `divergence_factor · L(0)`.
    #[error("diverged at t = {t} (step {step}): loss {loss:e} exceeds threshold {threshold:e}")]
    Diverged {
        t: f64,
        step: usize,
        loss: f64,
        threshold: f64,
    },
    /// A matrix that must be positive definite is not.
    #[error("matrix `{arg}` is not positive definite (lambda_min = {lambda_min:e})")]
    NotPositiveDefinite { arg: &'static str, lambda_min: f64 },
    /// An iterative method (bisection) did not converge.
    #[error("{what} did not converge after {iterations} iterations (residual {residual:e})")]
    NotConverged {
        what: &'static str,
        iterations: usize,
        residual: f64,
    },
    /// A dense linear-algebra routine failed.
    #[error("linear algebra failure in {what}: {detail}")]
    LinearAlgebra { what: &'static str, detail: String },
    /// An error from a model of `ntk-nets`.
    #[error(transparent)]
    Model(#[from] ntk_nets::Error),
}

/// Shorthand for `Result<T, ntk_dynamics::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// Checks that every entry of `values` is finite.
pub(crate) fn check_finite(arg: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            arg,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Checks that `value` is finite and strictly positive.
pub(crate) fn check_positive(arg: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            arg,
            value: value.to_string(),
            reason: "must be finite and > 0",
        })
    }
}

/// Checks a training set: `x` is n × d with n ≥ 1, `y` has length n, all finite.
pub(crate) fn check_data(x: faer::MatRef<'_, f64>, y: &[f64], input_dim: usize) -> Result<()> {
    if x.nrows() == 0 {
        return Err(Error::Empty { arg: "x" });
    }
    if x.ncols() != input_dim {
        return Err(Error::ShapeMismatch {
            arg: "x",
            expected: format!("{input_dim} columns"),
            found: format!("{} columns", x.ncols()),
        });
    }
    if y.len() != x.nrows() {
        return Err(Error::ShapeMismatch {
            arg: "y",
            expected: format!("length {}", x.nrows()),
            found: format!("length {}", y.len()),
        });
    }
    for j in 0..x.ncols() {
        for i in 0..x.nrows() {
            let value = x[(i, j)];
            if !value.is_finite() {
                return Err(Error::NonFinite {
                    arg: "x",
                    index: i * x.ncols() + j,
                    value,
                });
            }
        }
    }
    check_finite("y", y)
}

/// Checks that θ has the model's parameter count and is finite.
pub(crate) fn check_theta(theta: &[f64], n_params: usize) -> Result<()> {
    if theta.len() != n_params {
        return Err(Error::ShapeMismatch {
            arg: "theta",
            expected: format!("length {n_params}"),
            found: format!("length {}", theta.len()),
        });
    }
    check_finite("theta", theta)
}

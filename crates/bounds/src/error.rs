//! The error type of `ntk-bounds`.

/// Everything that can go wrong in `ntk-bounds`, with the offending argument and value.
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
    /// A parameter outside its valid range (zero size, probability outside (0, 1), ...).
    #[error("invalid `{arg}` = {value}: {reason}")]
    InvalidParameter {
        arg: &'static str,
        value: f64,
        reason: &'static str,
    },
    /// A matrix that must be symmetric is not.
    #[error("`{arg}` is not symmetric: |K[{row},{col}] - K[{col},{row}]| = {asymmetry:e}")]
    NotSymmetric {
        arg: &'static str,
        row: usize,
        col: usize,
        asymmetry: f64,
    },
    /// An input of zero norm where a direction on the sphere is needed.
    #[error("row {index} of `{arg}` has zero norm, but a point on the sphere is required")]
    ZeroNorm { arg: &'static str, index: usize },
    /// A Gram matrix that must be positive definite is not (singular or indefinite).
    #[error("Gram matrix is not positive definite (lambda_min = {lambda_min:e})")]
    NotPositiveDefinite { lambda_min: f64 },
    /// Two data points are parallel (or equal), so the data separation is zero.
    #[error("inputs {first} and {second} are parallel: data separation is {separation:e}")]
    ParallelInputs {
        first: usize,
        second: usize,
        separation: f64,
    },
    /// An iterative procedure did not converge within its iteration limit.
    #[error("{what} did not converge after {iterations} iterations (residual {residual:e})")]
    NotConverged {
        what: &'static str,
        iterations: usize,
        residual: f64,
    },
    /// A file could not be read or parsed.
    #[error("cannot read `{path}`: {reason}")]
    Io { path: String, reason: String },
    /// A file whose contents do not have the expected SHA-256 (corrupt, truncated or a
    /// different version).
    #[error("`{path}`: SHA-256 of the decompressed contents is {found}, expected {expected}")]
    Checksum {
        path: String,
        expected: String,
        found: String,
    },
    /// A failure reported by the linear-algebra backend.
    #[error("linear algebra failure: {0}")]
    LinearAlgebra(String),
    /// An error of an `ntk-kernels` kernel evaluation (Θ^(L), H^∞ entries, random features).
    #[error("kernel evaluation: {0}")]
    Kernels(#[from] ntk_kernels::Error),
    /// An error of an `ntk-nets` network (construction, empirical NTK).
    #[error("network evaluation: {0}")]
    Nets(#[from] ntk_nets::Error),
}

/// Shorthand for `Result<T, ntk_bounds::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// Checks that `value` is finite and strictly positive.
pub(crate) fn check_positive(arg: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            arg,
            value,
            reason: "must be finite and > 0",
        })
    }
}

/// Checks that `value` lies in the open interval (0, 1).
pub(crate) fn check_probability(arg: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            arg,
            value,
            reason: "must lie in (0, 1)",
        })
    }
}

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

/// Checks that every entry of the matrix is finite (index is row-major `i * ncols + j`).
pub(crate) fn check_finite_mat(arg: &'static str, m: faer::MatRef<'_, f64>) -> Result<()> {
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            let value = m[(i, j)];
            if !value.is_finite() {
                return Err(Error::NonFinite {
                    arg,
                    index: i * m.ncols() + j,
                    value,
                });
            }
        }
    }
    Ok(())
}

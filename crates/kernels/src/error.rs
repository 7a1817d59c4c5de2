//! The error type of `ntk-kernels`.

/// Everything that can go wrong in `ntk-kernels`, with the offending argument and value.
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
    /// A parameter outside its valid range (zero width, negative std, ...).
    #[error("invalid `{arg}` = {value}: {reason}")]
    InvalidParameter {
        arg: &'static str,
        value: String,
        reason: &'static str,
    },
    /// An input of zero norm where a direction on the sphere is needed.
    #[error("input {index} of `{arg}` has zero norm, but a point on the sphere is required")]
    ZeroNorm { arg: &'static str, index: usize },
    /// A kernel matrix that must be positive definite is not (singular or indefinite).
    #[error(
        "kernel matrix is not positive definite (lambda_min = {lambda_min:e}); pass a jitter/ridge to regularise"
    )]
    NotPositiveDefinite { lambda_min: f64 },
    /// A numerical procedure did not converge within its iteration limit.
    #[error("{what} did not converge after {iterations} iterations (residual {residual:e})")]
    NotConverged {
        what: &'static str,
        iterations: usize,
        residual: f64,
    },
    /// The architecture is not one this crate can compute a kernel for.
    #[error("unsupported architecture: {0}")]
    Unsupported(String),
    /// A failure reported by the linear-algebra backend.
    #[error("linear algebra failure: {0}")]
    LinearAlgebra(String),
    /// A failure to read or write the storage behind an operator (e.g. a kernel on disk).
    #[error("I/O failure: {0}")]
    Io(String),
}

/// Shorthand for `Result<T, ntk_kernels::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// Checks that every entry of `values` is finite.
pub fn check_finite(arg: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            arg,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Checks that `m` has `rows` rows (a right-hand side or block of vectors of an n × n operator).
pub(crate) fn check_rows(arg: &'static str, m: faer::MatRef<'_, f64>, rows: usize) -> Result<()> {
    if m.nrows() == rows {
        return Ok(());
    }
    Err(Error::ShapeMismatch {
        arg,
        expected: format!("{rows} rows"),
        found: format!("{} rows", m.nrows()),
    })
}

/// Checks that every entry of the matrix is finite (index is row-major `i * ncols + j`).
pub fn check_finite_mat(arg: &'static str, m: faer::MatRef<'_, f64>) -> Result<()> {
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

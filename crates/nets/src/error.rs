//! The error type of `ntk-nets`.

/// Everything that can go wrong in `ntk-nets`, with the offending argument and value.
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
    /// A parameter outside its valid range (zero width, depth 0, ...).
    #[error("invalid `{arg}` = {value}: {reason}")]
    InvalidParameter {
        arg: &'static str,
        value: String,
        reason: &'static str,
    },
    /// An iterative method (Lanczos, power iteration) did not converge.
    #[error("{what} did not converge after {iterations} iterations (residual {residual:e})")]
    NotConverged {
        what: &'static str,
        iterations: usize,
        residual: f64,
    },
    /// An error from the kernel crate.
    #[error(transparent)]
    Kernel(#[from] ntk_kernels::Error),
}

/// Shorthand for `Result<T, ntk_nets::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

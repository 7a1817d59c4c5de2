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
    /// A `.npy` file or output location that cannot be used ([`crate::npy`], [`crate::stream`]):
    /// missing or not a `.npy`, wrong dtype or shape, a non-finite entry, an output that cannot
    /// be created, written or renamed, a kernel that cannot be computed on a tile. The message
    /// names the file (or the argument).
    #[error("{message}")]
    KernelFile { message: String },
    /// A read of a stored kernel failed: `message` names the file, `cause` is the operating
    /// system's error (the error's `source`).
    #[error("{message}")]
    KernelIo {
        message: String,
        #[source]
        cause: IoCause,
    },
    /// The directory that should hold an output file does not exist.
    #[error("the directory {} does not exist", dir.display())]
    OutputDirectory { dir: std::path::PathBuf },
    /// Less free disk space in `dir` than the output needs (`needed` bytes, `free` available;
    /// checked before anything is written).
    #[error(
        "not enough disk space in {}: the kernel needs {:.2} GB, {:.2} GB are free",
        dir.display(),
        *needed as f64 / 1e9,
        *free as f64 / 1e9
    )]
    DiskSpace {
        dir: std::path::PathBuf,
        needed: u64,
        free: u64,
    },
    /// A tile side that the tile plan rejects (`reason` is the plan's error).
    #[error("tile side: {reason}")]
    TileSide { reason: String },
}

/// The operating system's message of a failed read or write: the `source` of
/// [`Error::KernelIo`] (a string, so that [`Error`] stays `Clone` and `PartialEq`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IoCause(pub String);

impl Error {
    /// Whether the error is the caller's (a bad file, argument or output location) rather than
    /// a failure of the machine (a read error) or of the computation: front ends report these as
    /// usage errors (`cargo xtask` exits with code 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::KernelFile { .. }
                | Error::OutputDirectory { .. }
                | Error::DiskSpace { .. }
                | Error::TileSide { .. }
        )
    }
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

//! Errors across the boundary: every crate error becomes a Python `ValueError` carrying the
//! crate's message (a failed read of a stored kernel an `OSError`), and no Rust panic unwinds
//! into the interpreter.

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// An error of one of the ntk-lab crates, or of a file the bindings read or write.
#[derive(Debug)]
pub enum BindingError {
    /// Bad input or parameters: raised as `ValueError` with the crate's message.
    Invalid(String),
    /// A failed read or write of a file: raised as `OSError`.
    Io(String),
}

impl From<ntk_kernels::Error> for BindingError {
    fn from(e: ntk_kernels::Error) -> Self {
        BindingError::Invalid(e.to_string())
    }
}

impl From<ntk_nets::Error> for BindingError {
    fn from(e: ntk_nets::Error) -> Self {
        BindingError::Invalid(e.to_string())
    }
}

impl From<BindingError> for PyErr {
    fn from(e: BindingError) -> Self {
        match e {
            BindingError::Invalid(message) => PyValueError::new_err(message),
            BindingError::Io(message) => PyOSError::new_err(message),
        }
    }
}

/// Shorthand for results of the computations behind the bindings.
pub type Result<T> = std::result::Result<T, BindingError>;

/// Runs `work` with the GIL released (`Python::detach`), converting its error to the Python
/// exception and a panic (a bug, never expected) to `RuntimeError` instead of unwinding through
/// the interpreter.
pub fn run<T: Send>(py: Python<'_>, work: impl FnOnce() -> Result<T> + Send) -> PyResult<T> {
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(work)));
    match outcome {
        Ok(result) => result.map_err(PyErr::from),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!(
                "internal error in ntk_lab (please report): {message}"
            )))
        }
    }
}

/// A `ValueError` with `message`.
pub fn invalid(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

//! NumPy `.npy` files in and out: the library's [`ntk_kernels::npy`] (input arrays, targets, and
//! kernel matrices written tile by tile by positioned I/O into a preallocated file), re-exported
//! under the path the xtask modules use, plus the CLI's `--dtype` parser.
//!
//! A file that cannot be used is an [`ntk_kernels::Error::KernelFile`] naming it: the binary
//! exits with code 2 for it, as for a [`UsageError`] ([`crate::exit_code_for`]).

use crate::UsageError;
use anyhow::Result;

pub use ntk_kernels::npy::{
    Dtype, InputArray, NpyMatrixFile, fnv1a, header_bytes, read_inputs, read_targets, write_matrix,
};

/// Parses `--dtype`: `f32`/`float32`/`f64`/`float64`.
pub fn parse_dtype(text: &str) -> Result<Dtype> {
    Dtype::from_name(text).ok_or_else(|| {
        UsageError::new(format!("--dtype: expected f32 or f64, found {text}")).into()
    })
}

//! The streaming kernel: an n₁ × n₂ kernel of `.npy` inputs written block by block to an
//! `.npy` file, for data sets whose kernel does not fit in memory (`cargo xtask kernel --x1
//! X.npy --out K.npy`).

use crate::architecture::{Network, PyArchitecture};
use crate::errors::{BindingError, Result, run};
use ntk_kernels::Architecture;
use pyo3::prelude::*;
use std::path::{Path, PathBuf};

/// The one place where `kernel_to_npy` reaches the streaming writer.
///
/// This build validates the request (the architecture, the input paths) but does not have the
/// block-streaming `.npy` writer yet; once it exists, call it here.
pub fn stream_kernel_to_npy(
    arch: &Architecture,
    x1: &Path,
    x2: Option<&Path>,
    out: &Path,
    get_ntk: bool,
) -> Result<()> {
    for path in std::iter::once(x1).chain(x2) {
        if !path.is_file() {
            return Err(BindingError::Invalid(format!(
                "input file {} does not exist",
                path.display()
            )));
        }
    }
    let _ = (arch, out, get_ntk);
    Err(BindingError::Missing(
        "the streaming .npy kernel (the block writer behind `cargo xtask kernel --x1 X.npy \
         --out K.npy`) is not in this build of ntk-lab yet"
            .into(),
    ))
}

/// `kernel_to_npy(architecture, x1_path, out_path, x2_path=None, get="ntk")`.
#[pyfunction]
#[pyo3(signature = (architecture, x1_path, out_path, x2_path = None, get = "ntk"))]
pub fn kernel_to_npy(
    py: Python<'_>,
    architecture: &PyArchitecture,
    x1_path: PathBuf,
    out_path: PathBuf,
    x2_path: Option<PathBuf>,
    get: &str,
) -> PyResult<()> {
    let Network::Dense(arch) = &architecture.network else {
        return Err(BindingError::Invalid(
            "the streaming .npy kernel is for fully-connected architectures".into(),
        )
        .into());
    };
    let get_ntk = match get {
        "ntk" => true,
        "nngp" => false,
        other => {
            return Err(BindingError::Invalid(format!(
                "get must be 'nngp' or 'ntk' (one kernel per file), got {other:?}"
            ))
            .into());
        }
    };
    run(py, || {
        stream_kernel_to_npy(arch, &x1_path, x2_path.as_deref(), &out_path, get_ntk)
    })
}

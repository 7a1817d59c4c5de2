//! The streaming kernel: an n₁ × n₂ kernel written tile by tile to `.npy` files within a memory
//! budget, resumable after an interruption — the library's [`ntk_kernels::stream`], the same
//! code as `cargo xtask kernel --spec ARCH.json --x1 X.npy --out K.npy`, so the files are
//! byte-identical to the CLI's for the same inputs.

use crate::architecture::{Network, PyArchitecture};
use crate::arrays::Input;
use crate::errors::{BindingError, Result, run};
use ntk_kernels::Architecture;
use ntk_kernels::analytic::Get;
use ntk_kernels::npy::{Dtype, InputArray, read_inputs};
use ntk_kernels::stream::{
    StreamConfig, StreamObserver, StreamReport, default_max_memory, fingerprint, output_paths,
    parse_memory, stream_kernel, tile_budget,
};
use ntk_kernels::tiled::AnalyticTiles;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::ops::ControlFlow;
use std::path::PathBuf;

/// An input of `kernel_to_npy`: a `.npy` file (read by the CLI's reader: float32/float64, (n, d)
/// or NHWC flattened) or a float64 NumPy matrix (copied: the run outlives no borrow).
enum Source {
    Path(PathBuf),
    Array(InputArray),
}

fn source(obj: &Bound<'_, PyAny>, arg: &'static str) -> PyResult<Source> {
    if let Ok(path) = obj.extract::<PathBuf>() {
        return Ok(Source::Path(path));
    }
    let input = Input::new(obj, arg, 2)?;
    let matrix = input.matrix();
    ntk_kernels::error::check_finite_mat(arg, matrix).map_err(BindingError::from)?;
    if matrix.nrows() == 0 || matrix.ncols() == 0 {
        return Err(BindingError::from(ntk_kernels::Error::Empty { arg }).into());
    }
    let shape = input.shape().iter().map(|&s| s as u64).collect();
    Ok(Source::Array(InputArray::new(shape, matrix.to_owned())))
}

fn load(source: Source, arg: &str) -> Result<InputArray> {
    match source {
        Source::Path(path) => Ok(read_inputs(&path, arg)?),
        Source::Array(array) => Ok(array),
    }
}

/// A library error with this function's argument names (`path`, not the CLI's `--out`).
fn stream_error(error: ntk_kernels::Error) -> BindingError {
    match error {
        ntk_kernels::Error::OutputDirectory { .. } | ntk_kernels::Error::DiskSpace { .. } => {
            BindingError::Invalid(format!("path: {error}"))
        }
        ntk_kernels::Error::KernelIo { message, cause } => {
            BindingError::Io(format!("{message}: {cause}"))
        }
        other => other.into(),
    }
}

/// The progress of a run, reported to Python between tiles: pending signals (Ctrl-C) are
/// handled and the optional `progress(entries_done, entries_total)` callback is called; an
/// exception from either stops the run (resumable) and is raised when it returns.
struct PyProgress {
    callback: Option<Py<PyAny>>,
    total: u64,
    error: Option<PyErr>,
}

impl StreamObserver for PyProgress {
    fn start(&mut self, total_entries: u64) {
        self.total = total_entries;
    }

    fn tile_done(&mut self, entries_done: u64) -> ControlFlow<()> {
        let outcome = Python::attach(|py| {
            py.check_signals()?;
            if let Some(callback) = &self.callback {
                callback.call1(py, (entries_done, self.total))?;
            }
            Ok::<(), PyErr>(())
        });
        match outcome {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// What the run wrote, for the summary dict.
struct Written {
    outputs: Vec<(&'static str, PathBuf)>,
    manifest: PathBuf,
    shape: (usize, usize),
    report: StreamReport,
}

/// One `kernel_to_npy` call, its arguments checked.
struct Request<'a> {
    arch: &'a Architecture,
    x1: Source,
    x2: Option<Source>,
    out: PathBuf,
    get: Get,
    dtype: Dtype,
    max_memory: u64,
}

/// The streaming run of `kernel_to_npy`, without the GIL (see the Python docstring).
fn stream(request: Request<'_>, progress: &mut PyProgress) -> Result<Written> {
    let Request {
        arch,
        x1,
        x2,
        out,
        get,
        dtype,
        max_memory,
    } = request;
    let x1 = load(x1, "x1")?;
    let x2 = x2.map(|x| load(x, "x2")).transpose()?;
    if let Some(x2) = &x2
        && x2.matrix.ncols() != x1.matrix.ncols()
    {
        return Err(BindingError::Invalid(format!(
            "x2: points have {} coordinates (shape {:?}) but x1 points have {} (shape {:?})",
            x2.matrix.ncols(),
            x2.shape,
            x1.matrix.ncols(),
            x1.shape
        )));
    }
    let input_bytes = 8
        * (x1.matrix.nrows() * x1.matrix.ncols()
            + x2.as_ref()
                .map_or(0, |x| x.matrix.nrows() * x.matrix.ncols())) as u64;
    let budget = tile_budget(max_memory, input_bytes).ok_or_else(|| {
        BindingError::Invalid(format!(
            "max_memory: the inputs alone take {:.2} GB",
            input_bytes as f64 / 1e9
        ))
    })?;
    let (outputs, manifest) = output_paths(&out, get.nngp, get.ntk);
    // The kernel's identity in the manifest: the validated architecture and the kernels asked
    // for (the CLI uses its JSON spec instead, so the two front ends do not resume each other's
    // runs; they restart them).
    let description = format!(
        "ntk_lab {arch:?} get={{nngp: {}, ntk: {}}}",
        get.nngp, get.ntk
    );
    let fingerprint = fingerprint(
        &description,
        x1.fingerprint,
        x2.as_ref().map(|x| x.fingerprint),
        dtype,
    );
    let tiles = AnalyticTiles {
        architecture: arch,
        x1: x1.matrix.as_ref(),
        x2: x2.as_ref().map(|x| x.matrix.as_ref()),
        get,
    };
    let config = StreamConfig {
        max_memory: budget,
        tile: None,
        dtype,
        stop_after: None,
    };
    let report = stream_kernel(&tiles, &fingerprint, &outputs, &manifest, &config, progress)
        .map_err(stream_error)?;
    Ok(Written {
        outputs: outputs.into_iter().map(|o| (o.name, o.path)).collect(),
        manifest,
        shape: (x1.matrix.nrows(), x2.as_ref().unwrap_or(&x1).matrix.nrows()),
        report,
    })
}

fn memory_budget(max_memory: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
    let Some(value) = max_memory.filter(|v| !v.is_none()) else {
        return Ok(default_max_memory());
    };
    if let Ok(text) = value.extract::<String>() {
        return parse_memory(&text).ok_or_else(|| {
            BindingError::Invalid(format!(
                "max_memory: expected a size like '8G' or '512M' or a number of bytes, got {text:?}"
            ))
            .into()
        });
    }
    match value.extract::<i128>() {
        Ok(bytes) if bytes > 0 && bytes <= i128::from(u64::MAX) => Ok(bytes as u64),
        _ => Err(BindingError::Invalid(format!(
            "max_memory: expected a positive number of bytes or a size like '8G', got {}",
            value.repr().map_or_else(|_| "?".into(), |r| r.to_string())
        ))
        .into()),
    }
}

/// `kernel_to_npy(architecture, x1, x2, path, nngp, ntk, dtype, max_memory, progress)`: the
/// native half of `ntk_lab.kernel_to_npy` (the Python layer parses `get`).
#[pyfunction]
#[pyo3(signature = (architecture, x1, x2, path, nngp, ntk, dtype = "float64", max_memory = None, progress = None))]
#[allow(clippy::too_many_arguments)] // the Python signature, one argument per keyword
pub fn kernel_to_npy<'py>(
    py: Python<'py>,
    architecture: &PyArchitecture,
    x1: &Bound<'py, PyAny>,
    x2: Option<&Bound<'py, PyAny>>,
    path: PathBuf,
    nngp: bool,
    ntk: bool,
    dtype: &str,
    max_memory: Option<&Bound<'py, PyAny>>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let Network::Dense(arch) = &architecture.network else {
        return Err(BindingError::Invalid(
            "kernel_to_npy streams the kernels of fully-connected architectures (as `cargo \
             xtask kernel --x1`); for a convolutional network use kernel_fn"
                .into(),
        )
        .into());
    };
    if !(nngp || ntk) {
        return Err(BindingError::Invalid("get: no kernel requested".into()).into());
    }
    let dtype = Dtype::from_name(dtype).ok_or_else(|| {
        BindingError::Invalid(format!(
            "dtype must be 'float32' or 'float64', got {dtype:?}"
        ))
    })?;
    let max_memory = memory_budget(max_memory)?;
    let x1 = source(x1, "x1")?;
    let x2 = x2
        .filter(|x| !x.is_none())
        .map(|x| source(x, "x2"))
        .transpose()?;
    let mut observer = PyProgress {
        callback: progress.filter(|p| !p.is_none(py)),
        total: 0,
        error: None,
    };
    let request = Request {
        arch,
        x1,
        x2,
        out: path,
        get: Get { nngp, ntk },
        dtype,
        max_memory,
    };
    let written = run(py, || stream(request, &mut observer))?;
    if let Some(error) = observer.error {
        return Err(error);
    }
    let summary = PyDict::new(py);
    let outputs = PyDict::new(py);
    for (name, path) in &written.outputs {
        outputs.set_item(*name, path.display().to_string())?;
    }
    summary.set_item("outputs", outputs)?;
    summary.set_item("manifest", written.manifest.display().to_string())?;
    summary.set_item("shape", written.shape)?;
    let report = PyDict::new(py);
    let r = &written.report;
    report.set_item("tiles", r.tiles)?;
    report.set_item("computed", r.computed)?;
    report.set_item("reused", r.reused)?;
    report.set_item("tile", r.tile)?;
    report.set_item("complete", r.complete)?;
    report.set_item("seconds", r.seconds)?;
    report.set_item("entries_per_second", r.entries_per_second)?;
    summary.set_item("report", report)?;
    Ok(summary)
}

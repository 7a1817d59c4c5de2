//! `kernel_fn`: the infinite-width NNGP and NTK of an architecture, written straight into NumPy
//! arrays (no copy of the inputs or the outputs), with the GIL released.

use crate::architecture::{Network, PyArchitecture};
use crate::arrays::{Input, empty, optional_input};
use crate::errors::{BindingError, Result, invalid, run};
use faer::{MatMut, MatRef};
use ntk_kernels::ConvArchitecture;
use ntk_kernels::analytic::{Get, kernel as analytic_kernel, kernel_into};
use numpy::{PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use std::time::Instant;

/// A batch of NHWC images: `n × (H·W·C)` row-major values and the image shape (H, W, C).
#[derive(Debug, Clone, Copy)]
pub struct Images<'a> {
    pub values: MatRef<'a, f64>,
    pub hwc: (usize, usize, usize),
}

/// The one place where `kernel_fn` reaches the convolutional kernels: CNN-GP/CNTK of `arch`
/// between the image batches `x1` and `x2` (`None`: the self kernel of `x1`), written into the
/// n₁ × n₂ row-major outputs.
///
/// The kernels come from `ntk_kernels::conv::kernel` (diagonal form without pooling, all-pairs
/// form under AvgPool/GlobalAvgPool) and are copied into the NumPy outputs.
pub fn conv_kernel_into(
    arch: &ConvArchitecture,
    x1: Images<'_>,
    x2: Option<Images<'_>>,
    nngp: Option<MatMut<'_, f64>>,
    ntk: Option<MatMut<'_, f64>>,
) -> Result<()> {
    arch.shapes(x1.hwc)?;
    if let Some(x2) = x2 {
        if x2.hwc != x1.hwc {
            return Err(BindingError::Invalid(format!(
                "x2 images have shape {:?}, x1 images {:?}; both batches need the same H, W, C",
                x2.hwc, x1.hwc
            )));
        }
    }
    for (arg, images) in [("x1", Some(x1)), ("x2", x2)] {
        if let Some(images) = images {
            ntk_kernels::error::check_finite_mat(arg, images.values)?;
        }
    }
    let get = Get {
        nngp: nngp.is_some(),
        ntk: ntk.is_some(),
    };
    let k = ntk_kernels::conv::kernel(arch, x1.values, x2.map(|x| x.values), x1.hwc, get)?;
    for (out, computed) in [(nngp, k.nngp), (ntk, k.ntk)] {
        if let (Some(mut out), Some(computed)) = (out, computed) {
            out.copy_from(computed.as_ref());
        }
    }
    Ok(())
}

fn images<'a>(input: &'a Input<'_>) -> Images<'a> {
    let s = input.shape();
    Images {
        values: input.rows(),
        hwc: (s[1], s[2], s[3]),
    }
}

type KernelArrays<'py> = (
    Option<Bound<'py, PyArray2<f64>>>,
    Option<Bound<'py, PyArray2<f64>>>,
);

/// `kernel(architecture, x1, x2=None, nngp=True, ntk=True) -> (nngp | None, ntk | None)`.
///
/// Dense networks take `x` of shape (n, d), convolutional ones (n, H, W, C). The kernels are
/// n₁ × n₂ C-contiguous float64 arrays.
#[pyfunction]
#[pyo3(signature = (architecture, x1, x2 = None, nngp = true, ntk = true))]
pub fn kernel<'py>(
    py: Python<'py>,
    architecture: &PyArchitecture,
    x1: &Bound<'py, PyAny>,
    x2: Option<&Bound<'py, PyAny>>,
    nngp: bool,
    ntk: bool,
) -> PyResult<KernelArrays<'py>> {
    let rank = match architecture.network {
        Network::Dense(_) => 2,
        Network::Conv(_) => 4,
    };
    let input1 = Input::new(x1, "x1", rank)?;
    let input2 = optional_input(x2, "x2", rank)?;
    let n1 = input1.shape()[0];
    let n2 = input2.as_ref().map_or(n1, |x| x.shape()[0]);
    let nngp_out = nngp.then(|| empty(py, n1, n2)).transpose()?;
    let ntk_out = ntk.then(|| empty(py, n1, n2)).transpose()?;
    {
        let mut nngp_guard = nngp_out.as_ref().map(|a| a.readwrite());
        let mut ntk_guard = ntk_out.as_ref().map(|a| a.readwrite());
        let nngp_view = match nngp_guard.as_mut() {
            Some(g) => Some(g.as_slice_mut().map_err(|e| invalid(e.to_string()))?),
            None => None,
        }
        .map(|s| MatMut::from_row_major_slice_mut(s, n1, n2));
        let ntk_view = match ntk_guard.as_mut() {
            Some(g) => Some(g.as_slice_mut().map_err(|e| invalid(e.to_string()))?),
            None => None,
        }
        .map(|s| MatMut::from_row_major_slice_mut(s, n1, n2));
        match &architecture.network {
            Network::Dense(arch) => {
                let (x1m, x2m) = (input1.matrix(), input2.as_ref().map(Input::matrix));
                run(py, || {
                    kernel_into(arch, x1m, x2m, nngp_view, ntk_view).map_err(BindingError::from)
                })?;
            }
            Network::Conv(arch) => {
                let (i1, i2) = (images(&input1), input2.as_ref().map(images));
                run(py, || conv_kernel_into(arch, i1, i2, nngp_view, ntk_view))?;
            }
        }
    }
    Ok((nngp_out, ntk_out))
}

/// The address of the first value that the kernels read for `x` (rank `rank`) and whether it
/// is NumPy's own buffer, to check that C-contiguous float64 inputs are not copied.
#[pyfunction]
#[pyo3(signature = (x, rank = 2))]
pub fn _input_address(x: &Bound<'_, PyAny>, rank: usize) -> PyResult<(usize, bool)> {
    let input = Input::new(x, "x", rank)?;
    Ok((input.values().as_ptr() as usize, input.is_borrowed()))
}

/// Seconds of `runs` calls of the Rust kernel `ntk_kernels::analytic::kernel(arch, x, None,
/// both)` on the `xtask bench` inputs x[i][j] = sin(0.7(i+1) + 1.3(j+1)) + 0.1 cos(2.1(i+1)(j+1))
/// (n × d, a faer matrix as in the bench), timed inside Rust with the GIL released: the
/// baseline of `bench/kernel_speed.py`.
#[pyfunction]
pub fn _time_rust_kernel(
    py: Python<'_>,
    architecture: &PyArchitecture,
    n: usize,
    d: usize,
    runs: usize,
) -> PyResult<Vec<f64>> {
    let Network::Dense(arch) = &architecture.network else {
        return Err(invalid("the timing baseline is for dense architectures"));
    };
    if n == 0 || d == 0 {
        return Err(invalid("n and d must be >= 1"));
    }
    run(py, || {
        let x = ntk_nets::test_models::nt_inputs(0, n, d);
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let k = analytic_kernel(arch, x.as_ref(), None, Get::BOTH)?;
            times.push(start.elapsed().as_secs_f64());
            std::hint::black_box(&k);
        }
        Ok(times)
    })
}

//! Finite networks of `ntk-nets` from an architecture: seeded initialisation (`init_fn`),
//! forward pass (`apply_fn`), and the empirical kernels
//! Θ̂(x, x') = ⟨∇θ f(x), ∇θ f(x')⟩ (Jacot et al. 2018, arXiv:1806.07572, Eq. (4)) and the
//! readout-marginalised empirical NNGP (Lee et al. 2018, arXiv:1711.00165, Eq. (4)).
//!
//! Parameters are one flat float64 vector in `ntk_nets::Mlp`'s layout (per layer W row-major,
//! then b).

use crate::architecture::{Network, PyArchitecture};
use crate::arrays::{Input, optional_input, to_numpy};
use crate::errors::{BindingError, Result, run};
use ntk_nets::{Mlp, Model};
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// The finite network of a dense architecture on inputs of dimension `input_dim`. Convolutional
/// networks are the one gap: `ntk-nets` has no CNN in this build.
fn network(architecture: &PyArchitecture, input_dim: usize) -> Result<Mlp> {
    match &architecture.network {
        Network::Dense(arch) => Ok(Mlp::from_architecture(arch, input_dim)?),
        Network::Conv(_) => Err(BindingError::Missing(
            "finite convolutional networks (init_fn/apply_fn/empirical kernels of a CNN) need \
             the conv nets of ntk-nets, which are not in this build yet"
                .into(),
        )),
    }
}

/// `init(architecture, input_dim, seed) -> params`: θ⁰ from ChaCha8(seed), N(0, 1) entries in
/// the NTK parameterization, N(0, w_std²/fan_in) and N(0, b_std²) in the standard one.
#[pyfunction]
pub fn init_params<'py>(
    py: Python<'py>,
    architecture: &PyArchitecture,
    input_dim: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let theta = run(py, || {
        let mlp = network(architecture, input_dim)?;
        Ok(mlp.init_params(&mut ChaCha8Rng::seed_from_u64(seed)))
    })?;
    Ok(PyArray1::from_vec(py, theta))
}

/// Number of parameters of the network on inputs of dimension `input_dim`.
#[pyfunction]
pub fn n_params(architecture: &PyArchitecture, input_dim: usize) -> PyResult<usize> {
    Ok(network(architecture, input_dim)?.n_params())
}

fn params_slice<'a>(params: &'a Input<'_>) -> &'a [f64] {
    params.values()
}

/// `apply(architecture, params, x) -> f(x)` of shape (n, 1).
#[pyfunction]
pub fn apply<'py>(
    py: Python<'py>,
    architecture: &PyArchitecture,
    params: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let params = Input::new(params, "params", 1)?;
    let x = Input::new(x, "x", 2)?;
    let (theta, xm) = (params_slice(&params), x.matrix());
    let out = run(py, || {
        let mlp = network(architecture, xm.ncols())?;
        Ok(mlp.forward(theta, xm)?)
    })?;
    let column = faer::Mat::from_fn(out.len(), 1, |i, _| out[i]);
    to_numpy(py, column.as_ref())
}

fn empirical<'py>(
    py: Python<'py>,
    architecture: &PyArchitecture,
    params: &Bound<'py, PyAny>,
    x1: &Bound<'py, PyAny>,
    x2: Option<&Bound<'py, PyAny>>,
    ntk: bool,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let params = Input::new(params, "params", 1)?;
    let x1 = Input::new(x1, "x1", 2)?;
    let x2 = optional_input(x2, "x2", 2)?;
    let (theta, x1m) = (params_slice(&params), x1.matrix());
    let x2m = x2.as_ref().map_or(x1m, Input::matrix);
    let k = run(py, || {
        let mlp = network(architecture, x1m.ncols())?;
        if x2m.ncols() != x1m.ncols() {
            return Err(BindingError::Invalid(format!(
                "shape mismatch in `x2`: expected {} columns (the dimension of x1), found {}",
                x1m.ncols(),
                x2m.ncols()
            )));
        }
        Ok(if ntk {
            mlp.empirical_ntk(theta, x1m, x2m)?
        } else {
            mlp.empirical_nngp(theta, x1m, x2m)?
        })
    })?;
    to_numpy(py, k.as_ref())
}

/// `empirical_ntk(architecture, params, x1, x2=None)`: Θ̂(X1, X2) = J(X1) J(X2)ᵀ (n₁ × n₂).
#[pyfunction]
#[pyo3(signature = (architecture, params, x1, x2 = None))]
pub fn empirical_ntk<'py>(
    py: Python<'py>,
    architecture: &PyArchitecture,
    params: &Bound<'py, PyAny>,
    x1: &Bound<'py, PyAny>,
    x2: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    empirical(py, architecture, params, x1, x2, true)
}

/// `empirical_nngp(architecture, params, x1, x2=None)`: the readout-marginalised empirical
/// NNGP w²/n_{L−1}·⟨g(x), g(x')⟩ + b² (n₁ × n₂).
#[pyfunction]
#[pyo3(signature = (architecture, params, x1, x2 = None))]
pub fn empirical_nngp<'py>(
    py: Python<'py>,
    architecture: &PyArchitecture,
    params: &Bound<'py, PyAny>,
    x1: &Bound<'py, PyAny>,
    x2: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    empirical(py, architecture, params, x1, x2, false)
}

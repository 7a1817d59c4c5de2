//! Finite networks of `ntk-nets` from an architecture: seeded initialisation (`init_fn`),
//! forward pass (`apply_fn`), and the empirical kernels
//! Θ̂(x, x') = ⟨∇θ f(x), ∇θ f(x')⟩ (Jacot et al. 2018, arXiv:1806.07572, Eq. (4)) and the
//! readout-marginalised empirical NNGP (Lee et al. 2018, arXiv:1711.00165, Eq. (4)).
//!
//! Dense networks are `ntk_nets::Mlp`s on (n, d) inputs, convolutional ones `ntk_nets::ConvNet`s
//! on NHWC (n, H, W, C) inputs. Parameters are one flat float64 vector in the crate's layout
//! (per Conv/Dense layer W row-major — OHWI for a convolution — then b).

use crate::architecture::{Network, PyArchitecture};
use crate::arrays::{Input, optional_input, to_numpy};
use crate::errors::{BindingError, Result, run};
use faer::{Accum, Mat, MatRef, Par};
use ntk_kernels::{ConvLayer, Parameterization};
use ntk_nets::{ConvNet, Mlp, Model};
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// The finite network of an architecture: an MLP, or a CNN on images of a given shape.
enum Finite {
    Mlp(Mlp),
    Conv(ConvNet),
}

impl Finite {
    fn model(&self) -> &dyn Model {
        match self {
            Finite::Mlp(mlp) => mlp,
            Finite::Conv(net) => net,
        }
    }
}

/// The rank of an input batch: (n, d) for dense networks, NHWC (n, H, W, C) for conv networks.
fn input_rank(architecture: &PyArchitecture) -> usize {
    match architecture.network {
        Network::Dense(_) => 2,
        Network::Conv(_) => 4,
    }
}

/// The finite network of `architecture` on inputs of per-example shape `example_shape`: (d,)
/// for a dense network, (H, W, C) for a convolutional one.
fn network(architecture: &PyArchitecture, example_shape: &[usize]) -> Result<Finite> {
    match (&architecture.network, example_shape) {
        (Network::Dense(arch), &[d]) => Ok(Finite::Mlp(Mlp::from_architecture(arch, d)?)),
        (Network::Conv(arch), &[h, w, c]) => Ok(Finite::Conv(ConvNet::new(arch, (h, w, c))?)),
        (Network::Dense(_), shape) => Err(BindingError::Invalid(format!(
            "a fully-connected network takes inputs of shape (n, d); got per-example shape {shape:?}"
        ))),
        (Network::Conv(_), shape) => Err(BindingError::Invalid(format!(
            "a convolutional network takes NHWC inputs of shape (n, H, W, C); got per-example \
             shape {shape:?}"
        ))),
    }
}

/// `init(architecture, example_shape, seed) -> params`: θ⁰ from ChaCha8(seed), N(0, 1) entries
/// in the NTK parameterization, N(0, w_std²/fan_in) and N(0, b_std²) in the standard one.
#[pyfunction]
pub fn init_params<'py>(
    py: Python<'py>,
    architecture: &PyArchitecture,
    example_shape: Vec<usize>,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let theta = run(py, || {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Ok(match network(architecture, &example_shape)? {
            Finite::Mlp(mlp) => mlp.init_params(&mut rng),
            Finite::Conv(net) => net.init_params(&mut rng),
        })
    })?;
    Ok(PyArray1::from_vec(py, theta))
}

/// Number of parameters of the network on inputs of per-example shape `example_shape`.
#[pyfunction]
pub fn n_params(architecture: &PyArchitecture, example_shape: Vec<usize>) -> PyResult<usize> {
    Ok(network(architecture, &example_shape)?.model().n_params())
}

/// A batch of inputs: its rows (NHWC images flattened row-major) and per-example shape.
fn batch<'a>(x: &'a Input<'_>) -> (MatRef<'a, f64>, Vec<usize>) {
    (x.rows(), x.shape()[1..].to_vec())
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
    let x = Input::new(x, "x", input_rank(architecture))?;
    let (theta, (xm, shape)) = (params.values(), batch(&x));
    let out = run(py, || {
        let net = network(architecture, &shape)?;
        Ok(net.model().forward(theta, xm)?)
    })?;
    let column = Mat::from_fn(out.len(), 1, |i, _| out[i]);
    to_numpy(py, column.as_ref())
}

/// The readout-marginalised empirical NNGP of a CNN from the readout columns of its Jacobian.
///
/// The readout is f = s_w⟨W, g(x)⟩ + s_b b on the n_{L−1} features g(x), so the Jacobian
/// columns of W are s_w g(x) and
///
/// $$ \hat K(x, x') = \frac{w^2}{n_{L-1}}\langle g(x), g(x')\rangle + b^2
///    = \frac{w^2}{n_{L-1} s_w^2}\,J_W(x) J_W(x')^\top + b^2, $$
///
/// with s_w = w/√n_{L−1} (NTK parameterization; the factor is 1) or 1 (standard).
///
/// # Reference
/// Lee et al. 2018, arXiv:1711.00165, Eq. (4); Novak et al. 2019, arXiv:1810.05148, §2.
fn conv_empirical_nngp(
    net: &ConvNet,
    theta: &[f64],
    x1: MatRef<'_, f64>,
    x2: MatRef<'_, f64>,
) -> Result<Mat<f64>> {
    let Some(ConvLayer::Dense { w_std, b_std, .. }) = net
        .architecture()
        .layers()
        .iter()
        .rev()
        .find(|l| matches!(l, ConvLayer::Dense { .. }))
    else {
        return Err(BindingError::Invalid(
            "a convolutional network needs a Dense readout".into(),
        ));
    };
    let (weights, _) = net
        .parameter_ranges()
        .pop()
        .ok_or_else(|| BindingError::Invalid("the network has no parameters".into()))?;
    let fan_in = weights.len() as f64; // readout Dense(1): n_{L−1} weights
    let s_w = match net.parameterization() {
        Parameterization::Ntk => w_std / fan_in.sqrt(),
        Parameterization::Standard => 1.0,
    };
    let j1 = net.jacobian(theta, x1)?;
    let j2 = net.jacobian(theta, x2)?;
    let (r1, r2) = (
        j1.subcols(weights.start, weights.len()),
        j2.subcols(weights.start, weights.len()),
    );
    let mut k = Mat::<f64>::full(x1.nrows(), x2.nrows(), b_std.unwrap_or(0.0).powi(2));
    if s_w != 0.0 {
        faer::linalg::matmul::matmul(
            k.as_mut(),
            Accum::Add,
            r1,
            r2.transpose(),
            w_std * w_std / (fan_in * s_w * s_w),
            Par::Seq,
        );
    }
    Ok(k)
}

fn empirical<'py>(
    py: Python<'py>,
    architecture: &PyArchitecture,
    params: &Bound<'py, PyAny>,
    x1: &Bound<'py, PyAny>,
    x2: Option<&Bound<'py, PyAny>>,
    ntk: bool,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let rank = input_rank(architecture);
    let params = Input::new(params, "params", 1)?;
    let x1 = Input::new(x1, "x1", rank)?;
    let x2 = optional_input(x2, "x2", rank)?;
    let theta = params.values();
    let (x1m, shape1) = batch(&x1);
    let (x2m, shape2) = x2.as_ref().map_or((x1m, shape1.clone()), batch);
    let k = run(py, || {
        let net = network(architecture, &shape1)?;
        if shape2 != shape1 {
            return Err(BindingError::Invalid(format!(
                "shape mismatch in `x2`: expected examples of shape {shape1:?} (as x1), found {shape2:?}"
            )));
        }
        Ok(match (&net, ntk) {
            (Finite::Mlp(mlp), true) => mlp.empirical_ntk(theta, x1m, x2m)?,
            (Finite::Mlp(mlp), false) => mlp.empirical_nngp(theta, x1m, x2m)?,
            (Finite::Conv(conv), true) => conv.empirical_ntk(theta, x1m, x2m)?,
            (Finite::Conv(conv), false) => conv_empirical_nngp(conv, theta, x1m, x2m)?,
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

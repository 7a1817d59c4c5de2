//! Architectures built by `ntk_lab.stax.serial`: a fully-connected [`ntk_kernels::Architecture`]
//! or a convolutional [`ntk_kernels::ConvArchitecture`], validated once when the network is built.
//!
//! The Python side describes each layer by a tuple (see `ntk_lab/stax.py`):
//! `("dense", width, w_std, b_std | None, parameterization)`, `("activation", name, params)`,
//! `("conv", channels, (fh, fw), (sh, sw), padding, w_std, b_std | None, parameterization)`,
//! `("avg_pool", (wh, ww), (sh, sw), padding)`, `("global_avg_pool",)`, `("flatten",)`.

use crate::errors::invalid;
use ntk_kernels::{Activation, ConvArchitecture, ConvLayer, Layer, Padding, Parameterization};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The network of a `stax.serial`, dense or convolutional.
#[derive(Debug, Clone)]
pub enum Network {
    Dense(ntk_kernels::Architecture),
    Conv(ConvArchitecture),
}

/// A validated architecture (`stax.serial(...)` builds one; its `kernel_fn`, `apply_fn`,
/// `init_fn` use it).
#[pyclass(frozen, module = "ntk_lab._native", name = "Architecture")]
#[derive(Debug, Clone)]
pub struct PyArchitecture {
    pub network: Network,
}

fn parameterization(name: &str) -> PyResult<Parameterization> {
    match name {
        "ntk" => Ok(Parameterization::Ntk),
        "standard" => Ok(Parameterization::Standard),
        other => Err(invalid(format!(
            "parameterization must be 'ntk' or 'standard', got {other:?}"
        ))),
    }
}

fn padding(name: &str) -> PyResult<Padding> {
    match name.to_ascii_uppercase().as_str() {
        "SAME" => Ok(Padding::Same),
        "VALID" => Ok(Padding::Valid),
        "CIRCULAR" => Ok(Padding::Circular),
        _ => Err(invalid(format!(
            "padding must be 'SAME', 'VALID' or 'CIRCULAR', got {name:?}"
        ))),
    }
}

fn activation(name: &str, params: &[f64]) -> PyResult<Activation> {
    let act = match (name, params) {
        ("leaky_relu", [alpha]) => Activation::LeakyRelu { alpha: *alpha },
        ("abrelu", [a, b]) => Activation::AbRelu { a: *a, b: *b },
        (name, []) => Activation::from_name(name).ok_or_else(|| {
            invalid(format!(
                "unknown activation {name:?}; ntk-lab supports {:?}",
                Activation::NAMES
            ))
        })?,
        (name, params) => {
            return Err(invalid(format!(
                "activation {name:?} does not take the parameters {params:?}"
            )));
        }
    };
    Ok(act)
}

/// One parsed layer with the parameterization its Dense/Conv layer asked for.
enum Parsed {
    Dense(Layer, Parameterization),
    Conv(ConvLayer, Option<Parameterization>),
}

fn parse_layer(tuple: &Bound<'_, PyTuple>) -> PyResult<Parsed> {
    let kind: String = tuple.get_item(0)?.extract()?;
    Ok(match kind.as_str() {
        "dense" => {
            let (_, width, w_std, b_std, param): (String, usize, f64, Option<f64>, String) =
                tuple.extract()?;
            Parsed::Dense(
                Layer::Dense {
                    width,
                    w_std,
                    b_std,
                },
                parameterization(&param)?,
            )
        }
        "activation" => {
            let (_, name, params): (String, String, Vec<f64>) = tuple.extract()?;
            Parsed::Dense(
                Layer::Activation(activation(&name, &params)?),
                Parameterization::Ntk,
            )
        }
        "conv" => {
            #[allow(clippy::type_complexity)]
            let (_, channels, filter, strides, pad, w_std, b_std, param): (
                String,
                usize,
                (usize, usize),
                (usize, usize),
                String,
                f64,
                Option<f64>,
                String,
            ) = tuple.extract()?;
            Parsed::Conv(
                ConvLayer::Conv {
                    channels,
                    filter,
                    strides,
                    padding: padding(&pad)?,
                    w_std,
                    b_std,
                },
                Some(parameterization(&param)?),
            )
        }
        "avg_pool" => {
            let (_, window, strides, pad): (String, (usize, usize), (usize, usize), String) =
                tuple.extract()?;
            Parsed::Conv(
                ConvLayer::AvgPool {
                    window,
                    strides,
                    padding: padding(&pad)?,
                },
                None,
            )
        }
        "global_avg_pool" => Parsed::Conv(ConvLayer::GlobalAvgPool, None),
        "flatten" => Parsed::Conv(ConvLayer::Flatten, None),
        other => return Err(invalid(format!("unknown layer kind {other:?}"))),
    })
}

#[pymethods]
impl PyArchitecture {
    /// Builds and validates an architecture from layer tuples (see the module docs).
    #[new]
    fn new(layers: Vec<Bound<'_, PyTuple>>) -> PyResult<Self> {
        let parsed = layers
            .iter()
            .map(parse_layer)
            .collect::<PyResult<Vec<_>>>()?;
        // The network's parameterization: the one every Dense/Conv layer asked for.
        let mut chosen: Option<Parameterization> = None;
        let mut is_conv = false;
        let mut dense_layers = Vec::new();
        let mut conv_layers = Vec::new();
        for (index, layer) in parsed.into_iter().enumerate() {
            let asked = match layer {
                Parsed::Dense(layer, param) => {
                    let asked = matches!(layer, Layer::Dense { .. }).then_some(param);
                    conv_layers.push(match layer {
                        Layer::Dense {
                            width,
                            w_std,
                            b_std,
                        } => ConvLayer::Dense {
                            width,
                            w_std,
                            b_std,
                        },
                        Layer::Activation(act) => ConvLayer::Activation(act),
                    });
                    dense_layers.push(layer);
                    asked
                }
                Parsed::Conv(layer, param) => {
                    is_conv = true;
                    conv_layers.push(layer);
                    param
                }
            };
            if let Some(asked) = asked {
                match chosen {
                    None => chosen = Some(asked),
                    Some(p) if p != asked => {
                        return Err(invalid(format!(
                            "layer {index} uses parameterization {asked:?} but an earlier layer \
                             uses {p:?}; ntk-lab networks have one parameterization"
                        )));
                    }
                    _ => {}
                }
            }
        }
        let param = chosen.unwrap_or_default();
        let network = if is_conv {
            Network::Conv(ConvArchitecture::new(conv_layers, param).map_err(to_value_error)?)
        } else {
            Network::Dense(
                ntk_kernels::Architecture::new(dense_layers, param).map_err(to_value_error)?,
            )
        };
        Ok(Self { network })
    }

    /// True for a convolutional network (any Conv, AvgPool, GlobalAvgPool or Flatten layer).
    #[getter]
    fn is_conv(&self) -> bool {
        matches!(self.network, Network::Conv(_))
    }

    /// `"ntk"` or `"standard"`.
    #[getter]
    fn parameterization(&self) -> &'static str {
        let p = match &self.network {
            Network::Dense(a) => a.parameterization(),
            Network::Conv(a) => a.parameterization(),
        };
        match p {
            Parameterization::Ntk => "ntk",
            Parameterization::Standard => "standard",
        }
    }

    fn __repr__(&self) -> String {
        match &self.network {
            Network::Dense(a) => format!(
                "Architecture(dense, {:?}, {:?})",
                a.layers(),
                a.parameterization()
            ),
            Network::Conv(a) => format!(
                "Architecture(conv, {:?}, {:?})",
                a.layers(),
                a.parameterization()
            ),
        }
    }
}

fn to_value_error(e: ntk_kernels::Error) -> PyErr {
    invalid(e.to_string())
}

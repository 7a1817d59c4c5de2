//! Architectures of fully-connected networks, in neural-tangents' `stax.serial` vocabulary.
//!
//! A network is a list of [`Layer`]s: `Dense { width, w_std, b_std }` and `Activation(σ)`. The last
//! `Dense` is the readout (`stax.Dense(1, …)`); kernels are reported after it.
//!
//! Conventions (neural-tangents 0.6.5, see `docs/kernels.md`):
//! - input layer: Σ⁽⁰⁾(x, x') = xᵀx'/d, Θ⁽⁰⁾ = 0;
//! - `Parameterization::Ntk`: Σ ← w_std²·Σ + b_std², Θ ← Σ_new + w_std²·Θ (width does not enter);
//! - `Parameterization::Standard`: Σ ← w_std²·Σ + b_std², Θ ← N_in·Σ + w_std²·Θ + [bias present],
//!   with N_in = d for the first Dense and the previous Dense's width after that.
//!
//! `b_std: None` means no bias parameter at all; `Some(0.0)` is a bias with zero variance, which in
//! the standard parameterization still adds its gradient (the `+1`) to the NTK.

use crate::{Activation, Error, Result};
use serde::{Deserialize, Serialize};

/// How weights are scaled (Jacot et al. 2018 "NTK" vs the usual "standard" initialisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Parameterization {
    /// z = w_std/√fan_in · W x + b_std · b, with W, b ~ N(0, 1).
    #[default]
    Ntk,
    /// z = W x + b, with W ~ N(0, w_std²/fan_in), b ~ N(0, b_std²).
    Standard,
}

/// One layer of a fully-connected network.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// An affine layer with `width` outputs.
    Dense {
        width: usize,
        w_std: f64,
        b_std: Option<f64>,
    },
    /// A pointwise nonlinearity.
    Activation(Activation),
}

/// A validated architecture: at least one `Dense`, ending with a `Dense` readout, positive widths,
/// finite non-negative standard deviations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    layers: Vec<Layer>,
    parameterization: Parameterization,
}

/// Checks that an activation's parameters (leaky ReLU's α, ABReLU's a and b) are finite.
pub(crate) fn check_activation(act: Activation) -> Result<()> {
    let params = match act {
        Activation::LeakyRelu { alpha } => vec![alpha],
        Activation::AbRelu { a, b } => vec![a, b],
        _ => vec![],
    };
    match params.iter().find(|p| !p.is_finite()) {
        Some(p) => Err(Error::InvalidParameter {
            arg: "activation",
            value: p.to_string(),
            reason: "activation parameters must be finite",
        }),
        None => Ok(()),
    }
}

impl Architecture {
    /// Checks and builds an architecture.
    pub fn new(layers: Vec<Layer>, parameterization: Parameterization) -> Result<Self> {
        if layers.is_empty() {
            return Err(Error::Empty { arg: "layers" });
        }
        for layer in &layers {
            match *layer {
                Layer::Dense {
                    width,
                    w_std,
                    b_std,
                } => {
                    if width == 0 {
                        return Err(Error::InvalidParameter {
                            arg: "width",
                            value: "0".into(),
                            reason: "a Dense layer needs at least one output",
                        });
                    }
                    if !(w_std.is_finite() && w_std >= 0.0) {
                        return Err(Error::InvalidParameter {
                            arg: "w_std",
                            value: w_std.to_string(),
                            reason: "must be finite and >= 0",
                        });
                    }
                    if let Some(b) = b_std
                        && !(b.is_finite() && b >= 0.0)
                    {
                        return Err(Error::InvalidParameter {
                            arg: "b_std",
                            value: b.to_string(),
                            reason: "must be finite and >= 0",
                        });
                    }
                }
                Layer::Activation(act) => check_activation(act)?,
            }
        }
        if !matches!(layers.last(), Some(Layer::Dense { .. })) {
            return Err(Error::InvalidParameter {
                arg: "layers",
                value: format!("{:?}", layers.last()),
                reason: "the last layer must be the Dense readout",
            });
        }
        Ok(Self {
            layers,
            parameterization,
        })
    }

    /// The standard deep MLP: `n_hidden` × [Dense(width, w_std, b_std), σ] then Dense(1, w_std, b_std).
    pub fn mlp(
        n_hidden: usize,
        width: usize,
        activation: Activation,
        w_std: f64,
        b_std: Option<f64>,
        parameterization: Parameterization,
    ) -> Result<Self> {
        let mut layers = Vec::with_capacity(2 * n_hidden + 1);
        for _ in 0..n_hidden {
            layers.push(Layer::Dense {
                width,
                w_std,
                b_std,
            });
            layers.push(Layer::Activation(activation));
        }
        layers.push(Layer::Dense {
            width: 1,
            w_std,
            b_std,
        });
        Self::new(layers, parameterization)
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The parameterization.
    pub fn parameterization(&self) -> Parameterization {
        self.parameterization
    }
}

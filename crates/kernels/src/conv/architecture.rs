//! Architectures of convolutional networks, in neural-tangents' `stax.serial` vocabulary.
//!
//! One description feeds both the infinite-width kernels of this crate (CNN-GP, Novak et al. 2019,
//! arXiv:1810.05148; CNTK, Arora et al. 2019, arXiv:1904.11955) and the finite convolutional
//! networks of `ntk-nets`, so that an empirical kernel and its limit always describe the same net.
//!
//! Inputs are images in NHWC layout (n × H × W × C). Layers:
//! - `Conv { channels, filter, strides, padding, w_std, b_std }`: `stax.Conv`, fan-in
//!   C_in · filter_h · filter_w;
//! - `AvgPool { window, strides, padding }`: `stax.AvgPool` (padded zeros counted, as
//!   neural-tangents' default `count_include_pad=True`);
//! - `GlobalAvgPool`, `Flatten`: spatial readouts (`stax.GlobalAvgPool`, `stax.Flatten`);
//! - `Dense { width, w_std, b_std }`: only after a spatial readout (the last one is the readout);
//! - `Activation(σ)`: pointwise, anywhere.
//!
//! Output sizes follow JAX/`lax.conv_general_dilated`: VALID ⌊(H − f)/s⌋ + 1, SAME and CIRCULAR
//! ⌈H/s⌉; SAME pads (out − 1)·s + f − H zeros, ⌊·/2⌋ before and the rest after, CIRCULAR wraps
//! the same amounts around.

use crate::{Activation, Error, Parameterization, Result};
use serde::{Deserialize, Serialize};

/// Spatial padding of a convolution or pooling window (`stax.Padding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// Zero padding so that the output has ⌈H/s⌉ positions.
    Same,
    /// No padding: ⌊(H − f)/s⌋ + 1 positions.
    Valid,
    /// Periodic (wrap-around) padding of the SAME amounts.
    Circular,
}

impl Padding {
    /// Output length and padding before the first position along one axis of length `n`, for a
    /// window of `f` taps and stride `s`; `None` if a VALID window does not fit.
    pub fn output_and_pad(self, n: usize, f: usize, s: usize) -> Option<(usize, usize)> {
        match self {
            Padding::Valid => (f <= n).then(|| ((n - f) / s + 1, 0)),
            Padding::Same | Padding::Circular => {
                let out = n.div_ceil(s);
                let total = ((out - 1) * s + f).saturating_sub(n);
                Some((out, total / 2))
            }
        }
    }
}

/// One layer of a convolutional network.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvLayer {
    /// A 2-D convolution with `channels` output channels.
    Conv {
        channels: usize,
        filter: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
        w_std: f64,
        b_std: Option<f64>,
    },
    /// Average pooling over `window` with `strides`.
    AvgPool {
        window: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    },
    /// Mean over all spatial positions (H × W × C → C).
    GlobalAvgPool,
    /// Row-major flattening (H × W × C → H·W·C).
    Flatten,
    /// An affine layer on a flat vector (only after `Flatten` or `GlobalAvgPool`).
    Dense {
        width: usize,
        w_std: f64,
        b_std: Option<f64>,
    },
    /// A pointwise nonlinearity.
    Activation(Activation),
}

/// The shape of the activations between two layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An H × W × C image.
    Image { h: usize, w: usize, c: usize },
    /// A flat vector of `d` features.
    Flat { d: usize },
}

/// A validated convolutional architecture: spatial layers, then one spatial readout (`Flatten` or
/// `GlobalAvgPool`), then `Dense`/activation layers ending with the `Dense` readout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvArchitecture {
    layers: Vec<ConvLayer>,
    parameterization: Parameterization,
}

fn check_std(arg: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            arg,
            value: v.to_string(),
            reason: "must be finite and >= 0",
        })
    }
}

fn check_pair(arg: &'static str, (a, b): (usize, usize), reason: &'static str) -> Result<()> {
    if a == 0 || b == 0 {
        Err(Error::InvalidParameter {
            arg,
            value: format!("({a}, {b})"),
            reason,
        })
    } else {
        Ok(())
    }
}

impl ConvArchitecture {
    /// Checks the layer list (independently of the image size; see [`Self::shapes`]).
    pub fn new(layers: Vec<ConvLayer>, parameterization: Parameterization) -> Result<Self> {
        if layers.is_empty() {
            return Err(Error::Empty { arg: "layers" });
        }
        let mut flat = false;
        for layer in &layers {
            match *layer {
                ConvLayer::Conv {
                    channels,
                    filter,
                    strides,
                    w_std,
                    b_std,
                    ..
                } => {
                    if flat {
                        return Err(Error::InvalidParameter {
                            arg: "layers",
                            value: "conv".into(),
                            reason: "a Conv layer cannot follow Flatten/GlobalAvgPool",
                        });
                    }
                    if channels == 0 {
                        return Err(Error::InvalidParameter {
                            arg: "channels",
                            value: "0".into(),
                            reason: "a Conv layer needs at least one output channel",
                        });
                    }
                    check_pair("filter", filter, "filter sizes must be >= 1")?;
                    check_pair("strides", strides, "strides must be >= 1")?;
                    check_std("w_std", w_std)?;
                    if let Some(b) = b_std {
                        check_std("b_std", b)?;
                    }
                }
                ConvLayer::AvgPool {
                    window, strides, ..
                } => {
                    if flat {
                        return Err(Error::InvalidParameter {
                            arg: "layers",
                            value: "avg_pool".into(),
                            reason: "an AvgPool layer cannot follow Flatten/GlobalAvgPool",
                        });
                    }
                    check_pair("window", window, "pool window sizes must be >= 1")?;
                    check_pair("strides", strides, "strides must be >= 1")?;
                }
                ConvLayer::GlobalAvgPool | ConvLayer::Flatten => {
                    if flat {
                        return Err(Error::InvalidParameter {
                            arg: "layers",
                            value: format!("{layer:?}"),
                            reason: "only one spatial readout (Flatten or GlobalAvgPool) is allowed",
                        });
                    }
                    flat = true;
                }
                ConvLayer::Dense {
                    width,
                    w_std,
                    b_std,
                } => {
                    if !flat {
                        return Err(Error::InvalidParameter {
                            arg: "layers",
                            value: "dense".into(),
                            reason: "a Dense layer needs a Flatten or GlobalAvgPool before it",
                        });
                    }
                    if width == 0 {
                        return Err(Error::InvalidParameter {
                            arg: "width",
                            value: "0".into(),
                            reason: "a Dense layer needs at least one output",
                        });
                    }
                    check_std("w_std", w_std)?;
                    if let Some(b) = b_std {
                        check_std("b_std", b)?;
                    }
                }
                ConvLayer::Activation(act) => crate::architecture::check_activation(act)?,
            }
        }
        if !matches!(layers.last(), Some(ConvLayer::Dense { .. })) {
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

    /// `depth` × [Conv(channels, filter, stride 1, padding), σ], then `readout` (`Flatten` or
    /// `GlobalAvgPool`), then Dense(1): the architectures of Arora et al. 2019 §4 and of the
    /// benchmarks.
    #[allow(clippy::too_many_arguments)]
    pub fn cnn(
        depth: usize,
        channels: usize,
        filter: (usize, usize),
        padding: Padding,
        activation: Activation,
        readout: ConvLayer,
        w_std: f64,
        b_std: Option<f64>,
        parameterization: Parameterization,
    ) -> Result<Self> {
        if !matches!(readout, ConvLayer::Flatten | ConvLayer::GlobalAvgPool) {
            return Err(Error::InvalidParameter {
                arg: "readout",
                value: format!("{readout:?}"),
                reason: "must be Flatten or GlobalAvgPool",
            });
        }
        let mut layers = Vec::with_capacity(2 * depth + 2);
        for _ in 0..depth {
            layers.push(ConvLayer::Conv {
                channels,
                filter,
                strides: (1, 1),
                padding,
                w_std,
                b_std,
            });
            layers.push(ConvLayer::Activation(activation));
        }
        layers.push(readout);
        layers.push(ConvLayer::Dense {
            width: 1,
            w_std,
            b_std,
        });
        Self::new(layers, parameterization)
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[ConvLayer] {
        &self.layers
    }

    /// The parameterization.
    pub fn parameterization(&self) -> Parameterization {
        self.parameterization
    }

    /// True if a `GlobalAvgPool` or an `AvgPool` is present: the kernel then needs the covariance
    /// of every pair of spatial positions, not only same-position covariances.
    pub fn needs_cross_positions(&self) -> bool {
        self.layers
            .iter()
            .any(|l| matches!(l, ConvLayer::GlobalAvgPool | ConvLayer::AvgPool { .. }))
    }

    /// The activation shape after every layer for an input image of `h × w × c`
    /// (`shapes[i]` is the output of `layers[i]`). Errors name the offending field: a VALID
    /// window larger than its input, an empty image.
    pub fn shapes(&self, (h, w, c): (usize, usize, usize)) -> Result<Vec<Shape>> {
        if h == 0 || w == 0 || c == 0 {
            return Err(Error::InvalidParameter {
                arg: "image_shape",
                value: format!("({h}, {w}, {c})"),
                reason: "images need H, W, C >= 1",
            });
        }
        let mut shape = Shape::Image { h, w, c };
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            shape = match (*layer, shape) {
                (
                    ConvLayer::Conv {
                        channels,
                        filter,
                        strides,
                        padding,
                        ..
                    },
                    Shape::Image { h, w, .. },
                ) => {
                    let (oh, ow) = spatial("filter", (h, w), filter, strides, padding)?;
                    Shape::Image {
                        h: oh,
                        w: ow,
                        c: channels,
                    }
                }
                (
                    ConvLayer::AvgPool {
                        window,
                        strides,
                        padding,
                    },
                    Shape::Image { h, w, c },
                ) => {
                    let (oh, ow) = spatial("window", (h, w), window, strides, padding)?;
                    Shape::Image { h: oh, w: ow, c }
                }
                (ConvLayer::GlobalAvgPool, Shape::Image { c, .. }) => Shape::Flat { d: c },
                (ConvLayer::Flatten, Shape::Image { h, w, c }) => Shape::Flat { d: h * w * c },
                (ConvLayer::Dense { width, .. }, Shape::Flat { .. }) => Shape::Flat { d: width },
                (ConvLayer::Activation(_), s) => s,
                (l, s) => {
                    return Err(Error::Unsupported(format!(
                        "layer {l:?} on input of shape {s:?}"
                    )));
                }
            };
            out.push(shape);
        }
        Ok(out)
    }
}

fn spatial(
    arg: &'static str,
    (h, w): (usize, usize),
    (fh, fw): (usize, usize),
    (sh, sw): (usize, usize),
    padding: Padding,
) -> Result<(usize, usize)> {
    let too_big = || Error::InvalidParameter {
        arg,
        value: format!("({fh}, {fw})"),
        reason: "a VALID window must not be larger than its input image",
    };
    let (oh, _) = padding.output_and_pad(h, fh, sh).ok_or_else(too_big)?;
    let (ow, _) = padding.output_and_pad(w, fw, sw).ok_or_else(too_big)?;
    Ok((oh, ow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_lax() {
        // lax.conv_general_dilated: SAME out = ceil(n/s), pad_lo = floor(total/2).
        assert_eq!(Padding::Same.output_and_pad(28, 3, 1), Some((28, 1)));
        assert_eq!(Padding::Same.output_and_pad(28, 4, 1), Some((28, 1)));
        assert_eq!(Padding::Same.output_and_pad(7, 3, 2), Some((4, 1)));
        assert_eq!(Padding::Same.output_and_pad(8, 3, 2), Some((4, 0)));
        assert_eq!(Padding::Valid.output_and_pad(6, 3, 1), Some((4, 0)));
        assert_eq!(Padding::Valid.output_and_pad(7, 3, 2), Some((3, 0)));
        assert_eq!(Padding::Valid.output_and_pad(2, 3, 1), None);
    }

    #[test]
    fn shapes_and_errors() {
        let arch = ConvArchitecture::cnn(
            2,
            8,
            (3, 3),
            Padding::Valid,
            Activation::Relu,
            ConvLayer::Flatten,
            1.0,
            Some(0.1),
            Parameterization::Ntk,
        )
        .unwrap();
        let s = arch.shapes((6, 6, 2)).unwrap();
        assert_eq!(s[0], Shape::Image { h: 4, w: 4, c: 8 });
        assert_eq!(s[4], Shape::Flat { d: 2 * 2 * 8 });
        assert!(arch.shapes((4, 4, 1)).is_err());
        assert!(!arch.needs_cross_positions());
    }
}

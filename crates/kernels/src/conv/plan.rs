//! A [`ConvArchitecture`] compiled for one image shape: per-axis tap tables of every Conv and
//! AvgPool, the constants of every affine step, and the choice between the diagonal form
//! (same-position covariances only) and the full form (every pair of positions).
//!
//! Tap `k` of output position `o` along an axis of length `n` reads input position
//! `s·o + k − pad` (`pad` from [`Padding::output_and_pad`]): outside `[0, n)` it is a padded
//! zero (SAME) or wraps around modulo `n` (CIRCULAR); VALID windows always fit.

use super::architecture::{ConvArchitecture, ConvLayer, Padding, Shape};
use crate::{Activation, Error, Parameterization, Result};

/// Marks a tap that reads a padded zero.
pub(crate) const PADDED: usize = usize::MAX;

/// A maximal run of output positions `out0..out0 + len` whose tap reads input positions
/// `in0, in0 + stride, …` (consecutive outputs, inputs `stride` apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub out0: usize,
    pub in0: usize,
    pub len: usize,
}

/// The taps of one window (conv filter or pooling window) along one spatial axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AxisTaps {
    pub n_in: usize,
    pub n_out: usize,
    pub taps: usize,
    pub stride: usize,
    /// `index[o * taps + k]`: the input position read by tap `k` of output `o`, or [`PADDED`].
    pub index: Vec<usize>,
    /// Per tap, the runs of outputs reading inputs `stride` apart (padded outputs left out).
    pub segments: Vec<Vec<Segment>>,
}

impl AxisTaps {
    /// Tap tables for an axis of `n_in` positions, a window of `taps` and stride `stride`.
    /// `None` if a VALID window does not fit.
    pub(crate) fn new(n_in: usize, taps: usize, stride: usize, padding: Padding) -> Option<Self> {
        let (n_out, pad) = padding.output_and_pad(n_in, taps, stride)?;
        let mut index = vec![PADDED; n_out * taps];
        for o in 0..n_out {
            for k in 0..taps {
                let raw = (stride * o + k) as isize - pad as isize;
                index[o * taps + k] = match padding {
                    Padding::Circular => raw.rem_euclid(n_in as isize) as usize,
                    Padding::Same | Padding::Valid => {
                        if raw >= 0 && (raw as usize) < n_in {
                            raw as usize
                        } else {
                            PADDED
                        }
                    }
                };
            }
        }
        let segments = (0..taps)
            .map(|k| {
                let mut runs: Vec<Segment> = Vec::new();
                for o in 0..n_out {
                    let i = index[o * taps + k];
                    if i == PADDED {
                        continue;
                    }
                    match runs.last_mut() {
                        Some(run) if run.out0 + run.len == o && run.in0 + run.len * stride == i => {
                            run.len += 1;
                        }
                        _ => runs.push(Segment {
                            out0: o,
                            in0: i,
                            len: 1,
                        }),
                    }
                }
                runs
            })
            .collect();
        Some(AxisTaps {
            n_in,
            n_out,
            taps,
            stride,
            index,
            segments,
        })
    }

    /// The input position of tap `k` of output `o` ([`PADDED`] for a zero).
    #[inline(always)]
    pub(crate) fn at(&self, o: usize, k: usize) -> usize {
        self.index[o * self.taps + k]
    }
}

/// Constants of one affine step (Conv or Dense) of the NNGP/NTK recursion.
///
/// NTK parameterization: Σ ← w²·A(Σ) + b², Θ ← Σ_new + w²·A(Θ); standard: Θ ← N_in·A(Σ) +
/// w²·A(Θ) + [bias], Σ ← w²·A(Σ) + b², with A the tap mean (Conv) or the identity (Dense).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Affine {
    pub w2: f64,
    pub b2: f64,
    /// N_in: fan-in (C_in · filter area for a Conv), standard parameterization only.
    pub fan_in: f64,
    /// 1 if a bias parameter exists (standard parameterization only).
    pub bias_grad: f64,
    pub standard: bool,
}

impl Affine {
    fn new(w_std: f64, b_std: Option<f64>, fan_in: usize, param: Parameterization) -> Self {
        Affine {
            w2: w_std * w_std,
            b2: b_std.map_or(0.0, |b| b * b),
            fan_in: fan_in as f64,
            bias_grad: if b_std.is_some() { 1.0 } else { 0.0 },
            standard: param == Parameterization::Standard,
        }
    }

    /// (Σ, Θ) after the step, from the (tap-averaged) Σ and Θ before it.
    #[inline(always)]
    pub(crate) fn apply(&self, sigma: f64, theta: f64) -> (f64, f64) {
        if self.standard {
            (
                self.w2 * sigma + self.b2,
                self.fan_in * sigma + self.w2 * theta + self.bias_grad,
            )
        } else {
            let s = self.w2 * sigma + self.b2;
            (s, s + self.w2 * theta)
        }
    }
}

/// One layer before the spatial readout, with its input and output image sizes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SpatialOp {
    /// A convolution: tap mean along both axes (the same tap on both positions), then affine.
    Conv {
        h: AxisTaps,
        w: AxisTaps,
        affine: Affine,
    },
    /// Average pooling: window mean along all four axes (each position its own tap).
    Pool { h: AxisTaps, w: AxisTaps },
    /// A nonlinearity; `index` numbers the spatial activations.
    Act { act: Activation, index: usize },
    /// Full plans only: keep the same-position covariances from here on (no pooling follows).
    ToDiagonal,
}

/// A spatial op with the image size (H, W) of its input and output.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stage {
    pub op: SpatialOp,
    pub input: (usize, usize),
    pub output: (usize, usize),
}

/// The spatial readout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readout {
    /// Mean over positions of the same-position covariances.
    Flatten,
    /// Mean over all pairs of positions.
    GlobalAvgPool,
}

/// A layer after the readout (on scalars, as in the dense recursion).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TailStep {
    Dense(Affine),
    /// `index` numbers the activations after the readout.
    Act {
        act: Activation,
        index: usize,
    },
}

/// Which covariances the recursion carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Form {
    /// Chosen from the architecture: [`Form::Full`] when an `AvgPool` or `GlobalAvgPool` needs
    /// covariances between different positions, else [`Form::Diagonal`].
    #[default]
    Auto,
    /// Same-position covariances Σ(x, x′)(p, p) only (valid without pooling layers).
    Diagonal,
    /// Every pair of positions, Σ(x, x′)(p, p′) (valid for every architecture).
    Full,
}

/// A compiled architecture.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// (H, W, C) of the input images.
    pub image: (usize, usize, usize),
    pub stages: Vec<Stage>,
    pub readout: Readout,
    pub tail: Vec<TailStep>,
    /// True: the full form (until a [`SpatialOp::ToDiagonal`], if any).
    pub full: bool,
    /// Number of positions at each spatial activation.
    pub act_positions: Vec<usize>,
    pub n_tail_acts: usize,
}

impl Plan {
    /// Compiles `arch` for images of `image = (H, W, C)` in the requested `form`.
    pub(crate) fn new(
        arch: &ConvArchitecture,
        image: (usize, usize, usize),
        form: Form,
    ) -> Result<Self> {
        let shapes = arch.shapes(image)?;
        let param = arch.parameterization();
        let needs_full = arch.needs_cross_positions();
        let full = match form {
            Form::Auto => needs_full,
            Form::Full => true,
            Form::Diagonal => {
                if needs_full {
                    return Err(Error::Unsupported(
                        "the diagonal form cannot evaluate AvgPool or GlobalAvgPool layers".into(),
                    ));
                }
                false
            }
        };
        let mut stages = Vec::new();
        let mut tail = Vec::new();
        let mut readout = None;
        let mut act_positions = Vec::new();
        let mut n_tail_acts = 0;
        let mut shape = Shape::Image {
            h: image.0,
            w: image.1,
            c: image.2,
        };
        // After the last AvgPool of a Flatten network only same-position covariances matter.
        let last_pool = arch
            .layers()
            .iter()
            .rposition(|l| matches!(l, ConvLayer::AvgPool { .. }));
        let is_flatten = arch
            .layers()
            .iter()
            .any(|l| matches!(l, ConvLayer::Flatten));
        let mut switched = false;
        for (layer_idx, layer) in arch.layers().iter().enumerate() {
            let out_shape = shapes[layer_idx];
            let image_out = match out_shape {
                Shape::Image { h, w, .. } => Some((h, w)),
                Shape::Flat { .. } => None,
            };
            match (*layer, shape) {
                (
                    ConvLayer::Conv {
                        filter,
                        strides,
                        padding,
                        w_std,
                        b_std,
                        ..
                    },
                    Shape::Image { h, w, c },
                ) => {
                    let taps = |n, f, s| {
                        AxisTaps::new(n, f, s, padding).ok_or(Error::InvalidParameter {
                            arg: "filter",
                            value: format!("{filter:?}"),
                            reason: "a VALID window must not be larger than its input image",
                        })
                    };
                    stages.push(Stage {
                        op: SpatialOp::Conv {
                            h: taps(h, filter.0, strides.0)?,
                            w: taps(w, filter.1, strides.1)?,
                            affine: Affine::new(w_std, b_std, c * filter.0 * filter.1, param),
                        },
                        input: (h, w),
                        output: image_out.unwrap_or((h, w)),
                    });
                }
                (
                    ConvLayer::AvgPool {
                        window,
                        strides,
                        padding,
                    },
                    Shape::Image { h, w, .. },
                ) => {
                    let taps = |n, f, s| {
                        AxisTaps::new(n, f, s, padding).ok_or(Error::InvalidParameter {
                            arg: "window",
                            value: format!("{window:?}"),
                            reason: "a VALID window must not be larger than its input image",
                        })
                    };
                    stages.push(Stage {
                        op: SpatialOp::Pool {
                            h: taps(h, window.0, strides.0)?,
                            w: taps(w, window.1, strides.1)?,
                        },
                        input: (h, w),
                        output: image_out.unwrap_or((h, w)),
                    });
                    if full && is_flatten && Some(layer_idx) == last_pool && !switched {
                        let out = image_out.unwrap_or((h, w));
                        stages.push(Stage {
                            op: SpatialOp::ToDiagonal,
                            input: out,
                            output: out,
                        });
                        switched = true;
                    }
                }
                (ConvLayer::Activation(act), Shape::Image { h, w, .. }) => {
                    stages.push(Stage {
                        op: SpatialOp::Act {
                            act,
                            index: act_positions.len(),
                        },
                        input: (h, w),
                        output: (h, w),
                    });
                    act_positions.push(h * w);
                }
                (ConvLayer::Flatten, Shape::Image { h, w, .. }) => {
                    if full && !switched {
                        stages.push(Stage {
                            op: SpatialOp::ToDiagonal,
                            input: (h, w),
                            output: (h, w),
                        });
                        switched = true;
                    }
                    readout = Some(Readout::Flatten);
                }
                (ConvLayer::GlobalAvgPool, Shape::Image { .. }) => {
                    readout = Some(Readout::GlobalAvgPool);
                }
                (
                    ConvLayer::Dense {
                        w_std,
                        b_std,
                        width: _,
                    },
                    Shape::Flat { d },
                ) => tail.push(TailStep::Dense(Affine::new(w_std, b_std, d, param))),
                (ConvLayer::Activation(act), Shape::Flat { .. }) => {
                    tail.push(TailStep::Act {
                        act,
                        index: n_tail_acts,
                    });
                    n_tail_acts += 1;
                }
                (l, s) => {
                    return Err(Error::Unsupported(format!(
                        "layer {l:?} on input of shape {s:?}"
                    )));
                }
            }
            shape = out_shape;
        }
        let readout = readout.ok_or_else(|| {
            Error::Unsupported("a Flatten or GlobalAvgPool readout is required".into())
        })?;
        Ok(Plan {
            image,
            stages,
            readout,
            tail,
            full,
            act_positions,
            n_tail_acts,
        })
    }

    /// Largest H²W² over the full-form stages (the per-pair buffer size of the full form).
    pub(crate) fn max_full_len(&self) -> usize {
        let (h, w, _) = self.image;
        let mut best = h * h * w * w;
        let mut diagonal = !self.full;
        for stage in &self.stages {
            if matches!(stage.op, SpatialOp::ToDiagonal) {
                diagonal = true;
            }
            if !diagonal {
                let (oh, ow) = stage.output;
                best = best.max(oh * oh * ow * ow);
            }
        }
        best
    }

    /// Largest H·W over all stages (the per-pair buffer size of the diagonal form).
    pub(crate) fn max_positions(&self) -> usize {
        let (h, w, _) = self.image;
        self.stages
            .iter()
            .map(|s| (s.input.0 * s.input.1).max(s.output.0 * s.output.1))
            .fold(h * w, usize::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tap tables against lax's padding rule (see `Padding::output_and_pad`).
    #[test]
    fn taps_follow_padding() {
        // SAME, 5 positions, filter 3, stride 1: pad 1; tap 0 of output 0 is a zero.
        let t = AxisTaps::new(5, 3, 1, Padding::Same).unwrap();
        assert_eq!(
            (t.n_out, t.at(0, 0), t.at(0, 1), t.at(4, 2)),
            (5, PADDED, 0, PADDED)
        );
        assert_eq!(
            t.segments[0],
            vec![Segment {
                out0: 1,
                in0: 0,
                len: 4
            }]
        );
        // CIRCULAR wraps the same amounts.
        let t = AxisTaps::new(5, 3, 1, Padding::Circular).unwrap();
        assert_eq!((t.at(0, 0), t.at(4, 2)), (4, 0));
        assert_eq!(t.segments[0].len(), 2);
        // Even filter, SAME: total pad 1, all of it after (pad_lo = 0).
        let t = AxisTaps::new(4, 2, 1, Padding::Same).unwrap();
        assert_eq!((t.at(0, 0), t.at(3, 1)), (0, PADDED));
        // Stride 2, VALID: 7 positions, filter 3 → outputs read 0..2, 2..4, 4..6.
        let t = AxisTaps::new(7, 3, 2, Padding::Valid).unwrap();
        assert_eq!((t.n_out, t.at(2, 0), t.at(2, 2)), (3, 4, 6));
        assert_eq!(
            t.segments[1],
            vec![Segment {
                out0: 0,
                in0: 1,
                len: 3
            }]
        );
        assert!(AxisTaps::new(2, 3, 1, Padding::Valid).is_none());
    }
}

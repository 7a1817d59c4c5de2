//! Convolutional networks built from an [`ntk_kernels::ConvArchitecture`], with hand-written
//! derivatives, in neural-tangents' `stax` conventions.
//!
//! Activations are NHWC. A convolution with C_out channels, filter f_h × f_w and C_in input
//! channels maps the patch matrix P(a) of its input (one row per output position, see
//! `window.rs`) to
//!
//! $$ z = s_w\,P(a)\,W^\top + s_b\,\mathbf 1 b^\top,\qquad W \in \mathbb R^{C_{out}\times f_h f_w C_{in}}, $$
//!
//! with fan-in n = C_in f_h f_w and, as for the MLP,
//! - `Parameterization::Ntk`: s_w = w_std/√n, s_b = b_std, W, b ~ N(0, 1);
//! - `Parameterization::Standard`: s_w = s_b = 1, W ~ N(0, w_std²/n), b ~ N(0, b_std²).
//!
//! `Dense` is the same map on a flat vector (one position, fan-in d); `AvgPool` averages windows
//! (padded zeros counted), `GlobalAvgPool` averages all positions, `Flatten` is the row-major
//! (h, w, c) flattening (a no-op on NHWC buffers); activations act entrywise. The last `Dense`
//! is the readout, with as many outputs as classes.
//!
//! Convolutions are im2col patch matrices times faer GEMMs; batches are processed in chunks of
//! images (sized by the shapes only) in parallel with rayon, and every reduction over chunks is
//! summed in chunk order, so results do not depend on the number of threads.
//!
//! # Parameter layout
//! θ is the concatenation over the Conv and Dense layers, in order, of W (row-major
//! C_out × (f_h, f_w, C_in), i.e. "OHWI"; for Dense width × d) followed by b (absent when
//! `b_std` is `None`).
//!
//! # Reference
//! Novak et al. 2019, "Bayesian deep convolutional networks with many channels are Gaussian
//! processes", arXiv:1810.05148, Eq. (1)–(2); Arora et al. 2019, "On exact computation with an
//! infinitely wide neural net", arXiv:1904.11955, §4 (CNN in the NTK parameterization); Novak et
//! al. 2020 (neural-tangents), arXiv:1912.02803, `stax.Conv`.

mod backward;
mod buffers;
pub mod convergence;
mod forward;
mod hvp;
mod jacobian;
mod model;
mod window;

use crate::{Error, Result};
use ntk_kernels::{Activation, ConvArchitecture, ConvLayer, Parameterization};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::ops::Range;
use window::Window;

/// A Conv or Dense layer: z = s_w P(a) Wᵀ + s_b 1 bᵀ (P(a) = a for Dense).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Affine {
    /// The filter window (`None` for Dense).
    pub window: Option<Window>,
    /// Input positions per image (1 for Dense).
    pub in_positions: usize,
    /// Output positions per image (1 for Dense).
    pub out_positions: usize,
    /// Input channels per position (d for Dense).
    pub c_in: usize,
    /// Output channels (width for Dense).
    pub c_out: usize,
    pub w_std: f64,
    pub b_std: Option<f64>,
    pub weight_offset: usize,
    pub bias_offset: Option<usize>,
}

impl Affine {
    /// Fan-in n = taps · C_in.
    pub fn fan_in(&self) -> usize {
        self.window.as_ref().map_or(1, |w| w.taps) * self.c_in
    }

    pub fn weight_multiplier(&self, p: Parameterization) -> f64 {
        match p {
            Parameterization::Ntk => self.w_std / (self.fan_in() as f64).sqrt(),
            Parameterization::Standard => 1.0,
        }
    }

    pub fn bias_multiplier(&self, p: Parameterization) -> f64 {
        match (self.b_std, p) {
            (None, _) => 0.0,
            (Some(b), Parameterization::Ntk) => b,
            (Some(_), Parameterization::Standard) => 1.0,
        }
    }

    pub fn weight_range(&self) -> Range<usize> {
        self.weight_offset..self.weight_offset + self.c_out * self.fan_in()
    }
}

/// One compiled layer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Affine(Affine),
    AvgPool { window: Window, channels: usize },
    GlobalAvgPool { positions: usize, channels: usize },
    Activation(Activation),
}

impl Op {
    /// Values per image of the output.
    pub fn out_size(&self) -> usize {
        match self {
            Op::Affine(a) => a.out_positions * a.c_out,
            Op::AvgPool { window, channels } => window.out_positions * channels,
            Op::GlobalAvgPool { channels, .. } => *channels,
            Op::Activation(_) => unreachable!("activations keep their input size"),
        }
    }
}

/// A convolutional network on `h × w × c` images (rows of the input matrices are NHWC-flattened
/// images), with a `k`-output readout.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvNet {
    architecture: ConvArchitecture,
    image_shape: (usize, usize, usize),
    ops: Vec<Op>,
    /// Values per image entering each op (`sizes[ops.len()]` = output dimension).
    sizes: Vec<usize>,
    n_params: usize,
}

impl ConvNet {
    /// Builds the network of `architecture` on images of shape `(h, w, c)`.
    ///
    /// # Errors
    /// The shape errors of [`ConvArchitecture::shapes`] (a VALID window larger than its input,
    /// an empty image).
    pub fn new(
        architecture: &ConvArchitecture,
        image_shape: (usize, usize, usize),
    ) -> Result<Self> {
        use ntk_kernels::conv::Shape;
        let shapes = architecture.shapes(image_shape)?;
        let (h0, w0, c0) = image_shape;
        let mut current = Shape::Image {
            h: h0,
            w: w0,
            c: c0,
        };
        let mut ops = Vec::new();
        let mut sizes = vec![h0 * w0 * c0];
        let mut offset = 0;
        let mut push_affine = |window: Option<Window>,
                               in_positions: usize,
                               c_in: usize,
                               c_out: usize,
                               w_std: f64,
                               b_std: Option<f64>,
                               ops: &mut Vec<Op>| {
            let out_positions = window.as_ref().map_or(1, |w| w.out_positions);
            let taps = window.as_ref().map_or(1, |w| w.taps);
            let weight_offset = offset;
            offset += c_out * taps * c_in;
            let bias_offset = b_std.map(|_| {
                let o = offset;
                offset += c_out;
                o
            });
            ops.push(Op::Affine(Affine {
                window,
                in_positions,
                out_positions,
                c_in,
                c_out,
                w_std,
                b_std,
                weight_offset,
                bias_offset,
            }));
        };
        let geometry_error = || Error::InvalidParameter {
            arg: "architecture",
            value: format!("{image_shape:?}"),
            reason: "a window does not fit its input",
        };
        for (layer, &next) in architecture.layers().iter().zip(&shapes) {
            match (*layer, current) {
                (
                    ConvLayer::Conv {
                        channels,
                        filter,
                        strides,
                        padding,
                        w_std,
                        b_std,
                    },
                    Shape::Image { h, w, c },
                ) => {
                    let window =
                        Window::new((h, w), filter, strides, padding).ok_or_else(geometry_error)?;
                    push_affine(Some(window), h * w, c, channels, w_std, b_std, &mut ops);
                }
                (
                    ConvLayer::AvgPool {
                        window,
                        strides,
                        padding,
                    },
                    Shape::Image { h, w, c },
                ) => {
                    let window =
                        Window::new((h, w), window, strides, padding).ok_or_else(geometry_error)?;
                    ops.push(Op::AvgPool {
                        window,
                        channels: c,
                    });
                }
                (ConvLayer::GlobalAvgPool, Shape::Image { h, w, c }) => {
                    ops.push(Op::GlobalAvgPool {
                        positions: h * w,
                        channels: c,
                    });
                }
                (ConvLayer::Flatten, _) => {}
                (
                    ConvLayer::Dense {
                        width,
                        w_std,
                        b_std,
                    },
                    Shape::Flat { d },
                ) => push_affine(None, 1, d, width, w_std, b_std, &mut ops),
                (ConvLayer::Activation(act), _) => ops.push(Op::Activation(act)),
                (l, s) => {
                    return Err(Error::InvalidParameter {
                        arg: "architecture",
                        value: format!("{l:?} on {s:?}"),
                        reason: "layer does not apply to this shape",
                    });
                }
            }
            if !matches!(layer, ConvLayer::Flatten) {
                let last = ops.last().expect("pushed");
                let size = match last {
                    Op::Activation(_) => *sizes.last().expect("non-empty"),
                    op => op.out_size(),
                };
                sizes.push(size);
            }
            current = next;
        }
        Ok(Self {
            architecture: architecture.clone(),
            image_shape,
            ops,
            sizes,
            n_params: offset,
        })
    }

    /// The architecture this network was built from.
    pub fn architecture(&self) -> &ConvArchitecture {
        &self.architecture
    }

    /// The image shape (h, w, c).
    pub fn image_shape(&self) -> (usize, usize, usize) {
        self.image_shape
    }

    /// The parameterization.
    pub fn parameterization(&self) -> Parameterization {
        self.architecture.parameterization()
    }

    /// Number of parameters P.
    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// Input dimension h·w·c.
    pub fn input_dim(&self) -> usize {
        self.sizes[0]
    }

    /// Number of outputs k of the readout.
    pub fn output_dim(&self) -> usize {
        *self.sizes.last().expect("non-empty")
    }

    /// The ranges of θ holding the weights and the biases of every Conv/Dense layer, in order.
    pub fn parameter_ranges(&self) -> Vec<(Range<usize>, Option<Range<usize>>)> {
        self.affines()
            .map(|a| (a.weight_range(), a.bias_offset.map(|o| o..o + a.c_out)))
            .collect()
    }

    pub(crate) fn affines(&self) -> impl Iterator<Item = &Affine> {
        self.ops.iter().filter_map(|op| match op {
            Op::Affine(a) => Some(a),
            _ => None,
        })
    }

    /// Seeded initialisation θ⁰: i.i.d. N(0, 1) in the NTK parameterization; W ~ N(0, w_std²/n),
    /// b ~ N(0, b_std²) in the standard one.
    pub fn init_params<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let p = self.parameterization();
        let mut theta = vec![0.0; self.n_params];
        for a in self.affines() {
            let (w_scale, b_scale) = match p {
                Parameterization::Ntk => (1.0, 1.0),
                Parameterization::Standard => {
                    (a.w_std / (a.fan_in() as f64).sqrt(), a.b_std.unwrap_or(0.0))
                }
            };
            for v in &mut theta[a.weight_range()] {
                let z: f64 = StandardNormal.sample(rng);
                *v = w_scale * z;
            }
            if let Some(off) = a.bias_offset {
                for v in &mut theta[off..off + a.c_out] {
                    let z: f64 = StandardNormal.sample(rng);
                    *v = b_scale * z;
                }
            }
        }
        theta
    }

    /// Images per chunk of a batch of `n`: at most ~8 MB of patch matrix per chunk and at least
    /// four chunks when n allows (depends on the shapes only, never on the thread count).
    pub(crate) fn chunk_size(&self, n: usize) -> usize {
        let per_image = self
            .affines()
            .map(|a| a.out_positions * a.fan_in())
            .chain(self.sizes.iter().copied())
            .max()
            .unwrap_or(1)
            .max(1);
        let by_memory = ((1 << 20) / per_image).max(1);
        by_memory.min(n.div_ceil(4)).max(1)
    }

    pub(crate) fn check_theta(&self, theta: &[f64]) -> Result<()> {
        crate::validate::check_vector("theta", theta, self.n_params)
    }

    pub(crate) fn check_x(&self, arg: &'static str, x: faer::MatRef<'_, f64>) -> Result<()> {
        crate::validate::check_inputs(arg, x, self.input_dim())
    }
}

#[cfg(test)]
mod tests;

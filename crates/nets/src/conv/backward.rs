//! Batched back-propagation through the compiled layers. With a seed r on the outputs, the
//! deltas δ⁽ᵏ⁾ = ∂⟨r, f⟩/∂a⁽ᵏ⁾ satisfy
//!
//! $$ \delta_{in} = P^{*}\!\big(s_w\,\delta_{out} W\big)\ (\text{Conv/Dense}),\qquad
//!    \delta_{in} = A^\top\delta_{out}\ (\text{pooling}),\qquad
//!    \delta_{in} = \sigma'(a)\odot\delta_{out}\ (\sigma), $$
//!
//! where P* is the adjoint of the patch map (col2im), and the vector-Jacobian product Jᵀr has
//! the blocks ∂/∂W = s_w δ_outᵀ P(a) and ∂/∂b = s_b Σ_rows δ_out (GEMMs of the same shapes as the
//! forward pass).
//!
//! # Reference
//! Rumelhart, Hinton & Williams 1986; LeCun et al. 1998, "Gradient-based learning applied to
//! document recognition", Proc. IEEE 86(11), §II (back-propagation through convolutions).

use super::buffers;
use super::forward::{Trace, global_avg_pool_adjoint, weights, with_patches};
use super::{Affine, ConvNet, Op};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// back = s_w δ W (rows × fan_in), then scattered into `delta_in` (overwritten) by P*.
pub(crate) fn affine_adjoint(
    affine: &Affine,
    s_w: f64,
    delta: MatRef<'_, f64>,
    w: MatRef<'_, f64>,
    images: usize,
    delta_in: &mut [f64],
    accum: Accum,
) {
    let rows = delta.nrows();
    match &affine.window {
        None => {
            let dst = MatMut::from_row_major_slice_mut(delta_in, rows, affine.fan_in());
            matmul(dst, accum, delta, w, s_w, Par::Seq);
        }
        Some(window) => {
            let mut back = buffers::take(rows * affine.fan_in());
            let dst = MatMut::from_row_major_slice_mut(&mut back, rows, affine.fan_in());
            matmul(dst, Accum::Replace, delta, w, s_w, Par::Seq);
            if accum == Accum::Replace {
                delta_in.fill(0.0);
            }
            window.col2im(&back, affine.c_in, images, delta_in);
            buffers::give([back]);
        }
    }
}

/// grad_W (op·) s_w δᵀ P and grad_b (op·) s_b Σ δ, into a gradient vector of length P.
pub(crate) fn accumulate_parameter_gradient(
    affine: &Affine,
    s_w: f64,
    s_b: f64,
    delta: MatRef<'_, f64>,
    patches: MatRef<'_, f64>,
    grad: &mut [f64],
    accum: Accum,
) {
    let block = MatMut::from_row_major_slice_mut(
        &mut grad[affine.weight_range()],
        affine.c_out,
        affine.fan_in(),
    );
    matmul(block, accum, delta.transpose(), patches, s_w, Par::Seq);
    if let Some(off) = affine.bias_offset {
        let bias = &mut grad[off..off + affine.c_out];
        if accum == Accum::Replace {
            bias.fill(0.0);
        }
        for i in 0..delta.nrows() {
            for (j, g) in bias.iter_mut().enumerate() {
                *g += s_b * delta[(i, j)];
            }
        }
    }
}

impl ConvNet {
    /// Back-propagates `seed` (images × k, row-major) through one chunk, calling
    /// `sink(affine, δ_out, P(a))` at every Conv/Dense layer (from the readout down).
    pub(crate) fn backward_chunk(
        &self,
        theta: &[f64],
        trace: &Trace,
        seed: Vec<f64>,
        mut sink: impl FnMut(&Affine, MatRef<'_, f64>, MatRef<'_, f64>),
    ) {
        let p = self.parameterization();
        let images = trace.images;
        let mut delta = seed;
        for (k, op) in self.ops.iter().enumerate().rev() {
            let need_input_delta = k > 0;
            let mut delta_in = if need_input_delta {
                buffers::take(images * self.sizes[k])
            } else {
                Vec::new()
            };
            match op {
                Op::Affine(a) => {
                    let rows = images * a.out_positions;
                    let delta_mat = MatRef::from_row_major_slice(&delta, rows, a.c_out);
                    with_patches(a, &trace.acts[k], images, |patches| {
                        sink(a, delta_mat, patches);
                    });
                    if need_input_delta {
                        affine_adjoint(
                            a,
                            a.weight_multiplier(p),
                            delta_mat,
                            weights(a, theta),
                            images,
                            &mut delta_in,
                            Accum::Replace,
                        );
                    }
                }
                Op::AvgPool { window, channels } => {
                    if need_input_delta {
                        window.avg_pool_adjoint(&delta, *channels, images, &mut delta_in);
                    }
                }
                Op::GlobalAvgPool {
                    positions,
                    channels,
                } => {
                    if need_input_delta {
                        global_avg_pool_adjoint(&delta, *positions, *channels, &mut delta_in);
                    }
                }
                Op::Activation(act) => {
                    if need_input_delta {
                        for ((d, &up), &z) in delta_in.iter_mut().zip(&delta).zip(&trace.acts[k]) {
                            *d = act.dphi(z) * up;
                        }
                    }
                }
            }
            buffers::give([std::mem::replace(&mut delta, delta_in)]);
        }
        buffers::give([delta]);
    }

    /// Jᵀr for one chunk, into `grad` (overwritten).
    pub(crate) fn vjp_chunk(&self, theta: &[f64], trace: &Trace, seed: Vec<f64>, grad: &mut [f64]) {
        let p = self.parameterization();
        self.backward_chunk(theta, trace, seed, |a, delta, patches| {
            accumulate_parameter_gradient(
                a,
                a.weight_multiplier(p),
                a.bias_multiplier(p),
                delta,
                patches,
                grad,
                Accum::Replace,
            );
        });
    }
}

//! Batched forward pass a⁽ᵏ⁺¹⁾ = op_k(a⁽ᵏ⁾; θ) (im2col + one faer GEMM per Conv/Dense layer) and
//! its tangent (forward-mode) version in a direction v:
//!
//! $$ \dot z = s_w\big(P(\dot a)W^\top + P(a)V^\top\big) + s_b\mathbf 1 v_b^\top\ (\text{Conv/Dense}),\quad
//!    \dot z = A\dot a\ (\text{pooling}),\quad \dot z = \sigma'(a)\odot\dot a\ (\sigma). $$

use super::buffers;
use super::{Affine, ConvNet, Op};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use std::ops::Range;

/// The values entering every op of one chunk of images (`acts[k]` enters op k; the last entry
/// is the network output, images × k row-major).
pub(crate) struct Trace {
    pub acts: Vec<Vec<f64>>,
    pub images: usize,
}

impl Trace {
    pub fn output(&self) -> &[f64] {
        self.acts.last().expect("non-empty")
    }

    pub fn recycle(self) {
        buffers::give(self.acts);
    }
}

/// Calls `f` with the patch matrix P(input) (row-major images·out_positions × fan_in; the input
/// itself for Dense).
pub(crate) fn with_patches<T>(
    affine: &Affine,
    input: &[f64],
    images: usize,
    f: impl FnOnce(MatRef<'_, f64>) -> T,
) -> T {
    let rows = images * affine.out_positions;
    match &affine.window {
        None => f(MatRef::from_row_major_slice(input, rows, affine.fan_in())),
        Some(window) => {
            let mut patches = buffers::take(rows * affine.fan_in());
            window.im2col(input, affine.c_in, images, &mut patches);
            let res = f(MatRef::from_row_major_slice(
                &patches,
                rows,
                affine.fan_in(),
            ));
            buffers::give([patches]);
            res
        }
    }
}

/// W as a C_out × fan_in view of θ.
pub(crate) fn weights<'a>(affine: &Affine, theta: &'a [f64]) -> MatRef<'a, f64> {
    MatRef::from_row_major_slice(&theta[affine.weight_range()], affine.c_out, affine.fan_in())
}

/// out (op·) s_w P Wᵀ, then + s_b 1 bᵀ when `bias` is given.
pub(crate) fn affine_into(
    affine: &Affine,
    s_w: f64,
    patches: MatRef<'_, f64>,
    w: MatRef<'_, f64>,
    out: &mut [f64],
    accum: Accum,
    bias: Option<(f64, &[f64])>,
) {
    let rows = patches.nrows();
    let dst = MatMut::from_row_major_slice_mut(out, rows, affine.c_out);
    matmul(dst, accum, patches, w.transpose(), s_w, Par::Seq);
    if let Some((s_b, b)) = bias
        && s_b != 0.0
    {
        for row in out.chunks_exact_mut(affine.c_out) {
            for (v, bj) in row.iter_mut().zip(b) {
                *v += s_b * bj;
            }
        }
    }
}

impl ConvNet {
    /// Rows `rows` of `x` as a row-major NHWC buffer.
    pub(crate) fn load_chunk(&self, x: MatRef<'_, f64>, rows: Range<usize>) -> Vec<f64> {
        let d = x.ncols();
        let mut buffer = buffers::take(rows.len() * d);
        for (local, i) in rows.enumerate() {
            for j in 0..d {
                buffer[local * d + j] = x[(i, j)];
            }
        }
        buffer
    }

    /// The chunk boundaries of a batch of n images.
    pub(crate) fn chunks(&self, n: usize) -> Vec<Range<usize>> {
        let size = self.chunk_size(n);
        (0..n.div_ceil(size))
            .map(|k| k * size..((k + 1) * size).min(n))
            .collect()
    }

    /// Forward pass of one chunk (`input`: images × input_dim, row-major NHWC).
    pub(crate) fn forward_chunk(&self, theta: &[f64], input: Vec<f64>, images: usize) -> Trace {
        let p = self.parameterization();
        let mut acts = Vec::with_capacity(self.ops.len() + 1);
        acts.push(input);
        for (k, op) in self.ops.iter().enumerate() {
            let inp = &acts[k];
            let mut out = buffers::take(images * self.sizes[k + 1]);
            match op {
                Op::Affine(a) => with_patches(a, inp, images, |patches| {
                    let bias = a
                        .bias_offset
                        .map(|o| (a.bias_multiplier(p), &theta[o..o + a.c_out]));
                    affine_into(
                        a,
                        a.weight_multiplier(p),
                        patches,
                        weights(a, theta),
                        &mut out,
                        Accum::Replace,
                        bias,
                    );
                }),
                Op::AvgPool { window, channels } => {
                    window.avg_pool(inp, *channels, images, &mut out);
                }
                Op::GlobalAvgPool {
                    positions,
                    channels,
                } => global_avg_pool(inp, *positions, *channels, &mut out),
                Op::Activation(act) => {
                    for (o, &z) in out.iter_mut().zip(inp) {
                        *o = act.phi(z);
                    }
                }
            }
            acts.push(out);
        }
        Trace { acts, images }
    }

    /// Tangent of [`Self::forward_chunk`] in direction v (`tangents[k]` = ȧ⁽ᵏ⁾, `tangents[0]` = 0).
    pub(crate) fn tangent_chunk(&self, theta: &[f64], v: &[f64], trace: &Trace) -> Trace {
        let p = self.parameterization();
        let images = trace.images;
        let mut acts: Vec<Vec<f64>> = Vec::with_capacity(self.ops.len() + 1);
        acts.push(buffers::take_zeroed(images * self.sizes[0]));
        // True while ȧ is identically zero (before the first Conv/Dense layer).
        let mut zero = true;
        for (k, op) in self.ops.iter().enumerate() {
            let mut out = buffers::take(images * self.sizes[k + 1]);
            let inp = &acts[k];
            match op {
                Op::Affine(a) => {
                    let s_w = a.weight_multiplier(p);
                    with_patches(a, &trace.acts[k], images, |patches| {
                        let bias = a
                            .bias_offset
                            .map(|o| (a.bias_multiplier(p), &v[o..o + a.c_out]));
                        affine_into(
                            a,
                            s_w,
                            patches,
                            weights(a, v),
                            &mut out,
                            Accum::Replace,
                            bias,
                        );
                    });
                    if !zero {
                        with_patches(a, inp, images, |patches| {
                            affine_into(
                                a,
                                s_w,
                                patches,
                                weights(a, theta),
                                &mut out,
                                Accum::Add,
                                None,
                            );
                        });
                    }
                    zero = false;
                }
                Op::AvgPool { window, channels } => {
                    window.avg_pool(inp, *channels, images, &mut out);
                }
                Op::GlobalAvgPool {
                    positions,
                    channels,
                } => global_avg_pool(inp, *positions, *channels, &mut out),
                Op::Activation(act) => {
                    for ((o, &t), &z) in out.iter_mut().zip(inp).zip(&trace.acts[k]) {
                        *o = act.dphi(z) * t;
                    }
                }
            }
            acts.push(out);
        }
        Trace { acts, images }
    }
}

/// out_{i,c} = (1/S) Σ_p a_{i,p,c}.
pub(crate) fn global_avg_pool(input: &[f64], positions: usize, channels: usize, out: &mut [f64]) {
    let scale = 1.0 / positions as f64;
    for (image, dst) in out.chunks_exact_mut(channels).enumerate() {
        dst.fill(0.0);
        let block = &input[image * positions * channels..(image + 1) * positions * channels];
        for row in block.chunks_exact(channels) {
            for (d, s) in dst.iter_mut().zip(row) {
                *d += s;
            }
        }
        for d in dst.iter_mut() {
            *d *= scale;
        }
    }
}

/// The adjoint of [`global_avg_pool`] (`input` overwritten).
pub(crate) fn global_avg_pool_adjoint(
    out: &[f64],
    positions: usize,
    channels: usize,
    input: &mut [f64],
) {
    let scale = 1.0 / positions as f64;
    for (image, src) in out.chunks_exact(channels).enumerate() {
        let block = &mut input[image * positions * channels..(image + 1) * positions * channels];
        for row in block.chunks_exact_mut(channels) {
            for (d, s) in row.iter_mut().zip(src) {
                *d = scale * s;
            }
        }
    }
}

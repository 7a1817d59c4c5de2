//! The Jacobian J (rows ∇θ f(xᵢ)) from per-example deltas, and the empirical NTK without
//! materialising J: since ∂f/∂W⁽ˡ⁾(x) = s_w δ⁽ˡ⁾(x) g⁽ˡ⁻¹⁾(x)ᵀ and ∂f/∂b⁽ˡ⁾(x) = s_b δ⁽ˡ⁾(x),
//!
//! $$ \hat\Theta(x, x') = \sum_{l=1}^{L} \big(s_w^2 \langle g^{(l-1)}(x), g^{(l-1)}(x')\rangle + s_b^2\big)\,
//!    \langle \delta^{(l)}(x), \delta^{(l)}(x')\rangle, $$
//!
//! i.e. two GEMMs per layer (G₁G₂ᵀ and Δ₁Δ₂ᵀ) and a Hadamard product (δ⁽ᴸ⁾ = 1 for the
//! readout), evaluated block by block so that the Gram blocks stay in cache. For X1 = X2 only
//! the upper block triangle is computed and mirrored.

use super::Mlp;
use super::forward::ForwardCache;
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;

fn same_matrix(x1: MatRef<'_, f64>, x2: MatRef<'_, f64>) -> bool {
    std::ptr::eq(x1.as_ptr(), x2.as_ptr())
        && x1.nrows() == x2.nrows()
        && x1.ncols() == x2.ncols()
        && x1.row_stride() == x2.row_stride()
        && x1.col_stride() == x2.col_stride()
}

/// dst = alpha · A Bᵀ, only the lower triangle when `symmetric`.
fn gram(
    dst: &mut Mat<f64>,
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    alpha: f64,
    symmetric: bool,
    par: Par,
) {
    let structure = if symmetric {
        BlockStructure::TriangularLower
    } else {
        BlockStructure::Rectangular
    };
    triangular::matmul(
        dst.as_mut(),
        structure,
        Accum::Replace,
        a,
        BlockStructure::Rectangular,
        b.transpose(),
        BlockStructure::Rectangular,
        alpha,
        par,
    );
}

/// Largest side of the square output blocks of the empirical NTK (three 128 KB scratch blocks
/// per worker stay in L2).
const BLOCK: usize = 128;

/// Block side for an n₁ × n₂ output: 128, or 64 when the output is small, so that both cores
/// get several blocks. It depends on the shapes only, never on the thread count.
fn block_side(n1: usize, n2: usize) -> usize {
    if n1.max(n2) >= 768 { BLOCK } else { BLOCK / 2 }
}

/// The per-layer factors of Θ̂ = Σ_l (s_w² G₁G₂ᵀ + s_b²) ⊙ Δ₁Δ₂ᵀ.
struct LayerFactors<'a> {
    inputs: (MatRef<'a, f64>, MatRef<'a, f64>),
    /// `None` for the readout (δ = 1).
    deltas: Option<(MatRef<'a, f64>, MatRef<'a, f64>)>,
    weight_scale: f64,
    bias_term: f64,
}

/// The pieces of the output owned by one block: column j ∈ cols restricted to `rows`, and for
/// an off-diagonal block of a self kernel, the mirror image (column i ∈ rows, rows `cols`).
struct OutputBlock<'a> {
    rows: (usize, usize),
    cols: (usize, usize),
    direct: Vec<&'a mut [f64]>,
    mirror: Vec<&'a mut [f64]>,
}

/// Column-major scratch of one worker (room for BLOCK × BLOCK, packed with leading dimension
/// equal to the block's row count).
struct BlockScratch {
    ntk: Vec<f64>,
    inputs: Vec<f64>,
    deltas: Vec<f64>,
}

/// A packed column-major `n_rows × n_cols` view of a scratch buffer.
fn scratch_view(buf: &mut [f64], n_rows: usize, n_cols: usize) -> faer::MatMut<'_, f64> {
    faer::MatMut::from_column_major_slice_mut(&mut buf[..n_rows * n_cols], n_rows, n_cols)
}

/// One output block: Σ_l (s_w² G₁G₂ᵀ + s_b²) ⊙ Δ₁Δ₂ᵀ on the block, then copied (and mirrored).
fn ntk_block(
    factors: &[LayerFactors<'_>],
    symmetric: bool,
    block: &mut OutputBlock<'_>,
    scratch: &mut BlockScratch,
) {
    let (r0, r1) = block.rows;
    let (c0, c1) = block.cols;
    let (n_rows, n_cols) = (r1 - r0, c1 - c0);
    let BlockScratch {
        ntk,
        inputs,
        deltas,
    } = scratch;
    for (layer_idx, factor) in factors.iter().enumerate() {
        matmul(
            scratch_view(inputs, n_rows, n_cols),
            Accum::Replace,
            factor.inputs.0.subrows(r0, n_rows),
            factor.inputs.1.subrows(c0, n_cols).transpose(),
            factor.weight_scale,
            Par::Seq,
        );
        if let Some((d1, d2)) = factor.deltas {
            matmul(
                scratch_view(deltas, n_rows, n_cols),
                Accum::Replace,
                d1.subrows(r0, n_rows),
                d2.subrows(c0, n_cols).transpose(),
                1.0,
                Par::Seq,
            );
        }
        let bias = factor.bias_term;
        for jj in 0..n_cols {
            let range = jj * n_rows..(jj + 1) * n_rows;
            let out = &mut ntk[range.clone()];
            let gi = &inputs[range.clone()];
            match (factor.deltas.is_some(), layer_idx == 0) {
                (true, true) => {
                    for ((o, &g), &d) in out.iter_mut().zip(gi).zip(&deltas[range]) {
                        *o = (g + bias) * d;
                    }
                }
                (true, false) => {
                    for ((o, &g), &d) in out.iter_mut().zip(gi).zip(&deltas[range]) {
                        *o += (g + bias) * d;
                    }
                }
                (false, true) => {
                    for (o, &g) in out.iter_mut().zip(gi) {
                        *o = g + bias;
                    }
                }
                (false, false) => {
                    for (o, &g) in out.iter_mut().zip(gi) {
                        *o += g + bias;
                    }
                }
            }
        }
    }
    if symmetric && r0 == c0 {
        // Exact symmetry of the diagonal block: its lower triangle from its upper triangle.
        for jj in 0..n_cols {
            for ii in 0..jj {
                ntk[jj + ii * n_rows] = ntk[ii + jj * n_rows];
            }
        }
    }
    for (jj, out) in block.direct.iter_mut().enumerate() {
        out.copy_from_slice(&ntk[jj * n_rows..(jj + 1) * n_rows]);
    }
    for (ii, out) in block.mirror.iter_mut().enumerate() {
        for (jj, o) in out.iter_mut().enumerate() {
            *o = ntk[ii + jj * n_rows];
        }
    }
}

impl Mlp {
    pub(crate) fn jacobian_unchecked(&self, theta: &[f64], x: MatRef<'_, f64>) -> Mat<f64> {
        let n = x.nrows();
        let cache = self.forward_pass(theta, x);
        let deltas = self.backward_pass(theta, &cache, &vec![1.0; n]);
        let mut jac = Mat::<f64>::zeros(n, self.n_params);
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            let s_w = layer.weight_multiplier(self.parameterization);
            let delta = &deltas[layer_idx];
            let input = &cache.post[layer_idx];
            for j in 0..layer.width {
                let dj = delta.col_as_slice(j);
                for k in 0..layer.fan_in {
                    let gk = input.col_as_slice(k);
                    let col = jac.col_as_slice_mut(layer.weight_offset + j * layer.fan_in + k);
                    for i in 0..n {
                        col[i] = s_w * dj[i] * gk[i];
                    }
                }
            }
            if let Some(off) = layer.bias_offset {
                let s_b = layer.bias_multiplier(self.parameterization);
                for j in 0..layer.width {
                    let dj = delta.col_as_slice(j);
                    let col = jac.col_as_slice_mut(off + j);
                    for i in 0..n {
                        col[i] = s_b * dj[i];
                    }
                }
            }
        }
        jac
    }

    fn cache_and_deltas(&self, theta: &[f64], x: MatRef<'_, f64>) -> (ForwardCache, Vec<Mat<f64>>) {
        let cache = self.forward_pass(theta, x);
        let deltas = self.backward_pass(theta, &cache, &vec![1.0; x.nrows()]);
        (cache, deltas)
    }

    /// Θ̂(X1, X2) by blocks: for each 128 × 128 (64 × 64 for small outputs) output block (the upper block triangle only when
    /// X1 = X2), the per-layer Gram blocks G₁G₂ᵀ and Δ₁Δ₂ᵀ are formed by sequential GEMMs into
    /// cache-resident scratch and combined there, so no n × n intermediate is written; blocks
    /// run in parallel (rayon) and the partition does not depend on the thread count.
    pub(crate) fn empirical_ntk_unchecked(
        &self,
        theta: &[f64],
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
    ) -> Mat<f64> {
        let symmetric = same_matrix(x1, x2);
        let (n1, n2) = (x1.nrows(), x2.nrows());
        let (cache1, deltas1) = self.cache_and_deltas(theta, x1);
        let second = if symmetric {
            None
        } else {
            Some(self.cache_and_deltas(theta, x2))
        };
        let (cache2, deltas2) = match &second {
            Some((c, d)) => (c, d),
            None => (&cache1, &deltas1),
        };
        let n_layers = self.layers.len();
        let factors: Vec<LayerFactors<'_>> = self
            .layers
            .iter()
            .enumerate()
            .map(|(layer_idx, layer)| {
                let s_w = layer.weight_multiplier(self.parameterization);
                let s_b = layer.bias_multiplier(self.parameterization);
                LayerFactors {
                    inputs: (
                        cache1.post[layer_idx].as_ref(),
                        cache2.post[layer_idx].as_ref(),
                    ),
                    // δ⁽ᴸ⁾ = 1 for the readout: its delta Gram is all ones.
                    deltas: (layer_idx + 1 < n_layers)
                        .then(|| (deltas1[layer_idx].as_ref(), deltas2[layer_idx].as_ref())),
                    weight_scale: s_w * s_w,
                    bias_term: if layer.bias_offset.is_some() {
                        s_b * s_b
                    } else {
                        0.0
                    },
                }
            })
            .collect();

        let mut ntk = Mat::<f64>::zeros(n1, n2);
        let side = block_side(n1, n2);
        let blocks1 = n1.div_ceil(side);
        let blocks2 = n2.div_ceil(side);
        let mut blocks: Vec<OutputBlock<'_>> = (0..blocks1 * blocks2)
            .filter_map(|idx| {
                let (bi, bj) = (idx / blocks2, idx % blocks2);
                (!symmetric || bi <= bj).then(|| OutputBlock {
                    rows: (bi * side, ((bi + 1) * side).min(n1)),
                    cols: (bj * side, ((bj + 1) * side).min(n2)),
                    direct: Vec::new(),
                    mirror: Vec::new(),
                })
            })
            .collect();
        let block_index = |bi: usize, bj: usize| {
            if symmetric {
                bi * blocks2 - bi * (bi + 1) / 2 + bj
            } else {
                bi * blocks2 + bj
            }
        };
        for (col_idx, col) in ntk.as_mut().col_iter_mut().enumerate() {
            let col = col
                .try_as_col_major_mut()
                .expect("columns of an owned matrix are contiguous")
                .as_slice_mut();
            let col_block = col_idx / side;
            for (row_block, piece) in col.chunks_mut(side).enumerate() {
                if !symmetric || row_block <= col_block {
                    blocks[block_index(row_block, col_block)].direct.push(piece);
                } else {
                    blocks[block_index(col_block, row_block)].mirror.push(piece);
                }
            }
        }
        blocks.par_iter_mut().for_each_init(
            || BlockScratch {
                ntk: vec![0.0; BLOCK * BLOCK],
                inputs: vec![0.0; BLOCK * BLOCK],
                deltas: vec![0.0; BLOCK * BLOCK],
            },
            |scratch, block| ntk_block(&factors, symmetric, block, scratch),
        );
        drop(blocks);
        drop(factors);
        for (cache, deltas) in std::iter::once((cache1, deltas1)).chain(second) {
            cache.recycle();
            super::pool::give(deltas);
        }
        ntk
    }

    pub(crate) fn empirical_nngp_unchecked(
        &self,
        theta: &[f64],
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
    ) -> Mat<f64> {
        let symmetric = same_matrix(x1, x2);
        let readout = self.layers.last().expect("at least one layer");
        let features = |x: MatRef<'_, f64>| {
            let mut cache = self.forward_pass(theta, x);
            cache.post.pop().expect("input of the readout")
        };
        let g1 = features(x1);
        let g2 = if symmetric { None } else { Some(features(x2)) };
        let g2_ref = g2.as_ref().unwrap_or(&g1);
        let mut nngp = Mat::<f64>::zeros(x1.nrows(), x2.nrows());
        let scale = readout.w_std * readout.w_std / readout.fan_in as f64;
        gram(
            &mut nngp,
            g1.as_ref(),
            g2_ref.as_ref(),
            scale,
            false,
            self.par,
        );
        let b2 = readout.b_std.map_or(0.0, |b| b * b);
        for j in 0..nngp.ncols() {
            for v in nngp.col_as_slice_mut(j) {
                *v += b2;
            }
        }
        nngp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_models::gaussian_matrix;
    use crate::{MlpSpec, Model};
    use ntk_kernels::{Activation, Parameterization};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn network(activation: Activation, b_std: Option<f64>) -> (Mlp, Vec<f64>) {
        let spec = MlpSpec {
            input_dim: 5,
            hidden_widths: vec![9, 6],
            activation,
            w_std: 1.3,
            b_std,
            parameterization: Parameterization::Ntk,
        };
        let mlp = Mlp::new(&spec).unwrap();
        let theta = mlp.init_params(&mut ChaCha8Rng::seed_from_u64(3));
        (mlp, theta)
    }

    /// Several output blocks with ragged edges (300 = 2·128 + 44, 170 = 128 + 42) against the
    /// materialised J₁J₂ᵀ: both sum the same P ≈ 130 products per entry in different orders,
    /// rounding ≲ ε·P ≈ 3e-14 of the entry scale, so 1e-12 relative (Frobenius) is safe.
    #[test]
    fn blocked_ntk_equals_jacobian_product() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x1 = gaussian_matrix(&mut rng, 300, 5, 1.0);
        let x2 = gaussian_matrix(&mut rng, 170, 5, 1.0);
        for (activation, b_std) in [(Activation::Relu, Some(0.2)), (Activation::Tanh, None)] {
            let (mlp, theta) = network(activation, b_std);
            for second in [x1.as_ref(), x2.as_ref()] {
                let ntk = mlp.empirical_ntk(&theta, x1.as_ref(), second).unwrap();
                let j1 = mlp.jacobian(&theta, x1.as_ref()).unwrap();
                let j2 = mlp.jacobian(&theta, second).unwrap();
                let reference = &j1 * j2.transpose();
                let err = (&ntk - &reference).norm_l2() / reference.norm_l2();
                assert!(err <= 1e-12, "{activation:?}: {err:e}");
            }
        }
    }

    /// Bit-identical with one and two threads; a self kernel exactly symmetric.
    #[test]
    fn blocked_ntk_is_deterministic_and_symmetric() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let x = gaussian_matrix(&mut rng, 300, 5, 1.0);
        let (mlp, theta) = network(Activation::Relu, Some(0.1));
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| mlp.empirical_ntk(&theta, x.as_ref(), x.as_ref()).unwrap())
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(one, two);
        for j in 0..one.ncols() {
            for i in 0..j {
                assert_eq!(one[(i, j)].to_bits(), one[(j, i)].to_bits());
            }
        }
    }
}

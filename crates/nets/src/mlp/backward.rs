//! Batched back-propagation. With a seed r ∈ Rⁿ on the output, the deltas
//! Δ⁽ˡ⁾ᵢ = rᵢ ∂f(xᵢ)/∂z⁽ˡ⁾ satisfy
//!
//! $$ \Delta^{(L)} = r, \qquad \Delta^{(l-1)} = \big(s_w^{(l)} \Delta^{(l)} W^{(l)}\big) \odot \sigma'(Z^{(l-1)}), $$
//!
//! and the vector-Jacobian product Jᵀr has blocks ∂/∂W⁽ˡ⁾ = s_w Δ⁽ˡ⁾ᵀ G⁽ˡ⁻¹⁾ and
//! ∂/∂b⁽ˡ⁾ = s_b Σᵢ Δ⁽ˡ⁾ᵢ (one GEMM per layer each way).

use super::Mlp;
use super::forward::ForwardCache;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut};

impl Mlp {
    /// Deltas Δ⁽ˡ⁾ (n × n_l) for every layer, seeded with `seed` on the output.
    pub(crate) fn backward_pass(
        &self,
        theta: &[f64],
        cache: &ForwardCache,
        seed: &[f64],
    ) -> Vec<Mat<f64>> {
        let p = self.parameterization;
        let n_layers = self.layers.len();
        let n = seed.len();
        let mut deltas: Vec<Mat<f64>> = Vec::with_capacity(n_layers);
        deltas.push(Mat::from_fn(n, 1, |i, _| seed[i]));
        for layer_idx in (1..n_layers).rev() {
            let layer = &self.layers[layer_idx];
            let below = &self.layers[layer_idx - 1];
            let upper = deltas.last().expect("seeded");
            // Overwritten by the product below.
            let mut delta = super::pool::take(n, layer.fan_in);
            matmul(
                delta.as_mut(),
                Accum::Replace,
                upper.as_ref(),
                layer.weights(theta),
                layer.weight_multiplier(p),
                self.par,
            );
            let z = &cache.pre[layer_idx - 1];
            for j in 0..delta.ncols() {
                let zc = z.col_as_slice(j);
                for (d, &zv) in delta.col_as_slice_mut(j).iter_mut().zip(zc) {
                    *d *= below.dphi(zv);
                }
            }
            deltas.push(delta);
        }
        deltas.reverse();
        deltas
    }

    /// Writes Jᵀr (from deltas seeded with r) into `grad`.
    pub(crate) fn accumulate_gradient(
        &self,
        cache: &ForwardCache,
        deltas: &[Mat<f64>],
        grad: &mut [f64],
    ) {
        self.gradient_from(
            |layer_idx| (deltas[layer_idx].as_ref(), cache.post[layer_idx].as_ref()),
            grad,
            Accum::Replace,
        );
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            if let Some(off) = layer.bias_offset {
                let s_b = layer.bias_multiplier(self.parameterization);
                let delta = &deltas[layer_idx];
                for j in 0..layer.width {
                    grad[off + j] = s_b * delta.col_as_slice(j).iter().sum::<f64>();
                }
            }
        }
    }

    /// Weight blocks s_w Δᵀ G of a gradient-like vector, for (Δ, G) given per layer.
    pub(crate) fn gradient_from<'a>(
        &self,
        factors: impl Fn(usize) -> (faer::MatRef<'a, f64>, faer::MatRef<'a, f64>),
        out: &mut [f64],
        accum: Accum,
    ) {
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            let (delta, input) = factors(layer_idx);
            let len = layer.width * layer.fan_in;
            let block = MatMut::from_row_major_slice_mut(
                &mut out[layer.weight_offset..layer.weight_offset + len],
                layer.width,
                layer.fan_in,
            );
            matmul(
                block,
                accum,
                delta.transpose(),
                input,
                layer.weight_multiplier(self.parameterization),
                self.par,
            );
        }
    }
}

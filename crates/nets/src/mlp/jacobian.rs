//! The Jacobian J (rows ∇θ f(xᵢ)) from per-example deltas, and the empirical NTK without
//! materialising J: since ∂f/∂W⁽ˡ⁾(x) = s_w δ⁽ˡ⁾(x) g⁽ˡ⁻¹⁾(x)ᵀ and ∂f/∂b⁽ˡ⁾(x) = s_b δ⁽ˡ⁾(x),
//!
//! $$ \hat\Theta(x, x') = \sum_{l=1}^{L} \big(s_w^2 \langle g^{(l-1)}(x), g^{(l-1)}(x')\rangle + s_b^2\big)\,
//!    \langle \delta^{(l)}(x), \delta^{(l)}(x')\rangle, $$
//!
//! i.e. two GEMMs per layer (G₁G₂ᵀ and Δ₁Δ₂ᵀ) and a Hadamard product (δ⁽ᴸ⁾ = 1 for the
//! readout). For X1 = X2 only the lower triangles are computed.

use super::Mlp;
use super::forward::ForwardCache;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};

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
        let mut ntk = Mat::<f64>::zeros(n1, n2);
        let mut gram_inputs = Mat::<f64>::zeros(n1, n2);
        let mut gram_deltas = Mat::<f64>::zeros(n1, n2);
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            let s_w = layer.weight_multiplier(self.parameterization);
            let s_b = layer.bias_multiplier(self.parameterization);
            let bias_term = if layer.bias_offset.is_some() {
                s_b * s_b
            } else {
                0.0
            };
            gram(
                &mut gram_inputs,
                cache1.post[layer_idx].as_ref(),
                cache2.post[layer_idx].as_ref(),
                s_w * s_w,
                symmetric,
                self.par,
            );
            let readout = layer_idx + 1 == n_layers;
            if !readout {
                gram(
                    &mut gram_deltas,
                    deltas1[layer_idx].as_ref(),
                    deltas2[layer_idx].as_ref(),
                    1.0,
                    symmetric,
                    self.par,
                );
            }
            for j in 0..n2 {
                let start = if symmetric { j } else { 0 };
                let gi = &gram_inputs.col_as_slice(j)[start..];
                let out = &mut ntk.col_as_slice_mut(j)[start..];
                if readout {
                    for (o, &g) in out.iter_mut().zip(gi) {
                        *o += g + bias_term;
                    }
                } else {
                    let gd = &gram_deltas.col_as_slice(j)[start..];
                    for ((o, &g), &d) in out.iter_mut().zip(gi).zip(gd) {
                        *o += (g + bias_term) * d;
                    }
                }
            }
        }
        if symmetric {
            for j in 0..n2 {
                for i in 0..j {
                    ntk[(i, j)] = ntk[(j, i)];
                }
            }
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

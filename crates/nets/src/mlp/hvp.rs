//! Exact Hessian-vector products Σᵢ cᵢ ∇²θ f(xᵢ)·v by forward-over-reverse differentiation
//! (Pearlmutter's R-operator): the tangent of the back-propagation seeded with c,
//!
//! $$ P^{(l)} = s_w \Delta^{(l)} W^{(l)},\quad \dot P^{(l)} = s_w(\dot\Delta^{(l)} W^{(l)} + \Delta^{(l)} V^{(l)}),\quad
//!    \dot\Delta^{(l-1)} = \dot P^{(l)} \odot \sigma'(Z^{(l-1)}) + P^{(l)} \odot \sigma''(Z^{(l-1)}) \odot \dot Z^{(l-1)}, $$
//!
//! with Δ̇⁽ᴸ⁾ = 0, and the HVP blocks s_w(Δ̇⁽ˡ⁾ᵀG⁽ˡ⁻¹⁾ + Δ⁽ˡ⁾ᵀĠ⁽ˡ⁻¹⁾) and s_b Σᵢ Δ̇⁽ˡ⁾ᵢ.
//!
//! # Reference
//! Pearlmutter 1994, "Fast exact multiplication by the Hessian", Neural Computation 6(1), Sec. 4.

use super::Mlp;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef};

impl Mlp {
    pub(crate) fn hvp_unchecked(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        c: &[f64],
        v: &[f64],
    ) -> Vec<f64> {
        let p = self.parameterization;
        let n = x.nrows();
        let n_layers = self.layers.len();
        let cache = self.forward_pass(theta, x);
        let tangent = self.tangent_pass(theta, v, &cache);
        let mut deltas: Vec<Mat<f64>> = Vec::with_capacity(n_layers);
        let mut delta_dots: Vec<Mat<f64>> = Vec::with_capacity(n_layers);
        deltas.push(Mat::from_fn(n, 1, |i, _| c[i]));
        delta_dots.push(Mat::zeros(n, 1));
        for layer_idx in (1..n_layers).rev() {
            let layer = &self.layers[layer_idx];
            let below = &self.layers[layer_idx - 1];
            let s_w = layer.weight_multiplier(p);
            let delta = deltas.last().expect("seeded");
            let delta_dot = delta_dots.last().expect("seeded");
            let mut back = Mat::<f64>::zeros(n, layer.fan_in);
            matmul(
                back.as_mut(),
                Accum::Replace,
                delta.as_ref(),
                layer.weights(theta),
                s_w,
                self.par,
            );
            let mut back_dot = Mat::<f64>::zeros(n, layer.fan_in);
            matmul(
                back_dot.as_mut(),
                Accum::Replace,
                delta_dot.as_ref(),
                layer.weights(theta),
                s_w,
                self.par,
            );
            matmul(
                back_dot.as_mut(),
                Accum::Add,
                delta.as_ref(),
                layer.weights(v),
                s_w,
                self.par,
            );
            let z = &cache.pre[layer_idx - 1];
            let z_dot = &tangent.pre[layer_idx - 1];
            let act = below.activation;
            for j in 0..layer.fan_in {
                let zc = z.col_as_slice(j);
                let zdc = z_dot.col_as_slice(j);
                let bc = back.col_as_slice(j).to_vec();
                let bdc = back_dot.col_as_slice_mut(j);
                for i in 0..n {
                    let (d1, d2) = match act {
                        Some(a) => (a.dphi(zc[i]), a.ddphi(zc[i])),
                        None => (1.0, 0.0),
                    };
                    bdc[i] = bdc[i] * d1 + bc[i] * d2 * zdc[i];
                }
                for (b, &zv) in back.col_as_slice_mut(j).iter_mut().zip(zc) {
                    *b *= below.dphi(zv);
                }
            }
            deltas.push(back);
            delta_dots.push(back_dot);
        }
        deltas.reverse();
        delta_dots.reverse();
        let mut out = vec![0.0; self.n_params];
        self.gradient_from(
            |layer_idx| {
                (
                    delta_dots[layer_idx].as_ref(),
                    cache.post[layer_idx].as_ref(),
                )
            },
            &mut out,
            Accum::Replace,
        );
        self.gradient_from(
            |layer_idx| (deltas[layer_idx].as_ref(), tangent.post[layer_idx].as_ref()),
            &mut out,
            Accum::Add,
        );
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            if let Some(off) = layer.bias_offset {
                let s_b = layer.bias_multiplier(p);
                for j in 0..layer.width {
                    out[off + j] = s_b * delta_dots[layer_idx].col_as_slice(j).iter().sum::<f64>();
                }
            }
        }
        out
    }
}

//! Batched forward pass Z⁽ˡ⁾ = s_w G⁽ˡ⁻¹⁾ W⁽ˡ⁾ᵀ + s_b 1 b⁽ˡ⁾ᵀ, G⁽ˡ⁾ = σ(Z⁽ˡ⁾) (one faer GEMM per
//! layer), and its tangent (forward-mode) version Ż⁽ˡ⁾ = s_w(Ġ⁽ˡ⁻¹⁾W⁽ˡ⁾ᵀ + G⁽ˡ⁻¹⁾V⁽ˡ⁾ᵀ) + s_b 1 v_bᵀ,
//! Ġ⁽ˡ⁾ = σ'(Z⁽ˡ⁾) ⊙ Ż⁽ˡ⁾.

use super::{DenseLayer, Mlp};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

/// Pre-activations `pre[l]` (n × n_l) and layer inputs `post[l]` (n × n_{l−1}; `post[0]` = X).
pub(crate) struct ForwardCache {
    pub pre: Vec<Mat<f64>>,
    pub post: Vec<Mat<f64>>,
}

impl ForwardCache {
    /// The network output, column 0 of the last pre-activation.
    pub fn output(&self) -> Vec<f64> {
        self.pre
            .last()
            .expect("at least one layer")
            .col_as_slice(0)
            .to_vec()
    }

    /// Hands the buffers back to the thread's pool for the next pass.
    pub fn recycle(self) {
        super::pool::give(self.pre.into_iter().chain(self.post));
    }
}

/// Z = s_w G Wᵀ + s_b 1 bᵀ.
pub(crate) fn affine(
    layer: &DenseLayer,
    s_w: f64,
    s_b: f64,
    input: MatRef<'_, f64>,
    weights: MatRef<'_, f64>,
    bias: Option<&[f64]>,
    par: Par,
) -> Mat<f64> {
    let n = input.nrows();
    let mut z = super::pool::take(n, layer.width);
    matmul(
        z.as_mut(),
        Accum::Replace,
        input,
        weights.transpose(),
        s_w,
        par,
    );
    if let Some(b) = bias
        && s_b != 0.0
    {
        for j in 0..layer.width {
            let shift = s_b * b[j];
            for v in z.col_as_slice_mut(j) {
                *v += shift;
            }
        }
    }
    z
}

/// σ applied entrywise (a copy; identity without activation).
pub(crate) fn activate(
    layer_activation: Option<ntk_kernels::Activation>,
    z: &Mat<f64>,
) -> Mat<f64> {
    let mut g = super::pool::take(z.nrows(), z.ncols());
    g.copy_from(z);
    if let Some(act) = layer_activation {
        for j in 0..g.ncols() {
            for v in g.col_as_slice_mut(j) {
                *v = act.phi(*v);
            }
        }
    }
    g
}

impl Mlp {
    /// Forward pass on validated inputs, keeping every layer's pre-activations and inputs.
    pub(crate) fn forward_pass(&self, theta: &[f64], x: MatRef<'_, f64>) -> ForwardCache {
        let p = self.parameterization;
        let n_layers = self.layers.len();
        let mut pre = Vec::with_capacity(n_layers);
        let mut post = Vec::with_capacity(n_layers);
        let mut input = super::pool::take(x.nrows(), x.ncols());
        input.copy_from(x);
        post.push(input);
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            let z = affine(
                layer,
                layer.weight_multiplier(p),
                layer.bias_multiplier(p),
                post[layer_idx].as_ref(),
                layer.weights(theta),
                layer.bias(theta),
                self.par,
            );
            if layer_idx + 1 < n_layers {
                post.push(activate(layer.activation, &z));
            }
            pre.push(z);
        }
        ForwardCache { pre, post }
    }

    /// Forward-mode tangent of the forward pass in direction v: `pre[l]` = Ż⁽ˡ⁾, `post[l]` = Ġ⁽ˡ⁻¹⁾
    /// (`post[0]` = 0).
    pub(crate) fn tangent_pass(
        &self,
        theta: &[f64],
        v: &[f64],
        cache: &ForwardCache,
    ) -> ForwardCache {
        let p = self.parameterization;
        let n_layers = self.layers.len();
        let n = cache.post[0].nrows();
        let mut pre = Vec::with_capacity(n_layers);
        let mut post = Vec::with_capacity(n_layers);
        post.push(Mat::<f64>::zeros(n, self.input_dim));
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            let s_w = layer.weight_multiplier(p);
            // G⁽ˡ⁻¹⁾ V⁽ˡ⁾ᵀ + s_b 1 v_bᵀ
            let mut z_dot = affine(
                layer,
                s_w,
                layer.bias_multiplier(p),
                cache.post[layer_idx].as_ref(),
                layer.weights(v),
                layer.bias(v),
                self.par,
            );
            if layer_idx > 0 {
                matmul(
                    z_dot.as_mut(),
                    Accum::Add,
                    post[layer_idx].as_ref(),
                    layer.weights(theta).transpose(),
                    s_w,
                    self.par,
                );
            }
            if layer_idx + 1 < n_layers {
                let mut g_dot = z_dot.clone();
                let z = &cache.pre[layer_idx];
                for j in 0..g_dot.ncols() {
                    let zc = z.col_as_slice(j);
                    for (gd, &zv) in g_dot.col_as_slice_mut(j).iter_mut().zip(zc) {
                        *gd *= layer.dphi(zv);
                    }
                }
                post.push(g_dot);
            }
            pre.push(z_dot);
        }
        ForwardCache { pre, post }
    }
}

//! Fully-connected networks in neural-tangents' parameterizations.
//!
//! With g⁽⁰⁾ = x ∈ R^d and layers l = 1..L of widths n_l (n_0 = d, n_L = 1):
//!
//! $$ z^{(l)} = s_w^{(l)}\,W^{(l)} g^{(l-1)} + s_b^{(l)}\,b^{(l)}, \qquad g^{(l)} = \sigma(z^{(l)}),
//!    \qquad f(x;\theta) = z^{(L)}, $$
//!
//! - `Parameterization::Ntk`: s_w = w_std/√n_{l−1}, s_b = b_std, and W, b ~ N(0, 1);
//! - `Parameterization::Standard`: s_w = s_b = 1, W ~ N(0, w_std²/n_{l−1}), b ~ N(0, b_std²).
//!
//! `b_std = None` means the layer has no bias parameter. These are exactly neural-tangents'
//! `stax.Dense` conventions, so that the empirical kernels converge to `ntk_kernels`' analytic
//! ones as the widths grow.
//!
//! # Parameter layout
//! θ is the concatenation over layers l = 1..L of W⁽ˡ⁾ (n_l × n_{l−1}, row-major: entry (j, k) at
//! offset j·n_{l−1} + k) followed by b⁽ˡ⁾ (n_l entries, absent when `b_std` is `None`).
//!
//! # Reference
//! Jacot, Gabriel, Hongler 2018, arXiv:1806.07572, Eq. (1) (NTK parameterization);
//! Novak et al. 2020 (neural-tangents), arXiv:1912.02803, `stax.Dense`.

mod backward;
mod forward;
mod hvp;
mod jacobian;
mod pool;

use crate::{Error, Model, Result};
use faer::{Mat, MatRef, Par};
use ntk_kernels::{Activation, Architecture, Layer, Parameterization};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::ops::Range;

/// The specification of a deep MLP: `hidden_widths.len()` hidden layers with activation σ, then a
/// scalar readout; every `Dense` layer uses the same `w_std`, `b_std`.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpSpec {
    /// Input dimension d.
    pub input_dim: usize,
    /// Widths of the hidden layers (at least one).
    pub hidden_widths: Vec<usize>,
    /// The activation after every hidden layer.
    pub activation: Activation,
    /// Weight standard deviation (`W_std`).
    pub w_std: f64,
    /// Bias standard deviation (`b_std`); `None` means no bias parameters.
    pub b_std: Option<f64>,
    /// NTK or standard parameterization.
    pub parameterization: Parameterization,
}

impl MlpSpec {
    /// `depth` hidden layers of equal `width`.
    pub fn uniform(
        input_dim: usize,
        depth: usize,
        width: usize,
        activation: Activation,
        w_std: f64,
        b_std: Option<f64>,
        parameterization: Parameterization,
    ) -> Self {
        Self {
            input_dim,
            hidden_widths: vec![width; depth],
            activation,
            w_std,
            b_std,
            parameterization,
        }
    }
}

/// One affine layer with its (optional) activation and its place in θ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DenseLayer {
    pub fan_in: usize,
    pub width: usize,
    pub w_std: f64,
    pub b_std: Option<f64>,
    /// `None` for the readout (and for a hidden `Dense` not followed by an activation).
    pub activation: Option<Activation>,
    pub weight_offset: usize,
    pub bias_offset: Option<usize>,
}

impl DenseLayer {
    /// s_w: the multiplier of W x in the forward pass.
    pub fn weight_multiplier(&self, parameterization: Parameterization) -> f64 {
        match parameterization {
            Parameterization::Ntk => self.w_std / (self.fan_in as f64).sqrt(),
            Parameterization::Standard => 1.0,
        }
    }

    /// s_b: the multiplier of b in the forward pass (0 without bias).
    pub fn bias_multiplier(&self, parameterization: Parameterization) -> f64 {
        match (self.b_std, parameterization) {
            (None, _) => 0.0,
            (Some(b), Parameterization::Ntk) => b,
            (Some(_), Parameterization::Standard) => 1.0,
        }
    }

    fn weight_init_std(&self, parameterization: Parameterization) -> f64 {
        match parameterization {
            Parameterization::Ntk => 1.0,
            Parameterization::Standard => self.w_std / (self.fan_in as f64).sqrt(),
        }
    }

    fn bias_init_std(&self, parameterization: Parameterization) -> f64 {
        match parameterization {
            Parameterization::Ntk => 1.0,
            Parameterization::Standard => self.b_std.unwrap_or(0.0),
        }
    }

    /// W as an n_l × n_{l−1} view of θ.
    pub fn weights<'a>(&self, theta: &'a [f64]) -> MatRef<'a, f64> {
        let len = self.width * self.fan_in;
        MatRef::from_row_major_slice(
            &theta[self.weight_offset..self.weight_offset + len],
            self.width,
            self.fan_in,
        )
    }

    /// b as a slice of θ (None without bias).
    pub fn bias<'a>(&self, theta: &'a [f64]) -> Option<&'a [f64]> {
        self.bias_offset.map(|off| &theta[off..off + self.width])
    }

    /// σ'(z) (1 without activation).
    #[inline]
    pub fn dphi(&self, z: f64) -> f64 {
        self.activation.map_or(1.0, |a| a.dphi(z))
    }
}

/// A validated MLP with scalar output; see the module docs for the formulas and the layout of θ.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    input_dim: usize,
    layers: Vec<DenseLayer>,
    parameterization: Parameterization,
    n_params: usize,
    par: Par,
}

fn check_std(arg: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            arg,
            value: value.to_string(),
            reason: "must be finite and >= 0",
        })
    }
}

/// Activation parameters (LeakyReLU α, AbReLU a, b) must be finite.
fn check_activation(activation: &Activation) -> Result<()> {
    let params = match *activation {
        Activation::LeakyRelu { alpha } => vec![alpha],
        Activation::AbRelu { a, b } => vec![a, b],
        _ => vec![],
    };
    match params.into_iter().find(|p| !p.is_finite()) {
        Some(value) => Err(Error::InvalidParameter {
            arg: "activation",
            value: value.to_string(),
            reason: "activation parameters must be finite",
        }),
        None => Ok(()),
    }
}

fn check_width(arg: &'static str, width: usize) -> Result<()> {
    if width == 0 {
        Err(Error::InvalidParameter {
            arg,
            value: "0".into(),
            reason: "widths must be positive",
        })
    } else {
        Ok(())
    }
}

impl Mlp {
    /// Checks a spec and builds the network (depth ≥ 1, positive widths, finite w_std, b_std ≥ 0).
    pub fn new(spec: &MlpSpec) -> Result<Self> {
        if spec.hidden_widths.is_empty() {
            return Err(Error::InvalidParameter {
                arg: "depth",
                value: "0".into(),
                reason: "an MLP needs at least one hidden layer",
            });
        }
        check_width("input_dim", spec.input_dim)?;
        for &w in &spec.hidden_widths {
            check_width("hidden_widths", w)?;
        }
        check_std("w_std", spec.w_std)?;
        if let Some(b) = spec.b_std {
            check_std("b_std", b)?;
        }
        check_activation(&spec.activation)?;
        let mut dense = Vec::with_capacity(spec.hidden_widths.len() + 1);
        for &width in &spec.hidden_widths {
            dense.push((width, spec.w_std, spec.b_std, Some(spec.activation)));
        }
        dense.push((1, spec.w_std, spec.b_std, None));
        Ok(Self::assemble(
            spec.input_dim,
            &dense,
            spec.parameterization,
        ))
    }

    /// Builds the network of an `ntk_kernels::Architecture` (`Dense` layers each followed by at
    /// most one activation, a scalar `Dense` readout) on inputs of dimension `input_dim`.
    pub fn from_architecture(architecture: &Architecture, input_dim: usize) -> Result<Self> {
        check_width("input_dim", input_dim)?;
        let mut dense: Vec<(usize, f64, Option<f64>, Option<Activation>)> = Vec::new();
        for layer in architecture.layers() {
            match *layer {
                Layer::Dense {
                    width,
                    w_std,
                    b_std,
                } => {
                    check_width("width", width)?;
                    check_std("w_std", w_std)?;
                    if let Some(b) = b_std {
                        check_std("b_std", b)?;
                    }
                    dense.push((width, w_std, b_std, None));
                }
                Layer::Activation(act) => match dense.last_mut() {
                    Some(last) if last.3.is_none() => last.3 = Some(act),
                    _ => {
                        return Err(Error::InvalidParameter {
                            arg: "architecture",
                            value: act.name().into(),
                            reason: "each activation must follow a Dense layer, at most one per Dense",
                        });
                    }
                },
            }
        }
        match dense.last() {
            Some(&(1, _, _, None)) => {}
            other => {
                return Err(Error::InvalidParameter {
                    arg: "architecture",
                    value: format!("{other:?}"),
                    reason: "the network must end with a Dense(1) readout without activation",
                });
            }
        }
        if dense.len() < 2 {
            return Err(Error::InvalidParameter {
                arg: "depth",
                value: "0".into(),
                reason: "an MLP needs at least one hidden layer",
            });
        }
        Ok(Self::assemble(
            input_dim,
            &dense,
            architecture.parameterization(),
        ))
    }

    fn assemble(
        input_dim: usize,
        dense: &[(usize, f64, Option<f64>, Option<Activation>)],
        parameterization: Parameterization,
    ) -> Self {
        let mut layers = Vec::with_capacity(dense.len());
        let mut offset = 0;
        let mut fan_in = input_dim;
        for &(width, w_std, b_std, activation) in dense {
            let weight_offset = offset;
            offset += width * fan_in;
            let bias_offset = b_std.map(|_| {
                let o = offset;
                offset += width;
                o
            });
            layers.push(DenseLayer {
                fan_in,
                width,
                w_std,
                b_std,
                activation,
                weight_offset,
                bias_offset,
            });
            fan_in = width;
        }
        Self {
            input_dim,
            layers,
            parameterization,
            n_params: offset,
            par: Par::rayon(0),
        }
    }

    /// The same network with the given faer parallelism for its matrix products (default
    /// `Par::rayon(0)`; use `Par::Seq` inside rayon-parallel loops).
    pub fn with_parallelism(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// The faer parallelism used for matrix products.
    pub fn parallelism(&self) -> Par {
        self.par
    }

    /// The parameterization.
    pub fn parameterization(&self) -> Parameterization {
        self.parameterization
    }

    /// Number of `Dense` layers L (hidden layers + readout).
    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Output widths n_1, …, n_L of the `Dense` layers (n_L = 1).
    pub fn widths(&self) -> Vec<usize> {
        self.layers.iter().map(|l| l.width).collect()
    }

    /// The range of θ holding W⁽ˡ⁾ (row-major n_l × n_{l−1}), `layer_idx` in 0..L.
    pub fn weight_range(&self, layer_idx: usize) -> Option<Range<usize>> {
        self.layers.get(layer_idx).map(|l| {
            let start = l.weight_offset;
            start..start + l.width * l.fan_in
        })
    }

    /// The range of θ holding b⁽ˡ⁾ (None without bias).
    pub fn bias_range(&self, layer_idx: usize) -> Option<Range<usize>> {
        self.layers
            .get(layer_idx)
            .and_then(|l| l.bias_offset.map(|o| o..o + l.width))
    }

    /// Seeded initialisation θ⁰: i.i.d. N(0, 1) entries in the NTK parameterization,
    /// W ~ N(0, w_std²/n_{l−1}) and b ~ N(0, b_std²) in the standard one; layout as in the
    /// module docs.
    pub fn init_params<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let mut theta = vec![0.0; self.n_params];
        for layer in &self.layers {
            let w_std = layer.weight_init_std(self.parameterization);
            let range = layer.weight_offset..layer.weight_offset + layer.width * layer.fan_in;
            for v in &mut theta[range] {
                let z: f64 = StandardNormal.sample(rng);
                *v = w_std * z;
            }
            if let Some(off) = layer.bias_offset {
                let b_std = layer.bias_init_std(self.parameterization);
                for v in &mut theta[off..off + layer.width] {
                    let z: f64 = StandardNormal.sample(rng);
                    *v = b_std * z;
                }
            }
        }
        theta
    }
}

impl Model for Mlp {
    fn n_params(&self) -> usize {
        self.n_params
    }

    fn input_dim(&self) -> usize {
        self.input_dim
    }

    fn forward(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Vec<f64>> {
        self.check(theta, x, "x")?;
        let cache = self.forward_pass(theta, x);
        let output = cache.output();
        cache.recycle();
        Ok(output)
    }

    fn loss_and_grad(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        y: &[f64],
        grad: &mut [f64],
    ) -> Result<f64> {
        self.check(theta, x, "x")?;
        crate::validate::check_vector("y", y, x.nrows())?;
        crate::validate::check_len("grad", grad.len(), self.n_params)?;
        let cache = self.forward_pass(theta, x);
        let n = x.nrows() as f64;
        let output = cache.output();
        let mut loss = 0.0;
        let residual: Vec<f64> = output
            .iter()
            .zip(y)
            .map(|(u, y)| {
                let r = u - y;
                loss += r * r;
                r / n
            })
            .collect();
        let deltas = self.backward_pass(theta, &cache, &residual);
        self.accumulate_gradient(&cache, &deltas, grad);
        cache.recycle();
        pool::give(deltas);
        Ok(loss / (2.0 * n))
    }

    fn jacobian(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        self.check(theta, x, "x")?;
        Ok(self.jacobian_unchecked(theta, x))
    }

    fn vjp(&self, theta: &[f64], x: MatRef<'_, f64>, r: &[f64]) -> Result<Vec<f64>> {
        self.check(theta, x, "x")?;
        crate::validate::check_vector("r", r, x.nrows())?;
        let cache = self.forward_pass(theta, x);
        let deltas = self.backward_pass(theta, &cache, r);
        let mut grad = vec![0.0; self.n_params];
        self.accumulate_gradient(&cache, &deltas, &mut grad);
        cache.recycle();
        pool::give(deltas);
        Ok(grad)
    }

    fn jvp(&self, theta: &[f64], x: MatRef<'_, f64>, v: &[f64]) -> Result<Vec<f64>> {
        self.check(theta, x, "x")?;
        crate::validate::check_vector("v", v, self.n_params)?;
        let cache = self.forward_pass(theta, x);
        let tangent = self.tangent_pass(theta, v, &cache);
        Ok(tangent.output())
    }

    fn empirical_ntk(
        &self,
        theta: &[f64],
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
    ) -> Result<Mat<f64>> {
        self.check(theta, x1, "x1")?;
        crate::validate::check_inputs("x2", x2, self.input_dim)?;
        Ok(self.empirical_ntk_unchecked(theta, x1, x2))
    }

    fn hvp(&self, theta: &[f64], x: MatRef<'_, f64>, c: &[f64], v: &[f64]) -> Result<Vec<f64>> {
        self.check(theta, x, "x")?;
        crate::validate::check_vector("c", c, x.nrows())?;
        crate::validate::check_vector("v", v, self.n_params)?;
        Ok(self.hvp_unchecked(theta, x, c, v))
    }
}

impl Mlp {
    fn check(&self, theta: &[f64], x: MatRef<'_, f64>, arg: &'static str) -> Result<()> {
        crate::validate::check_vector("theta", theta, self.n_params)?;
        crate::validate::check_inputs(arg, x, self.input_dim)
    }

    /// The empirical NNGP kernel with the readout marginalised, i.e. the covariance of the
    /// output over the readout layer's initialisation given the last hidden features g⁽ᴸ⁻¹⁾:
    ///
    /// $$ \hat K(x, x') = \frac{w_{std}^2}{n_{L-1}} \langle g^{(L-1)}(x), g^{(L-1)}(x')\rangle + b_{std}^2 $$
    ///
    /// (b_std = 0 without bias); its mean over θ⁰ is the analytic NNGP Σ⁽ᴸ⁾.
    ///
    /// # Reference
    /// Lee et al. 2018, arXiv:1711.00165, Eq. (4); Novak et al. 2020, arXiv:1912.02803
    /// (`empirical_nngp_fn`).
    pub fn empirical_nngp(
        &self,
        theta: &[f64],
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
    ) -> Result<Mat<f64>> {
        self.check(theta, x1, "x1")?;
        crate::validate::check_inputs("x2", x2, self.input_dim)?;
        Ok(self.empirical_nngp_unchecked(theta, x1, x2))
    }
}

//! The two-layer network of the lecture material,
//!
//! $$ f(x;\theta) = \alpha\,\gamma \sum_{i=1}^{N} a_i\,\sigma(\langle w_i, x\rangle), \qquad
//!    \gamma = 1/\sqrt N \ \text{(lazy / NTK)} \quad\text{or}\quad 1/N \ \text{(mean field)}, $$
//!
//! with an output scale α (Chizat et al. 2019), optionally centred, f(θ) − f(θ⁰), and optionally
//! with a fixed second layer aᵢ ∈ {±1} (only W trained, as in Du et al. 2019:
//! f = (1/√m) Σ_r a_r ReLU(w_rᵀx)).
//!
//! # Parameter layout
//! θ = (W row-major N × d, then a ∈ R^N when the second layer is trained).
//!
//! # Reference
//! Chizat, Oyallon, Bach 2019, arXiv:1812.07956, Sec. 2 (α-scaling);
//! Du, Zhai, Poczos, Singh 2019, arXiv:1810.02054, Eq. (1); Mei, Montanari, Nguyen 2018,
//! arXiv:1804.06561 (mean-field 1/N scaling).

use crate::validate::{check_inputs, check_len, check_vector};
use crate::{Error, Model, Result};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use ntk_kernels::Activation;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// The output normalisation γ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// γ = 1/√N (lazy / NTK regime).
    Lazy,
    /// γ = 1/N (mean-field regime).
    MeanField,
}

/// Whether the output weights a are parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondLayer {
    /// a is trained, initialised a_i ~ N(0, 1).
    Trained,
    /// a_i ∈ {±1} drawn once at construction and fixed (Du et al. 2019).
    FixedSigns,
}

/// Specification of a [`TwoLayer`] network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoLayerSpec {
    /// Input dimension d.
    pub input_dim: usize,
    /// Number of hidden units N.
    pub width: usize,
    /// σ.
    pub activation: Activation,
    /// γ = 1/√N or 1/N.
    pub scaling: Scaling,
    /// Output scale α > 0.
    pub alpha: f64,
    /// Initialisation of W: entries i.i.d. N(0, w_init_std²) (Du et al.: 1; N(0, I/d): 1/√d).
    pub w_init_std: f64,
    /// Trained or fixed output weights.
    pub second_layer: SecondLayer,
}

/// A validated two-layer network; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoLayer {
    spec: TwoLayerSpec,
    fixed_signs: Option<Vec<f64>>,
    reference: Option<Vec<f64>>,
    par: Par,
}

impl TwoLayer {
    /// Checks the spec; draws the fixed signs from `rng` when the second layer is fixed.
    pub fn new<R: Rng + ?Sized>(spec: TwoLayerSpec, rng: &mut R) -> Result<Self> {
        for (arg, value) in [("input_dim", spec.input_dim), ("width", spec.width)] {
            if value == 0 {
                return Err(Error::InvalidParameter {
                    arg,
                    value: "0".into(),
                    reason: "must be positive",
                });
            }
        }
        if !(spec.alpha.is_finite() && spec.alpha > 0.0) {
            return Err(Error::InvalidParameter {
                arg: "alpha",
                value: spec.alpha.to_string(),
                reason: "must be finite and > 0",
            });
        }
        if !(spec.w_init_std.is_finite() && spec.w_init_std >= 0.0) {
            return Err(Error::InvalidParameter {
                arg: "w_init_std",
                value: spec.w_init_std.to_string(),
                reason: "must be finite and >= 0",
            });
        }
        let fixed_signs = match spec.second_layer {
            SecondLayer::Trained => None,
            SecondLayer::FixedSigns => Some(
                (0..spec.width)
                    .map(|_| if rng.next_u32() & 1 == 0 { 1.0 } else { -1.0 })
                    .collect(),
            ),
        };
        Ok(Self {
            spec,
            fixed_signs,
            reference: None,
            par: Par::rayon(0),
        })
    }

    /// The centred model f(θ) − f(θ⁰) around `theta0` (its derivatives are those of f).
    pub fn centred(mut self, theta0: Vec<f64>) -> Result<Self> {
        check_vector("theta0", &theta0, self.n_params())?;
        self.reference = Some(theta0);
        Ok(self)
    }

    /// The same network with the given faer parallelism.
    pub fn with_parallelism(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// The specification.
    pub fn spec(&self) -> &TwoLayerSpec {
        &self.spec
    }

    /// The output factor α·γ.
    pub fn output_scale(&self) -> f64 {
        let n = self.spec.width as f64;
        let gamma = match self.spec.scaling {
            Scaling::Lazy => 1.0 / n.sqrt(),
            Scaling::MeanField => 1.0 / n,
        };
        self.spec.alpha * gamma
    }

    /// Seeded θ⁰: W entries N(0, w_init_std²), then (if trained) a_i ~ N(0, 1).
    pub fn init_params<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        (0..self.n_params())
            .map(|idx| {
                let z: f64 = StandardNormal.sample(rng);
                if idx < self.spec.width * self.spec.input_dim {
                    self.spec.w_init_std * z
                } else {
                    z
                }
            })
            .collect()
    }

    fn weights<'a>(&self, theta: &'a [f64]) -> MatRef<'a, f64> {
        let (m, d) = (self.spec.width, self.spec.input_dim);
        MatRef::from_row_major_slice(&theta[..m * d], m, d)
    }

    fn output_weights<'a>(&'a self, theta: &'a [f64]) -> &'a [f64] {
        match &self.fixed_signs {
            Some(a) => a,
            None => &theta[self.spec.width * self.spec.input_dim..],
        }
    }

    fn trained_second_layer(&self) -> bool {
        self.fixed_signs.is_none()
    }

    /// Z = X Wᵀ (n × N).
    fn pre_activations(&self, theta: &[f64], x: MatRef<'_, f64>) -> Mat<f64> {
        let mut z = Mat::<f64>::zeros(x.nrows(), self.spec.width);
        matmul(
            z.as_mut(),
            Accum::Replace,
            x,
            self.weights(theta).transpose(),
            1.0,
            self.par,
        );
        z
    }

    fn raw_forward(&self, theta: &[f64], x: MatRef<'_, f64>) -> Vec<f64> {
        let z = self.pre_activations(theta, x);
        let a = self.output_weights(theta);
        let scale = self.output_scale();
        let mut out = vec![0.0; x.nrows()];
        for i in 0..self.spec.width {
            let zc = z.col_as_slice(i);
            for (o, &zv) in out.iter_mut().zip(zc) {
                *o += a[i] * self.spec.activation.phi(zv);
            }
        }
        out.iter_mut().for_each(|o| *o *= scale);
        out
    }

    fn check(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<()> {
        check_vector("theta", theta, self.n_params())?;
        check_inputs("x", x, self.spec.input_dim)
    }

    /// Matrix with entries c_k·a_i·σ'(z_ki) (+ extra_ki), then αγ·Mᵀ X into `out` (weight block).
    fn weight_block(&self, m: &Mat<f64>, x: MatRef<'_, f64>, out: &mut [f64]) {
        let (width, d) = (self.spec.width, self.spec.input_dim);
        let block = faer::MatMut::from_row_major_slice_mut(&mut out[..width * d], width, d);
        matmul(
            block,
            Accum::Replace,
            m.transpose(),
            x,
            self.output_scale(),
            self.par,
        );
    }
}

impl Model for TwoLayer {
    fn n_params(&self) -> usize {
        let w = self.spec.width * self.spec.input_dim;
        if self.trained_second_layer() {
            w + self.spec.width
        } else {
            w
        }
    }

    fn input_dim(&self) -> usize {
        self.spec.input_dim
    }

    fn forward(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Vec<f64>> {
        self.check(theta, x)?;
        let mut out = self.raw_forward(theta, x);
        if let Some(theta0) = &self.reference {
            for (o, r) in out.iter_mut().zip(self.raw_forward(theta0, x)) {
                *o -= r;
            }
        }
        Ok(out)
    }

    fn loss_and_grad(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        y: &[f64],
        grad: &mut [f64],
    ) -> Result<f64> {
        let u = self.forward(theta, x)?;
        check_vector("y", y, x.nrows())?;
        check_len("grad", grad.len(), self.n_params())?;
        let n = x.nrows() as f64;
        let loss = u.iter().zip(y).map(|(u, y)| (u - y) * (u - y)).sum::<f64>() / (2.0 * n);
        let r: Vec<f64> = u.iter().zip(y).map(|(u, y)| (u - y) / n).collect();
        grad.copy_from_slice(&self.vjp(theta, x, &r)?);
        Ok(loss)
    }

    fn jacobian(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        self.check(theta, x)?;
        let (n, width, d) = (x.nrows(), self.spec.width, self.spec.input_dim);
        let z = self.pre_activations(theta, x);
        let a = self.output_weights(theta);
        let scale = self.output_scale();
        let act = self.spec.activation;
        let mut jac = Mat::<f64>::zeros(n, self.n_params());
        for i in 0..width {
            let zc = z.col_as_slice(i).to_vec();
            for k in 0..d {
                let col = jac.col_as_slice_mut(i * d + k);
                for row in 0..n {
                    col[row] = scale * a[i] * act.dphi(zc[row]) * x[(row, k)];
                }
            }
            if self.trained_second_layer() {
                let col = jac.col_as_slice_mut(width * d + i);
                for row in 0..n {
                    col[row] = scale * act.phi(zc[row]);
                }
            }
        }
        Ok(jac)
    }

    fn vjp(&self, theta: &[f64], x: MatRef<'_, f64>, r: &[f64]) -> Result<Vec<f64>> {
        self.check(theta, x)?;
        check_vector("r", r, x.nrows())?;
        let (width, d) = (self.spec.width, self.spec.input_dim);
        let z = self.pre_activations(theta, x);
        let a = self.output_weights(theta);
        let act = self.spec.activation;
        let scale = self.output_scale();
        let mut m = z.clone();
        let mut grad = vec![0.0; self.n_params()];
        for i in 0..width {
            let zc = z.col_as_slice(i);
            if self.trained_second_layer() {
                grad[width * d + i] = scale
                    * zc.iter()
                        .zip(r)
                        .map(|(&zv, &rk)| rk * act.phi(zv))
                        .sum::<f64>();
            }
            for (mv, &rk) in m.col_as_slice_mut(i).iter_mut().zip(r) {
                *mv = rk * a[i] * act.dphi(*mv);
            }
        }
        self.weight_block(&m, x, &mut grad);
        Ok(grad)
    }

    fn jvp(&self, theta: &[f64], x: MatRef<'_, f64>, v: &[f64]) -> Result<Vec<f64>> {
        self.check(theta, x)?;
        check_vector("v", v, self.n_params())?;
        let (width, d) = (self.spec.width, self.spec.input_dim);
        let z = self.pre_activations(theta, x);
        let z_dot = self.pre_activations(v, x);
        let a = self.output_weights(theta);
        let act = self.spec.activation;
        let mut out = vec![0.0; x.nrows()];
        for i in 0..width {
            let v_a = if self.trained_second_layer() {
                v[width * d + i]
            } else {
                0.0
            };
            for ((o, &zv), &zd) in out
                .iter_mut()
                .zip(z.col_as_slice(i))
                .zip(z_dot.col_as_slice(i))
            {
                *o += a[i] * act.dphi(zv) * zd + v_a * act.phi(zv);
            }
        }
        let scale = self.output_scale();
        out.iter_mut().for_each(|o| *o *= scale);
        Ok(out)
    }

    /// Θ̂ = (αγ)² [(X₁X₂ᵀ) ⊙ (A₁A₂ᵀ) + S₁S₂ᵀ] with A_ki = a_i σ'(z_ki), S = σ(Z) (S-term only
    /// when a is trained).
    fn empirical_ntk(
        &self,
        theta: &[f64],
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
    ) -> Result<Mat<f64>> {
        self.check(theta, x1)?;
        check_inputs("x2", x2, self.spec.input_dim)?;
        let a = self.output_weights(theta);
        let act = self.spec.activation;
        let features = |x: MatRef<'_, f64>| {
            let z = self.pre_activations(theta, x);
            let deriv = Mat::from_fn(z.nrows(), z.ncols(), |k, i| a[i] * act.dphi(z[(k, i)]));
            let values = Mat::from_fn(z.nrows(), z.ncols(), |k, i| act.phi(z[(k, i)]));
            (deriv, values)
        };
        let (d1, s1) = features(x1);
        let (d2, s2) = features(x2);
        let (n1, n2) = (x1.nrows(), x2.nrows());
        let mut inputs = Mat::<f64>::zeros(n1, n2);
        matmul(
            inputs.as_mut(),
            Accum::Replace,
            x1,
            x2.transpose(),
            1.0,
            self.par,
        );
        let mut ntk = Mat::<f64>::zeros(n1, n2);
        matmul(
            ntk.as_mut(),
            Accum::Replace,
            d1.as_ref(),
            d2.transpose(),
            1.0,
            self.par,
        );
        let scale2 = self.output_scale().powi(2);
        for j in 0..n2 {
            for i in 0..n1 {
                ntk[(i, j)] *= inputs[(i, j)] * scale2;
            }
        }
        if self.trained_second_layer() {
            matmul(
                ntk.as_mut(),
                Accum::Add,
                s1.as_ref(),
                s2.transpose(),
                scale2,
                self.par,
            );
        }
        Ok(ntk)
    }

    /// Blocks: w_i ← αγ Σ_k c_k [a_i σ''(z_ki)⟨x_k, v_{w_i}⟩ + σ'(z_ki) v_{a_i}] x_k,
    /// a_i ← αγ Σ_k c_k σ'(z_ki) ⟨x_k, v_{w_i}⟩.
    fn hvp(&self, theta: &[f64], x: MatRef<'_, f64>, c: &[f64], v: &[f64]) -> Result<Vec<f64>> {
        self.check(theta, x)?;
        check_vector("c", c, x.nrows())?;
        check_vector("v", v, self.n_params())?;
        let (width, d) = (self.spec.width, self.spec.input_dim);
        let z = self.pre_activations(theta, x);
        let z_dot = self.pre_activations(v, x);
        let a = self.output_weights(theta);
        let act = self.spec.activation;
        let scale = self.output_scale();
        let trained = self.trained_second_layer();
        let mut m = Mat::<f64>::zeros(x.nrows(), width);
        let mut out = vec![0.0; self.n_params()];
        for i in 0..width {
            let v_a = if trained { v[width * d + i] } else { 0.0 };
            let zc = z.col_as_slice(i);
            let zd = z_dot.col_as_slice(i);
            let mut a_block = 0.0;
            for (k, mv) in m.col_as_slice_mut(i).iter_mut().enumerate() {
                *mv = c[k] * (a[i] * act.ddphi(zc[k]) * zd[k] + act.dphi(zc[k]) * v_a);
                a_block += c[k] * act.dphi(zc[k]) * zd[k];
            }
            if trained {
                out[width * d + i] = scale * a_block;
            }
        }
        self.weight_block(&m, x, &mut out);
        Ok(out)
    }
}

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
use faer::{Accum, Mat, MatMut, MatRef, Par};
use ntk_kernels::Activation;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::cell::RefCell;

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

/// Hidden units per task of the fused loss/gradient pass. A fixed partition (not one per
/// thread), so sums and products, and therefore the gradient, do not depend on the thread count.
pub const UNITS_PER_TASK: usize = 128;

thread_local! {
    /// Reusable storage for Z = XWᵀ and the per-task partial outputs.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a zeroed-or-stale buffer of `len` entries (the thread's reusable scratch, or a
/// fresh allocation if that is in use by an enclosing call on the same thread).
fn with_scratch<T>(len: usize, f: impl FnOnce(&mut [f64]) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            f(&mut buffer[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Inputs of one fused forward/backward pass of [`TwoLayer`].
struct FusedPass<'a> {
    model: &'a TwoLayer,
    theta: &'a [f64],
    x: MatRef<'a, f64>,
    y: &'a [f64],
    reference: Option<&'a [f64]>,
}

impl FusedPass<'_> {
    /// Runs `task` over the blocks of hidden units, in parallel unless the model is sequential.
    fn for_each_block<T: Send>(&self, items: Vec<T>, task: impl Fn(usize, T) + Sync + Send) {
        if matches!(self.model.par, Par::Seq) {
            items
                .into_iter()
                .enumerate()
                .for_each(|(idx, item)| task(idx, item));
        } else {
            items
                .into_par_iter()
                .enumerate()
                .for_each(|(idx, item)| task(idx, item));
        }
    }

    /// The pass itself; `z` (n·N) and `partial` (n·tasks) are scratch, returns the loss.
    fn run(
        &self,
        z: &mut [f64],
        partial: &mut [f64],
        grad: &mut [f64],
        phi: impl Fn(f64) -> f64 + Sync,
        dphi: impl Fn(f64) -> f64 + Sync,
    ) -> f64 {
        let model = self.model;
        let (n, width, d) = (self.x.nrows(), model.spec.width, model.spec.input_dim);
        let weights = model.weights(self.theta);
        let a = model.output_weights(self.theta);
        let scale = model.output_scale();
        let x = self.x;
        let block_len = n * UNITS_PER_TASK;
        // The elementwise loops run inside `arch.dispatch`, compiled for the best instruction
        // set of the machine (pulp's x86-v3 level, AVX2, instead of baseline SSE2); no
        // reassociation, so the result is the same on every path.
        let arch = pulp::Arch::new();

        // Pass 1: Z_c = X W_cᵀ per block, partial outputs Σ_{i∈c} a_i σ(z_ki).
        let blocks: Vec<_> = z.chunks_mut(block_len).zip(partial.chunks_mut(n)).collect();
        self.for_each_block(blocks, |idx, (zc, pc)| {
            let first = idx * UNITS_PER_TASK;
            let units = zc.len() / n;
            matmul(
                MatMut::from_column_major_slice_mut(zc, n, units),
                Accum::Replace,
                x,
                weights.subrows(first, units).transpose(),
                1.0,
                Par::Seq,
            );
            arch.dispatch(PartialOutputs {
                zc,
                pc,
                a_block: &a[first..first + units],
                phi: &phi,
            });
        });
        // Outputs: partial sums added in block order; residual r = (u − y)/n.
        let mut r = vec![0.0; n];
        for pc in partial.chunks_exact(n) {
            for (rv, &p) in r.iter_mut().zip(pc) {
                *rv += p;
            }
        }
        let nf = n as f64;
        let mut loss = 0.0;
        for (k, rv) in r.iter_mut().enumerate() {
            let u = scale * *rv - self.reference.map_or(0.0, |f0| f0[k]);
            let e = u - self.y[k];
            loss += e * e;
            *rv = e / nf;
        }
        let loss = loss / (2.0 * nf);

        // Pass 2: ∇a_i and M = r a σ'(Z) in place of Z, then ∇W_c = αγ M_cᵀ X per block.
        let (w_grad, a_grad) = grad.split_at_mut(width * d);
        let mut a_sink = Vec::new();
        let a_grad = if model.trained_second_layer() {
            a_grad
        } else {
            a_sink.resize(width, 0.0);
            &mut a_sink[..]
        };
        let r = &r;
        let blocks: Vec<_> = z
            .chunks_mut(block_len)
            .zip(w_grad.chunks_mut(UNITS_PER_TASK * d))
            .zip(a_grad.chunks_mut(UNITS_PER_TASK))
            .collect();
        self.for_each_block(blocks, |idx, ((zc, gw), ga)| {
            let first = idx * UNITS_PER_TASK;
            let units = zc.len() / n;
            arch.dispatch(HiddenGradients {
                zc: &mut *zc,
                ga,
                a_block: &a[first..first + units],
                r,
                scale,
                phi: &phi,
                dphi: &dphi,
            });
            matmul(
                MatMut::from_row_major_slice_mut(gw, units, d),
                Accum::Replace,
                MatRef::from_column_major_slice(zc, n, units).transpose(),
                x,
                scale,
                Par::Seq,
            );
        });
        loss
    }
}

/// Pass 1 of [`FusedPass::run`] after the product, for one block of hidden units: the partial
/// outputs pc_k = Σ_i a_i σ(z_ki) of the block Z_c (`zc`, n × units column-major). A `pulp`
/// operation, so that the loop is compiled for the machine's vector instruction set.
struct PartialOutputs<'a, F> {
    zc: &'a [f64],
    pc: &'a mut [f64],
    a_block: &'a [f64],
    phi: &'a F,
}

impl<F: Fn(f64) -> f64> pulp::WithSimd for PartialOutputs<'_, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Self {
            zc,
            pc,
            a_block,
            phi,
        } = self;
        pc.fill(0.0);
        for (col, &ai) in zc.chunks_exact(pc.len()).zip(a_block) {
            for (p, &zv) in pc.iter_mut().zip(col) {
                *p += ai * phi(zv);
            }
        }
    }
}

/// Pass 2 of [`FusedPass::run`] before the product, for one block of hidden units:
/// ∇a_i = scale·Σ_k r_k σ(z_ki) into `ga`, and M_ki = r_k a_i σ'(z_ki) in place of the block of
/// Z (`zc`, n × units column-major, n = `r.len()`). A `pulp` operation, as [`PartialOutputs`].
struct HiddenGradients<'a, F, G> {
    zc: &'a mut [f64],
    ga: &'a mut [f64],
    a_block: &'a [f64],
    r: &'a [f64],
    scale: f64,
    phi: &'a F,
    dphi: &'a G,
}

impl<F: Fn(f64) -> f64, G: Fn(f64) -> f64> pulp::WithSimd for HiddenGradients<'_, F, G> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Self {
            zc,
            ga,
            a_block,
            r,
            scale,
            phi,
            dphi,
        } = self;
        for ((col, &ai), g) in zc.chunks_exact_mut(r.len()).zip(a_block).zip(ga.iter_mut()) {
            // Σ_k r_k σ(z_k) with eight interleaved partial sums (fixed order), then M over
            // the same (cache-resident) column: two simple loops vectorise, one fused loop
            // with a reduction and a store does not (≈ 2× slower).
            let mut sums = [0.0; 8];
            let mut z_octets = col.chunks_exact(8);
            let mut r_octets = r.chunks_exact(8);
            for (zq, rq) in (&mut z_octets).zip(&mut r_octets) {
                for lane in 0..8 {
                    sums[lane] += rq[lane] * phi(zq[lane]);
                }
            }
            let mut sum = ((sums[0] + sums[1]) + (sums[2] + sums[3]))
                + ((sums[4] + sums[5]) + (sums[6] + sums[7]));
            for (&zv, &rk) in z_octets.remainder().iter().zip(r_octets.remainder()) {
                sum += rk * phi(zv);
            }
            *g = scale * sum;
            for (zv, &rk) in col.iter_mut().zip(r) {
                *zv = rk * ai * dphi(*zv);
            }
        }
    }
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

    /// ℒ = (1/2n)‖u − y‖² and its gradient in one fused pass: Z = XWᵀ once, u and r = (u − y)/n,
    /// then ∇a_i = αγ Σ_k r_k σ(z_ki) and ∇W = αγ Mᵀ X with M_ki = r_k a_i σ'(z_ki) (M overwrites
    /// Z). Hidden units are split into fixed blocks of [`UNITS_PER_TASK`], so the result does not
    /// depend on the thread count.
    fn loss_and_grad(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        y: &[f64],
        grad: &mut [f64],
    ) -> Result<f64> {
        self.check(theta, x)?;
        check_vector("y", y, x.nrows())?;
        check_len("grad", grad.len(), self.n_params())?;
        let reference = self
            .reference
            .as_ref()
            .map(|theta0| self.raw_forward(theta0, x));
        let (n, width) = (x.nrows(), self.spec.width);
        let n_tasks = width.div_ceil(UNITS_PER_TASK);
        let loss = with_scratch(n * width + n * n_tasks, |buffer| {
            let (z, partial) = buffer.split_at_mut(n * width);
            let pass = FusedPass {
                model: self,
                theta,
                x,
                y,
                reference: reference.as_deref(),
            };
            match self.spec.activation {
                Activation::Relu => pass.run(
                    z,
                    partial,
                    grad,
                    |v: f64| v.max(0.0),
                    |v: f64| if v > 0.0 { 1.0 } else { 0.0 },
                ),
                act => pass.run(z, partial, grad, |v| act.phi(v), |v| act.dphi(v)),
            }
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn model(
        activation: Activation,
        width: usize,
        second_layer: SecondLayer,
        rng: &mut ChaCha8Rng,
    ) -> TwoLayer {
        let spec = TwoLayerSpec {
            input_dim: 5,
            width,
            activation,
            scaling: Scaling::Lazy,
            alpha: 1.7,
            w_init_std: 1.0,
            second_layer,
        };
        TwoLayer::new(spec, rng).unwrap()
    }

    fn inputs(n: usize, d: usize) -> Mat<f64> {
        Mat::from_fn(n, d, |i, j| ((i * d + j) as f64 * 0.37).sin())
    }

    /// The fused pass against the Jacobian path: ℒ from `forward`, ∇ℒ = Jᵀ(u − y)/n with J built
    /// column by column (an independent code path). Both sum O(n + N) terms of size O(1)·αγ, so
    /// they agree to a few hundred ε relative to the largest gradient entry.
    #[test]
    fn fused_loss_and_grad_matches_jacobian() {
        let mut rng = ChaCha8Rng::seed_from_u64(41);
        // Widths 300 and 128: a partial last block and exactly one block; n = 7 is not a
        // multiple of the four interleaved sums.
        for (activation, width, second_layer, centred) in [
            (Activation::Relu, 300, SecondLayer::Trained, false),
            (Activation::Relu, 128, SecondLayer::FixedSigns, false),
            (Activation::Erf, 300, SecondLayer::Trained, true),
            (Activation::Tanh, 257, SecondLayer::FixedSigns, true),
        ] {
            let mut net = model(activation, width, second_layer, &mut rng);
            let theta = net.init_params(&mut rng);
            if centred {
                let theta0 = net.init_params(&mut rng);
                net = net.centred(theta0).unwrap();
            }
            let x = inputs(7, 5);
            let y: Vec<f64> = (0..7).map(|k| (k as f64 * 0.9).cos()).collect();
            let mut grad = vec![f64::NAN; net.n_params()];
            let loss = net
                .loss_and_grad(&theta, x.as_ref(), &y, &mut grad)
                .unwrap();

            let u = net.forward(&theta, x.as_ref()).unwrap();
            let residual: Vec<f64> = u.iter().zip(&y).map(|(u, y)| (u - y) / 7.0).collect();
            let loss_ref = u.iter().zip(&y).map(|(u, y)| (u - y).powi(2)).sum::<f64>() / 14.0;
            let jac = net.jacobian(&theta, x.as_ref()).unwrap();
            let grad_ref: Vec<f64> = (0..net.n_params())
                .map(|p| (0..7).map(|k| jac[(k, p)] * residual[k]).sum())
                .collect();
            let scale = grad_ref.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            let tol = 500.0 * f64::EPSILON * scale;
            assert!((loss - loss_ref).abs() <= 100.0 * f64::EPSILON * loss_ref);
            for (p, (g, r)) in grad.iter().zip(&grad_ref).enumerate() {
                assert!((g - r).abs() <= tol, "{activation:?} param {p}: {g} vs {r}");
            }
        }
    }

    /// Loss and gradient are bit-identical for 1 and 2 threads (and for `Par::Seq`): the hidden
    /// units are split into fixed blocks whatever the thread count.
    #[test]
    fn fused_loss_and_grad_is_independent_of_thread_count() {
        let run = |threads: usize, par: Option<Par>| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut rng = ChaCha8Rng::seed_from_u64(42);
                let mut net = model(Activation::Relu, 1000, SecondLayer::Trained, &mut rng);
                if let Some(par) = par {
                    net = net.with_parallelism(par);
                }
                let theta = net.init_params(&mut rng);
                let x = inputs(61, 5);
                let y: Vec<f64> = (0..61).map(|k| (k as f64 * 0.3).sin()).collect();
                let mut grad = vec![0.0; net.n_params()];
                let loss = net
                    .loss_and_grad(&theta, x.as_ref(), &y, &mut grad)
                    .unwrap();
                (loss.to_bits(), grad)
            })
        };
        let one = run(1, None);
        assert!(one == run(2, None));
        assert!(one == run(2, Some(Par::Seq)));
        assert!(one == run(2, Some(Par::rayon(2))));
    }
}

//! Measurements along a trajectory θ(t), recorded at chosen times by an observer callback.
//!
//! At each time: the loss L(θ(t)); the distance ‖θ(t) − θ⁰‖; the distance to the linearized
//! flow ‖θ(t) − θ̃(t)‖; the test-output gap max_x |f(x; θ(t)) − f_lin(x; θ̃(t))|; the relative kernel
//! change ‖Θ̂_t − Θ̂₀‖_F/‖Θ̂₀‖_F; for networks with one hidden layer ([`HiddenUnits`]) the fraction
//! of flipped activation patterns and max_r ‖w_r(t) − w_r(0)‖ (Du et al. 2019, Fig. 1b–c); and
//! optionally the lazy ratio κ(t) of ntk-nets.

use crate::error::{Error, Result, check_data, check_theta};
use crate::linearized::LinearizedFlow;
use crate::test_models::LinearTwoLayer;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use ntk_nets::Model;
use ntk_nets::lanczos::LanczosConfig;

/// A model with one hidden layer of units r = 1..m with incoming weights w_r and
/// pre-activations z_{ir} = w_rᵀ x_i.
pub trait HiddenUnits: Model {
    /// Number of hidden units m.
    fn n_hidden(&self) -> usize;
    /// The incoming weight vector w_r of unit r, as a slice of θ.
    fn neuron_weights<'t>(&self, theta: &'t [f64], neuron: usize) -> Result<&'t [f64]>;
    /// Pre-activations Z = (w_rᵀ x_i) (n × m).
    fn hidden_preactivations(&self, theta: &[f64], x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        check_theta(theta, self.n_params())?;
        let d = self.input_dim();
        if x.ncols() != d {
            return Err(Error::ShapeMismatch {
                arg: "x",
                expected: format!("{d} columns"),
                found: format!("{} columns", x.ncols()),
            });
        }
        let m = self.n_hidden();
        let mut weights = Mat::<f64>::zeros(m, d);
        for r in 0..m {
            let w = self.neuron_weights(theta, r)?;
            for j in 0..d {
                weights[(r, j)] = w[j];
            }
        }
        let mut z = Mat::<f64>::zeros(x.nrows(), m);
        matmul(
            z.as_mut(),
            Accum::Replace,
            x,
            weights.transpose(),
            1.0,
            Par::Seq,
        );
        Ok(z)
    }
}

fn row_major_block(
    theta: &[f64],
    n_params: usize,
    width: usize,
    input_dim: usize,
    neuron: usize,
) -> Result<&[f64]> {
    check_theta(theta, n_params)?;
    if neuron >= width {
        return Err(Error::InvalidParameter {
            arg: "neuron",
            value: neuron.to_string(),
            reason: "must be < width",
        });
    }
    Ok(&theta[neuron * input_dim..(neuron + 1) * input_dim])
}

impl HiddenUnits for ntk_nets::TwoLayer {
    fn n_hidden(&self) -> usize {
        self.spec().width
    }
    /// θ = (W row-major N × d, a): w_r is row r of W.
    fn neuron_weights<'t>(&self, theta: &'t [f64], neuron: usize) -> Result<&'t [f64]> {
        let spec = self.spec();
        row_major_block(theta, self.n_params(), spec.width, spec.input_dim, neuron)
    }
}

impl HiddenUnits for LinearTwoLayer {
    fn n_hidden(&self) -> usize {
        self.width
    }
    fn neuron_weights<'t>(&self, theta: &'t [f64], neuron: usize) -> Result<&'t [f64]> {
        row_major_block(theta, self.n_params(), self.width, self.input_dim, neuron)
    }
}

/// Activation-pattern bookkeeping of a [`HiddenUnits`] model relative to θ⁰.
#[derive(Debug, Clone)]
pub struct ActivationPatterns {
    initial_signs: Vec<bool>,
    initial_weights: Vec<Vec<f64>>,
}

impl ActivationPatterns {
    /// Stores the signs of z_{ir}(θ⁰) > 0 and the weights w_r(0).
    pub fn new<H: HiddenUnits + ?Sized>(
        model: &H,
        x: MatRef<'_, f64>,
        theta0: &[f64],
    ) -> Result<Self> {
        let z = model.hidden_preactivations(theta0, x)?;
        let initial_signs = signs(&z);
        let initial_weights = (0..model.n_hidden())
            .map(|r| model.neuron_weights(theta0, r).map(<[f64]>::to_vec))
            .collect::<Result<_>>()?;
        Ok(Self {
            initial_signs,
            initial_weights,
        })
    }

    /// Fraction of pairs (i, r) with 1{z_{ir}(θ) > 0} ≠ 1{z_{ir}(θ⁰) > 0}.
    ///
    /// $$ \frac{1}{nm}\sum_{i,r} \mathbb 1\{\mathbb 1[w_r(t)^T x_i > 0] \ne \mathbb 1[w_r(0)^T x_i > 0]\} $$
    ///
    /// # Reference
    /// Du, Zhai, Poczos & Singh 2019, arXiv:1810.02054, Fig. 1b and Lemma 3.2.
    pub fn flipped_fraction<H: HiddenUnits + ?Sized>(
        &self,
        model: &H,
        x: MatRef<'_, f64>,
        theta: &[f64],
    ) -> Result<f64> {
        let z = model.hidden_preactivations(theta, x)?;
        let now = signs(&z);
        if now.len() != self.initial_signs.len() {
            return Err(Error::ShapeMismatch {
                arg: "x",
                expected: format!("{} pre-activations", self.initial_signs.len()),
                found: format!("{}", now.len()),
            });
        }
        let flipped = now
            .iter()
            .zip(&self.initial_signs)
            .filter(|(a, b)| a != b)
            .count();
        Ok(flipped as f64 / now.len() as f64)
    }

    /// max_r ‖w_r(θ) − w_r(θ⁰)‖₂.
    ///
    /// # Reference
    /// Du, Zhai, Poczos & Singh 2019, arXiv:1810.02054, Fig. 1c and Lemma 3.3 (R = O(√n/(√m λ₀))).
    pub fn max_neuron_movement<H: HiddenUnits + ?Sized>(
        &self,
        model: &H,
        theta: &[f64],
    ) -> Result<f64> {
        let mut worst: f64 = 0.0;
        for (r, w0) in self.initial_weights.iter().enumerate() {
            let w = model.neuron_weights(theta, r)?;
            let dist = w
                .iter()
                .zip(w0)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            worst = worst.max(dist);
        }
        Ok(worst)
    }
}

fn signs(z: &Mat<f64>) -> Vec<bool> {
    let mut out = Vec::with_capacity(z.nrows() * z.ncols());
    for i in 0..z.nrows() {
        for r in 0..z.ncols() {
            out.push(z[(i, r)] > 0.0);
        }
    }
    out
}

/// What a [`TrajectoryObserver`] records besides loss and distances.
#[derive(Debug, Clone, Copy, Default)]
pub struct ObserverOptions<'a> {
    /// Test inputs for the output gap to the linearized model.
    pub x_test: Option<MatRef<'a, f64>>,
    /// Record ‖Θ̂_t − Θ̂₀‖_F/‖Θ̂₀‖_F on the training inputs (one NTK per record).
    pub ntk_change: bool,
    /// Record the lazy ratio κ(t) of ntk-nets with these Lanczos settings.
    pub kappa: Option<LanczosConfig>,
}

/// The measurements at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Time t (or step index for discrete runs).
    pub t: f64,
    /// L(θ(t)) = 1/(2n)‖f(X; θ(t)) − y‖².
    pub loss: f64,
    /// ‖θ(t) − θ⁰‖₂.
    pub distance_from_init: f64,
    /// ‖θ(t) − θ̃(t)‖₂ with θ̃ the linearized flow.
    pub distance_to_linearized: f64,
    /// max over test points of |f(x; θ(t)) − f_lin(x; θ̃(t))|.
    pub max_test_gap: Option<f64>,
    /// ‖Θ̂_t − Θ̂₀‖_F/‖Θ̂₀‖_F.
    pub ntk_relative_change: Option<f64>,
    /// Fraction of flipped activation patterns.
    pub flipped_fraction: Option<f64>,
    /// max_r ‖w_r(t) − w_r(0)‖₂.
    pub max_neuron_movement: Option<f64>,
    /// Lazy ratio κ(t).
    pub kappa: Option<f64>,
}

type HiddenProbe<'a> = Box<dyn Fn(&[f64]) -> Result<(f64, f64)> + 'a>;

/// Records [`Snapshot`]s along a trajectory; pass `|t, θ| observer.record(t, θ)` to
/// [`crate::gradient_flow`] (or use `record` from a discrete optimiser's callback).
pub struct TrajectoryObserver<'a, M: Model + ?Sized> {
    model: &'a M,
    x: MatRef<'a, f64>,
    y: &'a [f64],
    theta0: Vec<f64>,
    linearized: LinearizedFlow,
    options: ObserverOptions<'a>,
    test_f0: Vec<f64>,
    test_cross: Option<Mat<f64>>,
    ntk0: Option<(Mat<f64>, f64)>,
    hidden: Option<HiddenProbe<'a>>,
    snapshots: Vec<Snapshot>,
}

impl<'a, M: Model + ?Sized> TrajectoryObserver<'a, M> {
    /// Linearizes the model at θ⁰ and precomputes what the options need.
    pub fn new(
        model: &'a M,
        x: MatRef<'a, f64>,
        y: &'a [f64],
        theta0: &[f64],
        options: ObserverOptions<'a>,
    ) -> Result<Self> {
        check_data(x, y, model.input_dim())?;
        let linearized = LinearizedFlow::new(model, x, y, theta0)?;
        let (test_f0, test_cross) = match options.x_test {
            Some(x_test) => (
                model.forward(theta0, x_test)?,
                Some(model.empirical_ntk(theta0, x_test, x)?),
            ),
            None => (Vec::new(), None),
        };
        let ntk0 = if options.ntk_change {
            let k = model.empirical_ntk(theta0, x, x)?;
            let norm = k.norm_l2();
            if norm == 0.0 {
                return Err(Error::InvalidParameter {
                    arg: "ntk_change",
                    value: "||Theta_0||_F = 0".into(),
                    reason: "relative kernel change undefined for a zero kernel",
                });
            }
            Some((k, norm))
        } else {
            None
        };
        Ok(Self {
            model,
            x,
            y,
            theta0: theta0.to_vec(),
            linearized,
            options,
            test_f0,
            test_cross,
            ntk0,
            hidden: None,
            snapshots: Vec::new(),
        })
    }

    /// The linearized flow used for the comparisons.
    pub fn linearized(&self) -> &LinearizedFlow {
        &self.linearized
    }

    /// The snapshots recorded so far.
    pub fn snapshots(&self) -> &[Snapshot] {
        &self.snapshots
    }

    /// Consumes the observer, returning its snapshots.
    pub fn into_snapshots(self) -> Vec<Snapshot> {
        self.snapshots
    }

    /// Computes and stores the snapshot of θ at time t (see [`Snapshot`] for the formulas).
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, Thm. 2.1 (sup_t ‖θ_t − θ̃_t‖, |f − f_lin| = O(1/√width));
    /// Du et al. 2019, arXiv:1810.02054, Fig. 1.
    pub fn record(&mut self, t: f64, theta: &[f64]) -> Result<()> {
        let theta_lin = self.linearized.params(t)?;
        let weights = self.linearized.prediction_weights(t)?;
        self.record_against(t, theta, &theta_lin, &weights)
    }

    /// Like [`TrajectoryObserver::record`] for step k of GD with step η: the reference is the
    /// linearized model after k GD steps, θ_k = θ⁰ − J₀ᵀV diag((1 − (1 − ηλ/n)^k)/λ)Vᵀr₀, and
    /// the snapshot's `t` is k.
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, Sec. 2.2 and Thm. 2.1.
    pub fn record_gd_step(&mut self, step: usize, learning_rate: f64, theta: &[f64]) -> Result<()> {
        let theta_lin = self.linearized.gd_params(learning_rate, step)?;
        let weights = self.linearized.gd_prediction_weights(learning_rate, step)?;
        self.record_against(step as f64, theta, &theta_lin, &weights)
    }

    fn record_against(
        &mut self,
        t: f64,
        theta: &[f64],
        theta_lin: &[f64],
        w: &[f64],
    ) -> Result<()> {
        check_theta(theta, self.model.n_params())?;
        let u = self.model.forward(theta, self.x)?;
        let n = self.y.len() as f64;
        let loss = u
            .iter()
            .zip(self.y)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            / (2.0 * n);
        let distance_from_init = l2_distance(theta, &self.theta0);
        let distance_to_linearized = l2_distance(theta, theta_lin);
        let max_test_gap = match (self.options.x_test, &self.test_cross) {
            (Some(x_test), Some(cross)) => {
                let f = self.model.forward(theta, x_test)?;
                let mut worst: f64 = 0.0;
                for i in 0..x_test.nrows() {
                    let f_lin =
                        self.test_f0[i] - (0..w.len()).map(|k| cross[(i, k)] * w[k]).sum::<f64>();
                    worst = worst.max((f[i] - f_lin).abs());
                }
                Some(worst)
            }
            _ => None,
        };
        let ntk_relative_change = match &self.ntk0 {
            Some((k0, norm0)) => {
                let k = self.model.empirical_ntk(theta, self.x, self.x)?;
                Some((&k - k0).norm_l2() / norm0)
            }
            None => None,
        };
        let (flipped_fraction, max_neuron_movement) = match &self.hidden {
            Some(probe) => {
                let (a, b) = probe(theta)?;
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        let kappa = match &self.options.kappa {
            Some(config) => Some(
                ntk_nets::hessian::lazy_ratio(self.model, theta, self.x, self.y, config)?.kappa,
            ),
            None => None,
        };
        self.snapshots.push(Snapshot {
            t,
            loss,
            distance_from_init,
            distance_to_linearized,
            max_test_gap,
            ntk_relative_change,
            flipped_fraction,
            max_neuron_movement,
            kappa,
        });
        Ok(())
    }
}

impl<'a, M: HiddenUnits + ?Sized> TrajectoryObserver<'a, M> {
    /// Also records the flipped-pattern fraction and max_r ‖w_r(t) − w_r(0)‖.
    pub fn with_activation_patterns(mut self) -> Result<Self> {
        let patterns = ActivationPatterns::new(self.model, self.x, &self.theta0)?;
        let (model, x) = (self.model, self.x);
        self.hidden = Some(Box::new(move |theta: &[f64]| {
            Ok((
                patterns.flipped_fraction(model, x, theta)?,
                patterns.max_neuron_movement(model, theta)?,
            ))
        }));
        Ok(self)
    }
}

fn l2_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q) * (p - q))
        .sum::<f64>()
        .sqrt()
}

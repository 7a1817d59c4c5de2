//! Lazy training by output scaling (Chizat, Oyallon & Bach 2019, arXiv:1812.07956; seed 003).
//!
//! For a model f and scale α > 0 let g_α(x; θ) = α(f(x; θ) − f(x; θ⁰)) ([`AlphaScaled`]) and
//! train θ by gradient flow on
//!
//! $$ L_\alpha(\theta) = \frac{1}{\alpha^2} L(g_\alpha) = \frac{1}{2n}\sum_i
//!    \big(f(x_i;\theta) - f(x_i;\theta^0) - y_i/\alpha\big)^2, $$
//!
//! i.e. θ' = −∇L_α = −Jᵀ(g_α − y)/(αn). The outputs then obey g' = −Θ̂_t(g − y)/n with
//! Θ̂_t = J_tJ_tᵀ of f, the same time scale for every α, while ‖θ_α(t) − θ⁰‖ = O(1/α): as α → ∞
//! the trajectory of g_α approaches the linearized one, g_lin(t) = −Θ̂₀(·, X) V diag((1 −
//! e^{−tλ/n})/λ) Vᵀ(−y) (from g(0) = 0), with a gap O(1/α) (Chizat et al., Thm. 2.3).

use crate::error::{Error, Result, check_positive, check_theta};
use crate::linearized::LinearizedFlow;
use crate::ode::{FlowConfig, OdeSystem, integrate};
use faer::{Mat, MatRef};
use ntk_nets::Model;

/// g_α(x; θ) = α(f(x; θ) − f(x; θ⁰)): a [`Model`] whose derivatives are α times those of f.
#[derive(Debug, Clone)]
pub struct AlphaScaled<'a, M: Model + ?Sized> {
    inner: &'a M,
    theta0: Vec<f64>,
    alpha: f64,
}

impl<'a, M: Model + ?Sized> AlphaScaled<'a, M> {
    /// Wraps `inner` centred at `theta0` with scale α > 0.
    pub fn new(inner: &'a M, theta0: &[f64], alpha: f64) -> Result<Self> {
        check_positive("alpha", alpha)?;
        check_theta(theta0, inner.n_params())?;
        Ok(Self {
            inner,
            theta0: theta0.to_vec(),
            alpha,
        })
    }

    /// The scale α.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
}

impl<M: Model + ?Sized> Model for AlphaScaled<'_, M> {
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }
    fn input_dim(&self) -> usize {
        self.inner.input_dim()
    }
    fn forward(&self, theta: &[f64], x: MatRef<'_, f64>) -> ntk_nets::Result<Vec<f64>> {
        let f = self.inner.forward(theta, x)?;
        let f0 = self.inner.forward(&self.theta0, x)?;
        Ok(f.iter()
            .zip(&f0)
            .map(|(a, b)| self.alpha * (a - b))
            .collect())
    }
    fn jacobian(&self, theta: &[f64], x: MatRef<'_, f64>) -> ntk_nets::Result<Mat<f64>> {
        let j = self.inner.jacobian(theta, x)?;
        Ok(Mat::from_fn(j.nrows(), j.ncols(), |i, p| {
            self.alpha * j[(i, p)]
        }))
    }
    fn vjp(&self, theta: &[f64], x: MatRef<'_, f64>, r: &[f64]) -> ntk_nets::Result<Vec<f64>> {
        let mut v = self.inner.vjp(theta, x, r)?;
        v.iter_mut().for_each(|a| *a *= self.alpha);
        Ok(v)
    }
    fn jvp(&self, theta: &[f64], x: MatRef<'_, f64>, v: &[f64]) -> ntk_nets::Result<Vec<f64>> {
        let mut out = self.inner.jvp(theta, x, v)?;
        out.iter_mut().for_each(|a| *a *= self.alpha);
        Ok(out)
    }
    fn empirical_ntk(
        &self,
        theta: &[f64],
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
    ) -> ntk_nets::Result<Mat<f64>> {
        let k = self.inner.empirical_ntk(theta, x1, x2)?;
        let a2 = self.alpha * self.alpha;
        Ok(Mat::from_fn(k.nrows(), k.ncols(), |i, j| a2 * k[(i, j)]))
    }
    fn hvp(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        c: &[f64],
        v: &[f64],
    ) -> ntk_nets::Result<Vec<f64>> {
        let mut out = self.inner.hvp(theta, x, c, v)?;
        out.iter_mut().for_each(|a| *a *= self.alpha);
        Ok(out)
    }
}

/// Gradient flow on L_α = L(g_α)/α²: θ' = −∇L(g_α)/α².
struct ScaledFlow<'a, 'b, M: Model + ?Sized> {
    model: &'b AlphaScaled<'a, M>,
    x: MatRef<'b, f64>,
    y: &'b [f64],
}

impl<M: Model + ?Sized> OdeSystem for ScaledFlow<'_, '_, M> {
    fn rhs(&mut self, _t: f64, theta: &[f64], dtheta: &mut [f64]) -> Result<()> {
        self.model.loss_and_grad(theta, self.x, self.y, dtheta)?;
        let scale = -1.0 / (self.model.alpha * self.model.alpha);
        dtheta.iter_mut().for_each(|g| *g *= scale);
        Ok(())
    }
}

/// One point of [`lazy_training_sweep`].
#[derive(Debug, Clone, PartialEq)]
pub struct LazyPoint {
    /// The scale α.
    pub alpha: f64,
    /// ‖θ_α(T) − θ⁰‖₂.
    pub distance: f64,
    /// α·‖θ_α(T) − θ⁰‖₂ (tends to a constant in the lazy limit).
    pub scaled_distance: f64,
    /// Training loss L(g_α(θ_α(T))) = 1/(2n)‖g_α − y‖².
    pub train_loss: f64,
    /// max over the evaluation points of |g_α(x; θ_α(T)) − g_lin(x; T)|.
    pub linearized_gap: f64,
}

/// Trains g_α on L_α by gradient flow to `config.t_end` for every α and records the distance
/// travelled and the gap to the linearized model's prediction on `x_eval`:
///
/// $$ \theta' = -\nabla L_\alpha(\theta),\qquad
///    \mathrm{gap}_\alpha = \max_{x\in X_{\mathrm{eval}}}|g_\alpha(x;\theta_\alpha(T)) - g_{\mathrm{lin}}(x;T)| = O(1/\alpha). $$
///
/// # Reference
/// Chizat, Oyallon & Bach 2019, arXiv:1812.07956, Sec. 2 and Thm. 2.3 (finite horizon);
/// seed 003, "When does lazy training occur?".
pub fn lazy_training_sweep<M: Model + ?Sized>(
    model: &M,
    x: MatRef<'_, f64>,
    y: &[f64],
    theta0: &[f64],
    x_eval: MatRef<'_, f64>,
    alphas: &[f64],
    config: &FlowConfig,
) -> Result<Vec<LazyPoint>> {
    config.validate()?;
    if alphas.is_empty() {
        return Err(Error::Empty { arg: "alphas" });
    }
    crate::error::check_data(x, y, model.input_dim())?;
    let unit = AlphaScaled::new(model, theta0, 1.0)?;
    let lin = LinearizedFlow::new(&unit, x, y, theta0)?;
    let g_lin = lin.predict(&unit, x_eval, config.t_end)?;
    let mut points = Vec::with_capacity(alphas.len());
    for &alpha in alphas {
        let scaled = AlphaScaled::new(model, theta0, alpha)?;
        let mut system = ScaledFlow {
            model: &scaled,
            x,
            y,
        };
        let mut theta_end = Vec::new();
        integrate(&mut system, theta0, &[config.t_end], config, |_, theta| {
            theta_end = theta.to_vec();
            Ok(())
        })?;
        let distance = theta_end
            .iter()
            .zip(theta0)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        let g_train = scaled.forward(&theta_end, x)?;
        let train_loss = g_train
            .iter()
            .zip(y)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            / (2.0 * y.len() as f64);
        let g_eval = scaled.forward(&theta_end, x_eval)?;
        let linearized_gap = g_eval
            .iter()
            .zip(&g_lin)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        points.push(LazyPoint {
            alpha,
            distance,
            scaled_distance: alpha * distance,
            train_loss,
            linearized_gap,
        });
    }
    Ok(points)
}

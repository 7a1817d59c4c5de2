//! The linearized model f_lin(x; θ) = f(x; θ⁰) + J₀(θ − θ⁰) and its exact training.
//!
//! Under L = 1/(2n)‖u − y‖² the residual r = u − y of the linearized model obeys
//! r' = −(Θ̂₀/n) r, Θ̂₀ = J₀J₀ᵀ. With Θ̂₀ = V diag(λ) Vᵀ (faer eigendecomposition):
//!
//! $$ u(t) = y + V e^{-t\Lambda/n} V^T r_0,\qquad
//!    \tilde\theta(t) = \theta^0 - J_0^T V \,\mathrm{diag}\Big(\frac{1 - e^{-t\lambda_k/n}}{\lambda_k}\Big) V^T r_0, $$
//!
//! and for discrete GD with step η, r_k = (I − ηΘ̂₀/n)^k r₀ with
//! θ_k = θ⁰ − J₀ᵀ V diag((1 − (1 − ηλ/n)^k)/λ) Vᵀ r₀. Eigenvalues that are zero (rank-deficient
//! Θ̂₀) contribute nothing: for them J₀ᵀv = 0 since ‖J₀ᵀv‖² = vᵀΘ̂₀v = 0.
//!
//! # Reference
//! Lee, Xiao, Schoenholz, Bahri, Novak, Sohl-Dickstein & Pennington 2019, arXiv:1902.06720,
//! eqs. (8)–(11) (there with loss 1/2‖·‖², i.e. without our 1/n).

use crate::error::{Error, Result, check_data, check_finite, check_positive, check_theta};
use faer::linalg::matmul::matmul;
use faer::{Accum, Col, Mat, MatRef, Par, Side};
use ntk_nets::Model;

/// The linearization of a model at θ⁰ on a training set, diagonalised once.
#[derive(Debug, Clone)]
pub struct LinearizedFlow {
    theta0: Vec<f64>,
    x_train: Mat<f64>,
    y: Vec<f64>,
    u0: Vec<f64>,
    jacobian0: Mat<f64>,
    /// Eigenvalues of Θ̂₀ (ascending, clamped at 0).
    eigenvalues: Vec<f64>,
    eigenvectors: Mat<f64>,
    /// Vᵀ r₀.
    projected_residual: Vec<f64>,
}

impl LinearizedFlow {
    /// Linearizes `model` at `theta0` on (x, y): computes u₀ = f(X; θ⁰), J₀, Θ̂₀ = J₀J₀ᵀ and its
    /// eigendecomposition.
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, eq. (8).
    pub fn new<M: Model + ?Sized>(
        model: &M,
        x: MatRef<'_, f64>,
        y: &[f64],
        theta0: &[f64],
    ) -> Result<Self> {
        check_data(x, y, model.input_dim())?;
        check_theta(theta0, model.n_params())?;
        let n = x.nrows();
        let u0 = model.forward(theta0, x)?;
        check_finite("f(X; theta0)", &u0)?;
        let jacobian0 = model.jacobian(theta0, x)?;
        let mut ntk = Mat::<f64>::zeros(n, n);
        matmul(
            ntk.as_mut(),
            Accum::Replace,
            jacobian0.as_ref(),
            jacobian0.transpose(),
            1.0,
            Par::rayon(0),
        );
        let eig = ntk
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| Error::LinearAlgebra {
                what: "eigendecomposition of the empirical NTK",
                detail: format!("{e:?}"),
            })?;
        let eigenvalues: Vec<f64> = (0..n)
            .map(|k| eig.S().column_vector()[k].max(0.0))
            .collect();
        let eigenvectors = eig.U().to_owned();
        let projected_residual = (0..n)
            .map(|k| (0..n).map(|i| eigenvectors[(i, k)] * (u0[i] - y[i])).sum())
            .collect();
        Ok(Self {
            theta0: theta0.to_vec(),
            x_train: x.to_owned(),
            y: y.to_vec(),
            u0,
            jacobian0,
            eigenvalues,
            eigenvectors,
            projected_residual,
        })
    }

    /// Number of training points n.
    pub fn n_train(&self) -> usize {
        self.y.len()
    }

    /// Eigenvalues of Θ̂₀/n, ascending: the matrix that drives r' = −(Θ̂₀/n) r.
    pub fn flow_eigenvalues(&self) -> Vec<f64> {
        let n = self.n_train() as f64;
        self.eigenvalues.iter().map(|l| l / n).collect()
    }

    /// The initial outputs u₀ = f(X; θ⁰).
    pub fn initial_outputs(&self) -> &[f64] {
        &self.u0
    }

    fn check_time(t: f64) -> Result<()> {
        if t.is_finite() && t >= 0.0 {
            Ok(())
        } else {
            Err(Error::InvalidParameter {
                arg: "t",
                value: t.to_string(),
                reason: "must be finite and >= 0",
            })
        }
    }

    /// V diag(g(λ_k)) Vᵀ r₀ for a spectral function g.
    fn spectral_apply(&self, g: impl Fn(f64) -> f64) -> Vec<f64> {
        let n = self.n_train();
        let coef: Vec<f64> = (0..n)
            .map(|k| g(self.eigenvalues[k]) * self.projected_residual[k])
            .collect();
        (0..n)
            .map(|i| (0..n).map(|k| self.eigenvectors[(i, k)] * coef[k]).sum())
            .collect()
    }

    /// Training outputs of the linearized flow, u(t) = y + V e^{−tΛ/n} Vᵀ (u₀ − y).
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, eq. (9).
    pub fn outputs(&self, t: f64) -> Result<Vec<f64>> {
        Self::check_time(t)?;
        let n = self.n_train() as f64;
        let decay = self.spectral_apply(|lambda| (-t * lambda / n).exp());
        Ok(self.y.iter().zip(decay).map(|(y, r)| y + r).collect())
    }

    /// The linearized loss L_lin(t) = 1/(2n)‖u(t) − y‖².
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, eq. (9).
    pub fn loss(&self, t: f64) -> Result<f64> {
        let u = self.outputs(t)?;
        let n = self.n_train() as f64;
        Ok(u.iter()
            .zip(&self.y)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            / (2.0 * n))
    }

    fn params_from_coefficients(&self, g: impl Fn(f64) -> f64) -> Result<Vec<f64>> {
        let w = self.spectral_apply(g);
        let mut theta = self.theta0.clone();
        let p = theta.len();
        let w_col = Col::from_fn(w.len(), |i| w[i]);
        let mut jt_w = Col::<f64>::zeros(p);
        matmul(
            jt_w.as_mut(),
            Accum::Replace,
            self.jacobian0.transpose(),
            w_col.as_ref(),
            1.0,
            Par::Seq,
        );
        for j in 0..p {
            theta[j] -= jt_w[j];
        }
        Ok(theta)
    }

    /// Parameters of the linearized flow,
    /// θ̃(t) = θ⁰ − J₀ᵀ V diag((1 − e^{−tλ/n})/λ) Vᵀ (u₀ − y) (λ = 0 modes contribute 0).
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, eq. (10).
    pub fn params(&self, t: f64) -> Result<Vec<f64>> {
        Self::check_time(t)?;
        let n = self.n_train() as f64;
        self.params_from_coefficients(|lambda| {
            if lambda == 0.0 {
                0.0
            } else {
                -(-t * lambda / n).exp_m1() / lambda
            }
        })
    }

    /// The weights w(t) = V diag((1 − e^{−tλ/n})/λ) Vᵀ (u₀ − y) with which
    /// f_lin(x*; θ̃(t)) = f(x*; θ⁰) − Θ̂₀(x*, X) w(t) and θ̃(t) = θ⁰ − J₀ᵀ w(t).
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, eqs. (10)–(11).
    pub fn prediction_weights(&self, t: f64) -> Result<Vec<f64>> {
        Self::check_time(t)?;
        let n = self.n_train() as f64;
        Ok(self.spectral_apply(|lambda| {
            if lambda == 0.0 {
                0.0
            } else {
                -(-t * lambda / n).exp_m1() / lambda
            }
        }))
    }

    /// The weights after k linearized GD steps, w_k = V diag((1 − (1 − ηλ/n)^k)/λ) Vᵀ (u₀ − y),
    /// with θ_k = θ⁰ − J₀ᵀ w_k and f_lin(x*; θ_k) = f(x*; θ⁰) − Θ̂₀(x*, X) w_k.
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, Sec. 2.2.
    pub fn gd_prediction_weights(&self, learning_rate: f64, n_steps: usize) -> Result<Vec<f64>> {
        check_positive("learning_rate", learning_rate)?;
        let n = self.n_train() as f64;
        Ok(self.spectral_apply(|lambda| {
            if lambda == 0.0 {
                0.0
            } else {
                (1.0 - powi_usize(1.0 - learning_rate * lambda / n, n_steps)) / lambda
            }
        }))
    }

    /// The training inputs X.
    pub fn x_train(&self) -> MatRef<'_, f64> {
        self.x_train.as_ref()
    }

    /// The linearization point θ⁰.
    pub fn theta0(&self) -> &[f64] {
        &self.theta0
    }

    /// Test predictions f_lin(x*; θ̃(t)) = f(x*; θ⁰) − Θ̂₀(x*, X) V diag((1 − e^{−tλ/n})/λ) Vᵀ r₀.
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, eq. (11).
    pub fn predict<M: Model + ?Sized>(
        &self,
        model: &M,
        x_test: MatRef<'_, f64>,
        t: f64,
    ) -> Result<Vec<f64>> {
        Self::check_time(t)?;
        if x_test.nrows() == 0 {
            return Err(Error::Empty { arg: "x_test" });
        }
        let f0 = model.forward(&self.theta0, x_test)?;
        let cross = model.empirical_ntk(&self.theta0, x_test, self.x_train.as_ref())?;
        let w = self.prediction_weights(t)?;
        Ok((0..x_test.nrows())
            .map(|i| f0[i] - (0..w.len()).map(|k| cross[(i, k)] * w[k]).sum::<f64>())
            .collect())
    }

    /// Training outputs after k steps of GD with step η on the linearized model,
    /// u_k = y + V (1 − ηλ/n)^k Vᵀ (u₀ − y).
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, Sec. 2.2 (discrete-time version of eq. (9)).
    pub fn gd_outputs(&self, learning_rate: f64, n_steps: usize) -> Result<Vec<f64>> {
        check_positive("learning_rate", learning_rate)?;
        let n = self.n_train() as f64;
        let decay =
            self.spectral_apply(|lambda| powi_usize(1.0 - learning_rate * lambda / n, n_steps));
        Ok(self.y.iter().zip(decay).map(|(y, r)| y + r).collect())
    }

    /// Parameters after k GD steps on the linearized model,
    /// θ_k = θ⁰ − J₀ᵀ V diag((1 − (1 − ηλ/n)^k)/λ) Vᵀ (u₀ − y).
    ///
    /// # Reference
    /// Lee et al. 2019, arXiv:1902.06720, Sec. 2.2.
    pub fn gd_params(&self, learning_rate: f64, n_steps: usize) -> Result<Vec<f64>> {
        check_positive("learning_rate", learning_rate)?;
        let n = self.n_train() as f64;
        self.params_from_coefficients(|lambda| {
            if lambda == 0.0 {
                0.0
            } else {
                (1.0 - powi_usize(1.0 - learning_rate * lambda / n, n_steps)) / lambda
            }
        })
    }
}

fn powi_usize(base: f64, exponent: usize) -> f64 {
    match i32::try_from(exponent) {
        Ok(e) => base.powi(e),
        Err(_) => base.powf(exponent as f64),
    }
}

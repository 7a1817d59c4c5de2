//! `predict.gradient_descent_mse`: closed-form MSE gradient flow with a fixed kernel
//! (Lee et al. 2019, arXiv:1902.06720, Eqs. (10)–(11)), over
//! [`ntk_kernels::regression::GradientDescentMse`]:
//!
//! f_t(X) = y + e^{−ηtΘ/N}(f₀(X) − y),
//! f_t(x) = f₀(x) + Θ(x, X) Θ⁻¹ (I − e^{−ηtΘ/N})(y − f₀(X)),  N = y_train.size.

use crate::arrays::{Input, optional_input, to_numpy};
use crate::errors::{BindingError, invalid, run};
use faer::Par;
use ntk_kernels::regression::{GradientDescentMse, MseConfig, TestSet};
use numpy::PyArray2;
use pyo3::prelude::*;

/// The factored train problem of `gradient_descent_mse` (one eigendecomposition for every
/// finite time, one Cholesky factor for t = ∞, both computed on first use and kept).
#[pyclass(frozen, module = "ntk_lab._native", name = "GradientDescentMse")]
pub struct PyGradientDescentMse {
    inner: GradientDescentMse,
    n_train: usize,
    outputs: usize,
}

type Prediction<'py> = (Bound<'py, PyArray2<f64>>, Option<Bound<'py, PyArray2<f64>>>);

#[pymethods]
impl PyGradientDescentMse {
    /// Checks Θ (n × n, symmetric, finite) and y (n × k) and keeps copies of both.
    #[new]
    #[pyo3(signature = (k_train_train, y_train, learning_rate = 1.0, diag_reg = 0.0, diag_reg_absolute_scale = false))]
    fn new(
        py: Python<'_>,
        k_train_train: &Bound<'_, PyAny>,
        y_train: &Bound<'_, PyAny>,
        learning_rate: f64,
        diag_reg: f64,
        diag_reg_absolute_scale: bool,
    ) -> PyResult<Self> {
        let k = Input::new(k_train_train, "k_train_train", 2)?;
        let y = Input::new(y_train, "y_train", 2)?;
        let (km, ym) = (k.matrix(), y.matrix());
        let config = MseConfig {
            learning_rate,
            diag_reg,
            diag_reg_absolute_scale,
        };
        let inner = run(py, || {
            GradientDescentMse::new(km, ym, config, Par::rayon(0)).map_err(BindingError::from)
        })?;
        Ok(Self {
            inner,
            n_train: ym.nrows(),
            outputs: ym.ncols(),
        })
    }

    /// Outputs at each time in `times` (t ≥ 0, `inf` for t = ∞): a list of
    /// `(fx_train (n × k), fx_test (m × k) | None)`.
    #[pyo3(signature = (times, fx_train_0, k_test_train = None, fx_test_0 = None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        times: Vec<f64>,
        fx_train_0: &Bound<'py, PyAny>,
        k_test_train: Option<&Bound<'py, PyAny>>,
        fx_test_0: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Vec<Prediction<'py>>> {
        let f0 = Input::new(fx_train_0, "fx_train_0", 2)?;
        let k_test = optional_input(k_test_train, "k_test_train", 2)?;
        let f_test = optional_input(fx_test_0, "fx_test_0", 2)?;
        let test = match (&k_test, &f_test) {
            (Some(k), Some(f)) => Some(TestSet {
                k_test_train: k.matrix(),
                fx_test_0: f.matrix(),
            }),
            (None, None) => None,
            _ => {
                return Err(invalid("k_test_train and fx_test_0 must be given together"));
            }
        };
        let f0m = f0.matrix();
        let inner = &self.inner;
        let predictions = run(py, || {
            inner.predict(&times, f0m, test).map_err(BindingError::from)
        })?;
        predictions
            .iter()
            .map(|p| {
                Ok((
                    to_numpy(py, p.fx_train.as_ref())?,
                    p.fx_test
                        .as_ref()
                        .map(|m| to_numpy(py, m.as_ref()))
                        .transpose()?,
                ))
            })
            .collect()
    }

    /// Number of training points n.
    #[getter]
    fn n_train(&self) -> usize {
        self.n_train
    }

    /// Number of outputs k (columns of y_train).
    #[getter]
    fn outputs(&self) -> usize {
        self.outputs
    }

    /// The condition number λ_max/λ_min of the factorisation used for `times` (an
    /// eigendecomposition if any time is finite, else the Cholesky factor's estimate).
    fn condition_number(&self, py: Python<'_>, times: Vec<f64>) -> PyResult<f64> {
        let inner = &self.inner;
        run(py, || {
            let info = inner.info(&times).map_err(BindingError::from)?;
            Ok(info.condition_number)
        })
    }
}

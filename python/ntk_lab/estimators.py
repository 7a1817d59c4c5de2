"""scikit-learn estimators on the infinite-width kernels: ``NTKRegressor`` and
``NTKClassifier`` (fit / predict / score, get_params / set_params, usable in a ``Pipeline``).

Both predict with the mean of the infinitely wide network trained by MSE gradient flow for a
time ``t`` from f₀ = 0 (Lee et al. 2019, arXiv:1902.06720, Eq. (11))::

    f_t(x) = K(x, X) K⁻¹ (I − exp(−η t K / N)) y,     t = None: f(x) = K(x, X) (K + ρI)⁻¹ y,

with K the analytic NTK (``kernel='ntk'``) or NNGP (``kernel='nngp'``, then the t = ∞ mean is
the NNGP-GP posterior mean) of ``depth`` × [Dense(width, w_std, b_std), activation] +
Dense(1, w_std, b_std), or of any ``architecture`` built with ``ntk_lab.stax.serial``. ``fit``
stores the training inputs and the dual coefficients α_t = K⁻¹(I − e^{−ηtK/N}) y, so a fitted
estimator pickles. Inputs are converted to float64; the kernels use x·x'/d, so standardise the
features (e.g. ``StandardScaler`` in a ``Pipeline``). The classifier regresses on centred
one-hot targets (1 − 1/k for the true class, −1/k otherwise) and predicts the arg-max.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import predict as _predict
from . import stax

__all__ = ["NTKRegressor", "NTKClassifier"]


class _KernelRegression(BaseEstimator):
    """Shared fitting code: the network, its train kernel and the dual coefficients."""

    def __init__(
        self,
        kernel: str = "ntk",
        depth: int = 3,
        width: int = 512,
        activation: str = "relu",
        w_std: float = 1.4142135623730951,
        b_std: Optional[float] = 0.05,
        parameterization: str = "ntk",
        architecture: Optional[stax.Serial] = None,
        t: Optional[float] = None,
        learning_rate: float = 1.0,
        diag_reg: float = 1e-6,
    ):
        self.kernel = kernel
        self.depth = depth
        self.width = width
        self.activation = activation
        self.w_std = w_std
        self.b_std = b_std
        self.parameterization = parameterization
        self.architecture = architecture
        self.t = t
        self.learning_rate = learning_rate
        self.diag_reg = diag_reg

    def _network(self) -> stax.Serial:
        if self.architecture is not None:
            if not isinstance(self.architecture, stax.Serial):
                raise ValueError("architecture must be an ntk_lab.stax.serial network or None")
            if self.architecture.is_conv:
                raise ValueError("the estimators take flat features: use a fully-connected architecture")
            return self.architecture
        activations = {
            "relu": stax.Relu,
            "erf": stax.Erf,
            "gelu": stax.Gelu,
            "tanh": stax.Tanh,
            "sin": stax.Sin,
            "exp": stax.Exp,
            "identity": stax.Identity,
            "softplus": stax.Softplus,
        }
        if self.activation not in activations:
            raise ValueError(f"activation must be one of {sorted(activations)}, got {self.activation!r}")
        if int(self.depth) < 0:
            raise ValueError(f"depth must be >= 0, got {self.depth}")
        layers = []
        for _ in range(int(self.depth)):
            layers.append(stax.Dense(self.width, self.w_std, self.b_std, self.parameterization))
            layers.append(activations[self.activation]())
        layers.append(stax.Dense(1, self.w_std, self.b_std, self.parameterization))
        return stax.serial(*layers)

    def _kernel(self, x1: np.ndarray, x2: Optional[np.ndarray]) -> np.ndarray:
        if self.kernel not in ("ntk", "nngp"):
            raise ValueError(f"kernel must be 'ntk' or 'nngp', got {self.kernel!r}")
        return self._network().kernel_fn(x1, x2, self.kernel)

    def _fit_targets(self, X: np.ndarray, targets: np.ndarray) -> None:
        """Stores X and α_t for the (n, k) float64 targets."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        k_train = self._kernel(X, None)
        predict_fn = _predict.gradient_descent_mse(
            k_train, targets, learning_rate=self.learning_rate, diag_reg=self.diag_reg
        )
        n = X.shape[0]
        # f_t(x) = K(x, X) α_t: the test prediction with K(x, X) = I gives α_t itself.
        _, alpha = predict_fn(
            t=self.t, fx_train_0=0.0, fx_test_0=0.0, k_test_train=np.eye(n)
        )
        self.X_fit_ = X
        self.dual_coef_ = np.ascontiguousarray(alpha)

    def _decision(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "dual_coef_")
        X = validate_data(self, X, reset=False, dtype=np.float64, order="C")
        return self._kernel(X, self.X_fit_) @ self.dual_coef_


class NTKRegressor(RegressorMixin, _KernelRegression):
    """Regression with the infinite-width network trained by MSE gradient flow (see the module
    docs). ``y`` may be (n,) or (n, k) (multi-output)."""

    def fit(self, X: Any, y: Any) -> "NTKRegressor":
        X, y = validate_data(
            self, X, y, dtype=np.float64, order="C", multi_output=True, y_numeric=True
        )
        y = np.asarray(y, dtype=np.float64)
        self._y_ndim = y.ndim
        self._fit_targets(X, np.ascontiguousarray(y.reshape(y.shape[0], -1)))
        return self

    def predict(self, X: Any) -> np.ndarray:
        out = self._decision(X)
        return out[:, 0] if self._y_ndim == 1 else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class NTKClassifier(ClassifierMixin, _KernelRegression):
    """Classification by kernel regression on centred one-hot targets (see the module docs).
    ``decision_function`` returns the regression outputs ((n,) for two classes: positive class
    minus negative class)."""

    def fit(self, X: Any, y: Any) -> "NTKClassifier":
        X, y = validate_data(self, X, y, dtype=np.float64, order="C")
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        targets = np.full((X.shape[0], k), -1.0 / k)
        targets[np.arange(X.shape[0]), encoded] += 1.0
        self._fit_targets(X, targets)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        scores = self._decision(X)
        if len(self.classes_) == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X: Any) -> np.ndarray:
        scores = self._decision(X)
        return self.classes_[np.argmax(scores, axis=1)]

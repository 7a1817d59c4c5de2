"""``neural_tangents.predict`` for ntk-lab: closed-form MSE gradient flow with a fixed kernel.

For the loss ½·mean over all N = ``y_train.size`` entries of (f(X) − y)², a network in the
linear (lazy) regime trained by gradient flow with learning rate η has (Lee et al. 2019,
arXiv:1902.06720, Eqs. (10)–(11))::

    f_t(X)  = y + exp(−η t Θ / N) (f_0(X) − y)
    f_t(x*) = f_0(x*) + Θ(x*, X) Θ⁻¹ (I − exp(−η t Θ / N)) (y − f_0(X))

with ``t=None`` meaning t = ∞ (a Cholesky solve). One eigendecomposition of Θ serves every
finite t and is kept between calls.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import numpy as np

from . import _native
from ._arrays import as_array

__all__ = ["gradient_descent_mse"]


def _as_outputs(value: Any, n: int, k: int, name: str) -> np.ndarray:
    """``value`` (a scalar, or an array of n × k entries) as a C-contiguous (n, k) float64 array."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full((n, k), float(array))
    if array.size != n * k:
        raise ValueError(f"{name} must be a scalar or have {n} x {k} entries, got shape {array.shape}")
    return np.ascontiguousarray(array.reshape(n, k))


def gradient_descent_mse(
    k_train_train: Any,
    y_train: Any,
    learning_rate: float = 1.0,
    diag_reg: float = 0.0,
    diag_reg_absolute_scale: bool = False,
    trace_axes: tuple = (-1,),
) -> Callable[..., Any]:
    """``predict.gradient_descent_mse(k_train_train, y_train, learning_rate, diag_reg, ...)``.

    ``k_train_train``: the (n, n) train kernel (float64, symmetric); ``y_train``: (n,) or (n, k)
    targets. ``diag_reg`` adds ρ·I to Θ, ρ = ``diag_reg`` · tr(Θ)/n (or ``diag_reg`` itself with
    ``diag_reg_absolute_scale=True``). Returns
    ``predict_fn(t=None, fx_train_0=0., fx_test_0=0., k_test_train=None)``, which gives
    f_t(X) (shape of ``y_train``, with a leading time axis when ``t`` is an array), or the pair
    ``(fx_train_t, fx_test_t)`` when ``k_test_train`` (m, n) is given.

    A kernel that is not positive definite raises ``ValueError`` with λ_min.
    """
    if tuple(trace_axes) != (-1,):
        raise ValueError("ntk-lab kernels are per output channel: only trace_axes=(-1,) is supported")
    y = np.asarray(as_array(y_train))
    if y.dtype != np.float64:
        raise ValueError(f"`y_train` must have dtype float64, got {y.dtype}")
    if y.ndim not in (1, 2):
        raise ValueError(f"`y_train` must have rank 1 or 2, got shape {y.shape}")
    y_shape = y.shape
    y2 = np.ascontiguousarray(y.reshape(y.shape[0], -1))
    n, k = y2.shape
    problem = _native.GradientDescentMse(
        as_array(k_train_train),
        y2,
        learning_rate=float(learning_rate),
        diag_reg=float(diag_reg),
        diag_reg_absolute_scale=bool(diag_reg_absolute_scale),
    )

    def predict_fn(
        t: Union[None, float, Any] = None,
        fx_train_0: Any = 0.0,
        fx_test_0: Any = 0.0,
        k_test_train: Any = None,
    ) -> Any:
        """f_t on the train (and test) points; ``t=None`` is t = ∞, an array of times stacks
        the results along a leading axis."""
        times = np.atleast_1d(np.asarray(np.inf if t is None else t, dtype=np.float64))
        scalar_time = t is None or np.ndim(t) == 0
        f0 = _as_outputs(fx_train_0, n, k, "fx_train_0")
        if k_test_train is None:
            test_kernel = None
            f_test0 = None
        else:
            test_kernel = as_array(k_test_train)
            m = np.shape(test_kernel)[0] if np.ndim(test_kernel) == 2 else -1
            if m < 0:
                raise ValueError(f"`k_test_train` must have rank 2, got shape {np.shape(test_kernel)}")
            f_test0 = _as_outputs(fx_test_0, m, k, "fx_test_0")
        results = problem.predict(list(times.ravel()), f0, test_kernel, f_test0)
        train = np.stack([r[0].reshape(y_shape) for r in results])
        test = None
        if test_kernel is not None:
            test_shape = (np.shape(test_kernel)[0],) + y_shape[1:]
            test = np.stack([r[1].reshape(test_shape) for r in results])
        if scalar_time:
            train = train[0]
            test = None if test is None else test[0]
        else:
            train = train.reshape(times.shape + train.shape[1:])
            test = None if test is None else test.reshape(times.shape + test.shape[1:])
        return train if test is None else (train, test)

    predict_fn.problem = problem  # type: ignore[attr-defined]
    return predict_fn

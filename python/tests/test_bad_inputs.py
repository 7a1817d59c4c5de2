"""Bad inputs raise ValueError with the crate's message (never a crash or a silent NaN)."""

import numpy as np
import pytest

from ntk_lab import predict, stax

from conftest import nt_inputs


@pytest.fixture(scope="module")
def network():
    return stax.serial(stax.Dense(64, 1.5, 0.1), stax.Relu(), stax.Dense(1, 1.5, 0.1))


@pytest.fixture(scope="module")
def x():
    return nt_inputs(6, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.complex128, np.float16, object])
def test_wrong_dtype(network, x, dtype):
    with pytest.raises(ValueError, match="float64"):
        network.kernel_fn(x.astype(dtype))
    with pytest.raises(ValueError, match="float64"):
        network.kernel_fn(x, x.astype(dtype))


def test_non_native_byte_order(network, x):
    with pytest.raises(ValueError, match="float64"):
        network.kernel_fn(x.astype(">f8"))


@pytest.mark.parametrize("shape", [(24,), (2, 3, 4), (1, 2, 3, 4), ()])
def test_wrong_rank(network, shape):
    with pytest.raises(ValueError, match="rank 2"):
        network.kernel_fn(np.ones(shape))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite(network, x, bad):
    y = x.copy()
    y[3, 2] = bad
    with pytest.raises(ValueError, match="non-finite value .* `x1` at index 14"):
        network.kernel_fn(y)
    with pytest.raises(ValueError, match="non-finite value .* `x2`"):
        network.kernel_fn(x, y)


def test_mismatched_dimension(network, x):
    with pytest.raises(ValueError, match="shape mismatch in `x2`"):
        network.kernel_fn(x, nt_inputs(3, 5))


def test_empty(network):
    with pytest.raises(ValueError, match="empty"):
        network.kernel_fn(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="empty"):
        network.kernel_fn(np.zeros((3, 0)))


def test_not_an_array(network):
    from ntk_lab import _native

    with pytest.raises(ValueError, match="float64"):
        network.kernel_fn("abc")  # converted by np.asarray to a string array
    with pytest.raises(ValueError, match="NumPy array"):
        _native.kernel(network.architecture, {"x": 1})


def test_overflow_is_an_error_not_inf():
    network = stax.serial(stax.Dense(8, 1e154), stax.Relu(), stax.Dense(1, 1e154))
    with pytest.raises(ValueError, match="overflows"):
        network.kernel_fn(nt_inputs(3, 2) * 1e150)


@pytest.mark.parametrize(
    "layers, message",
    [
        ([stax.Dense(0), stax.Relu(), stax.Dense(1)], "width"),
        ([stax.Dense(8, W_std=-1.0), stax.Relu(), stax.Dense(1)], "w_std"),
        ([stax.Dense(8, W_std=float("nan")), stax.Dense(1)], "w_std"),
        ([stax.Dense(8, b_std=-0.1), stax.Dense(1)], "b_std"),
        ([stax.Dense(8), stax.Relu()], "last layer"),
        ([], "empty"),
        ([stax.Dense(8, parameterization="ntk"), stax.Relu(), stax.Dense(1, parameterization="standard")], "parameterization"),
        ([stax.Dense(8, parameterization="mean_field"), stax.Dense(1)], "parameterization"),
        ([stax.Dense(8), stax.LeakyRelu(float("nan")), stax.Dense(1)], "activation"),
    ],
)
def test_bad_architectures(layers, message):
    with pytest.raises(ValueError, match=message):
        stax.serial(*layers)


def test_unsupported_variants():
    with pytest.raises(ValueError):
        stax.Erf(a=2.0)
    with pytest.raises(ValueError):
        stax.Gelu(approximate=True)
    with pytest.raises(ValueError):
        stax.Dense(8, channel_axis=1)
    with pytest.raises(TypeError):
        stax.Dense(8, colour="red")
    with pytest.raises(TypeError):
        stax.serial(stax.Dense(1), "relu")


def test_predict_errors(network, x):
    k = network.kernel_fn(x, None, "ntk")
    y = np.sin(np.arange(6.0))[:, None]
    with pytest.raises(ValueError, match="shape mismatch|rows"):
        predict.gradient_descent_mse(k, y[:5])
    with pytest.raises(ValueError, match="learning_rate"):
        predict.gradient_descent_mse(k, y, learning_rate=0.0)
    with pytest.raises(ValueError, match="float64"):
        predict.gradient_descent_mse(k.astype(np.float32), y)
    asym = k.copy()
    asym[0, 1] += 1.0
    with pytest.raises(ValueError, match="symmetric"):
        predict.gradient_descent_mse(asym, y)
    # A singular kernel (two identical points) at t = inf: not positive definite, with lambda_min.
    xx = np.vstack([x, x[:1]])
    singular = network.kernel_fn(xx, None, "ntk")
    predict_fn = predict.gradient_descent_mse(singular, np.zeros((7, 1)))
    with pytest.raises(ValueError, match="not positive definite"):
        predict_fn(t=None, k_test_train=singular)
    predict_fn = predict.gradient_descent_mse(k, y)
    with pytest.raises(ValueError, match="times"):
        predict_fn(t=-1.0)
    with pytest.raises(ValueError, match="fx_train_0"):
        predict_fn(t=1.0, fx_train_0=np.zeros(5))


def test_finite_network_errors(network, x):
    init_fn, apply_fn, _ = network
    _, params = init_fn(0, (-1, 4))
    with pytest.raises(ValueError, match="theta"):
        apply_fn(params[:-1], x)
    with pytest.raises(ValueError):
        apply_fn(params, nt_inputs(6, 5))
    with pytest.raises(ValueError):
        init_fn(-1, (-1, 4))
    # An activation without a Dense before it has no finite network.
    odd = stax.serial(stax.Relu(), stax.Dense(1))
    with pytest.raises(ValueError, match="activation"):
        odd.init_fn(0, (-1, 4))

"""The finite network of a serial (init_fn / apply_fn) and its empirical kernels, against
independent references: a NumPy forward pass written from the documented parameter layout, and
central finite differences of apply_fn for the Jacobian behind the empirical NTK."""

import math

import numpy as np
import pytest

import ntk_lab
from ntk_lab import stax

from conftest import nt_inputs

W1, B1 = 1.3, 0.2


def small_network(parameterization="ntk"):
    return stax.serial(
        stax.Dense(8, W1, B1, parameterization),
        stax.Erf(),
        stax.Dense(6, W1, B1, parameterization),
        stax.Tanh(),
        stax.Dense(1, W1, B1, parameterization),
    )


def numpy_forward(params, x, widths, parameterization):
    """z = s_w W g + s_b b per layer (NTK: s_w = W_std/sqrt(fan_in), s_b = b_std; standard:
    1, 1), W row-major (width x fan_in) then b; returns (output, last hidden features)."""
    activations = [lambda z: np.vectorize(math.erf)(z), np.tanh, None]
    g, offset, fan_in = x, 0, x.shape[1]
    hidden = None
    for layer_idx, width in enumerate(widths):
        w = params[offset : offset + width * fan_in].reshape(width, fan_in)
        offset += width * fan_in
        b = params[offset : offset + width]
        offset += width
        if parameterization == "ntk":
            z = W1 / math.sqrt(fan_in) * g @ w.T + B1 * b
        else:
            z = g @ w.T + b
        hidden = g
        g = z if activations[layer_idx] is None else activations[layer_idx](z)
        fan_in = width
    assert offset == params.size
    return g, hidden


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
def test_apply_and_empirical_nngp_match_numpy(parameterization):
    network = small_network(parameterization)
    init_fn, apply_fn, _ = network
    x = nt_inputs(7, 3)
    out_shape, params = init_fn(3, (-1, 3))
    assert out_shape == (-1, 1) and params.shape == (3 * 8 + 8 + 8 * 6 + 6 + 6 + 1,)
    reference, hidden = numpy_forward(params, x, (8, 6, 1), parameterization)
    # Same float64 products in another order: 1e-12 relative to the output scale.
    scale = np.abs(reference).max()
    assert np.abs(apply_fn(params, x) - reference).max() <= 1e-12 * scale
    # Readout-marginalised NNGP: W_std^2/n_{L-1} <g, g'> + b_std^2.
    nngp_fn = ntk_lab.empirical_nngp_fn(apply_fn)
    expected = W1**2 / hidden.shape[1] * hidden @ hidden.T + B1**2
    assert np.abs(nngp_fn(x, None, params) - expected).max() <= 1e-12 * np.abs(expected).max()


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
def test_empirical_ntk_matches_finite_differences(parameterization):
    """Theta = J J^T with J by central differences, h = 1e-6: truncation h^2 |f'''|/6 ~ 1e-13,
    rounding eps |f| / h ~ 1e-10 per entry of J, so Theta (sums of 93 products) is accurate to
    ~1e-8 of its scale; 1e-6 relative is a safe bound."""
    network = small_network(parameterization)
    init_fn, apply_fn, _ = network
    _, params = init_fn(11, (-1, 3))
    x1, x2 = nt_inputs(5, 3), nt_inputs(4, 3, first_row=5)
    h = 1e-6

    def jacobian(x):
        columns = []
        for j in range(params.size):
            step = np.zeros_like(params)
            step[j] = h
            columns.append((apply_fn(params + step, x) - apply_fn(params - step, x))[:, 0] / (2 * h))
        return np.stack(columns, axis=1)

    j1, j2 = jacobian(x1), jacobian(x2)
    ntk_fn = ntk_lab.empirical_ntk_fn(apply_fn)
    cross = ntk_fn(x1, x2, params)
    assert cross.shape == (5, 4)
    assert np.abs(cross - j1 @ j2.T).max() <= 1e-6 * np.abs(cross).max()
    self_kernel = ntk_fn(x1, None, params)
    assert np.abs(self_kernel - j1 @ j1.T).max() <= 1e-6 * np.abs(self_kernel).max()
    assert np.array_equal(self_kernel, self_kernel.T)
    both = ntk_lab.empirical_kernel_fn(apply_fn)(x1, x2, ("nngp", "ntk"), params)
    assert np.array_equal(both.ntk, cross)


def test_init_is_seeded_and_standard_normal():
    """NTK parameterization: every parameter ~ N(0, 1). With P = 17 217 draws the sample mean
    has standard error 1/sqrt(P) = 0.0076 and the sample variance sqrt(2/P) = 0.011: 5 SE bounds."""
    network = stax.serial(stax.Dense(256, 1.5, 0.1), stax.Relu(), stax.Dense(1, 1.5, 0.1))
    init_fn, _, _ = network
    _, a = init_fn(0, (-1, 64))
    _, b = init_fn(0, (-1, 64))
    _, c = init_fn(1, (-1, 64))
    _, d = init_fn(np.array([0, 1], dtype=np.uint32), (-1, 64))  # a JAX-style key = seed 1
    assert np.array_equal(a, b) and not np.array_equal(a, c) and np.array_equal(c, d)
    p = a.size
    assert p == 64 * 256 + 256 + 256 + 1
    assert abs(a.mean()) <= 5 / math.sqrt(p)
    assert abs(a.var() - 1.0) <= 5 * math.sqrt(2 / p)

"""The finite convolutional network of a serial (init_fn / apply_fn, ntk_nets::ConvNet) and its
empirical kernels, against independent references: a NumPy forward pass written from the
documented parameter layout (OHWI filters, then biases), central finite differences of apply_fn
for the Jacobian behind J J^T, and the infinite-width kernel (ntk_kernels::conv) by Monte Carlo
over initialisations."""

import math

import numpy as np
import pytest

import ntk_lab
from ntk_lab import stax

W0, B0, WR, BR = 1.4, 0.3, 1.2, 0.1


def images(n, h, w, c, seed):
    return np.random.default_rng(seed).standard_normal((n, h, w, c))


def one_hidden(channels, parameterization="ntk"):
    return stax.serial(
        stax.Conv(channels, (3, 3), W_std=W0, b_std=B0, parameterization=parameterization),
        stax.Relu(),
        stax.GlobalAvgPool(),
        stax.Dense(1, W_std=WR, b_std=BR, parameterization=parameterization),
    )


def numpy_one_hidden(params, x, channels, parameterization):
    """Conv 3x3 VALID stride 1 (OHWI filter, z = s_w P(x) W^T + s_b b), ReLU, global average
    pool, Dense(1); returns (f, the pooled features g)."""
    n, h, w, c = x.shape
    fan_in = 9 * c
    filters = params[: channels * fan_in].reshape(channels, 3, 3, c)
    bias = params[channels * fan_in : channels * fan_in + channels]
    rest = params[channels * fan_in + channels :]
    v, beta = rest[:channels], rest[channels]
    assert rest.size == channels + 1
    s_w, s_b = (W0 / math.sqrt(fan_in), B0) if parameterization == "ntk" else (1.0, 1.0)
    z = np.zeros((n, h - 2, w - 2, channels))
    for i in range(h - 2):
        for j in range(w - 2):
            patch = x[:, i : i + 3, j : j + 3, :]  # (n, 3, 3, c)
            z[:, i, j, :] = s_w * np.einsum("nabc,oabc->no", patch, filters) + s_b * bias
    g = np.maximum(z, 0.0).mean(axis=(1, 2))
    r_w, r_b = (WR / math.sqrt(channels), BR) if parameterization == "ntk" else (1.0, 1.0)
    return r_w * g @ v + r_b * beta, g


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
def test_apply_and_empirical_nngp_match_numpy(parameterization):
    channels = 5
    network = one_hidden(channels, parameterization)
    init_fn, apply_fn, _ = network
    x = images(4, 5, 4, 2, seed=1)
    out_shape, params = init_fn(7, (-1, 5, 4, 2))
    assert out_shape == (-1, 1) and params.shape == (channels * 18 + channels + channels + 1,)
    reference, g = numpy_one_hidden(params, x, channels, parameterization)
    # The same float64 sums in another order: 1e-12 relative to the output scale.
    scale = np.abs(reference).max()
    assert np.abs(apply_fn(params, x)[:, 0] - reference).max() <= 1e-12 * scale
    # Readout-marginalised NNGP: W_std^2/n <g, g'> + b_std^2 (n = channels after the pool).
    expected = WR**2 / channels * g @ g.T + BR**2
    got = ntk_lab.empirical_nngp_fn(apply_fn)(x, None, params)
    assert np.abs(got - expected).max() <= 1e-12 * np.abs(expected).max()
    x2 = images(3, 5, 4, 2, seed=2)
    _, g2 = numpy_one_hidden(params, x2, channels, parameterization)
    cross = ntk_lab.empirical_nngp_fn(apply_fn)(x, x2, params)
    assert np.abs(cross - (WR**2 / channels * g @ g2.T + BR**2)).max() <= 1e-12 * np.abs(expected).max()


def deeper(parameterization):
    return stax.serial(
        stax.Conv(3, (2, 2), strides=(1, 2), padding="SAME", W_std=1.3, b_std=0.2, parameterization=parameterization),
        stax.Erf(),
        stax.AvgPool((2, 2), strides=(1, 1), padding="VALID"),
        stax.Conv(2, (2, 1), padding="CIRCULAR", W_std=1.1, b_std=None, parameterization=parameterization),
        stax.Tanh(),
        stax.Flatten(),
        stax.Dense(4, W_std=1.2, b_std=0.1, parameterization=parameterization),
        stax.Gelu(),
        stax.Dense(1, W_std=1.0, b_std=0.05, parameterization=parameterization),
    )


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
def test_empirical_ntk_is_the_finite_difference_jacobian_product(parameterization):
    """Theta = J J^T with J by central differences of apply_fn, h = 1e-6: truncation
    h^2 |f'''|/6 ~ 1e-13, rounding eps |f| / h ~ 1e-10 per entry of J, so Theta (sums of ~100
    products of O(1) entries) is accurate to ~1e-8 of its scale; 1e-6 relative is a safe bound."""
    init_fn, apply_fn, _ = deeper(parameterization)
    _, params = init_fn(5, (-1, 4, 5, 2))
    x1, x2 = images(3, 4, 5, 2, seed=3), images(2, 4, 5, 2, seed=4)
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
    for got, expected in [(ntk_fn(x1, x2, params), j1 @ j2.T), (ntk_fn(x1, None, params), j1 @ j1.T)]:
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-6 * np.abs(expected).max()
    both = ntk_lab.empirical_kernel_fn(apply_fn)(x1, x2, None, params)
    assert np.array_equal(both.ntk, ntk_fn(x1, x2, params))


def test_monte_carlo_mean_is_the_infinite_width_kernel():
    """One hidden conv layer, NTK parameterization: the first-layer pre-activations are exactly
    Gaussian with the covariance of the analytic recursion and the readout weights are
    independent of them, so E[empirical NNGP] and E[empirical NTK] over initialisations equal
    ntk_kernels::conv::kernel at every width (no finite-width bias). The mean of S = 40 seeds
    must lie within 5 standard errors (sample std / sqrt(S)) of kernel_fn's value, entrywise;
    and the spread shrinks like 1/sqrt(channels) (each is an average over channels): the std
    ratio between 16 and 256 channels, 4 in expectation, lies in [2, 8] (each std estimate is
    within ~11% at S = 40)."""
    x = images(3, 4, 4, 2, seed=5)
    samples = 40
    spread = {}
    for channels in (16, 256):
        network = one_hidden(channels)
        init_fn, apply_fn, kernel_fn = network
        exact = kernel_fn(x, None, ("nngp", "ntk"))
        ntk_fn = ntk_lab.empirical_ntk_fn(apply_fn)
        nngp_fn = ntk_lab.empirical_nngp_fn(apply_fn)
        draws = {"nngp": [], "ntk": []}
        for seed in range(samples):
            _, params = init_fn(1000 + seed, (-1, 4, 4, 2))
            draws["nngp"].append(nngp_fn(x, None, params))
            draws["ntk"].append(ntk_fn(x, None, params))
        for name in ("nngp", "ntk"):
            values = np.stack(draws[name])
            mean, std = values.mean(axis=0), values.std(axis=0, ddof=1)
            standard_error = std / math.sqrt(samples)
            deviation = np.abs(mean - getattr(exact, name))
            assert np.all(deviation <= 5 * standard_error), (channels, name, deviation / standard_error)
            spread[channels, name] = std.mean()
    for name in ("nngp", "ntk"):
        ratio = spread[16, name] / spread[256, name]
        assert 2.0 <= ratio <= 8.0, (name, ratio)


def test_conv_finite_network_errors():
    init_fn, apply_fn, _ = one_hidden(4)
    _, params = init_fn(0, (-1, 4, 4, 2))
    with pytest.raises(ValueError, match="rank 4"):
        apply_fn(params, np.zeros((2, 32)))
    with pytest.raises(ValueError, match="NHWC"):
        init_fn(0, (-1, 32))
    with pytest.raises(ValueError, match="theta"):
        apply_fn(params[:-1], images(2, 4, 4, 2, seed=0))
    with pytest.raises(ValueError, match="shape mismatch in `x2`"):
        ntk_lab.empirical_ntk_fn(apply_fn)(images(2, 4, 4, 2, seed=0), images(2, 4, 4, 3, seed=0), params)
    with pytest.raises(ValueError):  # a 3x3 VALID filter does not fit a 2x2 image
        init_fn(0, (-1, 2, 2, 2))

"""Mercer eigenvalues of a network's kernels on S^2 against an independent NumPy Funk-Hecke
quadrature: mu_k = 1/2 int_0^pi kappa(cos t) P_k(cos t) sin t dt (p = 3, Legendre P_k), with
kappa from kernel_fn between e_1 and the unit vectors (cos t, sin t, 0) in one call, Gauss-Legendre
in t with 600 nodes (ntk-lab uses 512: the integrand is analytic in t, so both rules have
converged geometrically and the difference is
summation rounding, ~1e-15 of kappa(1))."""

import numpy as np
import pytest

import ntk_lab
from ntk_lab import stax


def numpy_spectrum(kernel_fn, get, degrees, nodes=600):
    u, w = np.polynomial.legendre.leggauss(nodes)
    theta = 0.5 * np.pi * (u + 1.0)
    points = np.stack([np.cos(theta), np.sin(theta), np.zeros_like(theta)], axis=1)
    e1 = np.array([[1.0, 0.0, 0.0]])
    kappa = kernel_fn(e1, points, get)[0]
    weights = 0.5 * 0.5 * np.pi * w * np.sin(theta) * kappa
    t = np.cos(theta)
    return np.array(
        [weights @ np.polynomial.legendre.legval(t, np.eye(degrees + 1)[k]) for k in range(degrees + 1)]
    )


@pytest.mark.parametrize("activation", [stax.Relu, stax.Erf])
def test_mercer_spectrum_matches_numpy_quadrature(activation):
    network = stax.serial(
        stax.Dense(512, 1.4, 0.1), activation(), stax.Dense(512, 1.4, 0.1), activation(),
        stax.Dense(1, 1.4, 0.1),
    )
    degrees = 12
    spectrum = ntk_lab.mercer_spectrum(network.kernel_fn, 3, degrees)
    assert np.array_equal(spectrum.multiplicities, 2 * np.arange(degrees + 1) + 1.0)
    for get in ("nngp", "ntk"):
        ours = getattr(spectrum, get)
        reference = numpy_spectrum(network.kernel_fn, get, degrees)
        kappa_one = network.kernel_fn(np.array([[1.0, 0.0, 0.0]]), None, get)[0, 0]
        assert np.abs(ours - reference).max() <= 1e-13 * kappa_one
        # Positive-definite dot-product kernels have mu_k >= 0 (Schoenberg).
        assert (ours > -1e-15 * kappa_one).all()


def test_mercer_errors():
    network = stax.serial(stax.Dense(8), stax.Relu(), stax.Dense(1))
    with pytest.raises(ValueError, match="sphere_dim"):
        ntk_lab.mercer_spectrum(network.kernel_fn, 1, 4)
    conv = stax.serial(stax.Conv(4, (3, 3)), stax.Relu(), stax.Flatten(), stax.Dense(1))
    with pytest.raises(ValueError, match="fully-connected"):
        ntk_lab.mercer_spectrum(conv.kernel_fn, 3, 4)

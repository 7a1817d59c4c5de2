"""Parity with neural-tangents 0.6.5 (float64) through the Python API.

Each case of nt_relu.json carries the exact ``stax.serial(...)`` call that produced it; it is
evaluated here with ``ntk_lab.stax`` in place of ``neural_tangents.stax`` (the one-line switch
the package promises). Tolerances are those of the Rust parity tests
(crates/kernels/tests/reference.rs): off-diagonal and cross entries 1e-10 relative (the file's
own numpy re-implementation agrees with neural-tangents to <= 1e-12; the rest is arccos rounding
near |rho| = 1); self-kernel diagonals against the file's exact values to 1e-13 relative, since
neural-tangents' own diagonal carries ~1e-8 noise (the file's ``diagonal_note``).
"""

import numpy as np
import pytest

from ntk_lab import predict, stax


def max_rel(ours, reference, skip_diag=False):
    ours, reference = np.asarray(ours), np.asarray(reference)
    assert ours.shape == reference.shape
    rel = np.abs(ours - reference) / np.maximum(np.abs(reference), 1e-300)
    if skip_diag:
        rel = rel[~np.eye(rel.shape[0], dtype=bool)]
    return rel.max()


def case_ids(data):
    return [case["name"] for case in data["cases"]]


def test_every_relu_case_matches_neural_tangents(nt_relu):
    inputs = nt_relu["inputs"]
    checked = 0
    for case in nt_relu["cases"]:
        network = eval(case["stax"], {"stax": stax})  # the reference's own stax call
        _, _, kernel_fn = network
        for kind in ("raw", "sphere"):
            res = case["results"][kind]
            x = np.array(inputs[f"x_{kind}"])
            x2 = np.array(inputs[f"x2_{kind}"])
            k = kernel_fn(x, None, ("nngp", "ntk"))
            name = f"{case['name']} {kind}"
            assert max_rel(k.nngp, res["nngp"], skip_diag=True) <= 1e-10, name
            assert max_rel(k.ntk, res["ntk"], skip_diag=True) <= 1e-10, name
            assert max_rel(np.diag(k.nngp), res["exact_diagonal_nngp"]) <= 1e-13, name
            assert max_rel(np.diag(k.ntk), res["exact_diagonal_ntk"]) <= 1e-13, name
            # The self kernel is exactly symmetric.
            assert np.array_equal(k.nngp, k.nngp.T) and np.array_equal(k.ntk, k.ntk.T)
            cross = kernel_fn(x, x2, ("nngp", "ntk"))
            assert cross.nngp.shape == (x.shape[0], x2.shape[0])
            assert max_rel(cross.nngp, res["nngp_cross"]) <= 1e-10, name
            assert max_rel(cross.ntk, res["ntk_cross"]) <= 1e-10, name
            # The transposed cross kernel k(x2, x) (filled through the transposed output
            # layout) is the transpose of k(x, x2), to rounding of the exchanged recursion.
            back = kernel_fn(x2, x, "ntk")
            assert max_rel(back.T, cross.ntk) <= 1e-12, name
            checked += 1
    assert checked == 12


def test_get_variants(nt_relu):
    case = nt_relu["cases"][1]
    _, _, kernel_fn = eval(case["stax"], {"stax": stax})
    x = np.array(nt_relu["inputs"]["x_raw"])
    both = kernel_fn(x)
    only_ntk = kernel_fn(x, None, "ntk")
    assert isinstance(only_ntk, np.ndarray)
    assert np.array_equal(only_ntk, both.ntk)
    nngp_only = kernel_fn(x, None, ("nngp",))
    assert nngp_only.ntk is None and np.array_equal(nngp_only.nngp, both.nngp)
    with pytest.raises(ValueError):
        kernel_fn(x, None, "empirical")


def test_gradient_descent_mse_matches_neural_tangents(nt_relu):
    """The file's gradient_flow case at every listed time and t = inf. The train NTK has
    condition number ~1e2, so float64 solves agree to kappa*n*eps ~ 1e-13; 1e-10 leaves room for
    the reference's own rounding (its numpy cross-check differs by 1.3e-15). All values are
    O(1), so the absolute bound is also relative."""
    flow = nt_relu["gradient_flow"]
    k_train = np.array(flow["ntk_train_train"])
    k_test = np.array(flow["ntk_test_train"])
    n = k_train.shape[0]
    y = np.sin(1.0 + 0.9 * np.arange(n))[:, None]  # the file's y_train_formula
    predict_fn = predict.gradient_descent_mse(k_train, y, learning_rate=1.0, diag_reg=0.0)
    times = np.array(flow["times"])
    fx_train, fx_test = predict_fn(t=times, k_test_train=k_test)
    assert fx_train.shape == (len(times), n, 1)
    assert np.abs(fx_train[:, :, 0] - np.array(flow["f_train_t"])).max() <= 1e-10
    assert np.abs(fx_test[:, :, 0] - np.array(flow["f_test_t"])).max() <= 1e-10
    f_inf, f_test_inf = predict_fn(t=None, k_test_train=k_test)
    assert np.abs(f_inf[:, 0] - np.array(flow["f_train_inf"])).max() <= 1e-10
    assert np.abs(f_test_inf[:, 0] - np.array(flow["f_test_inf"])).max() <= 1e-10
    # Train-only call returns one array; a scalar time has no time axis.
    assert predict_fn(t=2.0).shape == (n, 1)


def test_gradient_flow_kernels_from_python_match_reference(nt_relu):
    """The gradient_flow case's NTKs recomputed from its stax call and the sphere inputs."""
    flow = nt_relu["gradient_flow"]
    _, _, kernel_fn = eval(flow["stax"], {"stax": stax})
    x = np.array(nt_relu["inputs"]["x_sphere"])
    x2 = np.array(nt_relu["inputs"]["x2_sphere"])
    assert max_rel(kernel_fn(x, None, "ntk"), flow["ntk_train_train"], skip_diag=True) <= 1e-10
    assert max_rel(kernel_fn(x2, x, "ntk"), flow["ntk_test_train"]) <= 1e-10

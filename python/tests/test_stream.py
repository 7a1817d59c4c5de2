"""kernel_to_npy: the kernel of .npy inputs streamed to an .npy file equals kernel_fn's.

While this build lacks the streaming writer, kernel_to_npy raises NotImplementedError naming it
and the comparison is skipped with that reason; bad requests are ValueError either way."""

import numpy as np
import pytest

import ntk_lab
from ntk_lab import stax

from conftest import nt_inputs

NETWORK = stax.serial(stax.Dense(64, 1.4, 0.05), stax.Relu(), stax.Dense(1, 1.4, 0.05))


def _missing(tmp):
    x = tmp / "probe.npy"
    np.save(x, nt_inputs(3, 4))
    try:
        ntk_lab.kernel_to_npy(NETWORK.kernel_fn, x, tmp / "probe_k.npy")
    except NotImplementedError as e:
        return str(e)
    return None


def test_stream_matches_kernel_fn(tmp_path):
    missing = _missing(tmp_path)
    if missing is not None:
        pytest.skip(f"streaming kernel not in this build: {missing}")
    x1, x2 = nt_inputs(300, 16), nt_inputs(200, 16, first_row=300)
    np.save(tmp_path / "x1.npy", x1)
    np.save(tmp_path / "x2.npy", x2)
    for get in ("nngp", "ntk"):
        out = tmp_path / f"k_{get}.npy"
        ntk_lab.kernel_to_npy(NETWORK.kernel_fn, tmp_path / "x1.npy", out, tmp_path / "x2.npy", get=get)
        # Same recursion block by block: equal to rounding of the blocked Gram products.
        expected = NETWORK.kernel_fn(x1, x2, get)
        assert np.allclose(np.load(out), expected, rtol=1e-13, atol=0)


def test_stream_bad_requests(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        ntk_lab.kernel_to_npy(NETWORK.kernel_fn, tmp_path / "nope.npy", tmp_path / "k.npy")
    np.save(tmp_path / "x.npy", nt_inputs(3, 4))
    with pytest.raises(ValueError, match="get"):
        ntk_lab.kernel_to_npy(NETWORK.kernel_fn, tmp_path / "x.npy", tmp_path / "k.npy", get="both")

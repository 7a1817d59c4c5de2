"""Shared test data.

Reference values (not copied here, read from the Rust crates' test data so that both suites use
the same files):
- ``crates/kernels/tests/data/nt_relu.json``: neural-tangents 0.6.5 (jax 0.4.23, float64) NNGP/NTK
  matrices of dense ReLU networks and a gradient-descent-MSE case (see that directory's README).
- ``python/tests/data/nt_conv.json``: neural-tangents 0.6.5 (jax 0.4.23, float64) CNN-GP/CNTK
  matrices of four convolutional networks, copied unchanged from the project's shared reference
  data (its ``meta`` section gives the generator and input formula).
"""

import json
import pathlib

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
NT_RELU = REPO / "crates" / "kernels" / "tests" / "data" / "nt_relu.json"
NT_CONV = HERE / "data" / "nt_conv.json"


@pytest.fixture(scope="session")
def nt_relu():
    return json.loads(NT_RELU.read_text())


@pytest.fixture(scope="session")
def nt_conv():
    return json.loads(NT_CONV.read_text())


def nt_inputs(n, d, first_row=0):
    """The `xtask bench` / reference inputs x[i][j] = sin(0.7(i+1) + 1.3(j+1)) + 0.1 cos(2.1(i+1)(j+1))."""
    i = np.arange(first_row + 1, first_row + n + 1, dtype=np.float64)[:, None]
    j = np.arange(1, d + 1, dtype=np.float64)[None, :]
    return np.sin(0.7 * i + 1.3 * j) + 0.1 * np.cos(2.1 * i * j)

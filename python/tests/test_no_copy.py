"""C-contiguous float64 inputs are read in place; outputs are written in place.

``_native._input_address`` returns the address of the first value the Rust side reads through
the same conversion every binding uses. For a C-contiguous float64 array it must be NumPy's own
data pointer; for a strided view the bindings copy, and the address differs (so the check can
fail)."""

import numpy as np

from ntk_lab import _native, stax

from conftest import nt_inputs


def data_pointer(a):
    return a.__array_interface__["data"][0]


def test_c_contiguous_float64_is_not_copied():
    x = nt_inputs(50, 8)
    assert x.flags.c_contiguous and x.dtype == np.float64
    address, borrowed = _native._input_address(x)
    assert borrowed and address == data_pointer(x)
    # A row slice of a C array is still C-contiguous: read in place at its offset.
    rows = x[10:20]
    address, borrowed = _native._input_address(rows)
    assert borrowed and address == data_pointer(x) + 10 * 8 * 8


def test_fortran_matrix_is_not_copied():
    x = np.asfortranarray(nt_inputs(50, 8))
    address, borrowed = _native._input_address(x)
    assert borrowed and address == data_pointer(x)


def test_strided_view_is_copied():
    x = nt_inputs(50, 8)[:, ::2]
    assert not x.flags.c_contiguous and not x.flags.f_contiguous
    address, borrowed = _native._input_address(x)
    assert not borrowed and address != data_pointer(x)


def test_strided_and_contiguous_inputs_give_the_same_kernel():
    network = stax.serial(stax.Dense(16, 1.4, 0.1), stax.Erf(), stax.Dense(1, 1.4, 0.1))
    base = nt_inputs(40, 12)
    strided = base[:, ::2]
    contiguous = np.ascontiguousarray(strided)
    fortran = np.asfortranarray(strided)
    k = network.kernel_fn(contiguous)
    assert np.array_equal(network.kernel_fn(strided).ntk, k.ntk)
    # The F-ordered input gives a column-major view: same values, the Gram block's GEMM may
    # sum in another order, so equal to rounding (1e-14 relative).
    assert np.allclose(network.kernel_fn(fortran).ntk, k.ntk, rtol=1e-14, atol=0)


def test_outputs_are_new_c_contiguous_arrays():
    network = stax.serial(stax.Dense(16), stax.Relu(), stax.Dense(1))
    x = nt_inputs(30, 5)
    k = network.kernel_fn(x, nt_inputs(7, 5, first_row=30))
    for m in (k.nngp, k.ntk):
        assert m.shape == (30, 7) and m.dtype == np.float64
        assert m.flags.c_contiguous and m.flags.owndata and m.flags.writeable

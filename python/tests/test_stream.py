"""kernel_to_npy: the kernel streamed tile by tile to .npy files equals kernel_fn's.

Why bit for bit: the streamed tiles are computed by the same recursion as kernel_fn
(ntk_kernels::analytic), and tile sides are multiples of 128, the in-memory block size, so every
entry goes through the same floating-point operations (docs/dataset_scale.md). One subtlety:
kernel_fn fills its row-major NumPy output through the transpose, i.e. it runs the recursion on
(x2, x1) (ntk_kernels::analytic::kernel_into), while the file holds K(x1, x2) computed on
(x1, x2), as `cargo xtask kernel` writes it. The recursion is not bitwise symmetric in its two
point sets (Gram products and square roots in another order), so the bit-for-bit reference of a
cross kernel is kernel_fn(x2, x1).T — the same computation — and kernel_fn(x1, x2) agrees to
rounding (measured ≤ 5e-15 relative; asserted 1e-13). Self kernels are computed once per
symmetric pair either way. float32 files are the float64 kernel rounded once (numpy's
astype(float32) rounds to nearest as Rust's `as f32`).
`max_memory="1M"` forces tiles of side 128 for these inputs: the budget left after the inputs,
~0.98 MB, holds 128² but not 256² entries at 48 bytes each (one kernel, float64, two tiles in
flight)."""

import json

import numpy as np
import pytest

import ntk_lab
from ntk_lab import stax

from conftest import nt_inputs

NETWORK = stax.serial(stax.Dense(64, 1.4, 0.05), stax.Relu(), stax.Dense(1, 1.4, 0.05))
SMALL_TILES = "1M"


def test_cross_kernel_from_arrays_and_files_is_kernel_fn_bit_for_bit(tmp_path):
    x1, x2 = nt_inputs(300, 16), nt_inputs(200, 16, first_row=300)
    np.save(tmp_path / "x1.npy", x1)
    np.save(tmp_path / "x2.npy", x2)
    for get in ("nngp", "ntk"):
        expected = NETWORK.kernel_fn(x2, x1, get).T
        nearby = NETWORK.kernel_fn(x1, x2, get)
        for kind, (a, b) in {"array": (x1, x2), "file": (tmp_path / "x1.npy", tmp_path / "x2.npy")}.items():
            out = tmp_path / f"k_{get}_{kind}.npy"
            summary = ntk_lab.kernel_to_npy(NETWORK.kernel_fn, a, b, path=out, get=get, max_memory=SMALL_TILES)
            assert summary["outputs"] == {get: str(out)}
            assert summary["shape"] == (300, 200)
            report = summary["report"]
            assert report["complete"] and report["tile"] == 128
            assert report["tiles"] == 3 * 2 and report["computed"] == 6 and report["reused"] == 0
            stored = np.load(out)
            assert stored.dtype == np.float64 and stored.flags.c_contiguous
            assert np.array_equal(stored, expected), f"{get}/{kind}: max |diff| {np.abs(stored - expected).max()}"
            assert np.abs(stored - nearby).max() <= 1e-13 * np.abs(nearby).max()


def test_self_kernel_both_kernels_and_float32(tmp_path):
    x = nt_inputs(300, 16)
    expected = NETWORK.kernel_fn(x, None, ("nngp", "ntk"))
    summary = ntk_lab.kernel_to_npy(NETWORK, x, path=tmp_path / "k.npy", get=None, max_memory=SMALL_TILES)
    # Both kernels: STEM.nngp.npy and STEM.ntk.npy, as `cargo xtask kernel` names them.
    assert summary["outputs"] == {"nngp": str(tmp_path / "k.nngp.npy"), "ntk": str(tmp_path / "k.ntk.npy")}
    assert summary["manifest"] == str(tmp_path / "k.manifest.json")
    # Upper block triangle of 3 x 3 blocks of side 128 (budget for two kernels: still 128).
    assert summary["report"]["tiles"] == 6
    for name in ("nngp", "ntk"):
        stored = np.load(tmp_path / f"k.{name}.npy")
        assert np.array_equal(stored, getattr(expected, name))
        assert np.array_equal(stored, stored.T)  # mirrored lower triangle
    manifest = json.loads((tmp_path / "k.manifest.json").read_text())
    assert manifest["format"] == "ntk-lab-tiles/1" and manifest["complete"]
    assert manifest["dtype"] == "f64" and len(manifest["finished"]) == 6

    out32 = tmp_path / "k32.npy"
    ntk_lab.kernel_to_npy(NETWORK.kernel_fn, x, path=out32, get="ntk", dtype="float32", max_memory=SMALL_TILES)
    stored = np.load(out32)
    assert stored.dtype == np.float32
    assert np.array_equal(stored, expected.ntk.astype(np.float32))
    assert not list(tmp_path.glob("*.partial"))


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_bytes(tmp_path):
    x = nt_inputs(700, 8)  # 6 blocks of 128 (the last of 60): 21 upper tiles
    reference = tmp_path / "reference.npy"
    ntk_lab.kernel_to_npy(NETWORK.kernel_fn, x, path=reference, max_memory=SMALL_TILES)

    calls = []

    def stop_after_five(done, total):
        calls.append((done, total))
        if len(calls) == 5:
            raise Interrupt("stop")

    out = tmp_path / "k.npy"
    with pytest.raises(Interrupt):
        ntk_lab.kernel_to_npy(NETWORK.kernel_fn, x, path=out, max_memory=SMALL_TILES, progress=stop_after_five)
    # Progress counts entries of this run's tiles, increasing, out of the upper-triangle total.
    totals = {total for _, total in calls}
    assert len(totals) == 1 and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert not out.exists(), "an interrupted run must not leave a file under its final name"
    assert (tmp_path / "k.npy.partial").exists()
    manifest = json.loads((tmp_path / "k.manifest.json").read_text())
    assert not manifest["complete"] and manifest["tiles_total"] == 21
    assert len(manifest["finished"]) == 5  # the fifth tile is written before the run stops

    summary = ntk_lab.kernel_to_npy(NETWORK.kernel_fn, x, path=out, max_memory=SMALL_TILES)
    report = summary["report"]
    assert report["complete"] and (report["reused"], report["computed"]) == (5, 16)
    assert out.read_bytes() == reference.read_bytes()
    assert np.array_equal(np.load(out), NETWORK.kernel_fn(x, None, "ntk"))

    # Done: a third call computes nothing.
    again = ntk_lab.kernel_to_npy(NETWORK.kernel_fn, x, path=out, max_memory=SMALL_TILES)["report"]
    assert again["complete"] and again["computed"] == 0


def test_a_corrupted_finished_tile_is_recomputed(tmp_path):
    x = nt_inputs(400, 8)  # 4 blocks: 10 upper tiles

    calls = []

    def stop_after_three(done, total):
        calls.append(done)
        if len(calls) == 3:
            raise Interrupt("stop")

    out = tmp_path / "k.npy"
    with pytest.raises(Interrupt):
        ntk_lab.kernel_to_npy(NETWORK.kernel_fn, x, path=out, max_memory=SMALL_TILES, progress=stop_after_three)
    partial = tmp_path / "k.npy.partial"
    data = bytearray(partial.read_bytes())
    data[-400 * 8 * 400 + 8 : -400 * 8 * 400 + 16] = np.float64(12345.0).tobytes()  # entry (0, 1): tile 0
    partial.write_bytes(bytes(data))
    report = ntk_lab.kernel_to_npy(NETWORK.kernel_fn, x, path=out, max_memory=SMALL_TILES)["report"]
    assert (report["reused"], report["computed"]) == (2, 8)
    assert np.array_equal(np.load(out), NETWORK.kernel_fn(x, None, "ntk"))


def test_bad_requests_raise_value_error_and_leave_no_file(tmp_path):
    x = nt_inputs(5, 4)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "k.npy"
    k = NETWORK.kernel_fn
    cases = [
        (dict(x1=tmp_path / "nope.npy"), "cannot open"),
        (dict(x1=x, get="both"), "get"),
        (dict(x1=x, dtype="float16"), "dtype"),
        (dict(x1=x, max_memory="lots"), "max_memory"),
        (dict(x1=x, max_memory=-1), "max_memory"),
        (dict(x1=x, max_memory=100), "inputs alone"),
        (dict(x1=x, x2=nt_inputs(5, 3)), "coordinates"),
        (dict(x1=np.where(np.arange(20).reshape(5, 4) == 14, np.nan, x)), "non-finite value NaN in `x1` at index 14"),
        (dict(x1=x.astype(np.float32)), "float64"),
        (dict(x1=x[:, 0]), "rank 2"),
        (dict(x1=np.zeros((0, 4))), "empty"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            ntk_lab.kernel_to_npy(k, **kwargs, path=out)
        assert not out.exists()
    with pytest.raises(ValueError, match="does not exist"):
        ntk_lab.kernel_to_npy(k, x, path=tmp_path / "missing-dir" / "k.npy")
    bad = x.copy()
    bad[2, 1] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match="non-finite entry inf at flat index 9"):
        ntk_lab.kernel_to_npy(k, tmp_path / "bad.npy", path=out)
    np.save(tmp_path / "ints.npy", np.arange(20).reshape(5, 4))
    with pytest.raises(ValueError, match="expected float32 or float64"):
        ntk_lab.kernel_to_npy(k, tmp_path / "ints.npy", path=out)
    conv = stax.serial(stax.Conv(4, (2, 2)), stax.Relu(), stax.Flatten(), stax.Dense(1))
    with pytest.raises(ValueError, match="fully-connected"):
        ntk_lab.kernel_to_npy(conv.kernel_fn, x, path=out)
    assert not out.exists()

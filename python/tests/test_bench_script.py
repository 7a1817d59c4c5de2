"""The speed script runs (at a small size) and reports a positive ratio; the timing claim itself
is measured by running python/bench/kernel_speed.py at n = 4000, not asserted here (absolute
times on a shared CI machine are too noisy for a 10% bound)."""

import json
import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "bench" / "kernel_speed.py"


def test_kernel_speed_script_small():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--n", "300", "--runs", "3", "--json"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout
    result = json.loads(out)
    assert result["n"] == 300 and result["runs"] == 3
    assert result["rust_median_s"] > 0 and result["python_median_s"] > 0
    assert result["python_over_rust"] > 0

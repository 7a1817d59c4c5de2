"""kernel_fn from Python against the Rust call, in the same run.

Workload: `cargo xtask bench`'s analytic-relu-L3 — d = 64, inputs
x[i][j] = sin(0.7(i+1) + 1.3(j+1)) + 0.1 cos(2.1(i+1)(j+1)), serial([Dense(512, √2, 0.05),
Relu]×3, Dense(1, √2, 0.05)), NNGP + NTK, n = 4000 (``--n`` to change).

The Rust side is ``ntk_kernels::analytic::kernel`` timed inside Rust
(``ntk_lab._native._time_rust_kernel``, the bench's own input matrix, GIL released). The Python
side is ``kernel_fn(x, None, ('nngp', 'ntk'))`` on a NumPy array of the same values, timed with
``time.perf_counter`` around the call (argument conversion, output allocation and return
included). The two are interleaved run by run, so load from other processes affects both alike;
the medians and their ratio are printed (one JSON line with ``--json``).

    python python/bench/kernel_speed.py [--n 4000] [--runs 11] [--json] [--check 1.10]
"""

import argparse
import json
import math
import statistics
import sys
import time

import numpy as np

from ntk_lab import _native, stax


def inputs(n, d):
    i = np.arange(1, n + 1, dtype=np.float64)[:, None]
    j = np.arange(1, d + 1, dtype=np.float64)[None, :]
    return np.sin(0.7 * i + 1.3 * j) + 0.1 * np.cos(2.1 * i * j)


def network():
    layers = []
    for _ in range(3):
        layers += [stax.Dense(512, W_std=math.sqrt(2.0), b_std=0.05), stax.Relu()]
    layers.append(stax.Dense(1, W_std=math.sqrt(2.0), b_std=0.05))
    return stax.serial(*layers)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", type=float, default=None, metavar="RATIO",
                        help="exit with status 1 if the Python/Rust median ratio exceeds RATIO")
    args = parser.parse_args(argv)

    net = network()
    x = inputs(args.n, args.d)
    # Warm-up of both paths (page faults of the first large allocations, thread pool start).
    _native._time_rust_kernel(net.architecture, args.n, args.d, 1)
    net.kernel_fn(x, None, ("nngp", "ntk"))

    rust, python = [], []
    for _ in range(args.runs):
        rust += _native._time_rust_kernel(net.architecture, args.n, args.d, 1)
        start = time.perf_counter()
        k = net.kernel_fn(x, None, ("nngp", "ntk"))
        python.append(time.perf_counter() - start)
        del k
    rust_median, python_median = statistics.median(rust), statistics.median(python)
    ratio = python_median / rust_median
    result = {
        "workload": "analytic-relu-L3",
        "n": args.n,
        "d": args.d,
        "runs": args.runs,
        "rust_median_s": rust_median,
        "python_median_s": python_median,
        "python_over_rust": ratio,
        "rust_min_s": min(rust),
        "python_min_s": min(python),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"analytic-relu-L3 n = {args.n}: Rust median {rust_median:.4f} s (min {min(rust):.4f}), "
            f"Python kernel_fn median {python_median:.4f} s (min {min(python):.4f}), "
            f"ratio Python/Rust = {ratio:.3f} over {args.runs} interleaved runs"
        )
    if args.check is not None and ratio > args.check:
        print(f"ratio {ratio:.3f} exceeds {args.check}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ntk-lab from Python: infinite-width NNGP/NTK kernels, MSE gradient-flow predictions and the
empirical NTK of finite networks, in neural-tangents' vocabulary, computed by the ntk-lab Rust
crates.

Switching from neural-tangents is mostly an import::

    from ntk_lab import stax, predict          # instead of: from neural_tangents import stax, predict

    init_fn, apply_fn, kernel_fn = stax.serial(
        stax.Dense(512, W_std=1.5, b_std=0.05), stax.Relu(), stax.Dense(1, W_std=1.5, b_std=0.05))
    k = kernel_fn(x_train, None, ("nngp", "ntk"))
    predict_fn = predict.gradient_descent_mse(k.ntk, y_train)
    fx_train, fx_test = predict_fn(t=None, k_test_train=kernel_fn(x_test, x_train, "ntk"))

Also: ``empirical_ntk_fn`` / ``empirical_nngp_fn`` of the finite network (``init_fn`` /
``apply_fn``), ``mercer_spectrum`` (eigenvalues of the kernels on the sphere),
``kernel_to_npy`` (a kernel streamed to an ``.npy`` file) and the scikit-learn estimators
``NTKRegressor`` / ``NTKClassifier`` (in ``ntk_lab.estimators``, imported lazily).
"""

from __future__ import annotations

import os
from collections import namedtuple
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from . import _native, predict, stax
from ._arrays import as_array

__version__ = _native.__version__

__all__ = [
    "stax",
    "predict",
    "empirical_ntk_fn",
    "empirical_nngp_fn",
    "empirical_kernel_fn",
    "mercer_spectrum",
    "MercerSpectrum",
    "kernel_to_npy",
    "NTKRegressor",
    "NTKClassifier",
]


def _network(fn: Any) -> "stax.Serial":
    """The ``stax.Serial`` behind an ``apply_fn`` / ``kernel_fn`` (or a ``Serial`` itself)."""
    if isinstance(fn, stax.Serial):
        return fn
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, stax.Serial):
        return owner
    raise TypeError(
        "expected the apply_fn or kernel_fn of an ntk_lab.stax.serial network (or the network), "
        f"got {fn!r}"
    )


def empirical_ntk_fn(f: Callable[..., Any], trace_axes: tuple = (-1,)) -> Callable[..., np.ndarray]:
    """``nt.empirical_ntk_fn(apply_fn)``: returns ``ntk_fn(x1, x2, params)``, the empirical NTK
    Θ̂(x1, x2) = J(x1) J(x2)ᵀ of the finite network (``x2=None``: x1 with itself), computed by
    ntk-nets' hand-written derivatives (Jacot et al. 2018, arXiv:1806.07572, Eq. (4))."""
    network = _network(f)
    if tuple(trace_axes) != (-1,):
        raise ValueError("only trace_axes=(-1,) is supported (scalar-output networks)")

    def ntk_fn(x1: Any, x2: Any, params: Any, **kwargs: Any) -> np.ndarray:
        if kwargs:
            raise TypeError(f"ntk_fn() got unexpected keyword arguments {sorted(kwargs)}")
        return _native.empirical_ntk(network.architecture, as_array(params), as_array(x1), as_array(x2))

    return ntk_fn


def empirical_nngp_fn(f: Callable[..., Any], trace_axes: tuple = (-1,)) -> Callable[..., np.ndarray]:
    """``nt.empirical_nngp_fn(apply_fn)``: returns ``nngp_fn(x1, x2, params)``, the empirical
    NNGP with the readout marginalised, W_std²/n_{L−1}·⟨g(x1), g(x2)⟩ + b_std² (Lee et al. 2018,
    arXiv:1711.00165, Eq. (4)); its mean over initialisations is the analytic NNGP."""
    network = _network(f)
    if tuple(trace_axes) != (-1,):
        raise ValueError("only trace_axes=(-1,) is supported (scalar-output networks)")

    def nngp_fn(x1: Any, x2: Any, params: Any, **kwargs: Any) -> np.ndarray:
        if kwargs:
            raise TypeError(f"nngp_fn() got unexpected keyword arguments {sorted(kwargs)}")
        return _native.empirical_nngp(network.architecture, as_array(params), as_array(x1), as_array(x2))

    return nngp_fn


def empirical_kernel_fn(f: Callable[..., Any], trace_axes: tuple = (-1,)) -> Callable[..., Any]:
    """``nt.empirical_kernel_fn(apply_fn)``: returns ``kernel_fn(x1, x2, get, params)`` with the
    empirical NNGP and NTK (``get`` as in ``stax``'s ``kernel_fn``)."""
    ntk_fn = empirical_ntk_fn(f, trace_axes)
    nngp_fn = empirical_nngp_fn(f, trace_axes)

    def kernel_fn(x1: Any, x2: Any = None, get: Union[None, str, Sequence[str]] = None, params: Any = None) -> Any:
        if params is None:
            raise ValueError("empirical kernel_fn needs params (from init_fn)")
        names, single = stax._parse_get(get)
        values = {
            "nngp": nngp_fn(x1, x2, params) if "nngp" in names else None,
            "ntk": ntk_fn(x1, x2, params) if "ntk" in names else None,
        }
        if single:
            return values[names[0]]
        return stax.Kernel(**values)

    return kernel_fn


MercerSpectrum = namedtuple("MercerSpectrum", ["nngp", "ntk", "multiplicities"])
MercerSpectrum.__doc__ = """Mercer eigenvalues μ_0 … μ_K of the NNGP and NTK on S^{p−1} (``None``
if not requested) and the multiplicities N(p, k) of the degree-k spherical harmonics."""


def mercer_spectrum(
    kernel_fn: Any,
    sphere_dim: int,
    degrees: int,
    get: Union[None, str, Sequence[str]] = None,
) -> MercerSpectrum:
    """Mercer eigenvalues on the sphere S^{p−1} ⊂ ℝ^p of a fully-connected network's kernels,
    viewed as dot-product kernels κ(⟨x, x'⟩) of unit inputs (Funk–Hecke quadrature, Bietti &
    Mairal 2019, arXiv:1905.12173, §3): μ_0 … μ_degrees, with κ(t) = Σ_k N(p, k) μ_k P_k(t)."""
    names, _ = stax._parse_get(get)
    network = _network(kernel_fn)
    nngp, ntk, multiplicities = _native.mercer_spectrum(
        network.architecture, int(sphere_dim), int(degrees), nngp="nngp" in names, ntk="ntk" in names
    )
    return MercerSpectrum(nngp=nngp, ntk=ntk, multiplicities=multiplicities)


def kernel_to_npy(
    kernel_fn: Any,
    x1: Any,
    x2: Any = None,
    *,
    path: Union[str, os.PathLike],
    get: Union[None, str, Sequence[str]] = "ntk",
    dtype: Any = "float64",
    max_memory: Union[None, int, str] = None,
    progress: Optional[Callable[[int, int], Any]] = None,
) -> dict:
    """The (n1, n2) kernel of a fully-connected network streamed tile by tile into ``.npy``
    files within a memory budget, for kernels larger than memory: the same code (Rust,
    ``ntk_kernels::stream``) as ``cargo xtask kernel --spec ARCH.json --x1 X.npy [--x2 X2.npy]
    --out PATH``, so the files are byte-identical to the CLI's, and to ``kernel_fn(x1, x2, get)``
    (float64) or its rounding to float32.

    ``x1``, ``x2``: a path to an ``.npy`` file (float32/float64, (n, d) or NHWC (n, H, W, C),
    flattened to n x HWC, as the CLI reads it) or a float64 NumPy array (n, d); ``x2=None``:
    the self kernel of ``x1`` (only the upper block triangle is computed, then mirrored).
    ``get``: ``'ntk'`` or ``'nngp'`` writes ``path``; ``None`` or both names write
    ``STEM.nngp.npy`` and ``STEM.ntk.npy``. ``dtype``: ``'float64'`` or ``'float32'``.
    ``max_memory``: bytes (int) or a size like ``'8G'`` (default 60% of the machine's memory);
    the inputs are subtracted and the tile side is the largest multiple of 128 that fits.

    While running, the data go to ``*.partial`` files and ``STEM.manifest.json`` records every
    finished tile with a checksum; only a complete file is renamed to its final name. Calling
    again with the same arguments after an interruption (Ctrl-C, an exception raised by
    ``progress``, a kill) verifies the finished tiles and computes only the rest.
    ``progress(entries_done, entries_total)`` is called after every tile. The GIL is released
    while tiles are computed.

    Returns the CLI's summary as a dict: ``outputs`` ({kernel name: path}), ``manifest``,
    ``shape`` and ``report`` (tiles, computed, reused, tile, complete, seconds,
    entries_per_second). Bad inputs raise ``ValueError``.
    """
    network = _network(kernel_fn)
    names, _ = stax._parse_get(get)
    return _native.kernel_to_npy(
        network.architecture,
        _stream_input(x1),
        _stream_input(x2),
        os.fspath(path),
        nngp="nngp" in names,
        ntk="ntk" in names,
        dtype=np.dtype(dtype).name if not isinstance(dtype, str) else dtype,
        max_memory=max_memory,
        progress=progress,
    )


def _stream_input(x: Any) -> Any:
    """A path (``str`` / ``os.PathLike``) as a ``str``; anything else as an array."""
    if isinstance(x, (str, os.PathLike)):
        return os.fspath(x)
    return as_array(x)


def __getattr__(name: str) -> Any:
    # The estimators need scikit-learn, an optional dependency: import it only when asked for.
    if name in ("NTKRegressor", "NTKClassifier"):
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'ntk_lab' has no attribute {name!r}")

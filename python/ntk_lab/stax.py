"""Infinite-width networks in ``neural_tangents.stax``'s vocabulary.

``serial`` chains layers into a network and returns the triple ``(init_fn, apply_fn,
kernel_fn)`` as neural-tangents does::

    from ntk_lab import stax
    init_fn, apply_fn, kernel_fn = stax.serial(
        stax.Dense(512, W_std=1.5, b_std=0.05), stax.Relu(),
        stax.Dense(1, W_std=1.5, b_std=0.05))
    k = kernel_fn(x1, x2, ("nngp", "ntk"))     # k.nngp, k.ntk: (n1, n2) float64 arrays

Supported layers: ``Dense``, ``Conv``, ``AvgPool``, ``GlobalAvgPool``, ``Flatten`` and the
activations ``Relu``, ``LeakyRelu``, ``ABRelu``, ``Erf``, ``Gelu``, ``Identity``, ``Sin``,
``Exp`` (neural-tangents' names), plus ``Tanh`` and ``Softplus``. Conventions are
neural-tangents 0.6.5's: input layer Σ⁰ = x·x'/d, NTK or standard parameterization per network,
``b_std=None`` meaning no bias parameter; kernels are reported after the readout (one output
channel). A network has one parameterization: mixing ``'ntk'`` and ``'standard'`` layers is a
``ValueError``.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._arrays import as_array

__all__ = [
    "Layer",
    "Serial",
    "serial",
    "Dense",
    "Conv",
    "AvgPool",
    "GlobalAvgPool",
    "Flatten",
    "Relu",
    "LeakyRelu",
    "ABRelu",
    "Erf",
    "Gelu",
    "Identity",
    "Sin",
    "Exp",
    "Tanh",
    "Softplus",
    "Kernel",
]

Kernel = namedtuple("Kernel", ["nngp", "ntk"])
Kernel.__doc__ = """The NNGP and NTK matrices (n1 × n2 float64 arrays; ``None`` if not requested)."""

_KINDS = ("nngp", "ntk")


class Layer:
    """One layer: a description tuple for the compiled core (see ``serial``).

    A single layer is itself a network (``init_fn, apply_fn, kernel_fn = stax.Dense(1)``), as in
    neural-tangents.
    """

    __slots__ = ("spec",)

    def __init__(self, spec: Tuple[Any, ...]):
        self.spec = spec

    def __repr__(self) -> str:
        return f"Layer{self.spec!r}"

    def __iter__(self) -> Iterator[Any]:
        return iter(serial(self))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layer) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)


def _pair(value: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    values = tuple(int(v) for v in value)
    if len(values) != 2:
        raise ValueError(f"{name} must have two entries (height, width), got {value!r}")
    return values  # type: ignore[return-value]


def _std(value: Optional[float], name: str) -> Optional[float]:
    return None if value is None else float(value)


def Dense(
    out_dim: int,
    W_std: float = 1.0,
    b_std: Optional[float] = None,
    parameterization: str = "ntk",
    **kwargs: Any,
) -> Layer:
    """``stax.Dense(out_dim, W_std, b_std, parameterization)``: an affine layer.

    NTK parameterization: z = W_std/√fan_in · W x + b_std · b with W, b ~ N(0, 1);
    kernels Σ ← W_std² Σ + b_std², Θ ← Σ + W_std² Θ. Standard: W ~ N(0, W_std²/fan_in), b ~
    N(0, b_std²), Θ ← fan_in Σ + W_std² Θ + [bias]. ``b_std=None``: no bias parameter.
    """
    _no_extras("Dense", kwargs, {"batch_axis": 0, "channel_axis": -1})
    return Layer(("dense", int(out_dim), float(W_std), _std(b_std, "b_std"), str(parameterization)))


def Conv(
    out_chan: int,
    filter_shape: Sequence[int],
    strides: Optional[Sequence[int]] = None,
    padding: str = "VALID",
    W_std: float = 1.0,
    b_std: Optional[float] = None,
    parameterization: str = "ntk",
    **kwargs: Any,
) -> Layer:
    """``stax.Conv(out_chan, filter_shape, strides, padding, W_std, b_std, parameterization)``:
    a 2-D convolution over NHWC images, fan-in C_in·f_h·f_w, padding ``'VALID'``, ``'SAME'`` or
    ``'CIRCULAR'`` (neural-tangents' default ``'VALID'``; strides default (1, 1))."""
    _no_extras("Conv", kwargs, {"dimension_numbers": None})
    return Layer(
        (
            "conv",
            int(out_chan),
            _pair(filter_shape, "filter_shape"),
            _pair(strides if strides is not None else (1, 1), "strides"),
            str(padding).upper(),
            float(W_std),
            _std(b_std, "b_std"),
            str(parameterization),
        )
    )


def AvgPool(
    window_shape: Sequence[int],
    strides: Optional[Sequence[int]] = None,
    padding: str = "VALID",
    **kwargs: Any,
) -> Layer:
    """``stax.AvgPool(window_shape, strides, padding)``: average pooling (padded zeros counted,
    neural-tangents' ``normalize_edges=False``); strides default to the window (as the
    neural-tangents 0.6.5 reference kernels in nt_conv.json, and ``cargo xtask kernel``'s
    ``avg_pool``)."""
    _no_extras("AvgPool", kwargs, {"normalize_edges": False, "batch_axis": 0, "channel_axis": -1})
    return Layer(
        (
            "avg_pool",
            _pair(window_shape, "window_shape"),
            _pair(strides if strides is not None else window_shape, "strides"),
            str(padding).upper(),
        )
    )


def GlobalAvgPool(**kwargs: Any) -> Layer:
    """``stax.GlobalAvgPool()``: the mean over all spatial positions (H × W × C → C)."""
    _no_extras("GlobalAvgPool", kwargs, {"batch_axis": 0, "channel_axis": -1})
    return Layer(("global_avg_pool",))


def Flatten(**kwargs: Any) -> Layer:
    """``stax.Flatten()``: row-major flattening of an image (H × W × C → H·W·C)."""
    _no_extras("Flatten", kwargs, {"batch_axis": 0, "batch_axis_out": 0})
    return Layer(("flatten",))


def _activation(name: str, *params: float) -> Layer:
    return Layer(("activation", name, tuple(float(p) for p in params)))


def Relu() -> Layer:
    """``stax.Relu()``: max(x, 0)."""
    return _activation("relu")


def LeakyRelu(alpha: float) -> Layer:
    """``stax.LeakyRelu(alpha)``: max(x, 0) + alpha·min(x, 0)."""
    return _activation("leaky_relu", alpha)


def ABRelu(a: float, b: float) -> Layer:
    """``stax.ABRelu(a, b)``: a·min(x, 0) + b·max(x, 0)."""
    return _activation("abrelu", a, b)


def Erf(a: float = 1.0, b: float = 1.0, c: float = 0.0) -> Layer:
    """``stax.Erf()``: erf(x) (only neural-tangents' default a = 1, b = 1, c = 0)."""
    if (a, b, c) != (1.0, 1.0, 0.0):
        raise ValueError("ntk-lab supports Erf(a=1, b=1, c=0) only")
    return _activation("erf")


def Gelu(approximate: bool = False) -> Layer:
    """``stax.Gelu()``: the exact x·Φ(x) (``approximate=True`` is not supported)."""
    if approximate:
        raise ValueError("ntk-lab supports the exact Gelu (approximate=False) only")
    return _activation("gelu")


def Identity() -> Layer:
    """``stax.Identity()`` as an activation: x."""
    return _activation("identity")


def Sin(a: float = 1.0, b: float = 1.0, c: float = 0.0) -> Layer:
    """``stax.Sin()``: sin(x) (only a = 1, b = 1, c = 0)."""
    if (a, b, c) != (1.0, 1.0, 0.0):
        raise ValueError("ntk-lab supports Sin(a=1, b=1, c=0) only")
    return _activation("sin")


def Exp(a: float = 1.0, b: float = 1.0) -> Layer:
    """``stax.Exp()``: exp(x) (only a = 1, b = 1)."""
    if (a, b) != (1.0, 1.0):
        raise ValueError("ntk-lab supports Exp(a=1, b=1) only")
    return _activation("exp")


def Tanh() -> Layer:
    """tanh(x) (an ntk-lab activation; kernels by Gauss–Hermite/Mehler series)."""
    return _activation("tanh")


def Softplus() -> Layer:
    """log(1 + eˣ) (an ntk-lab activation; kernels by Gauss–Hermite/Mehler series)."""
    return _activation("softplus")


def _no_extras(layer: str, kwargs: dict, allowed: dict) -> None:
    for key, value in kwargs.items():
        if key not in allowed:
            raise TypeError(f"{layer}() got an unexpected keyword argument {key!r}")
        if value != allowed[key]:
            raise ValueError(f"ntk-lab supports {layer}({key}={allowed[key]!r}) only, got {value!r}")


def _flatten_layers(layers: Sequence[Any]) -> Tuple[Layer, ...]:
    flat = []
    for layer in layers:
        if isinstance(layer, Serial):
            flat.extend(layer.layers)
        elif isinstance(layer, Layer):
            flat.append(layer)
        else:
            raise TypeError(f"serial() takes ntk_lab.stax layers, got {type(layer).__name__}")
    return tuple(flat)


def _parse_get(get: Union[None, str, Sequence[str]]) -> Tuple[Tuple[str, ...], bool]:
    """The requested kernels and whether a single array (not a ``Kernel``) is returned."""
    if get is None:
        return _KINDS, False
    if isinstance(get, str):
        names: Tuple[str, ...] = (get,)
        single = True
    else:
        names = tuple(get)
        single = False
    for name in names:
        if name not in _KINDS:
            raise ValueError(f"get must name 'nngp' and/or 'ntk', got {name!r}")
    if not names:
        raise ValueError("get must name at least one of 'nngp', 'ntk'")
    return names, single


class Serial:
    """A network built by ``serial``: unpacks to ``(init_fn, apply_fn, kernel_fn)``.

    The architecture is validated when the network is built (bad widths, a missing readout,
    mixed parameterizations raise ``ValueError`` here). Pickles by its layer list.
    """

    def __init__(self, layers: Sequence[Layer]):
        self.layers: Tuple[Layer, ...] = _flatten_layers(layers)
        self._architecture = _native.Architecture([layer.spec for layer in self.layers])

    def __getstate__(self) -> dict:
        return {"layers": self.layers}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["layers"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"serial{self.layers!r}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Serial) and other.layers == self.layers

    def __hash__(self) -> int:
        return hash(self.layers)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.init_fn, self.apply_fn, self.kernel_fn))

    @property
    def architecture(self) -> Any:
        """The validated ``ntk_lab._native.Architecture``."""
        return self._architecture

    @property
    def is_conv(self) -> bool:
        """True for a convolutional network (inputs NHWC images)."""
        return bool(self._architecture.is_conv)

    def kernel_fn(
        self,
        x1: Any,
        x2: Any = None,
        get: Union[None, str, Sequence[str]] = None,
        **kwargs: Any,
    ) -> Any:
        """The infinite-width kernels between the rows of ``x1`` and ``x2`` (``None``: ``x1``
        with itself, exact diagonal).

        ``x1``: (n1, d) float64 for a dense network, (n1, H, W, C) for a convolutional one.
        ``get``: ``None`` (both, as a ``Kernel``), ``'nngp'`` or ``'ntk'`` (that array), or a
        tuple of names (a ``Kernel``). C-contiguous float64 inputs are read in place; the
        outputs are new C-contiguous (n1, n2) float64 arrays. The GIL is released while the
        kernel is computed.
        """
        if kwargs:
            raise TypeError(f"kernel_fn() got unexpected keyword arguments {sorted(kwargs)}")
        names, single = _parse_get(get)
        nngp, ntk = _native.kernel(
            self._architecture,
            as_array(x1),
            as_array(x2),
            nngp="nngp" in names,
            ntk="ntk" in names,
        )
        values = {"nngp": nngp, "ntk": ntk}
        if single:
            return values[names[0]]
        return Kernel(nngp=nngp, ntk=ntk)

    def init_fn(self, key: Any, input_shape: Sequence[int]) -> Tuple[Tuple[int, ...], np.ndarray]:
        """``(output_shape, params)`` of the finite network for inputs of shape
        ``input_shape``: (n, d) for a fully-connected network, NHWC (n, H, W, C) for a
        convolutional one (n is not used, e.g. -1). θ⁰ is drawn from ChaCha8 seeded by ``key``
        (an int, or a JAX-style key array of two uint32 words). ``params`` is one flat float64
        vector (per Conv/Dense layer W row-major — OHWI for a convolution — then b)."""
        seed = _seed(key)
        input_shape = tuple(int(s) for s in input_shape)
        rank = 4 if self._architecture.is_conv else 2
        if len(input_shape) != rank:
            kind = "convolutional networks on NHWC inputs (n, H, W, C)" if rank == 4 else (
                "fully-connected networks on inputs of shape (n, d)")
            raise ValueError(f"init_fn of {kind}; got input_shape {input_shape}")
        params = _native.init_params(self._architecture, list(input_shape[1:]), seed)
        return (input_shape[0], 1), params

    def apply_fn(self, params: Any, x: Any, **kwargs: Any) -> np.ndarray:
        """The finite network's outputs f(x; params), shape (n, 1)."""
        if kwargs:
            raise TypeError(f"apply_fn() got unexpected keyword arguments {sorted(kwargs)}")
        return _native.apply(self._architecture, as_array(params), as_array(x))


def _seed(key: Any) -> int:
    if isinstance(key, (int, np.integer)):
        if key < 0:
            raise ValueError(f"key must be >= 0, got {key}")
        return int(key)
    words = np.asarray(key).ravel()
    if words.size == 2 and np.issubdtype(words.dtype, np.integer):
        return (int(words[0]) << 32) | int(words[1])
    raise ValueError(f"key must be an int seed or a two-word key array, got {key!r}")


def serial(*layers: Union[Layer, Serial]) -> Serial:
    """``stax.serial(*layers)``: the layers in sequence (nested ``serial`` networks are spliced).

    Returns a ``Serial``, which unpacks to ``(init_fn, apply_fn, kernel_fn)``.
    """
    return Serial(layers)


# The default W_std of the benchmark and reproduction networks, √2 (He initialisation).
SQRT_2 = math.sqrt(2.0)

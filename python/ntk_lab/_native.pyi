"""Type stubs of the compiled core ``ntk_lab._native`` (PyO3). Use the Python API
(``ntk_lab.stax``, ``ntk_lab.predict``, ``ntk_lab.estimators``) rather than these directly."""

from os import PathLike
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

Float64Array = npt.NDArray[np.float64]
LayerSpec = Tuple[Any, ...]

class Architecture:
    """A validated dense (``ntk_kernels::Architecture``) or convolutional
    (``ntk_kernels::ConvArchitecture``) network; raises ``ValueError`` on a bad layer list."""

    def __init__(self, layers: Sequence[LayerSpec]) -> None: ...
    @property
    def is_conv(self) -> bool: ...
    @property
    def parameterization(self) -> str: ...

class GradientDescentMse:
    """MSE gradient flow with a fixed train kernel (eigendecomposition / Cholesky kept)."""

    def __init__(
        self,
        k_train_train: Float64Array,
        y_train: Float64Array,
        learning_rate: float = 1.0,
        diag_reg: float = 0.0,
        diag_reg_absolute_scale: bool = False,
    ) -> None: ...
    def predict(
        self,
        times: Sequence[float],
        fx_train_0: Float64Array,
        k_test_train: Optional[Float64Array] = None,
        fx_test_0: Optional[Float64Array] = None,
    ) -> List[Tuple[Float64Array, Optional[Float64Array]]]: ...
    def condition_number(self, times: Sequence[float]) -> float: ...
    @property
    def n_train(self) -> int: ...
    @property
    def outputs(self) -> int: ...

def kernel(
    architecture: Architecture,
    x1: Float64Array,
    x2: Optional[Float64Array] = None,
    nngp: bool = True,
    ntk: bool = True,
) -> Tuple[Optional[Float64Array], Optional[Float64Array]]:
    """(nngp, ntk) as new C-contiguous (n1, n2) arrays; x1 read in place when C-contiguous."""

def init_params(architecture: Architecture, example_shape: Sequence[int], seed: int) -> Float64Array:
    """θ⁰ of the finite network on examples of shape (d,) (dense) or (H, W, C) (conv)."""

def n_params(architecture: Architecture, example_shape: Sequence[int]) -> int: ...
def apply(architecture: Architecture, params: Float64Array, x: Float64Array) -> Float64Array: ...
def empirical_ntk(
    architecture: Architecture, params: Float64Array, x1: Float64Array, x2: Optional[Float64Array] = None
) -> Float64Array: ...
def empirical_nngp(
    architecture: Architecture, params: Float64Array, x1: Float64Array, x2: Optional[Float64Array] = None
) -> Float64Array: ...
def mercer_spectrum(
    architecture: Architecture, sphere_dim: int, degrees: int, nngp: bool = True, ntk: bool = True
) -> Tuple[Optional[Float64Array], Optional[Float64Array], Float64Array]: ...
def kernel_to_npy(
    architecture: Architecture,
    x1: Union[str, Float64Array],
    x2: Optional[Union[str, Float64Array]],
    path: Union[str, PathLike],
    nngp: bool,
    ntk: bool,
    dtype: str = "float64",
    max_memory: Optional[Union[int, str]] = None,
    progress: Optional[Callable[[int, int], Any]] = None,
) -> Dict[str, Any]:
    """The kernels streamed tile by tile to .npy files (``ntk_kernels::stream``, as ``cargo
    xtask kernel --x1``); returns the CLI's summary (outputs, manifest, shape, report)."""

def _input_address(x: Any, rank: int = 2) -> Tuple[int, bool]:
    """(address of the first value the kernels read, whether it is NumPy's own buffer)."""

def _time_rust_kernel(architecture: Architecture, n: int, d: int, runs: int) -> List[float]:
    """Seconds of ``runs`` Rust kernel calls on the bench inputs (n x d)."""

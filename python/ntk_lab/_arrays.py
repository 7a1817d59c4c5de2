"""Input conversion shared by the Python layer.

NumPy arrays are passed to the compiled core as they are: a C-contiguous float64 array is read
in place (no copy) and any other dtype is refused there with a ``ValueError``. Python lists and
tuples, which have no dtype, are converted with ``np.asarray(x, dtype=np.float64)``; other
array-likes (e.g. JAX arrays) with ``np.asarray(x)``, keeping their dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_array(x: Any) -> Any:
    """``x`` unchanged if it is a NumPy array (or ``None``), else converted as described above."""
    if x is None or isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple, int, float)):
        return np.asarray(x, dtype=np.float64)
    return np.asarray(x)

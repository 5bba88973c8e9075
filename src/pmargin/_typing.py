"""Array type aliases shared by pmargin's numerical modules.

Every kernel works on float64 arrays; the aliases name the dtype so signatures say it.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = [
    "ArrayLike",
    "BoolArray",
    "FloatArray",
    "Int8Array",
    "IntArray",
    "StrArray",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
"""A float64 array of any shape."""

BoolArray: TypeAlias = npt.NDArray[np.bool_]
"""A boolean array of any shape."""

Int8Array: TypeAlias = npt.NDArray[np.int8]
"""An int8 array of any shape (status codes)."""

IntArray: TypeAlias = npt.NDArray[np.int64]
"""An int64 array of any shape (rows, columns, scenario indices; -1 for none)."""

StrArray: TypeAlias = npt.NDArray[np.str_]
"""A fixed-width unicode array of any shape (currency codes)."""

ArrayLike: TypeAlias = npt.ArrayLike
"""Anything :func:`numpy.asarray` accepts: scalars, sequences, arrays."""

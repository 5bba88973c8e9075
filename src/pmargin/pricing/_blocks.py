"""Broadcast kernel inputs and walk the result in cache-sized contiguous blocks.

A kernel evaluated over ``instruments x scenarios`` would allocate a dozen temporaries of the
full result size if it ran in one pass. Walking the broadcast shape in blocks of at most
:data:`BLOCK_SIZE` elements keeps every temporary in the CPU cache and keeps peak memory at
the size of the outputs alone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np

from pmargin._typing import ArrayLike, BoolArray, FloatArray

__all__ = ["BLOCK_SIZE", "as_bool", "as_float", "iter_blocks"]

BLOCK_SIZE = 8192
"""Elements per block: about 12 float64 temporaries of 64 KiB each fit in a 2 MiB L2 cache."""


def as_float(name: str, value: ArrayLike) -> FloatArray:
    """Return ``value`` as a float64 array (no copy when it already is one).

    Parameters
    ----------
    name
        Argument name, used in the error message.
    value
        Scalar or array-like of real numbers.

    Raises
    ------
    ValueError
        If ``value`` cannot be read as real numbers.
    """
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {value!r} is not a real number or array of them") from exc


def as_bool(name: str, value: ArrayLike) -> BoolArray:
    """Return ``value`` as a boolean array (no copy when it already is one).

    Parameters
    ----------
    name
        Argument name, used in the error message.
    value
        Scalar or array-like of booleans (``True`` for calls).

    Raises
    ------
    ValueError
        If ``value`` is not boolean (integers 0 and 1 are accepted; strings are not).
    """
    array = np.asarray(value)
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind in "iu" and bool(np.isin(array, (0, 1)).all()):
        return array.astype(np.bool_)
    raise ValueError(f"{name}: {value!r} must be booleans (True for a call, False for a put)")


def iter_blocks(
    shape: tuple[int, ...], block_size: int = BLOCK_SIZE
) -> Iterator[tuple[object, ...]]:
    """Yield index tuples that cover ``shape`` in C-contiguous blocks of ``<= block_size`` items.

    Each yielded index selects a C-contiguous region of an array of ``shape`` (a run of whole
    trailing sub-arrays along one axis), so ``out[index].reshape(-1)`` is a view that a kernel
    can write into.

    Parameters
    ----------
    shape
        Shape of the broadcast result; ``()`` yields one empty index.
    block_size
        Largest number of elements per block.

    Yields
    ------
    tuple
        Integers for the leading axes, then one ``slice`` for the split axis.
    """
    if math.prod(shape) == 0:
        return
    if not shape:
        yield ()
        return
    # Split along the first axis whose trailing sub-array fits in a block.
    axis = 0
    while axis < len(shape) - 1 and math.prod(shape[axis + 1 :]) > block_size:
        axis += 1
    trailing = math.prod(shape[axis + 1 :])
    step = max(1, block_size // trailing)
    for lead in itertools.product(*(range(n) for n in shape[:axis])):
        for start in range(0, shape[axis], step):
            yield (*lead, slice(start, min(start + step, shape[axis])))

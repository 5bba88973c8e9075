"""Array type aliases shared by pmargin's numerical modules, and the task-map protocol.

Every kernel works on float64 arrays; the aliases name the dtype so signatures say it.
:class:`TaskMap` is the type of what runs independent pieces of a batch job elsewhere (a Dask
cluster, :mod:`pmargin.engine._cluster`); applications take one without knowing what it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "ArrayLike",
    "BoolArray",
    "FloatArray",
    "Int8Array",
    "IntArray",
    "StrArray",
    "TaskMap",
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

_R = TypeVar("_R")


class TaskMap(Protocol):
    """Runs independent pieces of a batch job, possibly on other processes or machines.

    Implemented by :class:`pmargin.engine._cluster.Cluster` (Dask distributed); an application
    given none runs its single-process path, the reference every split run is tested against.
    """

    def split(self, n: int) -> list[IntArray]:
        """Split ``range(n)`` into consecutive, non-empty index blocks, in order.

        Returns ``(n_k,)`` int64 arrays whose concatenation is ``arange(n)`` (none for 0).
        """
        ...

    def map(self, fn: Callable[..., _R], items: Sequence[Any], /, *shared: Any) -> list[_R]:
        """Return ``[fn(item, *shared) for item in items]``, computed where the map runs.

        ``shared`` is sent once per process, not once per item; an exception raised by ``fn``
        is raised here (the first in item order).
        """
        ...

    def map_accounts(self, fn: Callable[..., _R], book: Any, /, *shared: Any) -> list[_R]:
        """Return ``fn(block, *shared)`` for consecutive account blocks of an arranged book.

        Each block holds its rows and EVERY column of ``book`` (a
        :class:`~pmargin.book.BookArrangement` at the same market), so whatever ``fn``
        computes per account is what it computes on the whole book, bit for bit; results
        in row order, one per block of :meth:`split` of the book's accounts.
        """
        ...

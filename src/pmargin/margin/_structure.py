"""What a model's per-book set-up depends on, prices aside: a book's structure.

A monitor margins the same block of accounts and instruments at market after market; a model
may keep what it builds from the instruments and the stored entries between those calls
(``DeribitModel.totals_plan``, ``OkxModel.totals_plan``). :class:`BookStructure` says whether
a book still has the structure the kept set-up was built for: the same instruments (the same
objects), the same stored entries (indices and row pointers of the quantity matrix; the
quantities themselves may move, as inverse futures' do), the same times to expiry (the
valuation time: it sets expiry groups and time-scaled moves), and no moved rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pmargin._typing import FloatArray, IntArray
from pmargin.book import BookArrangement

__all__ = ["BookStructure"]


@dataclass(frozen=True, slots=True)
class BookStructure:
    """A book's instruments, stored entries and times to expiry (see the module docstring).

    Attributes
    ----------
    instruments
        The book's instruments, in column order.
    indptr, indices
        The quantity matrix's CSR row pointers ``(n_accounts + 1,)`` and column indices
        ``(nnz,)``.
    time
        Shape ``(n_instruments,)``: ACT/365 years to expiry (NaN for perpetuals and spot).
    """

    instruments: tuple[Any, ...]
    indptr: IntArray
    indices: IntArray
    time: FloatArray

    @classmethod
    def of(cls, book: BookArrangement) -> BookStructure:
        """Return ``book``'s structure (its quantity matrix in CSR form)."""
        q = book.quantity
        return cls(book.instruments, q.indptr, q.indices, np.array(book.resolved.time))

    def holds(self, book: BookArrangement) -> bool:
        """Whether ``book`` has this structure (and no moved rows).

        Cheap on a rebased book, which shares the instruments and index arrays: identity
        first, then a comparison of the arrays.
        """
        q = book.quantity
        return (
            book.row_moves is None
            and book.instruments == self.instruments  # the same objects: no field compared
            and _same(q.indptr, self.indptr)
            and _same(q.indices, self.indices)
            and bool(np.array_equal(book.resolved.time, self.time, equal_nan=True))
        )


def _same(a: IntArray, b: IntArray) -> bool:
    """Whether ``a`` is ``b`` or equal to it."""
    return a is b or (a.shape == b.shape and bool(np.array_equal(a, b)))

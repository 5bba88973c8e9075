"""NumPy's pairwise summation, for the margin models' compiled passes (numba).

A compiled pass that must give the bits of a NumPy reduction (``x.sum(axis=1)`` over a
contiguous row) has to add in NumPy's order: up to 8 terms one after the other from 0; up to
128 terms in eight partial sums (``r[j] += x[i + j]`` by blocks of 8, then
``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))``, then the remainder one by one); beyond
that NumPy splits in halves, which :func:`pairwise_sum` does not do (callers keep to
:data:`MAX_TERMS`). Importing this module needs numba.
"""

from __future__ import annotations

from pmargin._compiled import njit_inline
from pmargin._typing import FloatArray

__all__ = ["MAX_TERMS", "pairwise_sum"]

MAX_TERMS = 128
"""Most terms :func:`pairwise_sum` adds in NumPy's order (NumPy's ``PW_BLOCKSIZE``)."""


@njit_inline
def _term(values: FloatArray, i: int, absolute: bool) -> float:
    """``values[i]``, or its absolute value."""
    x: float = values[i]
    return abs(x) if absolute else x


@njit_inline
def pairwise_sum(values: FloatArray, start: int, stop: int, absolute: bool) -> float:
    """``values[start:stop].sum()`` (of ``abs`` with ``absolute``) in NumPy's order.

    Eight scalar partial sums (no array allocated per call: it runs per account).

    Parameters
    ----------
    values
        Shape ``(n,)``, float64.
    start, stop
        The terms: ``values[start:stop]``, at most :data:`MAX_TERMS` of them.
    absolute
        Sum the absolute values.
    """
    n = stop - start
    total: float = 0.0
    if n < 8:
        for i in range(start, stop):
            total += _term(values, i, absolute)
        return total
    r0 = _term(values, start, absolute)
    r1 = _term(values, start + 1, absolute)
    r2 = _term(values, start + 2, absolute)
    r3 = _term(values, start + 3, absolute)
    r4 = _term(values, start + 4, absolute)
    r5 = _term(values, start + 5, absolute)
    r6 = _term(values, start + 6, absolute)
    r7 = _term(values, start + 7, absolute)
    i = start + 8
    whole = start + n - n % 8
    while i < whole:
        r0 += _term(values, i, absolute)
        r1 += _term(values, i + 1, absolute)
        r2 += _term(values, i + 2, absolute)
        r3 += _term(values, i + 3, absolute)
        r4 += _term(values, i + 4, absolute)
        r5 += _term(values, i + 5, absolute)
        r6 += _term(values, i + 6, absolute)
        r7 += _term(values, i + 7, absolute)
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < stop:
        total += _term(values, i, absolute)
        i += 1
    return total

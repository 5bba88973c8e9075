"""What OKX reads of each instrument that no price moves, computed once per instrument set.

:meth:`~pmargin.margin.okx.OkxModel.matrices` needs each instrument's kind and each option's
expiry bucket (its (underlying, expiry) numbered in order of first appearance): two Python
passes over the instruments (~13 ms for the 3,692 of a BTC block), the same at every market.
A monitor re-margins the same block, with the same tuple of instruments, on every tick, so
they are kept here per tuple (by identity, the tuple held so the identity stays its own) for
the last :data:`_KEEP` tuples seen. Exact: the same immutable tuple gives the same columns.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pmargin._typing import IntArray, StrArray
from pmargin.instruments import Instrument

__all__ = ["instrument_columns"]

_KEEP = 16
"""Instrument tuples whose columns are kept (the blocks of a monitor, a few books)."""

_CACHE: dict[int, tuple[tuple[Instrument, ...], StrArray, IntArray]] = {}


def instrument_columns(
    instruments: tuple[Instrument, ...], buckets: Callable[[], IntArray]
) -> tuple[StrArray, IntArray]:
    """Return each instrument's ``kind.value`` and its expiry bucket, computed once per tuple.

    Parameters
    ----------
    instruments
        The instruments (``ResolvedInstruments.instruments``), ``n`` long.
    buckets
        Computes the ``(n,)`` expiry buckets of ``instruments`` (-1 for non-options) when they
        are not kept yet.

    Returns
    -------
    tuple
        ``(kinds, buckets)``: shape ``(n,)`` strings and integers, read-only.
    """
    key = id(instruments)
    kept = _CACHE.get(key)
    if kept is not None and kept[0] is instruments:
        return kept[1], kept[2]
    kinds = np.array([i.kind.value for i in instruments], dtype=np.str_)
    index = buckets()
    kinds.flags.writeable = False
    index.flags.writeable = False
    if len(_CACHE) >= _KEEP:
        del _CACHE[next(iter(_CACHE))]
    _CACHE[key] = (instruments, kinds, index)
    return kinds, index

"""The contract terms vectorised code reads per instrument, as arrays computed once.

A hot path that asks every :class:`~pmargin.instruments.Instrument` of a book for its
underlying, settlement currency or kind pays one Python call per column, per call (a book of
moved rows has ~10,000 columns, margined ~30 times per distance search). :class:`InstrumentTerms`
holds those answers as arrays of shape ``(n,)``, built once from the instruments
(:meth:`InstrumentTerms.of`) and carried along by
:meth:`~pmargin.valuation.ResolvedInstruments.take` and
:meth:`~pmargin.valuation.ResolvedInstruments.concat`, so they are never asked again.
:func:`columns_by` groups columns by one of these arrays (risk units) without a Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pmargin._typing import BoolArray, IntArray, StrArray
from pmargin.instruments import Instrument

__all__ = ["InstrumentTerms", "columns_by"]


@dataclass(frozen=True, slots=True)
class InstrumentTerms:
    """Per-instrument terms, arrays of shape ``(n,)`` aligned with the instruments.

    Attributes
    ----------
    underlying
        :attr:`~pmargin.instruments.Instrument.underlying` of each (currency code).
    quote
        :attr:`~pmargin.instruments.Instrument.quote` of each.
    settlement_currency
        :attr:`~pmargin.instruments.Instrument.settlement_currency` of each (the coin for
        inverse contracts, the quote for linear ones; also the
        :attr:`~pmargin.instruments.Instrument.cash_asset`).
    is_futures_style
        :attr:`~pmargin.instruments.Instrument.is_futures_style` of each (dated futures and
        perpetuals: no premium, value = P&L since entry).
    """

    underlying: StrArray
    quote: StrArray
    settlement_currency: StrArray
    is_futures_style: BoolArray

    @classmethod
    def of(cls, instruments: Sequence[Instrument]) -> InstrumentTerms:
        """Read each instrument's terms once (one Python loop over ``instruments``)."""
        return cls(
            underlying=_codes([i.underlying for i in instruments]),
            quote=_codes([i.quote for i in instruments]),
            settlement_currency=_codes([i.settlement_currency for i in instruments]),
            is_futures_style=np.array([i.is_futures_style for i in instruments], dtype=bool),
        )

    def __len__(self) -> int:
        return int(self.underlying.size)

    def take(self, columns: IntArray) -> InstrumentTerms:
        """Return the terms of ``columns`` (int64, shape ``(k,)``), in that order."""
        return InstrumentTerms(
            underlying=self.underlying[columns],
            quote=self.quote[columns],
            settlement_currency=self.settlement_currency[columns],
            is_futures_style=self.is_futures_style[columns],
        )

    def concat(self, other: InstrumentTerms) -> InstrumentTerms:
        """Return these terms followed by ``other``'s."""
        return InstrumentTerms(
            underlying=np.concatenate([self.underlying, other.underlying]),
            quote=np.concatenate([self.quote, other.quote]),
            settlement_currency=np.concatenate(
                [self.settlement_currency, other.settlement_currency]
            ),
            is_futures_style=np.concatenate([self.is_futures_style, other.is_futures_style]),
        )


def columns_by(keys: StrArray) -> dict[str, IntArray]:
    """Positions holding each distinct key, keys in order of first appearance.

    Parameters
    ----------
    keys
        Shape ``(n,)``: one code per column (e.g. :attr:`InstrumentTerms.underlying`).

    Returns
    -------
    dict
        Key -> int64 array of the positions holding it (ascending); what
        ``group_columns(instruments, lambda i: i.underlying)`` returns, without a Python call
        per column.
    """
    distinct, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable").astype(np.int64)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=distinct.size))])
    return {str(distinct[g]): order[bounds[g] : bounds[g + 1]] for g in np.argsort(first).tolist()}


def _codes(values: list[str]) -> StrArray:
    """``values`` as a unicode array, shape ``(n,)``."""
    return np.array(values, dtype=np.str_)

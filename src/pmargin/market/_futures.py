"""Recognise the contracts behind mark symbols, to read forwards off dated futures marks.

Symbols are described first by the explicit instruments given to the snapshot, then by
``pmargin.instruments.parse_symbol`` (venue symbol parsing). Symbols that neither describes are
skipped: their marks are still stored and returned by :meth:`MarketSnapshot.mark`, they only
take no part in forward resolution. While ``parse_symbol`` is unavailable (it lives in another
layer), only explicit instruments are recognised.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import cast

from pmargin.errors import InputError, PmarginError
from pmargin.instruments import Instrument, Kind
from pmargin.market._mark import Mark

__all__ = ["FuturesIndex", "describe_symbol", "index_futures"]

FuturesIndex = Mapping[tuple[str, datetime], tuple[tuple[str, str], ...]]
"""``(underlying, expiry) -> ((symbol, quote), ...)`` of dated futures marked with a price,
USD-quoted first, then by symbol."""


def describe_symbol(symbol: str, instruments: Mapping[str, Instrument]) -> Instrument | None:
    """Return the contract ``symbol`` stands for, or ``None`` when it cannot be recognised.

    Parameters
    ----------
    symbol
        A mark symbol.
    instruments
        Explicit contract descriptions, consulted before venue symbol parsing.
    """
    explicit = instruments.get(symbol)
    if explicit is not None:
        return explicit
    return _parse_venue_symbol(symbol)


def index_futures(marks: Mapping[str, Mark], instruments: Mapping[str, Instrument]) -> FuturesIndex:
    """Index the dated futures among ``marks`` by underlying and expiry.

    Also checks that no recognised non-option carries an ``iv`` mark.

    Raises
    ------
    InputError
        Naming ``marks.<symbol>.iv`` when a future, perpetual or spot symbol is marked by iv.
    """
    found: dict[tuple[str, datetime], list[tuple[str, str]]] = {}
    for symbol, mark in marks.items():
        contract = describe_symbol(symbol, instruments)
        if contract is None:
            continue
        if mark.iv is not None and not contract.is_option:
            raise InputError(
                f"marks.{symbol}.iv",
                mark.iv,
                f"is only valid for options; mark a {contract.kind.value} by its price",
            )
        if contract.kind is Kind.FUTURE and mark.price is not None:
            assert contract.expiry is not None
            found.setdefault((contract.underlying, contract.expiry), []).append(
                (symbol, contract.quote)
            )
    return {
        key: tuple(sorted(entries, key=lambda entry: (entry[1] != "USD", entry[0])))
        for key, entries in found.items()
    }


@functools.lru_cache(maxsize=1)
def _venue_parser() -> Callable[[str], Instrument] | None:
    """``pmargin.instruments.parse_symbol`` when that layer provides it, else ``None``."""
    module = importlib.import_module("pmargin.instruments")
    parser = getattr(module, "parse_symbol", None)
    return cast("Callable[[str], Instrument] | None", parser)


@functools.lru_cache(maxsize=65_536)
def _parse_venue_symbol(symbol: str) -> Instrument | None:
    """Parse a venue symbol, ``None`` when it is not one (results cached: parsing is pure)."""
    parser = _venue_parser()
    if parser is None:
        return None
    try:
        return parser(symbol)
    except (PmarginError, ValueError):
        return None

"""Symbols of a portfolio to instruments: explicit instruments first, then venue symbols.

One resolver per portfolio (file or table): each distinct symbol is looked up once, in the
explicit instruments given with the portfolio, else parsed as a venue symbol
(:func:`~pmargin.instruments.parse_symbol`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pmargin._validation import abbreviate, input_limits, short_reason
from pmargin.errors import InputError
from pmargin.instruments import Instrument, parse_symbol

__all__ = ["symbol_resolver"]


def symbol_resolver(explicit: Mapping[str, Instrument]) -> Callable[[str, str], Instrument]:
    """Return ``resolve(symbol, field)``: explicit instruments first, then venue symbols.

    Each symbol is parsed once per resolver; an empty, over-long or unknown symbol is an
    :class:`~pmargin.errors.InputError` naming ``field``.
    """
    cache: dict[str, Instrument] = dict(explicit)

    max_chars = input_limits().integer("files", "max_symbol_chars")

    def resolve(symbol: str, field: str) -> Instrument:
        if not isinstance(symbol, str) or not symbol:
            raise InputError(field, abbreviate(symbol), "must be an instrument symbol")
        if len(symbol) > max_chars:
            raise InputError(
                field, abbreviate(symbol), f"is longer than {max_chars} characters; not a symbol"
            )
        if symbol not in cache:
            try:
                cache[symbol] = parse_symbol(symbol)
            except InputError as err:
                raise InputError(
                    field,
                    abbreviate(symbol),
                    f"is not a known instrument symbol: {short_reason(err.reason)}",
                ) from None
        return cache[symbol]

    return resolve

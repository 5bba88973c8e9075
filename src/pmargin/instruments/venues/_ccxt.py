"""ccxt unified market symbols.

Forms (dates ``YYMMDD``; the settle currency after ``:`` decides the settlement: equal to the
quote means linear, equal to the base means inverse, anything else is an error):

=====================================  ==========  ==========
symbol                                 kind        settlement
=====================================  ==========  ==========
``BTC/USDT``                           spot        linear
``BTC/USDT:USDT``                      perpetual   linear
``BTC/USD:BTC``                        perpetual   inverse
``BTC/USDT:USDT-241227``               future      linear
``BTC/USD:BTC-241227``                 future      inverse
``BTC/USD:BTC-241227-60000-C``         option      inverse
``BTC/USDC:USDC-241227-60000-C``       option      linear
``XRP/USDC:USDC-241227-0.625-C``       option      linear
=====================================  ==========  ==========
"""

from __future__ import annotations

from pmargin.instruments._instrument import Kind, Settlement
from pmargin.instruments.venues._common import (
    Contract,
    PartError,
    VenueSyntax,
    format_strike,
    format_yymmdd,
    parse_currency,
    parse_right,
    parse_strike,
    parse_yymmdd,
    right_letter,
)

__all__ = ["CCXT"]


def _claims(symbol: str) -> bool:
    """Claim symbols of ccxt shape: containing ``/``."""
    return "/" in symbol


def _parse(symbol: str) -> Contract:
    parts = symbol.split("/")
    if len(parts) != 2:
        raise PartError(f"has {len(parts) - 1} '/' (expected one: BASE/QUOTE[:SETTLE[-...]])")
    base = parse_currency(parts[0], "base")
    if ":" not in parts[1]:
        return Contract(Kind.SPOT, base, parse_currency(parts[1], "quote"), Settlement.LINEAR)
    quote_text, _, tail = parts[1].partition(":")
    quote = parse_currency(quote_text, "quote")
    pieces = tail.split("-")
    settle = parse_currency(pieces[0], "settle")
    if settle == quote:
        settlement = Settlement.LINEAR
    elif settle == base:
        settlement = Settlement.INVERSE
    else:
        raise PartError(
            f"has settle currency {settle!r} after ':', which must be the quote {quote!r} "
            f"(linear) or the base {base!r} (inverse)"
        )
    if len(pieces) == 1:
        return Contract(Kind.PERPETUAL, base, quote, settlement)
    expiry_day = parse_yymmdd(pieces[1])
    if len(pieces) == 2:
        return Contract(Kind.FUTURE, base, quote, settlement, expiry_day)
    if len(pieces) == 4:
        strike = parse_strike(pieces[2])
        right = parse_right(pieces[3])
        return Contract(Kind.OPTION, base, quote, settlement, expiry_day, strike, right)
    raise PartError(
        f"has {len(pieces)} dash-separated parts after ':' (expected 1: BTC/USDT:USDT; "
        "2: BTC/USD:BTC-241227; or 4: BTC/USD:BTC-241227-60000-C)"
    )


def _format(contract: Contract) -> str:
    pair = f"{contract.underlying}/{contract.quote}"
    if contract.kind is Kind.SPOT:
        return pair
    settle = contract.quote if contract.settlement is Settlement.LINEAR else contract.underlying
    head = f"{pair}:{settle}"
    if contract.kind is Kind.PERPETUAL:
        return head
    date_text = format_yymmdd(contract.expiry_day)
    if contract.kind is Kind.FUTURE:
        return f"{head}-{date_text}"
    return f"{head}-{date_text}-{format_strike(contract.strike)}-{right_letter(contract.right)}"


CCXT = VenueSyntax(
    name="ccxt",
    display="ccxt",
    examples=(
        "BTC/USDT",
        "BTC/USDT:USDT",
        "BTC/USD:BTC",
        "BTC/USDT:USDT-241227",
        "BTC/USD:BTC-241227",
        "BTC/USD:BTC-241227-60000-C",
        "BTC/USDC:USDC-241227-60000-C",
        "XRP/USDC:USDC-241227-0.625-C",
    ),
    claims=_claims,
    parse=_parse,
    format=_format,
)
"""ccxt's unified symbol syntax."""

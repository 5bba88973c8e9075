"""Deribit instrument names.

Forms (dates ``DMMMYY``: day without leading zero, month ``JAN..DEC``, 2-digit year):

=================================  ==========  ==========  =========================
symbol                             kind        settlement  quote
=================================  ==========  ==========  =========================
``BTC-27DEC24-60000-C``            option      inverse     USD
``BTC-27DEC24``                    future      inverse     USD
``BTC-PERPETUAL``                  perpetual   inverse     USD
``BTC_USDC-27DEC24-60000-C``       option      linear      USDC
``XRP_USDC-27DEC24-0d625-C``       option      linear      USDC (``d`` = decimal point)
``BTC_USDC-27DEC24``               future      linear      USDC or USDT
``BTC_USDC-PERPETUAL``             perpetual   linear      USDC or USDT
``BTC_USDC``                       spot        linear      any currency code
=================================  ==========  ==========  =========================
"""

from __future__ import annotations

import re

from pmargin.instruments._instrument import Kind, Settlement
from pmargin.instruments.venues._common import (
    Contract,
    PartError,
    VenueSyntax,
    format_ddmmmyy,
    format_strike,
    parse_currency,
    parse_ddmmmyy,
    parse_right,
    parse_strike,
    right_letter,
)

__all__ = ["DERIBIT"]

_INVERSE_QUOTE = "USD"
_LINEAR_QUOTES = {
    Kind.PERPETUAL: ("USDC", "USDT"),
    Kind.FUTURE: ("USDC", "USDT"),
    Kind.OPTION: ("USDC",),
}
_PERPETUAL = "PERPETUAL"
_DATE_SHAPE = re.compile(r"[0-9]+[A-Z]+[0-9]+")
_DECIMAL_POINT = "d"


def _claims(symbol: str) -> bool:
    """Deribit shapes: ``X-PERPETUAL``, ``X-<digits><letters><digits>...``, ``A_B-...``, ``A_B``."""
    if "/" in symbol:
        return False
    if "-" in symbol:
        head, second = symbol.split("-")[:2]
        return "_" in head or second == _PERPETUAL or bool(_DATE_SHAPE.fullmatch(second))
    if symbol.count("_") != 1:
        return False
    right = symbol.split("_")[1]
    return right != "PERP" and not right.isdigit() and right != ""


def _parse(symbol: str) -> Contract:
    if "-" not in symbol:
        base, quote = _pair(symbol)
        return Contract(Kind.SPOT, base, quote, Settlement.LINEAR)
    head, *rest = symbol.split("-")
    if "_" in head:
        base, quote = _pair(head)
        settlement = Settlement.LINEAR
    else:
        base, quote = parse_currency(head, "base"), _INVERSE_QUOTE
        settlement = Settlement.INVERSE
    if rest == [_PERPETUAL]:
        kind = Kind.PERPETUAL
        contract = Contract(kind, base, quote, settlement)
    elif len(rest) == 1:
        kind = Kind.FUTURE
        contract = Contract(kind, base, quote, settlement, parse_ddmmmyy(rest[0]))
    elif len(rest) == 3:
        kind = Kind.OPTION
        expiry_day = parse_ddmmmyy(rest[0])
        strike = parse_strike(rest[1], _DECIMAL_POINT)
        right = parse_right(rest[2])
        contract = Contract(kind, base, quote, settlement, expiry_day, strike, right)
    else:
        raise PartError(
            f"has {len(rest) + 1} dash-separated parts (expected 2: BTC-PERPETUAL, BTC-27DEC24; "
            "or 4: BTC-27DEC24-60000-C)"
        )
    if settlement is Settlement.LINEAR and quote not in _LINEAR_QUOTES[kind]:
        raise PartError(
            f"has quote {quote!r}; Deribit linear {kind.value}s are quoted in "
            f"{' or '.join(_LINEAR_QUOTES[kind])}"
        )
    return contract


def _pair(text: str) -> tuple[str, str]:
    parts = text.split("_")
    if len(parts) != 2:
        raise PartError(f"has {text!r} where BASE_QUOTE was expected (e.g. BTC_USDC)")
    return parse_currency(parts[0], "base"), parse_currency(parts[1], "quote")


def _format(contract: Contract) -> str:
    if contract.kind is Kind.SPOT:
        return f"{contract.underlying}_{contract.quote}"
    if contract.settlement is Settlement.INVERSE:
        if contract.quote != _INVERSE_QUOTE:
            raise PartError(
                f"is an inverse {contract.kind.value} quoted in {contract.quote}; Deribit's "
                "inverse contracts are quoted in USD"
            )
        prefix = contract.underlying
    else:
        allowed = _LINEAR_QUOTES[contract.kind]
        if contract.quote not in allowed:
            raise PartError(
                f"is a linear {contract.kind.value} quoted in {contract.quote}; Deribit's linear "
                f"{contract.kind.value}s are quoted in {' or '.join(allowed)}"
            )
        prefix = f"{contract.underlying}_{contract.quote}"
    if contract.kind is Kind.PERPETUAL:
        return f"{prefix}-{_PERPETUAL}"
    date_text = format_ddmmmyy(contract.expiry_day)
    if contract.kind is Kind.FUTURE:
        return f"{prefix}-{date_text}"
    strike = format_strike(contract.strike, _DECIMAL_POINT)
    return f"{prefix}-{date_text}-{strike}-{right_letter(contract.right)}"


DERIBIT = VenueSyntax(
    name="deribit",
    display="Deribit",
    examples=(
        "BTC-27DEC24-60000-C",
        "BTC-27DEC24",
        "BTC-PERPETUAL",
        "BTC_USDC-27DEC24-60000-C",
        "XRP_USDC-27DEC24-0d625-C",
        "BTC_USDC-PERPETUAL",
        "BTC_USDC",
    ),
    claims=_claims,
    parse=_parse,
    format=_format,
)
"""Deribit's symbol syntax."""

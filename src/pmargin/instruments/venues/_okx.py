"""OKX instrument IDs (``instId``).

Forms (dates ``YYMMDD``):

=============================  ==========  ==========  ============================
symbol                         kind        settlement  quote
=============================  ==========  ==========  ============================
``BTC-USD-241227-60000-C``     option      inverse     USD (coin-margined)
``BTC-USD-241227``             future      inverse     USD (coin-margined)
``BTC-USD-SWAP``               perpetual   inverse     USD (coin-margined)
``BTC-USDT-241227``            future      linear      USDT or USDC
``BTC-USDT-SWAP``              perpetual   linear      USDT or USDC
``BTC-USDT``                   spot        linear      any currency code
=============================  ==========  ==========  ============================
"""

from __future__ import annotations

import re

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

__all__ = ["OKX"]

_INVERSE_QUOTE = "USD"
_LINEAR_QUOTES = ("USDT", "USDC")
_SWAP = "SWAP"
_QUOTE_SHAPE = re.compile(r"[A-Z]+")


def _claims(symbol: str) -> bool:
    """OKX shape: ``BASE-QUOTE[-...]`` with an alphabetic quote and no ``_`` in the base."""
    if "/" in symbol or "-" not in symbol:
        return False
    head, second = symbol.split("-")[:2]
    return "_" not in head and second != "PERPETUAL" and bool(_QUOTE_SHAPE.fullmatch(second))


def _parse(symbol: str) -> Contract:
    parts = symbol.split("-")
    base = parse_currency(parts[0], "base")
    quote = parse_currency(parts[1], "quote") if len(parts) > 1 else ""
    if len(parts) == 2:
        return Contract(Kind.SPOT, base, quote, Settlement.LINEAR)
    if len(parts) == 3:
        kind = Kind.PERPETUAL if parts[2] == _SWAP else Kind.FUTURE
        if kind is Kind.FUTURE and not parts[2].isdigit():
            raise PartError(f"has {parts[2]!r} where SWAP or a YYMMDD date was expected")
        settlement = _settlement(quote, kind)
        if kind is Kind.PERPETUAL:
            return Contract(kind, base, quote, settlement)
        return Contract(kind, base, quote, settlement, parse_yymmdd(parts[2]))
    if len(parts) == 5:
        settlement = _settlement(quote, Kind.OPTION)
        expiry_day = parse_yymmdd(parts[2])
        strike = parse_strike(parts[3])
        right = parse_right(parts[4])
        return Contract(Kind.OPTION, base, quote, settlement, expiry_day, strike, right)
    raise PartError(
        f"has {len(parts)} dash-separated parts (expected 2: BTC-USDT; 3: BTC-USD-SWAP, "
        "BTC-USD-241227; or 5: BTC-USD-241227-60000-C)"
    )


def _settlement(quote: str, kind: Kind) -> Settlement:
    """OKX derivatives: USD means coin-margined (inverse), USDT/USDC mean linear."""
    if quote == _INVERSE_QUOTE:
        return Settlement.INVERSE
    if kind is Kind.OPTION:
        raise PartError(f"has quote {quote!r}; OKX options are coin-margined on BTC-USD, ETH-USD")
    if quote in _LINEAR_QUOTES:
        return Settlement.LINEAR
    raise PartError(
        f"has quote {quote!r}; OKX swaps and futures are quoted in USD (coin-margined), "
        "USDT or USDC"
    )


def _format(contract: Contract) -> str:
    pair = f"{contract.underlying}-{contract.quote}"
    if contract.kind is Kind.SPOT:
        return pair
    if contract.settlement is Settlement.INVERSE and contract.quote != _INVERSE_QUOTE:
        raise PartError(
            f"is an inverse {contract.kind.value} quoted in {contract.quote}; OKX coin-margined "
            "contracts are quoted in USD"
        )
    if contract.settlement is Settlement.LINEAR:
        if contract.kind is Kind.OPTION:
            raise PartError("is a linear option; OKX options are coin-margined (inverse)")
        if contract.quote not in _LINEAR_QUOTES:
            raise PartError(
                f"is a linear {contract.kind.value} quoted in {contract.quote}; OKX linear "
                "swaps and futures are quoted in USDT or USDC"
            )
    if contract.kind is Kind.PERPETUAL:
        return f"{pair}-{_SWAP}"
    date_text = format_yymmdd(contract.expiry_day)
    if contract.kind is Kind.FUTURE:
        return f"{pair}-{date_text}"
    return f"{pair}-{date_text}-{format_strike(contract.strike)}-{right_letter(contract.right)}"


OKX = VenueSyntax(
    name="okx",
    display="OKX",
    examples=(
        "BTC-USD-241227-60000-C",
        "BTC-USD-241227",
        "BTC-USD-SWAP",
        "BTC-USDT-241227",
        "BTC-USDT-SWAP",
        "BTC-USDC-SWAP",
        "BTC-USDT",
    ),
    claims=_claims,
    parse=_parse,
    format=_format,
)
"""OKX's symbol syntax."""

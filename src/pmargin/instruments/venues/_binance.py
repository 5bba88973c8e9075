"""Binance derivatives symbols: European options, USDⓈ-M and COIN-M futures.

Forms (dates ``YYMMDD``):

========================  ==========  ==========  ==================================
symbol                    kind        settlement  quote
========================  ==========  ==========  ==================================
``BTC-241227-60000-C``    option      linear      USDT (European options)
``BTCUSDT``               perpetual   linear      USDT or USDC (USDⓈ-M)
``BTCUSDT_241227``        future      linear      USDT or USDC (USDⓈ-M quarterly)
``BTCUSD_PERP``           perpetual   inverse     USD (COIN-M)
``BTCUSD_241227``         future      inverse     USD (COIN-M quarterly)
========================  ==========  ==========  ==================================

Binance spot pairs are written like USDⓈ-M perpetuals (``BTCUSDT``); pmargin reads that form as
the perpetual, so spot is not printed or parsed in Binance form (use ccxt ``BTC/USDT``).
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

__all__ = ["BINANCE"]

_OPTION_QUOTE = "USDT"
_LINEAR_QUOTES = ("USDT", "USDC")
_INVERSE_QUOTE = "USD"
_PERP = "PERP"


def _claims(symbol: str) -> bool:
    """Binance shapes: ``X-<digits>-...``, ``X_PERP``, ``X_<digits>``, ``...USDT|USDC|USD``."""
    if "/" in symbol:
        return False
    if "-" in symbol:
        return symbol.split("-")[1].isdigit()
    if "_" in symbol:
        right = symbol.rsplit("_", 1)[1]
        return right == _PERP or right.isdigit()
    return symbol.endswith((*_LINEAR_QUOTES, _INVERSE_QUOTE))


def _parse(symbol: str) -> Contract:
    if "-" in symbol:
        return _parse_option(symbol)
    if "_" in symbol:
        pair, _, suffix = symbol.partition("_")
        base, quote, settlement = _split_pair(pair)
        if suffix == _PERP:
            if settlement is Settlement.LINEAR:
                raise PartError(
                    f"ends in _PERP, which only COIN-M uses; the USDⓈ-M perpetual is {pair}"
                )
            return Contract(Kind.PERPETUAL, base, quote, settlement)
        if not suffix.isdigit():
            raise PartError(f"has suffix {suffix!r} (expected _PERP or _YYMMDD, e.g. _241227)")
        return Contract(Kind.FUTURE, base, quote, settlement, parse_yymmdd(suffix))
    base, quote, settlement = _split_pair(symbol)
    if settlement is Settlement.INVERSE:
        raise PartError("is a COIN-M pair without suffix (expected BTCUSD_PERP or BTCUSD_YYMMDD)")
    return Contract(Kind.PERPETUAL, base, quote, settlement)


def _parse_option(symbol: str) -> Contract:
    parts = symbol.split("-")
    if len(parts) != 4:
        raise PartError(
            f"has {len(parts)} dash-separated parts (expected 4: BASE-YYMMDD-STRIKE-C|P, "
            "e.g. BTC-241227-60000-C)"
        )
    base = parse_currency(parts[0], "base")
    expiry_day = parse_yymmdd(parts[1])
    strike = parse_strike(parts[2])
    right = parse_right(parts[3])
    return Contract(Kind.OPTION, base, _OPTION_QUOTE, Settlement.LINEAR, expiry_day, strike, right)


def _split_pair(pair: str) -> tuple[str, str, Settlement]:
    """Split ``BTCUSDT`` / ``BTCUSD`` at the quote suffix (USDT, USDC linear; USD inverse)."""
    for quote in _LINEAR_QUOTES:
        if pair.endswith(quote):
            return _base(pair, quote), quote, Settlement.LINEAR
    if pair.endswith(_INVERSE_QUOTE):
        return _base(pair, _INVERSE_QUOTE), _INVERSE_QUOTE, Settlement.INVERSE
    raise PartError(
        f"has pair {pair!r}, which does not end in USDT or USDC (USDⓈ-M) or USD (COIN-M)"
    )


def _base(pair: str, quote: str) -> str:
    return parse_currency(pair[: -len(quote)], "base")


def _format(contract: Contract) -> str:
    pair = f"{contract.underlying}{contract.quote}"
    if contract.kind is Kind.SPOT:
        raise PartError(
            "is spot; Binance writes spot pairs like USDⓈ-M perpetuals (BTCUSDT), so pmargin "
            "keeps that form for the perpetual (use ccxt BTC/USDT for spot)"
        )
    if contract.kind is Kind.OPTION:
        if contract.settlement is not Settlement.LINEAR or contract.quote != _OPTION_QUOTE:
            raise PartError(
                f"is an {contract.settlement.value} option quoted in {contract.quote}; Binance "
                "options are linear, quoted and settled in USDT"
            )
        return (
            f"{contract.underlying}-{format_yymmdd(contract.expiry_day)}-"
            f"{format_strike(contract.strike)}-{right_letter(contract.right)}"
        )
    if contract.settlement is Settlement.LINEAR:
        if contract.quote not in _LINEAR_QUOTES:
            raise PartError(
                f"is a linear {contract.kind.value} quoted in {contract.quote}; Binance USDⓈ-M "
                "contracts are quoted in USDT or USDC"
            )
        if contract.kind is Kind.PERPETUAL:
            return pair
    elif contract.quote != _INVERSE_QUOTE:
        raise PartError(
            f"is an inverse {contract.kind.value} quoted in {contract.quote}; Binance COIN-M "
            "contracts are quoted in USD"
        )
    elif contract.kind is Kind.PERPETUAL:
        return f"{pair}_{_PERP}"
    return f"{pair}_{format_yymmdd(contract.expiry_day)}"


BINANCE = VenueSyntax(
    name="binance",
    display="Binance",
    examples=(
        "BTC-241227-60000-C",
        "BTCUSDT",
        "BTCUSDT_241227",
        "BTCUSD_PERP",
        "BTCUSD_241227",
    ),
    claims=_claims,
    parse=_parse,
    format=_format,
)
"""Binance's symbol syntax."""

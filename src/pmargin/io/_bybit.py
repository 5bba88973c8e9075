"""Bybit (v5): ``/v5/position/list`` and ``/v5/account/wallet-balance`` replies.

Replies are ``{"retCode", "retMsg", "result"}``; a non-zero ``retCode`` is refused with its
``retMsg``. Which reply it is is read from ``result``:

* positions: ``result.list`` of entries with ``symbol``, ``side`` and ``size``, and
  ``result.category`` (``linear``, ``inverse`` or ``option``);
* wallet balance: ``result.list`` of accounts with ``coin`` (``coin``, ``walletBalance``).

Symbols: pmargin has no Bybit syntax, so each symbol is written in ccxt's form (which any
market file can key marks by):

========================  ============================  ========================
Bybit ``symbol``           pmargin symbol                ``size``
========================  ============================  ========================
``BTCUSDT`` (linear)       ``BTC/USDT:USDT``             coins (``unit: base``)
``BTCUSDC``, ``BTCPERP``   ``BTC/USDC:USDC``             coins
``BTCUSDT-27DEC24``        ``BTC/USDT:USDT-241227``      coins
``BTC-27DEC24`` (linear)   ``BTC/USDC:USDC-241227``      coins
``BTCUSD`` (inverse)       ``BTC/USD:BTC``               USD face (``unit: quote``)
``BTCUSDZ24`` (inverse)    ``BTC/USD:BTC-241227``        USD face (the month's last Friday)
``BTC-27DEC24-60000-C``    ``BTC/USDC:USDC-241227-60000-C``  coins
``...-60000-C-USDT``       ``BTC/USDT:USDT-241227-60000-C``  coins
========================  ============================  ========================

``size`` is unsigned; ``side`` (``Buy``/``Sell``) gives the sign. ``avgPrice`` is kept
(quote currency per coin). Balance: each coin's ``walletBalance`` (without unrealised P&L,
which pmargin computes from ``avgPrice``).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from pmargin.errors import InputError
from pmargin.instruments import Instrument, format_symbol, parse_symbol
from pmargin.io._reply import (
    Holdings,
    Reply,
    entries,
    envelope,
    face_unit,
    nested_balances,
    optional_decimal,
    position_entry,
    refuse,
    signed_size,
    text,
    venue_instrument,
)

__all__ = ["bybit_symbol", "read_bybit"]

_EXPECTED = (
    "{retCode, retMsg, result} from /v5/position/list (result.list[] with symbol, side and "
    "size) or /v5/account/wallet-balance (result.list[] with coin)"
)
_SIGN = {"Buy": 1, "Sell": -1}
_OPTION = re.compile(r"([A-Z0-9]+)-([0-9]{1,2}[A-Z]{3}[0-9]{2})-([0-9.]+)-([CP])(?:-(USDT|USDC))?")
_LINEAR_FUTURE = re.compile(r"([A-Z0-9]+?)(USDT|USDC)?-([0-9]{1,2}[A-Z]{3}[0-9]{2})")
_LINEAR_PERPETUAL = re.compile(r"([A-Z0-9]+?)(USDT|USDC|PERP)")
_INVERSE = re.compile(r"([A-Z0-9]+?)USD(?:([FGHJKMNQUVXZ])([0-9]{2}))?")
_MONTH_CODES = "FGHJKMNQUVXZ"


def read_bybit(reply: Reply) -> Holdings:
    """Read one Bybit reply into the holdings it contributes.

    Raises
    ------
    InputError
        Naming the venue, the reply and the field (see the module).
    """
    result = envelope(reply, ("retCode", "retMsg", "result"), _EXPECTED)
    if not isinstance(result, Mapping) or "list" not in result:
        raise refuse(reply, _EXPECTED)
    rows = entries(reply, result["list"], "result.list")
    if "category" in result and all("symbol" in r and "size" in r for r in rows):
        return _positions(reply, str(result["category"]), rows)
    if all("coin" in r for r in rows):
        return nested_balances(reply, rows, "result.list", "coin", ("coin", "walletBalance"))
    raise refuse(reply, _EXPECTED)


def _positions(reply: Reply, category: str, rows: list[Mapping[str, Any]]) -> Holdings:
    holdings = Holdings()
    for k, row in enumerate(rows):
        where = f"result.list[{k}]"
        size = signed_size(reply, row, ("size", "side"), _SIGN, where)
        if size is None:
            continue
        symbol = text(reply, row, "symbol", where)
        try:
            pmargin_symbol = bybit_symbol(symbol, category)
        except InputError as err:
            raise InputError(reply.field(f"{where}.symbol"), symbol, err.reason) from None
        instrument = venue_instrument(reply, pmargin_symbol, f"{where}.symbol", "ccxt")
        avg = optional_decimal(reply, row, "avgPrice", where)
        holdings.positions.append(position_entry(instrument, size, face_unit(instrument), avg))
    return holdings


def bybit_symbol(symbol: str, category: str) -> str:
    """Write a Bybit v5 ``symbol`` of ``category`` in ccxt's form (see the module's table).

    Raises
    ------
    InputError
        A category other than linear, inverse or option, or a symbol of no known Bybit form.
    """
    if category == "option":
        match = _OPTION.fullmatch(symbol)
        if match is None:
            raise InputError("symbol", symbol, "is not a Bybit option (BTC-27DEC24-60000-C)")
        base, day, strike, right, settle = match.groups()
        quote = settle or "USDC"
        return f"{base}/{quote}:{quote}-{_yymmdd(day)}-{strike}-{right}"
    if category == "linear":
        dated = _LINEAR_FUTURE.fullmatch(symbol)
        if dated is not None:
            base, quote, day = dated.groups()
            quote = quote or "USDC"
            return f"{base}/{quote}:{quote}-{_yymmdd(day)}"
        perpetual = _LINEAR_PERPETUAL.fullmatch(symbol)
        if perpetual is not None:
            base, quote = perpetual.groups()
            quote = "USDC" if quote == "PERP" else quote
            return f"{base}/{quote}:{quote}"
        raise InputError("symbol", symbol, "is not a Bybit linear contract (BTCUSDT, BTC-27DEC24)")
    if category == "inverse":
        match = _INVERSE.fullmatch(symbol)
        if match is None:
            raise InputError("symbol", symbol, "is not a Bybit inverse contract (BTCUSD)")
        base, month, year = match.groups()
        if month is None:
            return f"{base}/USD:{base}"
        expiry = _last_friday(2000 + int(year), _MONTH_CODES.index(month) + 1)
        return f"{base}/USD:{base}-{expiry:%y%m%d}"
    raise InputError("result.category", category, "must be linear, inverse or option")


def _yymmdd(day: str) -> str:
    """Bybit's ``27DEC24`` as ``241227``, through Deribit's date reading (the same form)."""
    future: Instrument = parse_symbol(f"BTC-{day}", "deribit")
    return format_symbol(future, "ccxt").rsplit("-", 1)[1]


def _last_friday(year: int, month: int) -> date:
    """Return the last Friday of a month: when Bybit's inverse futures expire (08:00 UTC)."""
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - calendar.FRIDAY) % 7)

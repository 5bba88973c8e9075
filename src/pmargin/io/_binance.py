"""Binance: USDⓈ-M futures and European options account replies.

Binance replies carry no envelope; an error is ``{"code", "msg"}`` (refused with its
``msg``). Which reply it is is read from its shape:

* ``/fapi/v2/positionRisk`` (or v3): a list of entries with ``symbol`` and ``positionAmt``;
* ``/fapi/v2/balance`` (or v3): a list of entries with ``asset`` and ``balance``;
* ``/eapi/v1/position``: a list of entries with ``symbol``, ``side`` and ``quantity``;
* ``/eapi/v1/account``: an object whose ``asset`` list has ``asset`` and ``marginBalance``.

Units: ``positionAmt`` is signed, in coins (``unit: base``) for USDⓈ-M symbols (``BTCUSDT``,
``BTCUSDT_241227``); a COIN-M reply's ``BTCUSD_PERP`` amounts are contracts (``unit:
contracts``, of the USD face in pmargin's tables). Options: ``quantity`` in contracts
(``unit: contracts``, each of the contract unit in pmargin's tables: 1 BTC, 100 XRP, ...),
signed by ``side`` (``LONG``/``SHORT``). ``entryPrice`` is kept. Balances: futures wallet
``balance`` per asset, options ``marginBalance`` per asset (both without unrealised P&L);
an asset in both wallets is summed (pmargin margins them as one account); an asset given
twice in one wallet (a reply given twice) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pmargin.errors import InputError
from pmargin.io._reply import (
    Holdings,
    Reply,
    add_balances,
    decimal,
    entries,
    optional_decimal,
    position_entry,
    refuse,
    row_instrument,
    signed_size,
)

__all__ = ["read_binance"]

_EXPECTED = (
    "/fapi/v2/positionRisk (a list with symbol and positionAmt), /fapi/v2/balance (a list "
    "with asset and balance), /eapi/v1/position (a list with symbol, side and quantity) or "
    "/eapi/v1/account (asset[] with marginBalance)"
)
_SIGN = {"LONG": 1, "SHORT": -1}


def read_binance(reply: Reply) -> Holdings:
    """Read one Binance reply into the holdings it contributes.

    Raises
    ------
    InputError
        Naming the venue, the reply and the field (see the module).
    """
    data = reply.data
    if isinstance(data, Mapping) and "code" in data and "msg" in data:
        raise InputError(reply.field("code"), data["code"], f"is an error reply: {data['msg']}")
    if isinstance(data, Mapping) and isinstance(data.get("asset"), list):
        rows = entries(reply, data["asset"], "asset")
        return _balances(reply, rows, "marginBalance", "asset", "options")
    if not isinstance(data, list):
        raise refuse(reply, _EXPECTED)
    rows = entries(reply, data, "")
    if all("symbol" in r and "positionAmt" in r for r in rows):
        return _futures(reply, rows)
    if all("asset" in r and "balance" in r for r in rows):
        return _balances(reply, rows, "balance", "", "futures")
    if all("symbol" in r and "quantity" in r and "side" in r for r in rows):
        return _options(reply, rows)
    raise refuse(reply, _EXPECTED)


def _futures(reply: Reply, rows: list[Mapping[str, Any]]) -> Holdings:
    holdings = Holdings()
    for k, row in enumerate(rows):
        where = f"[{k}]"
        amount = decimal(reply, row, "positionAmt", where)
        if amount == 0:
            continue
        instrument = row_instrument(reply, row, "symbol", where, "binance")
        unit = "contracts" if instrument.is_inverse else "base"
        avg = optional_decimal(reply, row, "entryPrice", where)
        holdings.positions.append(position_entry(instrument, amount, unit, avg))
    return holdings


def _options(reply: Reply, rows: list[Mapping[str, Any]]) -> Holdings:
    holdings = Holdings()
    for k, row in enumerate(rows):
        where = f"[{k}]"
        quantity = signed_size(reply, row, ("quantity", "side"), _SIGN, where)
        if quantity is None:
            continue
        instrument = row_instrument(reply, row, "symbol", where, "binance")
        avg = optional_decimal(reply, row, "entryPrice", where)
        holdings.positions.append(position_entry(instrument, quantity, "contracts", avg))
    return holdings


def _balances(
    reply: Reply, rows: list[Mapping[str, Any]], key: str, path: str, wallet: str
) -> Holdings:
    holdings = Holdings()
    add_balances(reply, rows, path, ("asset", key), holdings, wallet)
    return holdings

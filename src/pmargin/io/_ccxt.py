"""ccxt: the unified ``fetch_positions`` and ``fetch_balance`` structures, saved as JSON.

* ``fetch_positions``: a list of positions with ``symbol`` (ccxt's unified symbol),
  ``contracts``, ``contractSize`` and ``side`` (``long``/``short``);
* ``fetch_balance``: an object with ``total`` (currency -> amount).

Units: the quantity is ``contracts x contractSize`` (ccxt's ``contractSize`` counts coins for
linear contracts and options, USD for inverse futures and perpetuals), written explicitly as
coins (``unit: base``) or USD face (``unit: quote``), signed by ``side``. A position without
``contractSize`` is refused: the symbol alone does not say the size. ``entryPrice`` is kept.
Balances: ``total`` per currency (ccxt's free + used; exchanges differ on whether it holds
unrealised P&L: check your exchange's ``info``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pmargin.errors import InputError
from pmargin.io._reply import (
    Holdings,
    Reply,
    decimal,
    entries,
    face_unit,
    optional_decimal,
    position_entry,
    refuse,
    row_instrument,
    signed_size,
)

__all__ = ["read_ccxt"]

_EXPECTED = (
    "fetch_positions (a list with symbol, contracts, contractSize and side) or "
    "fetch_balance (an object with total)"
)
_SIGN = {"long": 1, "short": -1}


def read_ccxt(reply: Reply) -> Holdings:
    """Read one saved ccxt structure into the holdings it contributes.

    Raises
    ------
    InputError
        Naming the venue, the reply and the field (see the module).
    """
    data = reply.data
    if isinstance(data, Mapping) and isinstance(data.get("total"), Mapping):
        holdings = Holdings()
        for asset, amount in data["total"].items():
            value = optional_decimal(reply, data["total"], asset, "total")
            if value is not None:
                holdings.add_balance(str(asset), value, reply.field(f"total.{asset}"))
            elif amount is not None:
                raise InputError(reply.field(f"total.{asset}"), amount, "must be a number")
        return holdings
    if isinstance(data, list):
        rows = entries(reply, data, "")
        if all("symbol" in r and "contracts" in r for r in rows):
            return _positions(reply, rows)
    raise refuse(reply, _EXPECTED)


def _positions(reply: Reply, rows: list[Mapping[str, Any]]) -> Holdings:
    holdings = Holdings()
    for k, row in enumerate(rows):
        where = f"[{k}]"
        if row.get("contracts") is None:
            continue
        contracts = signed_size(reply, row, ("contracts", "side"), _SIGN, where)
        if contracts is None:
            continue
        size = decimal(reply, row, "contractSize", where)
        instrument = row_instrument(reply, row, "symbol", where, "ccxt")
        avg = optional_decimal(reply, row, "entryPrice", where)
        quantity = contracts * size
        holdings.positions.append(position_entry(instrument, quantity, face_unit(instrument), avg))
    return holdings

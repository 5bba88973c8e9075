"""Deribit: ``private/get_positions`` and ``private/get_account_summary`` replies.

Replies are JSON-RPC envelopes ``{"jsonrpc", "id", "result"}`` (unwrapped here; an
``"error"`` envelope is refused with its message) or the bare ``result``:

* positions: ``result`` is a list of positions (``instrument_name``, ``kind``, ``size``,
  ``average_price``, ``mark_price``, ``total_profit_loss``);
* account summary: ``result`` is one currency's summary (``currency``, ``equity``), or
  ``{"summaries": [...]}`` (``private/get_account_summaries``, every currency).

Units (Deribit's ``size``): inverse futures and perpetuals in USD face (``unit: quote``);
options and linear (USDC/USDT) futures, perpetuals and spot in coins (``unit: base``). The
symbol is Deribit's ``instrument_name``; ``average_price`` is kept (coin per coin for inverse
options, USD for inverse futures).

Balance of a currency: Deribit settles futures P&L into the balance every day, so its
``balance`` and a position's average price would count the P&L settled since entry twice.
pmargin takes instead the cash that, with the positions valued at the reply's own marks,
gives the summary's ``equity``: ``equity - sum(option size x mark_price) - sum(future
total_profit_loss)`` over the positions settled in that currency (pmargin values options at
their mark and futures by their P&L against ``average_price``). Give the positions of every
currency whose summary you give.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pmargin.errors import InputError
from pmargin.instruments import Kind
from pmargin.io._reply import (
    Holdings,
    Reply,
    decimal,
    entries,
    face_unit,
    optional_decimal,
    position_entry,
    refuse,
    text,
    venue_instrument,
)

__all__ = ["read_deribit"]

_EXPECTED = (
    "private/get_positions (result: a list with instrument_name and size) or "
    "private/get_account_summary (result with currency and equity), in a JSON-RPC envelope"
)


def read_deribit(reply: Reply) -> Holdings:
    """Read one Deribit reply into the holdings it contributes.

    Raises
    ------
    InputError
        Naming the venue, the reply and the field: an error envelope, a reply of another
        shape, a position or summary lacking a field, a symbol pmargin does not read.
    """
    result, path = _unwrap(reply)
    if isinstance(result, list) and all(
        isinstance(e, Mapping) and "instrument_name" in e for e in result
    ):
        return _positions(reply, result, path)
    if isinstance(result, Mapping) and "summaries" in result:
        holdings = Holdings()
        for k, summary in enumerate(entries(reply, result["summaries"], f"{path}.summaries")):
            _summary(reply, summary, f"{path}.summaries[{k}]", holdings)
        return holdings
    if isinstance(result, Mapping) and "currency" in result and "equity" in result:
        holdings = Holdings()
        _summary(reply, result, path, holdings)
        return holdings
    raise refuse(reply, _EXPECTED)


def _unwrap(reply: Reply) -> tuple[Any, str]:
    """Return the ``result`` of a JSON-RPC envelope (and its path), or the bare reply."""
    data = reply.data
    if isinstance(data, Mapping) and "jsonrpc" in data:
        if "error" in data:
            error = data["error"]
            message = error.get("message") if isinstance(error, Mapping) else error
            code = error.get("code") if isinstance(error, Mapping) else None
            raise InputError(
                reply.field("error"), message, f"is an error reply (code {code}), not a result"
            )
        if "result" not in data:
            raise InputError(reply.field("result"), None, f"is required: expected {_EXPECTED}")
        return data["result"], "result"
    return data, "result" if isinstance(data, list) else "reply"


def _positions(reply: Reply, result: list[Mapping[str, Any]], path: str) -> Holdings:
    holdings = Holdings()
    for k, entry in enumerate(result):
        where = f"{path}[{k}]"
        symbol = text(reply, entry, "instrument_name", where)
        size = decimal(reply, entry, "size", where)
        if size == 0:
            continue
        kind = text(reply, entry, "kind", where)
        if kind not in ("future", "option", "spot"):
            raise InputError(
                reply.field(f"{where}.kind"),
                kind,
                "is not a kind pmargin reads (future|option|spot)",
            )
        instrument = venue_instrument(reply, symbol, f"{where}.instrument_name", "deribit")
        avg = optional_decimal(reply, entry, "average_price", where)
        holdings.positions.append(position_entry(instrument, size, face_unit(instrument), avg))
        asset = instrument.settlement_currency
        if instrument.kind is Kind.OPTION:
            holdings.adjust(asset, -size * decimal(reply, entry, "mark_price", where))
        elif instrument.is_futures_style:
            holdings.adjust(asset, -decimal(reply, entry, "total_profit_loss", where))
    return holdings


def _summary(reply: Reply, summary: Mapping[str, Any], path: str, holdings: Holdings) -> None:
    """One currency's summary: its ``equity`` (see the module for the balance rule)."""
    currency = text(reply, summary, "currency", path)
    equity = decimal(reply, summary, "equity", path)
    holdings.add_balance(currency, equity, reply.field(f"{path}.equity"))

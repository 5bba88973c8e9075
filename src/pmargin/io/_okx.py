"""OKX: ``/api/v5/account/positions``, ``/api/v5/account/balance`` (and ``public/instruments``).

Replies are ``{"code", "msg", "data"}``; a non-zero ``code`` is refused with its ``msg``.
Which reply it is is read from ``data``:

* positions: entries with ``instId`` and ``pos`` (``instType`` SWAP, FUTURES or OPTION);
* balance: entries with ``details`` (one per currency: ``ccy``, ``cashBal``);
* instruments (optional): entries with ``instId`` and ``ctVal``, giving each contract's face
  value where pmargin's ``contract_specs.toml`` lists none (or to check it).

Units: ``pos`` is a number of contracts (signed in net mode; ``posSide`` long/short gives
the sign otherwise). pmargin writes ``pos x ctVal x ctMult`` explicitly: coins
(``unit: base``) for linear swaps and futures and for options, USD face (``unit: quote``) for
coin-margined (inverse) swaps and futures. ``ctVal`` comes from an instruments reply when one
is given, else from the contract size pmargin knows for the ``instId``; an ``instId`` with
neither is refused. ``avgPx`` is kept (coin per coin for options, USD or USDT/USDC per coin
for swaps and futures). Balance: each currency's ``cashBal`` (cash, without unrealised P&L,
which pmargin computes from ``avgPx``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from pmargin.errors import InputError
from pmargin.instruments import Instrument, Kind, parse_symbol
from pmargin.io._reply import (
    Holdings,
    Reply,
    decimal,
    entries,
    envelope,
    explicit_spec,
    nested_balances,
    optional_decimal,
    position_entry,
    refuse,
    text,
)

__all__ = ["read_okx_replies"]

_EXPECTED = (
    "{code, msg, data} from /api/v5/account/positions (data[] with instId and pos), "
    "/api/v5/account/balance (data[] with details) or /api/v5/public/instruments "
    "(data[] with instId and ctVal)"
)
_KINDS = {"SWAP": Kind.PERPETUAL, "FUTURES": Kind.FUTURE, "OPTION": Kind.OPTION}
_SIGN = {"net": 1, "long": 1, "short": -1}


def read_okx_replies(replies: list[Reply]) -> Holdings:
    """Read OKX replies in any order: instruments first, then positions and balances.

    Raises
    ------
    InputError
        Naming the venue, the reply and the field (see the module).
    """
    data = [(reply, _data(reply)) for reply in replies]
    faces: dict[str, dict[str, Any]] = {}
    for reply, rows in data:
        if rows and all("ctVal" in r and "instId" in r for r in rows):
            faces.update(_instruments(reply, rows))
    holdings = Holdings()
    for reply, rows in data:
        if rows and all("ctVal" in r and "instId" in r for r in rows):
            continue
        if all("instId" in r and "pos" in r for r in rows):
            holdings.extend(_positions(reply, rows, faces))
        elif all("details" in r for r in rows):
            holdings.extend(nested_balances(reply, rows, "data", "details", ("ccy", "cashBal")))
        else:
            raise refuse(reply, _EXPECTED)
    return holdings


def _data(reply: Reply) -> list[Mapping[str, Any]]:
    """Return ``data`` of an OKX envelope, after checking ``code``."""
    return entries(reply, envelope(reply, ("code", "msg", "data"), _EXPECTED), "data")


def _instruments(reply: Reply, rows: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each instrument's face: ``ctVal x ctMult`` in ``ctValCcy``, and its terms."""
    faces = {}
    for k, row in enumerate(rows):
        where = f"data[{k}]"
        inst_id = text(reply, row, "instId", where)
        multiplier = optional_decimal(reply, row, "ctMult", where) or Decimal(1)
        faces[inst_id] = {
            "value": decimal(reply, row, "ctVal", where) * multiplier,
            "currency": str(row.get("ctValCcy") or ""),
            "where": reply.field(where),
        }
    return faces


def _positions(
    reply: Reply, rows: list[Mapping[str, Any]], faces: Mapping[str, dict[str, Any]]
) -> Holdings:
    holdings = Holdings()
    for k, row in enumerate(rows):
        where = f"data[{k}]"
        inst_type = text(reply, row, "instType", where)
        if inst_type not in _KINDS:
            raise InputError(
                reply.field(f"{where}.instType"),
                inst_type,
                "is not read (SWAP|FUTURES|OPTION); spot and margin holdings come from "
                "/api/v5/account/balance",
            )
        inst_id = text(reply, row, "instId", where)
        pos = decimal(reply, row, "pos", where)
        if pos == 0:
            continue
        side = str(row.get("posSide") or "net")
        if side not in _SIGN:
            raise InputError(reply.field(f"{where}.posSide"), side, "must be net, long or short")
        contracts = pos if side == "net" else abs(pos) * _SIGN[side]
        instrument, face, explicit = _contract(reply, inst_id, faces, f"{where}.instId")
        unit = "base" if instrument.contract_currency == instrument.underlying else "quote"
        avg = optional_decimal(reply, row, "avgPx", where)
        holdings.positions.append(position_entry(instrument, contracts * face, unit, avg))
        if explicit:
            holdings.instruments[instrument.symbol] = explicit_spec(instrument)
    return holdings


def _contract(
    reply: Reply, inst_id: str, faces: Mapping[str, dict[str, Any]], where: str
) -> tuple[Instrument, Decimal, bool]:
    """Return the instrument, one contract's face (coins or USD), and whether it is explicit."""
    face = faces.get(inst_id)
    try:
        instrument = parse_symbol(inst_id, "okx")
    except InputError as err:
        if face is None:
            raise InputError(
                reply.field(where),
                inst_id,
                f"{err.reason}; give the /api/v5/public/instruments reply (its ctVal) too",
            ) from None
        return _from_instruments_row(reply, inst_id, face), face["value"], True
    if face is None:
        return instrument, Decimal(repr(instrument.contract_size)), False
    return instrument, face["value"], False


def _from_instruments_row(reply: Reply, inst_id: str, face: Mapping[str, Any]) -> Instrument:
    """Return an instrument pmargin's tables lack: the ``instId``'s terms, the reply's face.

    The terms are read from the ``instId`` in ccxt's form (which needs no size table); one
    contract is ``ctVal x ctMult`` of ``ctValCcy`` (the coin, or USD for coin-margined swaps
    and futures).
    """
    parts = inst_id.split("-")
    base, quote = parts[0], parts[1] if len(parts) > 1 else ""
    settle = base if quote == "USD" else quote
    tail = "-".join(parts[2:]) if len(parts) in (3, 5) and parts[2] != "SWAP" else ""
    ccxt = f"{base}/{quote}:{settle}" + (f"-{tail}" if tail else "")
    try:
        terms = parse_symbol(ccxt, "ccxt")
    except InputError as err:
        raise InputError(face["where"], inst_id, err.reason) from None
    currency = str(face["currency"]).upper()
    if currency not in (terms.underlying, terms.quote):
        raise InputError(
            f"{face['where']}.ctValCcy",
            face["currency"],
            f"must be {terms.underlying} or {terms.quote} for {inst_id}",
        )
    return replace(
        terms,
        symbol=inst_id,
        contract_size=float(face["value"]),
        contract_currency=currency,
        venue="okx",
    )

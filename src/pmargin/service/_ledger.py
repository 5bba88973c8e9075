"""The ledger: every write is one transaction that appends its event and updates the state.

Balances and positions are the state; the ``events`` table is the append-only ledger they can
be rebuilt from (:func:`rebuild`): every event that changes money carries the balance deltas
it booked (``"balances": {asset: delta}`` of its account; a transfer between accounts,
``"deltas": {account: {asset: delta}}`` summing to zero per asset) and every fill the
position it left (``"position": {instrument, quantity, avg_price}``), all as exact decimal
strings. Money is
conserved by construction: a balance changes only by an event's delta, so the balances equal
the sum of the ledger's deltas (the test rebuilds and compares).

Margin goes through the facade (:func:`pmargin.engine.margin_document`) on the account's
portfolio-file form at the market in force; no maths here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pmargin.engine import (
    DEFAULT_MODEL,
    OrderLeg,
    book_fill,
    check_market_document,
    margin_document,
    order_document,
)
from pmargin.errors import InputError, MarketDataError, PmarginError
from pmargin.service._tables import (
    AccountRow,
    BalanceRow,
    EventRow,
    FillRow,
    MarketRow,
    PositionRow,
)

__all__ = [
    "MARGIN_KIND",
    "SYSTEM_PREFIX",
    "Holdings",
    "RefusedError",
    "account_document",
    "account_documents",
    "account_documents_reference",
    "account_margin",
    "book_trade",
    "check_orders",
    "check_withdrawal",
    "create_account",
    "deposit",
    "events_after",
    "is_system",
    "rebuild",
    "record_fill",
    "set_market",
    "stored_holdings",
    "transfer",
    "withdraw",
]

_ZERO = Decimal(0)


class RefusedError(PmarginError):
    """A write the ledger refuses: the HTTP status, a one-line reason and its figures."""

    def __init__(self, status: int, reason: str, detail: dict[str, Any] | None = None) -> None:
        self.status = status
        self.reason = reason
        self.detail = detail or {}
        super().__init__(reason)


@dataclass
class Holdings:
    """Balances and positions of every account (exact decimals).

    Attributes
    ----------
    balances
        ``{account: {asset: amount}}`` (non-zero amounts only).
    positions
        ``{account: {instrument: (quantity in native units, avg_price)}}``.
    """

    balances: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    positions: dict[str, dict[str, tuple[Decimal, Decimal | None]]] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _append(session: Session, kind: str, account_id: str | None, data: dict[str, Any]) -> int:
    row = EventRow(kind=kind, account_id=account_id, time=_now(), data=json.dumps(data))
    session.add(row)
    session.flush()
    return row.seq


SYSTEM_PREFIX = "_"
"""System accounts (the insurance fund, the liquidator, bad debt) start with it; an account
id a client may open cannot (``POST /v1/accounts`` ids start with a letter or digit)."""


def is_system(account_id: str) -> bool:
    """Return whether ``account_id`` names a system account (never margined or liquidated)."""
    return account_id.startswith(SYSTEM_PREFIX)


def _account(session: Session, account_id: str, *, open_system: bool = False) -> AccountRow:
    row = session.get(AccountRow, account_id)
    if row is None and open_system and is_system(account_id):
        seq = _append(session, "account_created", account_id, {"system": True})
        row = AccountRow(id=account_id, created_seq=seq)
        session.add(row)
        session.flush()
    if row is None:
        raise RefusedError(404, f"account {account_id!r} not found")
    return row


def _credit(session: Session, account_id: str, asset: str, amount: Decimal) -> Decimal:
    row = session.get(BalanceRow, (account_id, asset))
    if row is None:
        row = BalanceRow(account_id=account_id, asset=asset, amount=_ZERO)
        session.add(row)
    row.amount = row.amount + amount
    return row.amount


def create_account(session: Session, account_id: str) -> dict[str, Any]:
    """Open an empty account (409 when the id exists); return its document."""
    if session.get(AccountRow, account_id) is not None:
        raise RefusedError(409, f"account {account_id!r} already exists")
    seq = _append(session, "account_created", account_id, {})
    session.add(AccountRow(id=account_id, created_seq=seq))
    session.flush()
    return account_document(session, account_id) | {"seq": seq}


def account_document(session: Session, account_id: str) -> dict[str, Any]:
    """Return the account in the portfolio-file form, amounts as exact decimal strings."""
    _account(session, account_id)
    balances = session.scalars(
        select(BalanceRow).where(BalanceRow.account_id == account_id).order_by(BalanceRow.asset)
    )
    positions = session.scalars(
        select(PositionRow)
        .where(PositionRow.account_id == account_id)
        .order_by(PositionRow.instrument)
    )
    return _document(account_id, balances, positions)


def _document(
    account_id: str, balances: Iterable[BalanceRow], positions: Iterable[PositionRow]
) -> dict[str, Any]:
    return {
        "id": account_id,
        "balances": {b.asset: str(b.amount) for b in balances},
        "positions": [
            {
                "instrument": p.instrument,
                "quantity": str(p.quantity),
                "unit": "native",
                "avg_price": None if p.avg_price is None else str(p.avg_price),
            }
            for p in positions
        ],
    }


def account_documents(session: Session, account_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Return :func:`account_document` of each of ``account_ids`` (existing), in two queries.

    The whole book's read (the monitor's): every balance and position row at once, grouped
    by account, instead of two queries per account; up to :data:`FEW_ACCOUNTS` accounts (the
    ones a request changed) only their rows (``account_id IN (...)``). Equal to
    :func:`account_documents_reference` (tested).
    """
    balances: dict[str, list[BalanceRow]] = {a: [] for a in account_ids}
    positions: dict[str, list[PositionRow]] = {a: [] for a in account_ids}
    few = len(balances) <= FEW_ACCOUNTS
    query_b = select(BalanceRow).order_by(BalanceRow.account_id, BalanceRow.asset)
    if few:
        query_b = query_b.where(BalanceRow.account_id.in_(list(balances)))
    for b in session.scalars(query_b):
        if b.account_id in balances:
            balances[b.account_id].append(b)
    query = select(PositionRow).order_by(PositionRow.account_id, PositionRow.instrument)
    if few:
        query = query.where(PositionRow.account_id.in_(list(positions)))
    for p in session.scalars(query):
        if p.account_id in positions:
            positions[p.account_id].append(p)
    return [_document(a, balances[a], positions[a]) for a in account_ids]


FEW_ACCOUNTS = 500
"""Most accounts :func:`account_documents` reads by id (beyond: the whole tables, filtered);
below SQLite's 999 bound parameters of old builds."""


def account_documents_reference(
    session: Session, account_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Return :func:`account_document` of each account, one at a time (the obvious twin)."""
    return [account_document(session, a) for a in account_ids]


def deposit(session: Session, account_id: str, asset: str, amount: Decimal) -> dict[str, Any]:
    """Credit ``amount`` (> 0, asset units) to the account; return its document.

    A system account (the insurance fund ``_insurance_fund``) is opened by its first deposit.

    Raises
    ------
    InputError
        Field ``asset``: the market in force has no USD price for it (an account holding it
        could not be margined, and every tick's monitor would stop on it).
    """
    _account(session, account_id, open_system=True)
    _priced(session, asset)
    seq = _append(
        session, "deposit", account_id, {"asset": asset, "balances": {asset: str(amount)}}
    )
    _credit(session, account_id, asset, amount)
    return account_document(session, account_id) | {"seq": seq}


def _priced(session: Session, asset: str) -> None:
    """Refuse ``asset`` when the market in force (if any) has no USD price for it."""
    row = session.get(MarketRow, 1)
    if row is None:
        return
    try:
        check_market_document(json.loads(row.document)).usd_price(asset)
    except MarketDataError:
        raise InputError(
            "asset",
            asset,
            f"has no USD price in the market in force: put one in (prices.{asset} or "
            f"index.{asset}, PUT /v1/market) before depositing it",
        ) from None


def withdraw(
    session: Session, account_id: str, asset: str, amount: Decimal, model: str = DEFAULT_MODEL
) -> dict[str, Any]:
    """Debit ``amount`` (> 0) unless it overdraws the asset or leaves equity below IM (409).

    The decision is :func:`check_withdrawal`'s; a refusal carries its reason and figures.
    """
    verdict = check_withdrawal(session, account_id, asset, amount, model)
    if not verdict["accepted"]:
        figures = verdict["margin"] or {"asset": asset, "balance": verdict["balance"]}
        raise RefusedError(409, verdict["reason"], figures)
    seq = _append(
        session, "withdrawal", account_id, {"asset": asset, "balances": {asset: str(-amount)}}
    )
    _credit(session, account_id, asset, -amount)
    return account_document(session, account_id) | {"seq": seq}


def check_withdrawal(
    session: Session, account_id: str, asset: str, amount: Decimal, model: str = DEFAULT_MODEL
) -> dict[str, Any]:
    """Decide a withdrawal without making it (nothing written): the one rule of withdrawals.

    Refused when it overdraws the asset, or when the account (holding positions or borrowing)
    margined after it with ``model`` at the market in force has equity below IM; 409 when such
    an account has no market to be margined at.

    Returns
    -------
    dict
        ``{"accepted", "reason", "asset", "amount", "balance", "balance_after", "model",
        "margin"}``: amounts as decimal strings (asset units); ``margin`` is ``{"equity",
        "initial_margin", "maintenance_margin"}`` after the withdrawal (USD), or None when
        the account was not margined (no positions, no borrowing).
    """
    document = account_document(session, account_id)
    held = Decimal(document["balances"].get(asset, "0"))
    verdict: dict[str, Any] = {
        "accepted": True,
        "reason": "the balance covers it",
        "asset": asset,
        "amount": str(amount),
        "balance": str(held),
        "balance_after": str(held - amount),
        "model": model,
        "margin": None,
    }
    if held - amount < _ZERO:
        reason = f"withdrawal of {amount} {asset} exceeds the balance {held}"
        return verdict | {"accepted": False, "reason": reason}
    after = dict(document["balances"]) | {asset: str(held - amount)}
    borrowing = any(Decimal(v) < _ZERO for v in after.values())
    if document["positions"] or borrowing:
        margin = _margin(session, document | {"balances": after}, model)["accounts"][0]
        verdict["margin"] = {
            k: margin[k] for k in ("equity", "initial_margin", "maintenance_margin")
        }
        if margin["equity"] < margin["initial_margin"]:
            reason = f"withdrawal of {amount} {asset} leaves equity below initial margin ({model})"
            return verdict | {"accepted": False, "reason": reason}
        verdict["reason"] = f"equity after it covers initial margin ({model})"
    return verdict


def record_fill(
    session: Session,
    account_id: str,
    instrument: str,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
) -> dict[str, Any]:
    """Book a fill (native units, the venue's price, a fee in the cash asset); return the doc.

    A system account (:func:`is_system`) holds no positions: 409.
    """
    _account(session, account_id)
    if is_system(account_id):
        raise RefusedError(409, f"{account_id!r} is a system account: it holds no positions")
    seq = book_trade(session, "fill", account_id, instrument, quantity, price, fee)
    return account_document(session, account_id) | {"seq": seq}


def book_trade(
    session: Session,
    kind: str,
    account_id: str,
    instrument: str,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal = _ZERO,
    extra: dict[str, Any] | None = None,
) -> int:
    """Book one trade of an account by the fill rules (``book_fill``) as a ``kind`` event.

    The one booking of trader fills, liquidation fills and both sides of an ADL fill: the
    event carries the balance delta (``balances``) and the position left (``position``), plus
    ``extra``; the position and balance rows change and a ``fills`` row is added. Returns the
    event's ``seq``.
    """
    row = session.get(PositionRow, (account_id, instrument))
    held = _ZERO if row is None else row.quantity
    booked = book_fill(instrument, held, None if row is None else row.avg_price, quantity, price)
    delta = booked.cash - fee
    data = {
        "instrument": instrument,
        "quantity": str(quantity),
        "price": str(price),
        "fee": str(fee),
        "balances": {booked.cash_asset: str(delta)} if delta != _ZERO else {},
        "position": {
            "instrument": instrument,
            "quantity": str(booked.quantity),
            "avg_price": None if booked.avg_price is None else str(booked.avg_price),
        },
    } | (extra or {})
    seq = _append(session, kind, account_id, data)
    if delta != _ZERO:
        _credit(session, account_id, booked.cash_asset, delta)
    if booked.quantity == _ZERO:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(
            PositionRow(
                account_id=account_id,
                instrument=instrument,
                quantity=booked.quantity,
                avg_price=booked.avg_price,
            )
        )
    else:
        row.quantity, row.avg_price = booked.quantity, booked.avg_price
    session.add(
        FillRow(
            account_id=account_id,
            instrument=instrument,
            quantity=quantity,
            price=price,
            fee=fee,
            seq=seq,
        )
    )
    session.flush()
    return seq


def transfer(
    session: Session,
    kind: str,
    account_id: str,
    deltas: dict[str, dict[str, Decimal]],
    extra: dict[str, Any] | None = None,
) -> int:
    """Move money between accounts as one ``kind`` event of ``account_id``; return its seq.

    ``deltas`` is ``{account: {asset: delta}}`` (asset units) and must sum to zero per asset
    across the accounts: the event carries it (``"deltas"``, exact text) and each balance
    changes by its delta. A system account (:func:`is_system`) is opened on first use.

    Raises
    ------
    ValueError
        The deltas do not sum to zero per asset (a bug: money would be created).
    """
    totals: dict[str, Decimal] = {}
    for per_asset in deltas.values():
        for asset, delta in per_asset.items():
            totals[asset] = totals.get(asset, _ZERO) + delta
    if any(t != _ZERO for t in totals.values()):
        raise ValueError(f"{kind}: deltas {deltas} do not sum to zero per asset")
    for account in deltas:
        _account(session, account, open_system=True)
    text = {a: {k: str(v) for k, v in d.items() if v != _ZERO} for a, d in deltas.items()}
    seq = _append(session, kind, account_id, {"deltas": text} | (extra or {}))
    for account, per_asset in deltas.items():
        for asset, delta in per_asset.items():
            if delta != _ZERO:
                _credit(session, account, asset, delta)
    session.flush()
    return seq


def set_market(session: Session, document: dict[str, Any]) -> dict[str, Any]:
    """Validate a market-file document and put it in force; return its timestamp and seq."""
    snapshot = check_market_document(document)
    timestamp = snapshot.timestamp.isoformat()
    seq = _append(session, "market", None, {"timestamp": timestamp})
    row = session.get(MarketRow, 1)
    if row is None:
        session.add(MarketRow(id=1, document=json.dumps(document), seq=seq))
    else:
        row.document, row.seq = json.dumps(document), seq
    return {"timestamp": timestamp, "seq": seq}


def account_margin(
    session: Session,
    account_id: str,
    model: str,
    *,
    scenarios: bool = False,
    liquidation: bool = False,
) -> dict[str, Any]:
    """Return ``pmargin margin --json`` for the one account at the market in force.

    ``scenarios`` and ``liquidation`` as the CLI's ``--scenarios`` and ``--liquidation``.
    """
    document = account_document(session, account_id)
    return _margin(session, document, model, scenarios=scenarios, liquidation=liquidation)


def check_orders(
    session: Session, account_id: str, legs: Sequence[OrderLeg], model: str
) -> dict[str, Any]:
    """Return ``pmargin check-order --json`` of the legs placed together (nothing written)."""
    document = account_document(session, account_id)
    return order_document(_portfolio(document), _market(session), account_id, legs, model)


def _market(session: Session) -> dict[str, Any]:
    market = session.get(MarketRow, 1)
    if market is None:
        raise RefusedError(409, "no market in force: PUT /v1/market first")
    document: dict[str, Any] = json.loads(market.document)
    return document


def _portfolio(document: dict[str, Any]) -> dict[str, Any]:
    """Return the account document in the portfolio-file form the facade reads (numbers).

    An average price of zero (an option or spot filled at a zero price; futures fill only
    above zero) is left out: the portfolio file reads entries above zero only, and only a
    future's entry enters margin.
    """
    return {
        "id": document["id"],
        "balances": {k: float(v) for k, v in document["balances"].items()},
        "positions": [
            {"instrument": p["instrument"], "quantity": float(p["quantity"]), "unit": "native"}
            | ({} if p["avg_price"] in (None, "0") else {"avg_price": float(p["avg_price"])})
            for p in document["positions"]
        ],
    }


def _margin(
    session: Session, document: dict[str, Any], model: str, **options: bool
) -> dict[str, Any]:
    return margin_document(_portfolio(document), _market(session), model, **options)


MARGIN_KIND = "margin"
"""The kind of the per-request margin update: one event, no account, every account a tick
changed (``data.accounts``); a trader reads its own account's entry only."""


def events_after(
    session: Session, after: int, account_id: str | None, limit: int
) -> list[dict[str, Any]]:
    """Return up to ``limit`` events with ``seq > after`` in order (one account's, or all).

    One account's events are those of the account and the ``margin`` updates that name it,
    each cut down to that account's entry.
    """
    if account_id is None:
        rows = session.scalars(
            select(EventRow).where(EventRow.seq > after).order_by(EventRow.seq).limit(limit)
        )
        return [_event_document(r) for r in rows]
    found: list[dict[str, Any]] = []
    cursor = after
    while len(found) < limit:
        page = list(
            session.scalars(
                select(EventRow)
                .where(
                    EventRow.seq > cursor,
                    or_(EventRow.account_id == account_id, EventRow.kind == MARGIN_KIND),
                )
                .order_by(EventRow.seq)
                .limit(limit)
            )
        )
        if not page:
            break
        for row in page:
            cursor = row.seq
            event = _event_document(row)
            if row.kind == MARGIN_KIND:
                mine = event["data"].get("accounts", {}).get(account_id)
                if mine is None:
                    continue
                event["data"] = event["data"] | {"accounts": {account_id: mine}}
            found.append(event)
            if len(found) == limit:
                break
    return found


def _event_document(row: EventRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "kind": row.kind,
        "account": row.account_id,
        "time": row.time,
        "data": json.loads(row.data),
    }


def stored_holdings(session: Session) -> Holdings:
    """Read the balances and positions tables (zero balances left out)."""
    held = Holdings()
    for b in session.scalars(select(BalanceRow)):
        if b.amount != _ZERO:
            held.balances.setdefault(b.account_id, {})[b.asset] = b.amount
    for p in session.scalars(select(PositionRow)):
        held.positions.setdefault(p.account_id, {})[p.instrument] = (p.quantity, p.avg_price)
    return held


def rebuild(session: Session) -> Holdings:
    """Rebuild balances and positions from the events alone (the ledger's own twin).

    Balances are the sum of every event's deltas (its account's ``balances``, and every
    account's ``deltas`` of a transfer); a position is the last one a fill left (dropped at
    0). Equal to :func:`stored_holdings` on a consistent store.
    """
    held = Holdings()
    for event in session.scalars(select(EventRow).order_by(EventRow.seq)):
        data = json.loads(event.data)
        account = event.account_id or ""
        moves = dict(data.get("deltas", {}))
        if "balances" in data:
            moves[account] = data["balances"]
        for who, per_asset in moves.items():
            balances = held.balances.setdefault(who, {})
            for asset, delta in per_asset.items():
                balances[asset] = balances.get(asset, _ZERO) + Decimal(delta)
        position = data.get("position")
        if position is not None:
            positions = held.positions.setdefault(account, {})
            quantity = Decimal(position["quantity"])
            if quantity == _ZERO:
                positions.pop(position["instrument"], None)
            else:
                avg = position["avg_price"]
                positions[position["instrument"]] = (
                    quantity,
                    None if avg is None else Decimal(avg),
                )
    held.balances = {
        a: {k: v for k, v in b.items() if v != _ZERO} for a, b in held.balances.items()
    }
    held.balances = {a: b for a, b in held.balances.items() if b}
    held.positions = {a: p for a, p in held.positions.items() if p}
    return held

"""Liquidation on ticks: the engine's episode booked as ledger events, the fund and its reads.

After a tick request's monitor events (:mod:`pmargin.service._ticks`), when an account is
below maintenance, the feed runs the library's liquidation engine once through the facade
(:func:`pmargin.engine.liquidate_monitor`: the monitor's book, margin and market, its paused
underlyings, the insurance fund valued at its market) and :func:`book_episode` books every
step in the same transaction, before anything is published:

- ``liquidation_triggered`` / ``liquidation_finished``: the engine's numbers (USD);
- ``liquidation``: the fill, booked like a trader's fill (:func:`~pmargin.service._ledger.
  book_trade`: exact decimals, average price and realised P&L by the same rules), with the
  engine's event under ``engine``;
- ``penalty``: a transfer from the account to the insurance fund ``_insurance_fund`` (and the
  liquidator ``_liquidator`` where the fund's share is below 1), in the fill's cash asset;
- ``adl``: one event per side (the bankrupt account's, then the counterparty's), each a fill
  at the bankruptcy price;
- ``fund_draw``: a transfer from the fund to the bankrupt account's negative balances;
- ``bad_debt``: the rest, written off against ``_bad_debt`` (the venue's loss, socialised as
  it decides).

Transfers carry ``deltas`` per account that sum to zero per asset (checked when booked), so
:func:`~pmargin.service._ledger.rebuild` reproduces every balance and money is conserved.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pmargin.engine import LiquidationEpisode, LiquidationStep
from pmargin.service._ledger import (
    SYSTEM_PREFIX,
    _account,
    _append,
    _event_document,
    book_trade,
    transfer,
)
from pmargin.service._tables import BalanceRow, EventRow, PositionRow

__all__ = [
    "BAD_DEBT",
    "FUND",
    "LIQUIDATION_KINDS",
    "LIQUIDATOR",
    "MONEY_KINDS",
    "book_episode",
    "fund_balances",
    "insurance_fund_document",
    "liquidation_document",
    "stored_positions",
]

FUND = f"{SYSTEM_PREFIX}insurance_fund"
"""The insurance fund's system account: penalties in, fund draws out."""
LIQUIDATOR = f"{SYSTEM_PREFIX}liquidator"
"""The liquidator's system account: the penalty share the fund does not take."""
BAD_DEBT = f"{SYSTEM_PREFIX}bad_debt"
"""Bad debt's system account: its balances are minus what was written off."""

MONEY_KINDS = ("liquidation", "penalty", "adl", "fund_draw", "bad_debt")
"""Liquidation event kinds that change balances or positions (the monitor's book)."""
LIQUIDATION_KINDS = ("liquidation_triggered", *MONEY_KINDS, "liquidation_finished")
"""Every event kind of a liquidation episode."""

_ZERO = Decimal(0)


def stored_positions(session: Session) -> dict[str, dict[str, Decimal]]:
    """Return ``{account: {instrument: native quantity}}`` from the positions table."""
    held: dict[str, dict[str, Decimal]] = {}
    query = select(PositionRow.account_id, PositionRow.instrument, PositionRow.quantity)
    for account, instrument, quantity in session.execute(query):  # rows, not ORM objects
        held.setdefault(account, {})[instrument] = quantity
    return held


def fund_balances(session: Session, account_id: str = FUND) -> dict[str, Decimal]:
    """Return a system account's balances (asset units, exact; empty before its first use)."""
    rows = session.scalars(select(BalanceRow).where(BalanceRow.account_id == account_id))
    return {b.asset: b.amount for b in rows if b.amount != _ZERO}


def book_episode(session: Session, episode: LiquidationEpisode) -> list[dict[str, Any]]:
    """Book every step of an episode as ledger events; return them (with ``seq``) in order.

    The bookings follow the module docstring; the answer lists each event as the events
    endpoint shows it (``{"seq", "kind", "account", "time", "data"}``).
    """
    seqs: list[int] = []
    for step in episode.steps:
        seqs.extend(_book_step(session, step))
    rows = session.scalars(select(EventRow).where(EventRow.seq.in_(seqs)).order_by(EventRow.seq))
    return [_event_document(r) for r in rows]


def _book_step(session: Session, step: LiquidationStep) -> list[int]:
    engine = {"engine": step.event}
    if step.kind in ("triggered", "finished"):
        kind = f"liquidation_{step.kind}"
        return [_append(session, kind, step.account, step.event)]
    if step.kind == "fill":
        (trade,) = step.trades
        seqs = [
            book_trade(
                session,
                "liquidation",
                trade.account,
                trade.instrument,
                trade.quantity,
                trade.price,
                extra=engine,
            )
        ]
        if step.penalty != _ZERO:
            assert step.asset is not None
            asset, rest = step.asset, step.penalty - step.penalty_fund
            deltas = {trade.account: {asset: -step.penalty}, FUND: {asset: step.penalty_fund}}
            if rest != _ZERO:
                deltas[LIQUIDATOR] = {asset: rest}
            figures = {
                "asset": asset,
                "amount": str(step.penalty),
                "usd": step.event["penalty_usd"],
                "fund_usd": step.event["penalty_fund_usd"],
            }
            seqs.append(transfer(session, "penalty", trade.account, deltas, figures))
        return seqs
    if step.kind == "adl":
        bankrupt, counterparty = step.trades
        return [
            book_trade(
                session,
                "adl",
                side.account,
                side.instrument,
                side.quantity,
                side.price,
                extra={"side": role, "bankrupt": step.account, **engine},
            )
            for side, role in ((bankrupt, "bankrupt"), (counterparty, "counterparty"))
        ]
    payer = FUND if step.kind == "fund_draw" else BAD_DEBT
    deltas = {step.account: dict(step.credits), payer: {a: -x for a, x in step.credits.items()}}
    figures = {"usd": step.event["amount_usd"], **engine}
    return [transfer(session, step.kind, step.account, deltas, figures)]


def insurance_fund_document(
    session: Session, value_usd: float | None, after: int, limit: int
) -> dict[str, Any]:
    """Return the insurance fund: balances, value, what liquidations booked, its history.

    Parameters
    ----------
    value_usd
        The fund's balances valued at the market in force (USD; None without a market).
    after, limit
        The history page: events with ``seq > after``, at most ``limit``.

    Returns
    -------
    dict
        ``{"account", "balances", "value_usd", "bad_debt": {"balances"}, "history",
        "last"}``: balances as exact decimal text (asset units); each history entry is an
        event that moved the fund (a deposit or withdrawal of the fund, a penalty, a fund
        draw) with ``fund`` (its delta per asset) and ``usd`` (the engine's USD figure of a
        liquidation event at its market, None for deposits and withdrawals).
    """
    query = (
        select(EventRow)
        .where(
            EventRow.seq > after,
            or_(EventRow.account_id == FUND, EventRow.kind.in_(("penalty", "fund_draw"))),
        )
        .order_by(EventRow.seq)
        .limit(limit)
    )
    history = []
    for row in session.scalars(query):
        data = json.loads(row.data)
        delta = data.get("deltas", {}).get(FUND) if "deltas" in data else None
        if delta is None and row.account_id == FUND:
            delta = data.get("balances", {})
        if not delta:
            continue
        usd = data.get("usd")
        if row.kind == "penalty":
            usd = data.get("fund_usd")
        elif row.kind == "fund_draw":
            usd = -float(data["usd"])
        history.append(
            {
                "seq": row.seq,
                "kind": row.kind,
                "account": row.account_id,
                "time": row.time,
                "fund": delta,
                "usd": usd,
            }
        )
    return {
        "account": FUND,
        "balances": {a: str(x) for a, x in sorted(fund_balances(session).items())},
        "value_usd": value_usd,
        "bad_debt": {
            "account": BAD_DEBT,
            "balances": {a: str(-x) for a, x in sorted(fund_balances(session, BAD_DEBT).items())},
        },
        "history": history,
        "last": history[-1]["seq"] if history else after,
    }


def liquidation_document(session: Session, account_id: str) -> dict[str, Any]:
    """Return an account's liquidation status and its liquidation events.

    Returns
    -------
    dict
        ``{"account", "state", "episodes", "fills", "adl_fills", "penalties", "fund_draws",
        "bad_debt", "last", "events"}``: ``state`` is ``none`` (never liquidated),
        ``in_progress`` (a trigger without its finish: not possible between requests, kept
        for completeness), or the last episode's outcome (``restored``, ``closed_out``,
        ``bankrupt``, ``paused``: positions left in a paused underlying, liquidated when the
        breaker resumes, ``stuck``, ``max_steps``); the sums are per asset (exact text,
        asset units): penalties paid, fund draws and bad debt credited.
    """
    _account(session, account_id)
    rows = session.scalars(
        select(EventRow)
        .where(EventRow.account_id == account_id, EventRow.kind.in_(LIQUIDATION_KINDS))
        .order_by(EventRow.seq)
    )
    events = [_event_document(r) for r in rows]
    sums: dict[str, dict[str, Decimal]] = {"penalty": {}, "fund_draw": {}, "bad_debt": {}}
    state, last = "none", None
    counts = {"liquidation": 0, "adl": 0, "liquidation_triggered": 0}
    for event in events:
        kind, data = event["kind"], event["data"]
        if kind in counts:
            counts[kind] += 1
        if kind in sums:
            for asset, delta in data["deltas"].get(account_id, {}).items():
                total = sums[kind].get(asset, _ZERO) + abs(Decimal(delta))
                sums[kind][asset] = total
        if kind == "liquidation_triggered":
            state, last = "in_progress", event["seq"]
        elif kind == "liquidation_finished":
            state, last = str(data["outcome"]), event["seq"]
    return {
        "account": account_id,
        "state": state,
        "episodes": counts["liquidation_triggered"],
        "fills": counts["liquidation"],
        "adl_fills": counts["adl"],
        "penalties": {a: str(x) for a, x in sums["penalty"].items()},
        "fund_draws": {a: str(x) for a, x in sums["fund_draw"].items()},
        "bad_debt": {a: str(x) for a, x in sums["bad_debt"].items()},
        "last": last,
        "events": events,
    }

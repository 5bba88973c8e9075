"""Market ticks: through the circuit breakers and the monitor, statuses persisted as events.

One :class:`Feed` per server process holds a :class:`pmargin.monitor.Monitor` of every stored
account at the market in force (through the facade: :func:`pmargin.engine.start_monitor`).
Each ``POST /v1/market/ticks`` runs under the write lock, in one transaction:

1. bring the monitor up to the store: started afresh when the market row is not the one it
   last wrote (a ``PUT /v1/market``, another process's ticks, a restart), moved to the new
   book when accounts, balances or positions changed since (``with_book``: the breakers'
   state carries over);
   (the status changes the book's own changes caused are reported first, as ``status``
   events with ``"cause": "book"``);
2. apply each tick in order (:meth:`Monitor.apply`): a tick a breaker rejects is held and a
   ``breaker`` event says why; accepted ones re-margin only what they touch;
3. persist the monitor's events (``status`` per account whose status changed, ``breaker`` for
   pauses and resumes), then a ``tick`` event, and put the monitor's market in force (the
   market row, so every read margins at it).

Any failure drops the monitor (it may have applied part of the request in memory while the
transaction rolls back): the next request starts it again from the store. Breaker state lives
in the process; a restart starts the breakers afresh at the stored market.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmargin.engine import (
    BookStatusChange,
    Monitor,
    book_status_changes,
    market_document_of,
    monitor_rebooked,
    start_monitor,
    tick_update,
)
from pmargin.service._ledger import (
    RefusedError,
    _append,
    _market,
    _portfolio,
    account_document,
)
from pmargin.service._tables import AccountRow, EventRow, MarketRow

__all__ = ["BOOK_KINDS", "Feed"]

BOOK_KINDS = ("account_created", "deposit", "withdrawal", "fill")
"""Event kinds that change the book the monitor holds."""

_EVENT_KINDS = {
    "status_change": "status",
    "liquidation_pause": "breaker",
    "liquidation_resume": "breaker",
}


class Feed:
    """The process's monitor of the stored book, kept in step with the store.

    Parameters
    ----------
    model
        The margin model the monitor keeps current (the server's default model).
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.monitor: Monitor | None = None
        self._market_seq = -1
        self._book_seq = -1

    def apply(self, session: Session, ticks: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply ``ticks`` in order and persist what they caused (see the module docstring).

        Returns
        -------
        dict
            ``{"seq"}`` of the ``tick`` event, ``events`` (the persisted monitor events, each
            with its ``seq``), ``paused`` (underlyings whose liquidations are paused) and
            ``timestamp`` (the last tick's).

        Raises
        ------
        RefusedError
            409: no market in force or no account yet.
        InputError
            A malformed tick, a tick older than the last one, an unknown symbol.
        """
        try:
            monitor, moved = self._in_step(session)
            caused = [event.to_dict() for event in moved]
            for tick in ticks:
                caused.extend(event.to_dict() for event in monitor.apply(tick_update(tick)))
            persisted = []
            for data in caused:
                account = data.get("account")
                seq = _append(session, _EVENT_KINDS[data["event"]], account, data)
                persisted.append({"seq": seq} | data)
            paused = sorted(monitor.paused_underlyings)
            summary = {"ticks": len(ticks), "paused": paused, "events": len(persisted)}
            seq = _append(session, "tick", None, summary)
            row = session.get(MarketRow, 1)
            assert row is not None  # _in_step refused otherwise
            row.document, row.seq = json.dumps(market_document_of(monitor)), seq
            session.flush()
        except BaseException:
            self.monitor = None
            raise
        self._market_seq = seq
        return {"seq": seq, "events": persisted, "paused": paused}

    def _in_step(self, session: Session) -> tuple[Monitor, list[BookStatusChange]]:
        """Return the monitor of the stored book at the stored market (start or move it).

        Also the status changes the book's own changes caused since the last tick (fills,
        deposits, withdrawals at the market in force), which no tick reports.
        """
        market = session.get(MarketRow, 1)
        if market is None:
            raise RefusedError(409, "no market in force: PUT /v1/market first")
        book_seq = session.scalar(
            select(func.max(EventRow.seq)).where(EventRow.kind.in_(BOOK_KINDS))
        )
        if book_seq is None:
            raise RefusedError(409, "no account yet: ticks move the accounts' health")
        moved: list[BookStatusChange] = []
        if self.monitor is None or market.seq != self._market_seq:
            self.monitor = start_monitor(self._book(session), _market(session), self.model)
        elif book_seq != self._book_seq:
            old = self.monitor
            self.monitor = monitor_rebooked(old, self._book(session))
            moved = book_status_changes(old, self.monitor)
        self._market_seq, self._book_seq = market.seq, book_seq
        return self.monitor, moved

    @staticmethod
    def _book(session: Session) -> dict[str, Any]:
        ids = session.scalars(select(AccountRow.id).order_by(AccountRow.id))
        return {"accounts": [_portfolio(account_document(session, a)) for a in ids]}

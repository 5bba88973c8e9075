"""Market ticks: through the circuit breakers and the monitor, then liquidation, as events.

One :class:`Feed` per server process holds a :class:`pmargin.monitor.Monitor` of every stored
account at the market in force (through the facade: :func:`pmargin.engine.monitor_of_kept`),
started when the server starts (:meth:`Feed.start`) where a market is in force, else by the
first tick. It keeps the accounts parsed across requests (:class:`pmargin.engine.KeptBook`)
and the ledger's last ``seq`` it has read them at: a request reads only the accounts the
ledger's book events after that ``seq`` name (whichever process wrote them), not the whole
store. Each ``POST /v1/market/ticks`` runs under the write lock, in one transaction:

1. bring the monitor up to the store: started afresh when the market row is not the one it
   last wrote (a ``PUT /v1/market``, another process's ticks, a restart); else, when book
   events (fills, deposits, withdrawals, new accounts, liquidations) came after the last
   ``seq`` read, their accounts are read again and the monitor moves to the book with them
   (``with_book``: the breakers' state carries over); the status changes the book's own
   changes caused are reported first, as ``status`` events with ``"cause": "book"``;
2. apply each tick in order (:meth:`Monitor.apply`): a tick a breaker rejects is held and a
   ``breaker`` event says why; accepted ones re-margin only what they touch;
3. persist the monitor's events (``status`` per account whose status changed, ``breaker`` for
   pauses and resumes);
4. when an account is below maintenance, run the liquidation engine once at the monitor's
   market (paused underlyings untouched) and book every step as ledger events
   (:mod:`pmargin.service._liquidation`); the accounts the steps touched are read again, the
   monitor moves to the book after them and the status changes they caused are ``status``
   events with ``"cause": "liquidation"``;
5. one ``margin`` event with equity, IM, MM and status of every account the request changed,
   then a ``tick`` event, and the monitor's market is put in force (the market row, so every
   read margins at it).

The kept monitor equals one started from the store (:meth:`Feed.monitor_reference`: every
account read and parsed again; tested after random fills, deposits and ticks).

Nothing is published before the commit: the stream reads the ledger, and the write rings its
bell after committing. Any failure drops the monitor and the kept accounts (it may have
applied part of the request in memory while the transaction rolls back): the next request
starts them again from the store. Breaker state lives in the process; a restart starts the
breakers afresh at the stored market.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmargin.engine import (
    BookStatusChange,
    BreakerConfig,
    KeptBook,
    LiquidationConfig,
    MarginFigures,
    Monitor,
    book_status_changes,
    changed_figures,
    fund_value_usd,
    liquidate_monitor,
    margin_figures,
    market_document_of,
    monitor_of_kept,
    monitor_with_accounts,
    needs_liquidation,
    start_monitor,
    tick_update,
)
from pmargin.errors import PmarginError
from pmargin.service._ledger import (
    MARGIN_KIND,
    SYSTEM_PREFIX,
    RefusedError,
    _append,
    _event_document,
    _market,
    _portfolio,
    account_documents,
    is_system,
)
from pmargin.service._liquidation import (
    MONEY_KINDS,
    book_episode,
    fund_balances,
    stored_positions,
)
from pmargin.service._tables import AccountRow, EventRow, MarketRow

__all__ = ["BOOK_KINDS", "MARGIN_FIELDS", "Feed"]

BOOK_KINDS = ("account_created", "deposit", "withdrawal", "fill", *MONEY_KINDS)
"""Event kinds that change the book the monitor holds."""

MARGIN_FIELDS = ("equity", "initial_margin", "maintenance_margin", "status")
"""The entries of each account of a ``margin`` event, in order (USD, USD, USD, status)."""

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
    breakers
        Circuit-breaker limits (``None``: the shipped ``circuit_breakers.toml``).
    liquidation
        Liquidation parameters (``None``: the shipped ``liquidation.toml``).
    """

    def __init__(
        self,
        model: str,
        breakers: BreakerConfig | None = None,
        liquidation: LiquidationConfig | None = None,
    ) -> None:
        self.model = model
        self.breakers = breakers
        self.liquidation = liquidation
        self.monitor: Monitor | None = None
        self.kept: KeptBook | None = None
        self._market_seq = -1
        self._seen = -1
        """The ledger's last ``seq`` the kept accounts were read at."""

    def start(self, session: Session) -> bool:
        """Start the monitor of the stored book at the stored market, when there are both.

        Returns whether it started (no market in force or no account: not yet; the first tick
        starts it). Errors are the monitor's (a stored account the market cannot value).
        """
        if session.get(MarketRow, 1) is None or not self._keep(session):
            return False
        self._in_step(session)
        return True

    def monitor_reference(self, session: Session) -> Monitor:
        """Return the monitor started afresh from the store (the kept monitor's twin).

        Every account read and parsed again, at the stored market; a fresh breaker state.
        """
        return start_monitor(self._book(session), _market(session), self.model, self.breakers)

    def apply(self, session: Session, ticks: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply ``ticks`` in order and persist what they caused (see the module docstring).

        Returns
        -------
        dict
            ``{"seq"}`` of the ``tick`` event, ``events`` (the persisted monitor events, each
            with its ``seq``), ``liquidation`` (the persisted liquidation events, as
            ``GET /v1/events`` shows them), ``margin`` (``{"seq", "accounts"}``: the margin
            event and how many accounts it lists; null when none changed) and ``paused``
            (underlyings whose liquidations are paused).

        Raises
        ------
        RefusedError
            409: no market in force or no account yet.
        InputError
            A malformed tick, a tick older than the last one, an unknown symbol.
        """
        try:
            monitor, moved = self._in_step(session)
            before = margin_figures(monitor)
            caused = [event.to_dict() for event in moved]
            for tick in ticks:
                caused.extend(event.to_dict() for event in monitor.apply(tick_update(tick)))
            persisted = [self._persist(session, data) for data in caused]
            liquidation: list[dict[str, Any]] = []
            if needs_liquidation(monitor):
                monitor, liquidation, changed = self._liquidate(session, monitor)
                persisted.extend(self._persist(session, data) for data in changed)
            paused = sorted(monitor.paused_underlyings)
            margin = self._margin_event(session, monitor, before)
            summary = {
                "ticks": len(ticks),
                "paused": paused,
                "events": len(persisted) + len(liquidation),
            }
            seq = _append(session, "tick", None, summary)
            row = session.get(MarketRow, 1)
            assert row is not None  # _in_step refused otherwise
            row.document, row.seq = json.dumps(market_document_of(monitor)), seq
            session.flush()
        except BaseException:
            self.monitor, self.kept = None, None
            raise
        self._market_seq = seq
        return {
            "seq": seq,
            "events": persisted,
            "liquidation": liquidation,
            "margin": margin,
            "paused": paused,
        }

    @staticmethod
    def _persist(session: Session, data: dict[str, Any]) -> dict[str, Any]:
        seq = _append(session, _EVENT_KINDS[data["event"]], data.get("account"), data)
        return {"seq": seq} | data

    def _liquidate(
        self, session: Session, monitor: Monitor
    ) -> tuple[Monitor, list[dict[str, Any]], list[dict[str, Any]]]:
        """Run the engine once, book its steps, move the monitor to the book after them.

        Returns the monitor after, the booked events and the status changes they caused
        (``"cause": "liquidation"``). An engine that fails (a :class:`PmarginError`: a model
        that cannot margin an account, a market without a price it needs) books nothing: a
        ``liquidation_failed`` event says why, the ticks are kept, and the next tick tries
        again.
        """
        fund = fund_value_usd(monitor.market, fund_balances(session))
        try:
            episode = liquidate_monitor(monitor, fund, stored_positions(session), self.liquidation)
        except PmarginError as err:
            reason = {"reason": " ".join(str(err).split())[:500]}
            seq = _append(session, "liquidation_failed", None, reason)
            row = session.get(EventRow, seq)
            assert row is not None
            return monitor, [_event_document(row)], []
        booked = book_episode(session, episode)
        if not any(e["kind"] in MONEY_KINDS for e in booked):
            return monitor, booked, []
        assert self.kept is not None  # _in_step kept them
        after = monitor_with_accounts(monitor, self.kept, self._caught_up(session))
        changed = [
            change.to_dict() | {"cause": "liquidation"}
            for change in book_status_changes(monitor, after)
        ]
        self.monitor = after
        return after, booked, changed

    @staticmethod
    def _margin_event(
        session: Session, monitor: Monitor, before: MarginFigures
    ) -> dict[str, Any] | None:
        """Persist one ``margin`` event of the accounts whose figures changed; its summary."""
        accounts = changed_figures(before, monitor)
        if not accounts:
            return None
        data = {
            "timestamp": monitor.now.isoformat(),
            "fields": list(MARGIN_FIELDS),
            "accounts": accounts,
        }
        return {"seq": _append(session, MARGIN_KIND, None, data), "accounts": len(accounts)}

    def _in_step(self, session: Session) -> tuple[Monitor, list[BookStatusChange]]:
        """Return the monitor of the stored book at the stored market (start or move it).

        Also the status changes the book's own changes caused since the last tick (fills,
        deposits, withdrawals at the market in force), which no tick reports.
        """
        market = session.get(MarketRow, 1)
        if market is None:
            raise RefusedError(409, "no market in force: PUT /v1/market first")
        changed = self._caught_up(session)
        kept = self.kept
        if not kept:
            raise RefusedError(409, "no account yet: ticks move the accounts' health")
        moved: list[BookStatusChange] = []
        if self.monitor is None or market.seq != self._market_seq:
            self.monitor = monitor_of_kept(kept, _market(session), self.model, self.breakers)
        elif changed:
            old = self.monitor
            self.monitor = monitor_with_accounts(old, kept, changed)
            moved = book_status_changes(old, self.monitor)
        self._market_seq = market.seq
        return self.monitor, moved

    def _keep(self, session: Session) -> KeptBook:
        """Read every stored account (system accounts left out) into the kept book."""
        self._seen = _last_seq(session)
        self.kept = KeptBook(self._book(session)["accounts"])
        return self.kept

    def _caught_up(self, session: Session) -> list[str]:
        """Read again the accounts the book events after the last read name; their ids.

        Without kept accounts (the first request, or after a failure) every account is read
        and none is returned (the monitor starts afresh).
        """
        if self.kept is None:
            self._keep(session)
            return []
        rows = session.execute(
            select(EventRow.seq, EventRow.account_id, EventRow.data)
            .where(EventRow.seq > self._seen, EventRow.kind.in_(BOOK_KINDS))
            .order_by(EventRow.seq)
        ).all()
        if not rows:
            return []
        touched: set[str] = set()
        for _, account, data in rows:
            if account is not None:
                touched.add(account)
            touched.update(json.loads(data).get("deltas", {}))
        ids = sorted(a for a in touched if not is_system(a))
        self.kept.put(_portfolio(d) for d in account_documents(session, ids))
        self._seen = rows[-1][0]
        return ids

    @staticmethod
    def _book(session: Session) -> dict[str, Any]:
        """Return the stored accounts (system accounts left out) in the portfolio-file form."""
        ids = session.scalars(
            select(AccountRow.id)
            .where(~AccountRow.id.startswith(SYSTEM_PREFIX, autoescape=True))
            .order_by(AccountRow.id)
        )
        return {"accounts": [_portfolio(d) for d in account_documents(session, list(ids))]}


def _last_seq(session: Session) -> int:
    """Return the ledger's last ``seq`` (0: no event yet)."""
    found: int | None = session.scalar(select(func.max(EventRow.seq)))
    return found or 0

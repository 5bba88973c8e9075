"""The dashboard: its page at ``/`` and the reads it needs beyond the REST API's own.

The page (``dashboard/``: ``index.html``, ``app.js``, ``style.css``; Plotly's bundle from the
installed ``plotly`` package at ``/dashboard/plotly.min.js``) holds no maths: every number it
shows comes from the API. The reads here (``/v1/dashboard/...``) compute nothing either: each
reads the stored account(s) and the market in force and calls the facade
(:mod:`pmargin.engine`: :func:`~pmargin.engine.venue_document`,
:func:`~pmargin.engine.models_document`, :func:`~pmargin.engine.holdings_document`,
:func:`~pmargin.engine.profile_document`, :func:`~pmargin.engine.whatif_document`,
:func:`~pmargin.engine.largest_leg_document`, :func:`~pmargin.engine.stress_document`).
Roles as everywhere else (the app's own ``may_see`` and ``role``): an account's reads for an
admin or that account's trader (404 for any other), the venue and the reports for an admin,
the stress grid for an admin (every account) or a trader (its own row).
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations, and the
# dependency aliases below are local to dashboard_router.
import json
import mimetypes
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pmargin.engine import (
    OrderLeg,
    holdings_document,
    largest_leg_document,
    models_document,
    profile_document,
    stress_document,
    venue_document,
    whatif_document,
)
from pmargin.service import _ledger as ledger
from pmargin.service._keys import Principal
from pmargin.service._schemas import LegIn
from pmargin.service._tables import EventRow
from pmargin.service._ticks import BOOK_KINDS, MARGIN_FIELDS, Feed

__all__ = ["REPORT_PATTERNS", "dashboard_router"]

REPORT_PATTERNS = ("*/report.html", "build/*/report.html", "build/*/*/report.html")
"""Where, under the reports folder (``serve --reports``), report folders are looked for."""

STATIC_FILES = ("index.html", "app.js", "style.css")
"""The page's own files (``pmargin/service/dashboard/``)."""

MOVED_EVENTS = 20_000
"""Most events since the kept venue that its ``margin`` events may bring it up to date over."""

_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeOut(_Strict):
    """Who the key is: its role and (a trader's) account."""

    role: str
    account: str | None


class VenueRow(_Strict):
    """One account's health (USD) and its distance to liquidation (a relative index move)."""

    id: str
    equity: float
    initial_margin: float
    maintenance_margin: float
    available: float
    im_utilization: float | None
    mm_utilization: float | None
    status: str
    distance: float | None


class VenueOut(_Strict):
    """A page of accounts' health, the counts by status, and the last event's ``seq``.

    ``total`` accounts, ``matched`` by the filter, ``accounts`` those from ``offset`` (at
    most ``limit``) in the order of ``sort`` (``desc``); the figures are those of the
    store's state at event ``seq``.
    """

    model: str
    timestamp: str | None
    accounts: list[VenueRow]
    counts: dict[str, int]
    total: int
    matched: int
    offset: int
    limit: int | None
    sort: str
    desc: bool
    seq: int


class ModelRow(_Strict):
    """One model's ``pmargin margin --json --scenarios`` account, or why it cannot margin it."""

    model: str
    account: dict[str, Any] | None
    error: str | None


class ModelsOut(_Strict):
    """The account under every model side by side."""

    models: list[ModelRow]


class BalanceRow(_Strict):
    """A balance: amount (asset units), USD price and value, coin delta."""

    asset: str
    amount: float
    usd_price: float
    value: float
    delta: float


class HoldingsOut(_Strict):
    """Positions with value and Greeks (``pmargin margin --json``), balances, delta per coin."""

    positions: list[dict[str, Any]]
    balances: list[BalanceRow]
    delta: dict[str, float]


class ProfileOut(_Strict):
    """P&L (USD) against the index of one underlying: rows per date, columns per level."""

    underlying: str
    index: float
    moves: list[float]
    levels: list[float]
    dates: list[str]
    pnl: list[list[float]]
    expired: list[list[str]]


class WhatIfIn(_Strict):
    """Legs placed together, transfers (deposit > 0, withdrawal < 0) and index moves."""

    legs: list[LegIn] = Field(default_factory=list, max_length=32)
    transfers: dict[str, float] = Field(default_factory=dict, max_length=16)
    moves: dict[str, float] = Field(default_factory=dict, max_length=16)


class StateOut(_Strict):
    """Equity, IM, MM, available (USD) and status."""

    equity: float
    initial_margin: float
    maintenance_margin: float
    available: float
    status: str


class DeltaOut(_Strict):
    """After minus before (USD)."""

    equity: float
    initial_margin: float
    maintenance_margin: float
    available: float


class WhatIfOut(_Strict):
    """Before and after, the deltas, and (with legs) the pre-trade check's document."""

    model: str
    before: StateOut
    after: StateOut
    delta: DeltaOut
    order: dict[str, Any] | None = None


class LargestOut(_Strict):
    """The largest size of the leg, in its direction, still accepted (0: none)."""

    instrument: str
    unit: str
    side: str
    quantity: float
    capped: bool
    check: dict[str, Any] | None


class StressOut(_Strict):
    """Episodes x accounts: loss (USD) and loss over equity."""

    model: str
    accounts: list[str]
    episodes: list[str]
    descriptions: list[str]
    loss: list[list[float]]
    equity: list[float]
    loss_over_equity: list[list[float | None]]


class ReportRow(_Strict):
    """A report folder found under the reports folder."""

    name: str
    files: list[str]
    modified: str


class ReportsOut(_Strict):
    """The reports found (backtest, crash replay), newest first."""

    root: str
    reports: list[ReportRow]


def _book(session: Session) -> dict[str, Any]:
    return Feed._book(session)


def _one(session: Session, account_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the account's portfolio-file form and the market in force (404, 409)."""
    document = ledger.account_document(session, account_id)
    return ledger._portfolio(document), ledger._market(session)


def _root(request: Request) -> Path:
    found = getattr(request.app.state, "reports", None)
    return Path(found or Path.cwd()).resolve()


def _reports(root: Path) -> list[Path]:
    found = {p.parent for pattern in REPORT_PATTERNS for p in root.glob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def dashboard_router(
    engine: Engine,
    model: str,
    principal: Callable[..., Principal],
    may_see: Callable[[Principal, str], None],
    role: Callable[..., None],
) -> APIRouter:
    """Build the dashboard's routes over the store (included by :func:`create_app`).

    Parameters
    ----------
    engine
        The store.
    model
        The server's model (reads without ``?model=``).
    principal
        The app's dependency returning the key's principal (401 without one).
    may_see, role
        The app's own checks: an account's reader (404 otherwise), a role (403 otherwise).

    The reports are looked for (:data:`REPORT_PATTERNS`) under ``app.state.reports`` (a
    folder ``serve --reports`` sets), else the working directory.
    """
    router = APIRouter()
    server_model = model
    caller_of = Annotated[Principal, Depends(principal)]
    model_of = Annotated[str, Query(min_length=1, max_length=64)]
    static = resources.files("pmargin.service") / "dashboard"

    def read(action: Callable[[Session], Any]) -> Any:
        with Session(engine) as session:
            return action(session)

    def account_read(
        caller: Principal, account_id: str, action: Callable[[dict[str, Any], dict[str, Any]], Any]
    ) -> Any:
        may_see(caller, account_id)
        portfolio, market = read(lambda s: _one(s, account_id))
        return action(portfolio, market)

    @router.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    @router.get("/dashboard/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name == "plotly.min.js":
            bundle = resources.files("plotly") / "package_data" / "plotly.min.js"
            return Response(bundle.read_bytes(), media_type="text/javascript")
        if name not in STATIC_FILES:
            raise ledger.RefusedError(404, f"no file {name!r}")
        media = _TYPES[Path(name).suffix]
        return Response((static / name).read_bytes(), media_type=media)

    @router.get("/v1/dashboard/me", response_model=MeOut)
    def me(caller: caller_of) -> dict[str, Any]:
        """Return the key's role and (a trader's) account: what the page shows."""
        return {"role": caller.role, "account": caller.account_id}

    # model -> (seq, book, market, the venue kept for them): one state of the store each.
    views: dict[str, tuple[int, dict[str, Any], dict[str, Any], dict[str, Any]]] = {}
    views_lock = threading.Lock()

    def moved_on(
        session: Session, held: tuple[int, dict[str, Any], dict[str, Any], dict[str, Any]]
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Return the held venue moved to the store's state by its ``margin`` events, or None.

        Only when every event since is a tick's (no book change, no new market: not one of
        ``BOOK_KINDS``, ``market``) and there are at most ``MOVED_EVENTS`` of them: the
        market in force and the held venue with the margin events' figures (the server's
        model's, which the monitor keeps).
        """
        rows = session.execute(
            select(EventRow.kind, EventRow.data)
            .where(EventRow.seq > held[0])
            .order_by(EventRow.seq)
            .limit(MOVED_EVENTS + 1)
        ).all()
        if len(rows) > MOVED_EVENTS or any(k in BOOK_KINDS or k == "market" for k, _ in rows):
            return None
        figures: dict[str, list[Any]] = {}
        for kind, data in rows:
            if kind == ledger.MARGIN_KIND:
                found = json.loads(data)
                if tuple(found.get("fields", ())) != MARGIN_FIELDS:
                    return None
                figures.update(found["accounts"])
        market = ledger._market(session)
        view = held[3].get("view")
        if view is None:
            return None
        return market, {"view": view.with_figures(market, figures)}

    @router.get("/v1/dashboard/venue", response_model=VenueOut)
    def venue(
        caller: caller_of,
        model: model_of = model,
        offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        sort: Annotated[str, Query(min_length=1, max_length=32)] = "mm_utilization",
        desc: bool = True,
        match: Annotated[str, Query(alias="filter", max_length=64)] = "",
        status: Annotated[str, Query(max_length=32)] = "",
    ) -> dict[str, Any]:
        """Return a page of the accounts' health and distance to liquidation, counts (admin).

        The venue is computed once per state of the store (the last event's ``seq``) and
        kept; paging, sorting (``sort``, ``desc``) and filtering (``filter``: id contains,
        ``status``) read it, searching the distance of the page's accounts only.
        """
        role(caller, "admin")

        def at_last(
            session: Session,
        ) -> tuple[int, dict[str, Any], dict[str, Any], dict[str, Any]]:
            last = session.scalar(select(func.max(EventRow.seq))) or 0
            with views_lock:
                held = views.get(model)
            if held is not None and held[0] == last:
                return held
            if held is not None and held[0] < last and model == server_model:
                moved = moved_on(session, held)
                if moved is not None:
                    return last, held[1], moved[0], moved[1]
            book = _book(session)
            market = ledger._market(session) if book["accounts"] else {}
            return last, book, market, {}

        seq, book, market, kept = read(at_last)
        with views_lock:
            if views.get(model, (-1,))[0] <= seq:
                views[model] = (seq, book, market, kept)
            found = venue_document(
                book,
                market,
                model,
                kept=kept,
                offset=offset,
                limit=limit,
                sort=sort,
                desc=desc,
                match=match,
                status=status,
            )
        page: dict[str, Any] = found | {"seq": seq}
        return page

    @router.get("/v1/dashboard/accounts/{account_id}/models", response_model=ModelsOut)
    def models(account_id: str, caller: caller_of) -> dict[str, Any]:
        """Margin the account under every model side by side, with components and scenarios."""
        return dict(account_read(caller, account_id, models_document))

    @router.get("/v1/dashboard/accounts/{account_id}/holdings", response_model=HoldingsOut)
    def holdings(account_id: str, caller: caller_of, model: model_of = model) -> dict[str, Any]:
        """Positions with value and Greeks, balances with value and coin delta."""
        return dict(account_read(caller, account_id, lambda p, m: holdings_document(p, m, model)))

    @router.get("/v1/dashboard/accounts/{account_id}/profile", response_model=ProfileOut)
    def profile(
        account_id: str,
        caller: caller_of,
        underlying: Annotated[str, Query(min_length=1, max_length=16)],
        dates: Annotated[list[str] | None, Query(max_length=16)] = None,
        moves: Annotated[list[float] | None, Query(max_length=401)] = None,
    ) -> dict[str, Any]:
        """P&L against the index of ``underlying`` now, at ``dates`` and at each expiry."""

        def build(p: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
            return profile_document(p, m, underlying, moves=moves or (), dates=dates or ())

        return dict(account_read(caller, account_id, build))

    @router.post("/v1/dashboard/accounts/{account_id}/whatif", response_model=WhatIfOut)
    def whatif(
        account_id: str, body: WhatIfIn, caller: caller_of, model: model_of = model
    ) -> dict[str, Any]:
        """IM, MM, available and status before and after legs, transfers and a move."""
        legs = [OrderLeg(g.instrument, g.quantity, g.unit, g.price) for g in body.legs]

        def build(p: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
            return whatif_document(
                p,
                m,
                account_id,
                legs=legs,
                transfers=body.transfers,
                moves=body.moves,
                model=model,
            )

        return dict(account_read(caller, account_id, build))

    @router.post("/v1/dashboard/accounts/{account_id}/largest", response_model=LargestOut)
    def largest(
        account_id: str, body: LegIn, caller: caller_of, model: model_of = model
    ) -> dict[str, Any]:
        """Find the largest size of the leg, in its direction, the check still accepts."""
        leg = OrderLeg(body.instrument, body.quantity, body.unit, body.price)

        def build(p: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
            return largest_leg_document(p, m, account_id, leg, model)

        return dict(account_read(caller, account_id, build))

    @router.get("/v1/dashboard/stress", response_model=StressOut)
    def stress(
        caller: caller_of,
        model: model_of = model,
        episodes: Annotated[list[str] | None, Query(max_length=32)] = None,
    ) -> dict[str, Any]:
        """Stress episodes x accounts (admin: every account; trader: its own)."""
        role(caller, "admin", "trader")

        def build(session: Session) -> tuple[dict[str, Any], dict[str, Any]]:
            if caller.role == "trader":
                assert caller.account_id is not None
                portfolio, market = _one(session, caller.account_id)
                return {"accounts": [portfolio]}, market
            return _book(session), ledger._market(session)

        book, market = read(build)
        return stress_document(book, market, model, episodes or ())

    @router.get("/v1/dashboard/reports", response_model=ReportsOut)
    def report_list(caller: caller_of, request: Request) -> dict[str, Any]:
        """List the backtest and crash-replay reports under the reports folder (admin)."""
        role(caller, "admin")
        root = _root(request)
        rows = [
            {
                "name": str(folder.relative_to(root)),
                "files": sorted(p.name for p in folder.iterdir() if p.is_file()),
                "modified": datetime.fromtimestamp(folder.stat().st_mtime, UTC).isoformat(),
            }
            for folder in _reports(root)
        ]
        return {"root": str(root), "reports": rows}

    @router.get("/v1/dashboard/reports/{name:path}")
    def report_file(name: str, caller: caller_of, request: Request) -> FileResponse:
        """Return one file of a report folder listed by ``GET /v1/dashboard/reports`` (admin)."""
        role(caller, "admin")
        root = _root(request)
        folders = {str(f.relative_to(root)): f for f in _reports(root)}
        folder, _, file = name.rpartition("/")
        if folder not in folders or "/" in file or not (folders[folder] / file).is_file():
            raise ledger.RefusedError(404, f"no report file {name!r}")
        path = folders[folder] / file
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media)

    return router

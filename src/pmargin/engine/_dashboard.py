"""The dashboard's numbers over documents (the service's ``/v1/dashboard`` reads).

Each function takes the portfolio-file and market-file forms the service keeps and returns a
plain document; the maths is the library's: margin under every model side by side
(:func:`models_document`), coin balances' delta next to the positions' Greeks
(:func:`holdings_document`), the P&L profile against the index at dates
(:func:`profile_document`, :func:`pmargin.collateral.pnl_profile`), a what-if of legs, a
deposit or withdrawal and a market move (:func:`whatif_document`), the largest size of a leg
still accepted (:func:`largest_leg_document`, the pre-trade checker asked again and again),
the stress grid of episodes x accounts (:func:`stress_document`) and the whole venue's health
(:func:`venue_document`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from pmargin.book import Portfolio, arrange, portfolio_from_dict
from pmargin.collateral import expiry_dates, pnl_profile
from pmargin.engine._documents import DEFAULT_MODEL, margin_document
from pmargin.engine._inputs import instruments_for
from pmargin.engine._margin import finite_or_none, margin_report
from pmargin.engine._order import OrderLeg, legs_report
from pmargin.engine._stress import stress_report
from pmargin.errors import InputError, PmarginError
from pmargin.health import assess
from pmargin.margin import MODELS, get_model
from pmargin.market import MarketSnapshot, market_from_dict, market_to_dict
from pmargin.pretrade import Order, PreTradeChecker, load_price_bounds
from pmargin.timeutil import parse_timestamp

__all__ = [
    "holdings_document",
    "largest_leg_document",
    "models_document",
    "profile_document",
    "stress_document",
    "venue_distances",
    "venue_document",
    "venue_page",
    "venue_rows",
    "whatif_document",
]

PROFILE_POINTS = 41
"""Index levels of a profile without ``moves`` (from -60 % to +60 %, every 3 %)."""

LARGEST_TOLERANCE = 2.0**-30
"""Relative width of :func:`largest_leg_document`'s last bracket (accepted to refused size)."""


def _parsed(
    portfolio: Mapping[str, Any], market: Mapping[str, Any]
) -> tuple[Portfolio, MarketSnapshot]:
    book = portfolio_from_dict(portfolio)
    return book, market_from_dict(market, book.instruments)


def models_document(
    portfolio: Mapping[str, Any], market: Mapping[str, Any], models: Sequence[str] = ()
) -> dict[str, Any]:
    """Margin one account under every model, side by side, with each risk unit's scenarios.

    Parameters
    ----------
    portfolio, market
        One account in the portfolio-file form and the market-file form.
    models
        Model names (default every registered model).

    Returns
    -------
    dict
        ``{"models": [{"model", "account" (the ``pmargin margin --json --scenarios`` account,
        USD) or None, "error" (the one-line reason a model cannot margin it) or None}]}``.
    """
    rows = []
    for name in models or tuple(MODELS):
        try:
            document = margin_document(portfolio, market, name, scenarios=True)
            rows.append({"model": name, "account": document["accounts"][0], "error": None})
        except PmarginError as exc:
            rows.append({"model": name, "account": None, "error": " ".join(str(exc).split())})
    return {"models": rows}


def holdings_document(
    portfolio: Mapping[str, Any], market: Mapping[str, Any], model: str = DEFAULT_MODEL
) -> dict[str, Any]:
    """Positions with value and Greeks, and balances with their USD value and coin delta.

    Returns
    -------
    dict
        ``{"positions": [...]}`` as ``pmargin margin --json`` (base units, USD Greeks),
        ``"balances": [{"asset", "amount", "usd_price", "value", "delta"}]`` (``delta`` in
        coins: the amount for an asset with an index, else 0) and ``"delta": {underlying:
        coins}``, the positions' deltas plus the balances'.
    """
    parsed, snapshot = _parsed(portfolio, market)
    account = margin_report(parsed, snapshot, model).to_dict()["accounts"][0]
    balances = []
    delta: dict[str, float] = {}
    for asset, amount in sorted(parsed.accounts[0].balances.items()):
        price = snapshot.usd_price(asset)
        coin = asset.upper() in snapshot.index
        balances.append(
            {
                "asset": asset,
                "amount": amount,
                "usd_price": price,
                "value": amount * price,
                "delta": amount if coin else 0.0,
            }
        )
        if coin:
            delta[asset.upper()] = delta.get(asset.upper(), 0.0) + amount
    for position, held in zip(account["positions"], parsed.accounts[0].positions, strict=True):
        underlying = held.instrument.underlying
        delta[underlying] = delta.get(underlying, 0.0) + position["delta"]
    return {"positions": account["positions"], "balances": balances, "delta": delta}


def profile_document(
    portfolio: Mapping[str, Any],
    market: Mapping[str, Any],
    underlying: str,
    *,
    moves: Sequence[float] = (),
    dates: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the P&L against the index of ``underlying`` now, at ``dates`` and each expiry.

    Parameters
    ----------
    portfolio, market
        One account and the market (documents).
    underlying
        The underlying whose index moves.
    moves
        Relative moves (default :data:`PROFILE_POINTS` from -0.6 to 0.6).
    dates
        More dates (ISO-8601), besides now and every expiry of the account's instruments.

    Returns
    -------
    dict
        ``{"underlying", "index" (USD now), "levels" (USD, shape (n,)), "moves", "dates"
        (ISO-8601, now first), "pnl" (USD, (n_dates, n) rows), "expired" ((n_dates,) lists
        of the legs settled at intrinsic by each date)}``.
    """
    parsed, snapshot = _parsed(portfolio, market)
    code = underlying.strip().upper()
    grid = np.asarray(list(moves), dtype=np.float64)
    if grid.size == 0:
        grid = np.linspace(-0.6, 0.6, PROFILE_POINTS)
    chosen = [parse_timestamp(d, f"dates.{k}") for k, d in enumerate(dates)]
    when = sorted(
        {snapshot.timestamp, *expiry_dates(parsed.unique_instruments(), snapshot), *chosen}
    )
    when = [d for d in when if d >= snapshot.timestamp]
    values = pnl_profile(arrange(parsed, snapshot), code, grid, when)[:, :, 0]
    index = snapshot.index_price(code)
    expired = [
        sorted(
            p.instrument.symbol
            for p in parsed.accounts[0].positions
            if p.instrument.expiry is not None and p.instrument.expiry <= d
        )
        for d in when
    ]
    return {
        "underlying": code,
        "index": index,
        "moves": grid.tolist(),
        "levels": (index * (1.0 + grid)).tolist(),
        "dates": [d.isoformat() for d in when],
        "pnl": values.tolist(),
        "expired": expired,
    }


def _moved_market(
    portfolio: Mapping[str, Any], market: Mapping[str, Any], moves: Mapping[str, float]
) -> dict[str, Any]:
    """Return the market document after relative index moves (options sticky strike)."""
    if not any(moves.values()):
        return dict(market)
    parsed, snapshot = _parsed(portfolio, market)
    moved = arrange(parsed, snapshot).moved({k.upper(): v for k, v in moves.items()})
    return market_to_dict(moved.market)


def _state(account: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("equity", "initial_margin", "maintenance_margin", "available", "status")
    return {k: account[k] for k in keys}


def whatif_document(
    portfolio: Mapping[str, Any],
    market: Mapping[str, Any],
    account: str,
    *,
    legs: Sequence[OrderLeg] = (),
    transfers: Mapping[str, float] | None = None,
    moves: Mapping[str, float] | None = None,
    model: str = DEFAULT_MODEL,
) -> dict[str, Any]:
    """Equity, IM, MM, available and status before and after legs, transfers and a move.

    Parameters
    ----------
    portfolio, market
        The one account and the market in force (documents).
    account
        Its id.
    legs
        Orders placed together (checked by the pre-trade path at the moved market).
    transfers
        Asset -> signed amount (deposit > 0, withdrawal < 0), in asset units.
    moves
        Underlying -> relative index move (``-0.2``).
    model
        The margin model.

    Returns
    -------
    dict
        ``{"model", "before", "after", "delta"}`` (each ``{"equity", "initial_margin",
        "maintenance_margin", "available"}`` in USD, before/after with ``status``) and, with
        legs, ``"order"``: the pre-trade check's document (``accepted``, ``reason``).

    Raises
    ------
    InputError
        A bad leg, a transfer that is not finite, a bad move.
    """
    before = _state(margin_document(portfolio, market, model)["accounts"][0])
    balances = dict(portfolio.get("balances", {}))
    for asset, amount in (transfers or {}).items():
        if not math.isfinite(float(amount)):
            raise InputError(f"transfers.{asset}", amount, "must be a finite amount")
        code = asset.upper()
        balances[code] = float(balances.get(code, 0.0)) + float(amount)
    changed = dict(portfolio) | {"balances": balances}
    moved = _moved_market(portfolio, market, moves or {})
    document: dict[str, Any] = {"model": model, "before": before}
    after = _state(margin_document(changed, moved, model)["accounts"][0])
    if legs:
        parsed, snapshot = _parsed(changed, moved)
        order = legs_report(parsed, snapshot, account, legs, model=model).to_dict()
        document["order"] = order
        after = {
            "equity": order["equity_after"],
            "initial_margin": order["initial_margin_after"],
            "maintenance_margin": order["maintenance_margin_after"],
            "available": order["available_after"],
            "status": order["status_after"],
        }
    document["after"] = after
    document["delta"] = {
        k: after[k] - before[k]
        for k in ("equity", "initial_margin", "maintenance_margin", "available")
    }
    return document


def largest_leg_document(
    portfolio: Mapping[str, Any],
    market: Mapping[str, Any],
    account: str,
    leg: OrderLeg,
    model: str = DEFAULT_MODEL,
    *,
    limit: float = 1e9,
) -> dict[str, Any]:
    """Return the largest size of a leg, in its direction, that the check still accepts.

    :meth:`pmargin.pretrade.PreTradeChecker.max_size` (the checker built once): ``|quantity|``
    doubled until refused, then bisected to :data:`LARGEST_TOLERANCE` between the last
    accepted and the first refused size (acceptance need not be monotone in size for an option
    book; the answer is an accepted size with a refused one just above it).

    Parameters
    ----------
    leg
        The leg: its sign gives the direction, its size the first size asked.
    limit
        Largest size searched (in the leg's unit).

    Returns
    -------
    dict
        ``{"instrument", "unit", "side", "quantity"}`` (signed, 0 when no size is accepted),
        ``"capped"`` (True when ``limit`` itself is accepted) and ``"check"``: the pre-trade
        document at that size.
    """
    if not (math.isfinite(leg.quantity) and leg.quantity != 0.0):
        raise InputError("quantity", leg.quantity, "must be a finite non-zero size")
    parsed, snapshot = _parsed(portfolio, market)
    report = margin_report(parsed, snapshot, model)
    checker = PreTradeChecker(
        get_model(model), report.book, report.result, price_bounds=load_price_bounds(None)
    )
    symbol = instruments_for([leg.instrument], parsed.instruments)[0]
    order = Order(symbol, leg.quantity, leg.unit.lower(), leg.price)
    found = checker.max_size(account, [order], tolerance=LARGEST_TOLERANCE, limit=limit)
    best = None
    if found.quantity != 0.0:
        best = checker.check_legs(account, [replace(order, quantity=found.quantity)]).to_dict()
    return {
        "instrument": leg.instrument,
        "unit": leg.unit.lower(),
        "side": "buy" if leg.quantity > 0 else "sell",
        "quantity": found.quantity,
        "capped": found.at_limit,
        "check": best,
    }


def stress_document(
    portfolio: Mapping[str, Any],
    market: Mapping[str, Any],
    model: str = DEFAULT_MODEL,
    episodes: Sequence[str] = (),
) -> dict[str, Any]:
    """Every account's loss over equity under the stress episodes: the episodes x accounts grid.

    Returns
    -------
    dict
        ``{"model", "accounts", "episodes" (names), "descriptions", "loss" (USD, (n_episodes,
        n_accounts) rows), "equity" (USD per account), "loss_over_equity" (rows; None where
        equity is not positive)}``.
    """
    parsed, snapshot = _parsed(portfolio, market)
    report = stress_report(parsed, snapshot, episodes=episodes, model=model)
    equity = report.equity
    ratio = [
        [float(x) / float(e) if e > 0 else None for x, e in zip(column, equity, strict=True)]
        for column in report.loss.T
    ]
    return {
        "model": model,
        "accounts": list(report.account_ids),
        "episodes": [s.name for s in report.scenarios],
        "descriptions": [s.description for s in report.scenarios],
        "loss": report.loss.T.tolist(),
        "equity": equity.tolist(),
        "loss_over_equity": ratio,
    }


VENUE_FIELDS = (
    "id",
    "equity",
    "initial_margin",
    "maintenance_margin",
    "available",
    "im_utilization",
    "mm_utilization",
    "status",
)
"""A venue row's fields from the margin read (:func:`venue_rows`); ``distance`` comes apart."""

VENUE_SORTS = (*VENUE_FIELDS, "distance")
"""The fields a venue page may be sorted by."""


def venue_rows(
    portfolio: Mapping[str, Any], market: Mapping[str, Any], model: str = DEFAULT_MODEL
) -> dict[str, Any]:
    """Every account's health (no distance) and the counts by status: one margin pass.

    Returns
    -------
    dict
        ``{"model", "timestamp", "accounts": [{field: value} for :data:`VENUE_FIELDS`]
        (USD; utilisations ``None`` where not finite), "counts": {status: n}}``.
    """
    if not portfolio.get("accounts"):
        return {"model": model, "timestamp": None, "accounts": [], "counts": {}}
    document = margin_document(portfolio, market, model)
    rows = [{k: account[k] for k in VENUE_FIELDS} for account in document["accounts"]]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {"model": model, "timestamp": document["timestamp"], "accounts": rows, "counts": counts}


def venue_distances(
    portfolio: Mapping[str, Any],
    market: Mapping[str, Any],
    model: str = DEFAULT_MODEL,
    ids: Sequence[str] | None = None,
) -> dict[str, float | None]:
    """Distance to liquidation of the accounts ``ids`` (default all): account id -> move.

    The smallest index move (relative, signed) of one underlying alone that brings equity to
    MM (``pmargin margin --liquidation``), ``None`` when none within the search's limits
    does. Each account's distance is its own, so a page of accounts is searched alone.
    """
    wanted = None if ids is None else set(ids)
    accounts = [a for a in portfolio.get("accounts", []) if wanted is None or a["id"] in wanted]
    if not accounts:
        return {}
    document = margin_document(
        dict(portfolio) | {"accounts": accounts}, market, model, liquidation=True
    )
    found: dict[str, float | None] = {}
    for account in document["accounts"]:
        moves = [
            move
            for side in account["liquidation"]["underlyings"].values()
            if side is not None
            for move in (side["move_down"], side["move_up"])
            if move is not None
        ]
        found[account["id"]] = min(moves, key=abs) if moves else None
    return found


def _sort_key(field: str) -> Any:
    def key(row: Mapping[str, Any]) -> tuple[Any, ...]:
        value = row.get(field)
        if field in ("id", "status"):
            return (str(value), row["id"])
        # None: an infinite utilisation (equity <= 0) or no distance within the search: last
        # going up, first going down.
        return (math.inf if value is None else float(value), row["id"])

    return key


def venue_page(
    rows: Sequence[Mapping[str, Any]],
    *,
    offset: int = 0,
    limit: int | None = None,
    sort: str = "mm_utilization",
    desc: bool = True,
    match: str = "",
    status: str = "",
) -> dict[str, Any]:
    """One page of venue rows: filtered, sorted, cut.

    Parameters
    ----------
    rows
        Venue rows (:func:`venue_rows`, with ``distance`` where sorting by it).
    offset, limit
        The page: rows ``offset`` to ``offset + limit`` of the sorted, filtered rows
        (``limit`` None: all).
    sort, desc
        One of :data:`VENUE_SORTS`, descending when ``desc`` (ties by id; a missing number
        sorts as infinite).
    match, status
        Keep the ids containing ``match`` (case-insensitive) and, when given, that status.

    Returns
    -------
    dict
        ``{"accounts" (the page's rows), "matched" (rows after the filter), "offset",
        "limit", "sort", "desc"}``.

    Raises
    ------
    InputError
        Field ``sort``, ``offset`` or ``limit``.
    """
    if sort not in VENUE_SORTS:
        raise InputError("sort", sort, f"must be one of {', '.join(VENUE_SORTS)}")
    if offset < 0:
        raise InputError("offset", offset, "must be 0 or more")
    if limit is not None and limit < 1:
        raise InputError("limit", limit, "must be 1 or more")
    needle = match.strip().lower()
    kept = [
        r
        for r in rows
        if (not needle or needle in str(r["id"]).lower()) and (not status or r["status"] == status)
    ]
    kept.sort(key=_sort_key(sort), reverse=desc)
    stop = None if limit is None else offset + limit
    return {
        "accounts": [dict(r) for r in kept[offset:stop]],
        "matched": len(kept),
        "offset": offset,
        "limit": limit,
        "sort": sort,
        "desc": desc,
    }


class VenueView:
    """The venue at one state of the book: every account's health, paged on demand.

    The rows (:func:`venue_rows`, one margin pass) are computed once; the distances to
    liquidation (:func:`venue_distances`, a search per account) only for the accounts a
    page shows (every account when a page is sorted by distance), and kept. The service
    keeps one per state of its store (``GET /v1/dashboard/venue``).

    Parameters
    ----------
    portfolio, market
        Every account (portfolio-file form) and the market (market-file form).
    model
        The margin model.
    """

    def __init__(
        self, portfolio: Mapping[str, Any], market: Mapping[str, Any], model: str = DEFAULT_MODEL
    ) -> None:
        self.portfolio, self.market, self.model = portfolio, market, model
        self.whole = venue_rows(portfolio, market, model)
        self.distances: dict[str, float | None] = {}

    def with_figures(
        self, market: Mapping[str, Any], figures: Mapping[str, Sequence[Any]]
    ) -> VenueView:
        """Return this venue at ``market`` with some accounts' figures replaced; same book.

        What the service's ``margin`` events say after ticks (the book unchanged): each
        account of ``figures`` gets its equity, IM, MM (USD) and status, and its available
        and utilisations from them (:func:`pmargin.health.assess`, as a margin read gives
        them); the others keep theirs. The distances are searched again (the market moved).

        Parameters
        ----------
        market
            The market now in force (market-file form).
        figures
            Account id -> ``(equity, initial_margin, maintenance_margin, status)``.
        """
        moved = object.__new__(VenueView)
        moved.portfolio, moved.market, moved.model = self.portfolio, market, self.model
        rows = [dict(r) for r in self.whole["accounts"]]
        changed = [k for k, r in enumerate(rows) if r["id"] in figures]
        if changed:
            values = [figures[rows[k]["id"]] for k in changed]
            equity, im, mm = (np.array([v[i] for v in values], dtype=np.float64) for i in range(3))
            health = assess(equity, im, mm)
            for n, k in enumerate(changed):
                rows[k] |= {
                    "equity": float(health.equity[n]),
                    "initial_margin": float(health.initial_margin[n]),
                    "maintenance_margin": float(health.maintenance_margin[n]),
                    "available": float(health.available[n]),
                    "im_utilization": finite_or_none(health.im_utilization[n]),
                    "mm_utilization": finite_or_none(health.mm_utilization[n]),
                    "status": str(values[n][3]),
                }
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        moved.whole = self.whole | {"accounts": rows, "counts": counts}
        # An account whose figures did not move keeps its distance (its prices did not).
        moved.distances = {k: v for k, v in self.distances.items() if k not in figures}
        return moved

    def _search(self, ids: Sequence[str]) -> None:
        missing = [i for i in ids if i not in self.distances]
        if missing:
            found = venue_distances(self.portfolio, self.market, self.model, missing)
            self.distances.update(found)

    def page(self, **page: Any) -> dict[str, Any]:
        """Return one page (:func:`venue_page`'s keywords) with each row's ``distance``.

        Returns
        -------
        dict
            ``{"model", "timestamp", "counts": {status: n}, "total"}`` and
            :func:`venue_page`'s keys; each row has ``distance`` (relative, signed; None when
            no move within the search's limits brings equity to MM).
        """
        rows = self.whole["accounts"]
        if page.get("sort") == "distance":
            self._search([r["id"] for r in rows])
            rows = [r | {"distance": self.distances[r["id"]]} for r in rows]
        cut = venue_page(rows, **page)
        self._search([r["id"] for r in cut["accounts"]])
        cut["accounts"] = [r | {"distance": self.distances[r["id"]]} for r in cut["accounts"]]
        return self.whole | cut | {"total": len(rows)}


def venue_document(
    portfolio: Mapping[str, Any],
    market: Mapping[str, Any],
    model: str = DEFAULT_MODEL,
    *,
    kept: dict[str, Any] | None = None,
    **page: Any,
) -> dict[str, Any]:
    """Every account's health, a page of them with the distance to liquidation, the counts.

    ``VenueView(portfolio, market, model).page(**page)`` (:class:`VenueView`; default every
    account by MM utilisation, highest first).

    Parameters
    ----------
    portfolio, market, model
        Every account, the market (documents) and the margin model.
    kept
        A dict the caller keeps for one state of the book (the service: per last event
        ``seq``): the first call stores the venue there, later calls given the same dict (and
        the same book, market and model) page it without margining again and reuse the
        distances already searched.
    page
        :func:`venue_page`'s keywords.
    """
    view = None if kept is None else kept.get("view")
    if not isinstance(view, VenueView) or view.model != model:
        view = VenueView(portfolio, market, model)
        if kept is not None:
            kept["view"] = view
    return view.page(**page)

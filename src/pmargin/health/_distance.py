"""Distance to liquidation: the index move at which each account's equity reaches its MM.

For every account of a book and one margin model, :func:`liquidation_distance` finds

* per underlying the account is exposed to, alone: the relative move of its index, down and
  up, at which ``equity - maintenance_margin`` first reaches 0, and the estimated liquidation
  price ``index x (1 + move)``;
* all underlyings together, along one joint direction ``v`` (the first principal component of
  the covariance of daily log returns, or equal moves without history): the signed scale ``s``
  (underlying ``u`` moves by ``s x v[u]``) at which the account first reaches MM, the sign being
  the one in which it gets there first, and the index levels there.

How a move shifts the market (see ``docs/liquidation-distance.md``): a relative move ``m`` of
underlying ``u`` multiplies EVERY USD price of ``u`` by ``1 + m``: the index, ``prices[u]``,
explicit forwards, futures and perpetual marks and surface-slice forwards, so the basis of
every future and the forward curve keep their shape. Options keep their implied vol per
strike (sticky strike) unless ``vol_beta`` is set, in which case every vol of ``u`` is
multiplied by ``(1 + m) ** -vol_beta``. Positions are held: inverse futures keep their USD
notional (``q_base x F``), everything else its base quantity; the move's P&L on futures and
perpetuals is added to their unrealised P&L; balances are revalued at the moved prices.

Search: a shared grid of moves (each grid point = one shocked market + one model computation
for all accounts still searching), then a batched Illinois (bracketed regula falsi) refinement
of each account's bracketing interval to ``tolerance`` on the relative move; each refinement
round margins the accounts still unresolved, one model computation per distinct trial move,
on a book of only those accounts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from pmargin._typing import BoolArray, FloatArray
from pmargin.book import BookArrangement
from pmargin.collateral import account_equity
from pmargin.errors import InputError
from pmargin.health._requirement import Requirement, required_equity
from pmargin.history import PriceHistory, log_returns
from pmargin.margin import MarginModel, MarginResult
from pmargin.market import MarketSnapshot

__all__ = [
    "DOWN_LIMIT",
    "UP_LIMIT",
    "LiquidationDistance",
    "joint_direction",
    "liquidation_distance",
    "margin_gap_after_move",
]

DOWN_LIMIT = 0.99
"""Largest fall searched: a relative move of -0.99 (-99 %)."""

UP_LIMIT = 10.0
"""Largest rise searched: a relative move of +10.0 (+1,000 %)."""

_GRID = (0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 0.9)
_GRID_UP = (1.25, 1.6, 2.0, 3.0, 5.0, 7.5)
"""Scales of the shared grid (absolute relative moves), before the search's own limit."""

_HISTORY_DAYS = 365
"""Daily returns used for the joint direction: the last year before the market timestamp."""

_MIN_RETURNS = 30
"""Fewer daily returns than this and the joint direction falls back to equal moves."""


@dataclass(frozen=True, slots=True)
class LiquidationDistance:
    """Distance to liquidation of every account under one model.

    Arrays have ``n_accounts`` rows in the order of ``account_ids`` and, where they have a
    second axis, one column per entry of ``underlyings``. A relative move is a decimal
    (-0.25 = the index falls 25 %); prices are USD per unit of the underlying.

    Attributes
    ----------
    model
        Name of the margin model.
    timestamp
        The market snapshot's time (UTC).
    account_ids
        Row order.
    underlyings
        Column order: every underlying of the book's positions and every collateral asset
        with an index price, sorted.
    index
        Shape ``(n_underlyings,)``, USD: the index at the snapshot.
    equity, maintenance_margin
        Shape ``(n_accounts,)``, USD, at the snapshot.
    below_maintenance
        Shape ``(n_accounts,)``: equity <= MM already; every move and the joint scale are 0.
    exposed
        Shape ``(n_accounts, n_underlyings)``: the account holds a position on the underlying
        or a balance of it. Where ``False`` every move, price and joint entry of that column
        is NaN and :meth:`to_dict` writes ``None``.
    move_down, move_up
        Shape ``(n_accounts, n_underlyings)``: relative move (``move_down <= 0 <= move_up``)
        of that index alone at which equity first reaches MM; NaN where no move down to
        ``-DOWN_LIMIT`` (up to ``+UP_LIMIT``) reaches it, or no exposure.
    price_down, price_up
        Shape ``(n_accounts, n_underlyings)``, USD: ``index x (1 + move)``, the estimated
        liquidation price; NaN as the moves.
    direction
        Shape ``(n_underlyings,)``: the joint direction ``v`` (largest component 1, sum of
        components >= 0): underlying ``u`` moves by ``scale x v[u]``.
    direction_source
        ``"pca"`` (first principal component of daily log-return covariance) or ``"equal"``.
    joint_scale
        Shape ``(n_accounts,)``: signed scale along ``direction`` at which equity first
        reaches MM (negative: the market falls along ``v``); of the two signs, the one that
        gets there with the smaller ``|scale|``; NaN where neither does within the limits.
    joint_index
        Shape ``(n_accounts, n_underlyings)``, USD: index levels at ``joint_scale``
        (``index x (1 + joint_scale x direction)``); NaN for underlyings the account is not
        exposed to and where ``joint_scale`` is NaN.
    vol_beta
        The vol rule: 0 = implied vols held per strike; else every vol times
        ``(1 + move) ** -vol_beta``.
    tolerance
        Absolute tolerance on every relative move and scale.
    evaluations
        Model computations made (grid points plus refinement calls).
    """

    model: str
    timestamp: datetime
    account_ids: tuple[str, ...]
    underlyings: tuple[str, ...]
    index: FloatArray
    equity: FloatArray
    maintenance_margin: FloatArray
    below_maintenance: BoolArray
    exposed: BoolArray
    move_down: FloatArray
    move_up: FloatArray
    price_down: FloatArray
    price_up: FloatArray
    direction: FloatArray
    direction_source: str
    joint_scale: FloatArray
    joint_index: FloatArray
    vol_beta: float
    tolerance: float
    evaluations: int

    @property
    def n_accounts(self) -> int:
        """Number of accounts (rows)."""
        return len(self.account_ids)

    def row(self, account_id: str) -> int:
        """Row of an account id; an unknown id is an :class:`InputError`."""
        try:
            return self.account_ids.index(account_id)
        except ValueError:
            raise InputError("account", account_id, "is not in the book") from None

    def to_dict(self, row: int) -> dict[str, Any]:
        """Return one account's ``"liquidation"`` object for ``pmargin margin --json``.

        ``{"below_maintenance", "vol_beta", "tolerance", "underlyings": {u: null | {"index",
        "move_down", "price_down", "move_up", "price_up"}}, "joint": {"direction",
        "direction_source", "scale", "index": {u: level}}}``; ``null`` for an underlying the
        account is not exposed to and for a move that no level within the limits reaches.
        """
        per_underlying: dict[str, dict[str, float | None] | None] = {}
        for k, u in enumerate(self.underlyings):
            if not self.exposed[row, k]:
                per_underlying[u] = None
                continue
            per_underlying[u] = {
                "index": float(self.index[k]),
                "move_down": _number(self.move_down[row, k]),
                "price_down": _number(self.price_down[row, k]),
                "move_up": _number(self.move_up[row, k]),
                "price_up": _number(self.price_up[row, k]),
            }
        held = [k for k in range(len(self.underlyings)) if self.exposed[row, k]]
        return {
            "below_maintenance": bool(self.below_maintenance[row]),
            "vol_beta": self.vol_beta,
            "tolerance": self.tolerance,
            "underlyings": per_underlying,
            "joint": {
                "direction": {self.underlyings[k]: float(self.direction[k]) for k in held},
                "direction_source": self.direction_source,
                "scale": _number(self.joint_scale[row]),
                "index": {self.underlyings[k]: _number(self.joint_index[row, k]) for k in held},
            },
        }


def _number(value: float | np.floating[Any]) -> float | None:
    return None if not math.isfinite(float(value)) else float(value)


# ---------------------------------------------------------------------- joint direction


def joint_direction(
    underlyings: Sequence[str],
    history: PriceHistory | None = None,
    as_of: datetime | None = None,
    *,
    days: int = _HISTORY_DAYS,
) -> tuple[FloatArray, str]:
    """Direction of the joint move: the first principal component of return covariance.

    Parameters
    ----------
    underlyings
        Names, ``n`` of them.
    history
        Daily closes; ``None``, or one missing an underlying, or fewer than 30 returns known
        at ``as_of``, gives equal moves.
    as_of
        Only closes at or before this instant are used (no look-ahead); ``None``: all.
    days
        Number of most recent closes used.

    Returns
    -------
    tuple
        ``(v, source)``: ``v`` of shape ``(n,)`` scaled so its largest ``|component|`` is 1
        and its sum is >= 0 (the "market up" sign); ``source`` ``"pca"`` or ``"equal"``.
    """
    n = len(underlyings)
    equal = (np.ones(n), "equal")
    if n == 0:
        return np.zeros(0), "equal"
    if history is None or any(u not in history.names for u in underlyings):
        return equal
    try:
        known = history.select(list(underlyings))
        if as_of is not None:
            known = known.as_of(as_of)
    except InputError:
        return equal
    returns = log_returns(known.closes[-(days + 1) :])
    returns = returns[np.all(np.isfinite(returns), axis=1)]
    if returns.shape[0] < _MIN_RETURNS:
        return equal
    covariance = np.atleast_2d(np.cov(returns, rowvar=False))
    _, vectors = np.linalg.eigh(covariance)
    v = np.asarray(vectors[:, -1], dtype=np.float64)
    if v.sum() < 0.0:
        v = -v
    v = v / np.max(np.abs(v))
    return v, "pca"


# ---------------------------------------------------------------------- the shocked world


class _World:
    """Moves the book (:meth:`~pmargin.book.BookArrangement.moved`) and margins some accounts."""

    def __init__(
        self,
        book: BookArrangement,
        model: MarginModel,
        underlyings: tuple[str, ...],
        vol_beta: float,
    ) -> None:
        self.book = book
        self.model = model
        self.underlyings = underlyings
        self.vol_beta = vol_beta
        self.evaluations = 0

    def gap(self, rows: npt.NDArray[np.int64], moves: FloatArray) -> FloatArray:
        """``equity - MM`` (USD) of accounts ``rows`` after ``moves``; shape ``(len(rows),)``."""
        if rows.size == 0:
            return np.zeros(0)
        move = dict(zip(self.underlyings, moves.tolist(), strict=True))
        book = self.book.take_accounts(rows).moved(move, self.vol_beta)
        self.evaluations += 1
        result = self.model.compute(book, book.market)
        equity = account_equity(book, book.market).equity
        return _maintenance_surplus(equity, result)


# ---------------------------------------------------------------------- the search


class _Search:
    """Smallest scale ``s`` in ``(0, limit]`` with ``gap(s x direction) <= 0``, per row.

    Run in lock step with the other searches by :func:`_run`: :meth:`requests` says which
    rows need the gap at which scale, :meth:`receive` takes the gaps back. First the shared
    grid (every row still searching at one scale), then Illinois rounds (bracketed regula
    falsi, the end kept twice running has its gap halved) until each bracket is narrower
    than ``tolerance``.
    """

    def __init__(
        self,
        rows: npt.NDArray[np.int64],
        gap0: FloatArray,
        direction: FloatArray,
        limit: float,
        tolerance: float,
        max_rounds: int,
    ) -> None:
        n = rows.size
        self.rows = rows
        self.direction = direction
        self.tolerance = tolerance
        self.rounds_left = max_rounds
        self.grid = [g for g in (*_GRID, *_GRID_UP) if g < limit] + [limit]
        self.lo = np.zeros(n)
        self.hi = np.full(n, np.nan)
        self.f_lo = gap0.astype(np.float64, copy=True)
        self.f_hi = np.full(n, np.nan)
        self.x_prev = np.full(n, np.nan)  # the grid point before lo, for the first estimate
        self.f_prev = np.full(n, np.nan)
        self.side = np.zeros(n, dtype=np.int8)  # end kept last round: -1 lo, +1 hi
        self.searching = np.arange(n) if limit > 0.0 else np.zeros(0, dtype=np.int64)
        self.step = 0
        self.pending = np.zeros(0, dtype=np.int64)
        self.trial = np.zeros(0)

    def requests(self) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """Local row numbers and the scale each needs next (empty when done)."""
        if self.searching.size and self.step < len(self.grid):
            self.pending = self.searching
            self.trial = np.full(self.searching.size, self.grid[self.step])
            return self.pending, self.trial
        self.searching = np.zeros(0, dtype=np.int64)
        todo = np.flatnonzero(np.isfinite(self.hi))
        todo = todo[self.hi[todo] - self.lo[todo] > self.tolerance]
        if todo.size == 0 or self.rounds_left <= 0:
            self.pending = np.zeros(0, dtype=np.int64)
            return self.pending, np.zeros(0)
        self.rounds_left -= 1
        lo, hi, f_lo, f_hi = self.lo[todo], self.hi[todo], self.f_lo[todo], self.f_hi[todo]
        width = hi - lo
        trial = lo + width * f_lo / (f_lo - f_hi)
        first = self.side[todo] == 0
        if first.any():  # inverse quadratic through the last three grid points
            x0, f0 = self.x_prev[todo], self.f_prev[todo]
            with np.errstate(divide="ignore", invalid="ignore"):
                quadratic = (
                    x0 * f_lo * f_hi / ((f0 - f_lo) * (f0 - f_hi))
                    + lo * f0 * f_hi / ((f_lo - f0) * (f_lo - f_hi))
                    + hi * f0 * f_lo / ((f_hi - f0) * (f_hi - f_lo))
                )
            usable = first & np.isfinite(quadratic) & (quadratic > lo) & (quadratic < hi)
            trial = np.where(usable, quadratic, trial)
        # step a third of the tolerance past the estimate, towards the end kept last round,
        # so that an accurate estimate closes the bracket from the other side next
        trial += self.side[todo] * self.tolerance / 3.0
        margin = np.minimum(self.tolerance / 3.0, width / 4.0)
        self.pending, self.trial = todo, np.clip(trial, lo + margin, hi - margin)
        return self.pending, self.trial

    def receive(self, gap: FloatArray) -> None:
        """Take the gaps at the scales of the last :meth:`requests`."""
        at, trial = self.pending, self.trial
        crossed = gap <= 0.0
        up, down = at[crossed], at[~crossed]
        if self.searching.size and self.step < len(self.grid):
            self.step += 1
            self.searching = down
            # rows still positive: their lo becomes the point before the new lo
            self.x_prev[down], self.f_prev[down] = self.lo[down], self.f_lo[down]
        else:  # Illinois: halve the gap of an end kept twice running
            self.f_lo[up[self.side[up] == -1]] /= 2.0
            self.f_hi[down[self.side[down] == 1]] /= 2.0
            self.side[up], self.side[down] = -1, 1
        self.hi[up], self.f_hi[up] = trial[crossed], gap[crossed]
        self.lo[down], self.f_lo[down] = trial[~crossed], gap[~crossed]

    def result(self) -> FloatArray:
        """Scale per row, interpolated in the final bracket; NaN where none was found."""
        out = np.full(self.rows.size, np.nan)
        found = np.isfinite(self.hi)
        lo, hi = self.lo[found], self.hi[found]
        f_lo, f_hi = self.f_lo[found], self.f_hi[found]
        out[found] = lo + (hi - lo) * np.clip(f_lo / (f_lo - f_hi), 0.0, 1.0)
        return out


def _run(world: _World, searches: Sequence[_Search], exposed: BoolArray) -> None:
    """Drive ``searches`` to the end, packing their requests into few model computations.

    Each round, every request (row, scale) needs the moves ``scale x direction`` on the
    underlyings its row is exposed to, and does not care about the others. Requests with the
    same needs share one computation; requests of rows exposed to disjoint sets of
    underlyings are packed into one market (each row sees only its own underlyings' moves).
    """
    n_und = exposed.shape[1]
    bits = exposed.astype(np.int64) @ (1 << np.arange(n_und, dtype=np.int64))
    while True:
        groups: dict[tuple[int, tuple[float | None, ...]], list[tuple[int, int, int]]] = {}
        for s, search in enumerate(searches):
            local, scale = search.requests()
            for i, t in zip(local.tolist(), scale.tolist(), strict=True):
                row = int(search.rows[i])
                need = tuple(
                    float(t * search.direction[u]) if exposed[row, u] else None
                    for u in range(n_und)
                )
                groups.setdefault((int(bits[row]), need), []).append((s, i, row))
        if not groups:
            return
        gaps: list[list[float]] = [[math.nan] * search.pending.size for search in searches]
        position = [
            {int(i): p for p, i in enumerate(search.pending.tolist())} for search in searches
        ]
        buckets: dict[int, list[tuple[tuple[float | None, ...], list[tuple[int, int, int]]]]] = {}
        for (mask, need), members in groups.items():
            buckets.setdefault(mask, []).append((need, members))
        while buckets:
            used = 0
            moves = np.zeros(n_und)
            batch: list[tuple[int, int, int]] = []
            for mask in list(buckets):
                if mask & used:
                    continue
                need, members = buckets[mask].pop()
                if not buckets[mask]:
                    del buckets[mask]
                used |= mask
                for u, value in enumerate(need):
                    if value is not None:
                        moves[u] = value
                batch += members
            rows, where = np.unique([row for _, _, row in batch], return_inverse=True)
            gap = world.gap(rows.astype(np.int64), moves)
            for (s, i, _), k in zip(batch, where.tolist(), strict=True):
                gaps[s][position[s][i]] = float(gap[k])
        for search, values in zip(searches, gaps, strict=True):
            if search.pending.size:
                search.receive(np.asarray(values, dtype=np.float64))


def margin_gap_after_move(
    book: BookArrangement,
    market: MarketSnapshot,
    model: MarginModel,
    moves: Mapping[str, float],
    *,
    vol_beta: float = 0.0,
) -> FloatArray:
    """``equity - maintenance_margin`` of every account after the given index moves.

    The market and book are moved exactly as :func:`liquidation_distance` moves them (module
    docstring), so this checks any answer it gives.

    Parameters
    ----------
    book, market, model
        As for :func:`liquidation_distance`.
    moves
        Underlying -> relative move (-0.2 = the index falls 20 %), each > -1; underlyings not
        given do not move.
    vol_beta
        The vol rule (0 holds implied vols per strike).

    Returns
    -------
    FloatArray
        Shape ``(n_accounts,)``, USD.
    """
    given = {u.upper(): float(m) for u, m in moves.items()}
    underlyings = tuple(sorted(set(_underlyings(book, market)) | set(given)))
    vector = np.array([given.get(u, 0.0) for u in underlyings], dtype=np.float64)
    if not np.all(np.isfinite(vector) & (vector > -1.0)):
        raise InputError("moves", dict(moves), "must be finite relative moves > -1")
    world = _World(book, model, underlyings, float(vol_beta))
    return world.gap(np.arange(len(book.account_ids), dtype=np.int64), vector)


def _limit(direction: FloatArray) -> float:
    """Largest scale along ``direction`` keeping every move within [-DOWN_LIMIT, UP_LIMIT]."""
    bounds = [UP_LIMIT / d for d in direction if d > 0.0]
    bounds += [DOWN_LIMIT / -d for d in direction if d < 0.0]
    return min(bounds) if bounds else 0.0


def liquidation_distance(
    book: BookArrangement,
    market: MarketSnapshot,
    model: MarginModel,
    *,
    vol_beta: float = 0.0,
    history: PriceHistory | None = None,
    direction: Mapping[str, float] | None = None,
    tolerance: float = 1e-4,
    max_rounds: int = 60,
) -> LiquidationDistance:
    """Index moves at which each account's equity reaches its maintenance margin.

    Parameters
    ----------
    book
        The accounts, arranged against ``market``.
    market
        The snapshot the moves start from.
    model
        The margin model (``get_model("deribit")``); its MM decides.
    vol_beta
        Vol rule. 0 (default): implied vols held per strike. Otherwise every implied vol of a
        moved underlying is multiplied by ``(1 + move) ** -vol_beta`` (``d ln vol = -vol_beta
        d ln spot``: vol rises as the index falls for ``vol_beta > 0``).
    history
        Daily closes for the joint direction (the covariance of the last year of log returns
        known at the market timestamp); ``None``: equal moves.
    direction
        Joint direction given outright (underlying -> weight; missing underlyings 0);
        overrides ``history``. Scaled so its largest ``|weight|`` is 1.
    tolerance
        Absolute tolerance on each relative move and joint scale (1e-4 = 0.01 % of the index).
    max_rounds
        Most refinement rounds per search.

    Returns
    -------
    LiquidationDistance
        See the class for arrays, shapes and units.

    Raises
    ------
    InputError
        For a tolerance that is not > 0, a non-finite ``vol_beta`` or an unusable
        ``direction``.
    """
    if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance > 0):
        raise InputError("tolerance", tolerance, "must be a relative move > 0 (1e-4)")
    if not (isinstance(vol_beta, int | float) and math.isfinite(vol_beta)):
        raise InputError("vol_beta", vol_beta, "must be a finite number (0 holds vols)")
    underlyings = _underlyings(book, market)
    n_acc, n_und = len(book.account_ids), len(underlyings)
    world = _World(book, model, underlyings, float(vol_beta))
    exposed = _exposure(book, underlyings)
    everyone = np.arange(n_acc, dtype=np.int64)
    result0 = model.compute(book, market)
    world.evaluations += 1
    equity = account_equity(book, market).equity
    mm = result0.maintenance_margin
    gap0 = _maintenance_surplus(equity, result0)
    below = gap0 <= 0.0
    index = np.array([market.index_price(u) for u in underlyings], dtype=np.float64)
    v, source = _direction(underlyings, market, history, direction)
    moving = exposed & (v != 0.0)[None, :]
    several = (moving.sum(axis=1) > 1) & ~below
    searches: list[_Search] = []
    for k in range(n_und):
        rows = everyone[exposed[:, k] & ~below]
        unit = np.zeros(n_und)
        unit[k] = 1.0
        for sign, limit in ((-1.0, DOWN_LIMIT), (1.0, UP_LIMIT)):
            searches.append(_Search(rows, gap0[rows], sign * unit, limit, tolerance, max_rounds))
    rows = everyone[several]
    for sign in (-1.0, 1.0):
        searches.append(
            _Search(rows, gap0[rows], sign * v, _limit(sign * v), tolerance, max_rounds)
        )
    _run(world, searches, exposed)

    move_down = np.full((n_acc, n_und), np.nan)
    move_up = np.full((n_acc, n_und), np.nan)
    for k in range(n_und):
        down, up = searches[2 * k], searches[2 * k + 1]
        move_down[down.rows, k] = -down.result()
        move_up[up.rows, k] = up.result()
    move_down[below[:, None] & exposed] = 0.0
    move_up[below[:, None] & exposed] = 0.0

    joint = np.full(n_acc, np.nan)
    joint[below] = 0.0
    single = moving.sum(axis=1) == 1
    # exposed to one moving underlying only: the joint move is that underlying's own move
    for k in range(n_und):
        rows = everyone[single & moving[:, k] & ~below]
        if rows.size:
            falls, rises = move_down[rows, k] / v[k], move_up[rows, k] / v[k]
            negative, positive = (falls, rises) if v[k] > 0 else (rises, falls)
            negative = np.where(-negative <= _limit(-v) + tolerance, negative, np.nan)
            positive = np.where(positive <= _limit(v) + tolerance, positive, np.nan)
            joint[rows] = _nearer(negative, positive)
    joint_down, joint_up = searches[-2], searches[-1]
    joint[joint_down.rows] = _nearer(-joint_down.result(), joint_up.result())
    joint_index = np.where(exposed, index[None, :] * (1.0 + joint[:, None] * v[None, :]), np.nan)
    return LiquidationDistance(
        model=model.name,
        timestamp=market.timestamp,
        account_ids=book.account_ids,
        underlyings=underlyings,
        index=index,
        equity=equity,
        maintenance_margin=mm,
        below_maintenance=below,
        exposed=exposed,
        move_down=move_down,
        move_up=move_up,
        price_down=index[None, :] * (1.0 + move_down),
        price_up=index[None, :] * (1.0 + move_up),
        direction=v,
        direction_source=source,
        joint_scale=joint,
        joint_index=joint_index,
        vol_beta=float(vol_beta),
        tolerance=float(tolerance),
        evaluations=world.evaluations,
    )


def _nearer(negative: FloatArray, positive: FloatArray) -> FloatArray:
    """Per entry, the one of ``negative`` (<= 0) and ``positive`` (>= 0) nearer 0; NaN if none."""
    a = np.where(np.isfinite(negative), np.abs(negative), np.inf)
    b = np.where(np.isfinite(positive), positive, np.inf)
    out: FloatArray = np.where(a <= b, negative, positive)
    return np.where(np.isinf(np.minimum(a, b)), np.nan, out)


def _underlyings(book: BookArrangement, market: MarketSnapshot) -> tuple[str, ...]:
    names = {i.underlying for i in book.instruments}
    names |= {a for a in book.assets if a in market.index}
    return tuple(sorted(names))


def _maintenance_surplus(equity: FloatArray, result: MarginResult) -> FloatArray:
    """``equity`` minus the maintenance requirement, USD, shape ``(n_accounts,)``."""
    required = required_equity(
        Requirement.MAINTENANCE, result.initial_margin, result.maintenance_margin
    )
    gap: FloatArray = equity - required
    return gap


def _exposure(book: BookArrangement, underlyings: tuple[str, ...]) -> BoolArray:
    """``(n_accounts, n_underlyings)``: a nonzero position on, or balance of, the underlying."""
    n_acc = len(book.account_ids)
    exposed = np.zeros((n_acc, len(underlyings)), dtype=bool)
    q = sparse.csr_array(book.quantity)
    rows = np.repeat(np.arange(n_acc), np.diff(q.indptr))
    position = {u: k for k, u in enumerate(underlyings)}
    column_k = np.array([position[i.underlying] for i in book.instruments], dtype=np.int64)
    nonzero = q.data != 0.0
    exposed[rows[nonzero], column_k[q.indices[nonzero]]] = True
    for j, asset in enumerate(book.assets):
        k = position.get(asset)
        if k is not None:
            exposed[:, k] |= book.balance_matrix[:, j] != 0.0
    return exposed


def _direction(
    underlyings: tuple[str, ...],
    market: MarketSnapshot,
    history: PriceHistory | None,
    given: Mapping[str, float] | None,
) -> tuple[FloatArray, str]:
    if given is None:
        return joint_direction(underlyings, history, market.timestamp)
    v = np.array([float(given.get(u, 0.0)) for u in underlyings], dtype=np.float64)
    if not np.all(np.isfinite(v)) or not np.any(v):
        raise InputError("direction", dict(given), "must give a finite, nonzero weight")
    return v / np.max(np.abs(v)), "given"

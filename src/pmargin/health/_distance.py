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

Search (:mod:`._distance_search`): a shared grid of moves, then a batched Illinois (bracketed
regula falsi) refinement of each account's bracketing interval to ``tolerance`` on the relative
move. Gaps come from one of two worlds (:mod:`._distance_worlds`): a model that prices each row
of a book at its own moves (``Capabilities(row_prices=True)``) margins every request of a round
in one computation; any other model (and :func:`liquidation_distance_reference`) margins one
book per distinct move vector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from scipy import sparse

from pmargin._typing import BoolArray, FloatArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.health._distance_search import (
    DOWN_LIMIT,
    UP_LIMIT,
    BracketSearch,
    limit_along,
    nearer,
)
from pmargin.health._distance_worlds import (
    RowMovesWorld,
    SharedMoveWorld,
    run_packed,
    run_rows,
)
from pmargin.health._joint_direction import joint_direction
from pmargin.health._requirement import Requirement
from pmargin.health._whatif import margin_book
from pmargin.history import PriceHistory
from pmargin.margin import MarginModel
from pmargin.market import MarketSnapshot

__all__ = [
    "DOWN_LIMIT",
    "UP_LIMIT",
    "LiquidationDistance",
    "joint_direction",
    "liquidation_distance",
    "liquidation_distance_reference",
    "margin_gap_after_move",
]


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


def margin_gap_after_move(
    model: MarginModel,
    book: BookArrangement,
    moves: Mapping[str, float],
    *,
    vol_beta: float = 0.0,
) -> FloatArray:
    """``equity - maintenance_margin`` of every account after the given index moves.

    The market and book are moved exactly as :func:`liquidation_distance` moves them (module
    docstring), so this checks any answer it gives.

    Parameters
    ----------
    model, book
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
    underlyings = tuple(sorted(set(_underlyings(book)) | set(given)))
    vector = np.array([given.get(u, 0.0) for u in underlyings], dtype=np.float64)
    if not np.all(np.isfinite(vector) & (vector > -1.0)):
        raise InputError("moves", dict(moves), "must be finite relative moves > -1")
    world = SharedMoveWorld(book, model, underlyings, float(vol_beta))
    return world.gap(np.arange(len(book.account_ids), dtype=np.int64), vector)


def liquidation_distance(
    model: MarginModel,
    book: BookArrangement,
    *,
    vol_beta: float = 0.0,
    history: PriceHistory | None = None,
    direction: Mapping[str, float] | None = None,
    tolerance: float = 1e-4,
    max_rounds: int = 60,
) -> LiquidationDistance:
    """Index moves at which each account's equity reaches its maintenance margin.

    A model that declares ``Capabilities(row_prices=True)`` (``deribit``, ``standard``)
    margins every request of a search round in one computation (a book of moved rows, each
    account at its own trial move); any other model runs the reference path
    (:func:`liquidation_distance_reference`). Both make the same trials and give the same
    answer (to rounding in the last bits of each gap).

    Parameters
    ----------
    model
        The margin model (``get_model("deribit")``); its MM decides.
    book
        The accounts; the moves start from the book's market (``book.market``).
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
    per_row = bool(model.capabilities.row_prices)
    args = (vol_beta, history, direction, tolerance, max_rounds)
    return _search(model, book, *args, per_row=per_row)


def liquidation_distance_reference(
    model: MarginModel,
    book: BookArrangement,
    *,
    vol_beta: float = 0.0,
    history: PriceHistory | None = None,
    direction: Mapping[str, float] | None = None,
    tolerance: float = 1e-4,
    max_rounds: int = 60,
) -> LiquidationDistance:
    """:func:`liquidation_distance` one computation per distinct move (the slow twin).

    Each round, requests that need the same moves share a book of those accounts moved
    together (:meth:`~pmargin.book.BookArrangement.moved`), requests of accounts exposed to
    disjoint underlyings packed into one market; every model can run it. Same arguments and
    result as :func:`liquidation_distance`.
    """
    args = (vol_beta, history, direction, tolerance, max_rounds)
    return _search(model, book, *args, per_row=False)


def _search(
    model: MarginModel,
    book: BookArrangement,
    vol_beta: float,
    history: PriceHistory | None,
    direction: Mapping[str, float] | None,
    tolerance: float,
    max_rounds: int,
    *,
    per_row: bool,
) -> LiquidationDistance:
    """Run :func:`liquidation_distance`, per row (one computation per round) or packed."""
    if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance > 0):
        raise InputError("tolerance", tolerance, "must be a relative move > 0 (1e-4)")
    if not (isinstance(vol_beta, int | float) and math.isfinite(vol_beta)):
        raise InputError("vol_beta", vol_beta, "must be a finite number (0 holds vols)")
    market = book.market
    underlyings = _underlyings(book)
    n_acc, n_und = len(book.account_ids), len(underlyings)
    world: SharedMoveWorld | RowMovesWorld = (
        RowMovesWorld(book, model, underlyings, float(vol_beta))
        if per_row
        else SharedMoveWorld(book, model, underlyings, float(vol_beta))
    )
    exposed = _exposure(book, underlyings)
    everyone = np.arange(n_acc, dtype=np.int64)
    start = margin_book(model, book)
    world.evaluations += 1
    equity, result0 = start.equity, start.result
    mm = result0.maintenance_margin
    gap0 = start.surplus(Requirement.MAINTENANCE)
    below = gap0 <= 0.0
    index = np.array([market.index_price(u) for u in underlyings], dtype=np.float64)
    v, source = _direction(underlyings, market, history, direction)
    moving = exposed & (v != 0.0)[None, :]
    several = (moving.sum(axis=1) > 1) & ~below
    searches: list[BracketSearch] = []
    for k in range(n_und):
        rows = everyone[exposed[:, k] & ~below]
        unit = np.zeros(n_und)
        unit[k] = 1.0
        for sign, limit in ((-1.0, DOWN_LIMIT), (1.0, UP_LIMIT)):
            searches.append(
                BracketSearch(rows, gap0[rows], sign * unit, limit, tolerance, max_rounds)
            )
    rows = everyone[several]
    for sign in (-1.0, 1.0):
        searches.append(
            BracketSearch(rows, gap0[rows], sign * v, limit_along(sign * v), tolerance, max_rounds)
        )
    if isinstance(world, RowMovesWorld):
        run_rows(world, searches, exposed)
    else:
        run_packed(world, searches, exposed)

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
            negative = np.where(-negative <= limit_along(-v) + tolerance, negative, np.nan)
            positive = np.where(positive <= limit_along(v) + tolerance, positive, np.nan)
            joint[rows] = nearer(negative, positive)
    joint_down, joint_up = searches[-2], searches[-1]
    joint[joint_down.rows] = nearer(-joint_down.result(), joint_up.result())
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


def _underlyings(book: BookArrangement) -> tuple[str, ...]:
    names = {i.underlying for i in book.instruments}
    names |= {a for a in book.assets if a in book.market.index}
    return tuple(sorted(names))


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

"""One owner at several venues: each venue's margin, their sum, one margin over the union.

A :class:`VenuePart` is one venue's account (its portfolio, the account id, the model the
venue margins it with). :func:`consolidate` margins each part alone under its own model at one
market, sums them (what the owner posts today), and margins the **union** (every position and
balance of every part in one account) under one model: the consolidated portfolio margin a
single venue (or a prime broker) netting across venues would ask. ``sum - union`` is the
capital cross-venue netting would free.

:func:`hedge_across` is the hedge optimiser over several venues at once: each leg is traded
and margined at its own venue, so the objective ``sum_v IM_v(x_v) + cost`` is a sum of the
venues' linear cores (each over its own candidates) and stays one linear programme when every
venue's core is exact; otherwise the joint lots are polished with the true models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pmargin.book import Account, BookArrangement, Portfolio, Position, arrange
from pmargin.collateral import account_equity
from pmargin.errors import InputError
from pmargin.margin import MarginModel
from pmargin.market import MarketSnapshot
from pmargin.optimise._core import AbsTerm, LinearCore, MaxTerm, TailSet, TailTerm
from pmargin.optimise._cores import linear_core
from pmargin.optimise._hedge import HedgeProblem, HedgeProposal, optimise_hedge
from pmargin.optimise._milp import DeltaBand, solve_hedge
from pmargin.optimise._search import polish

__all__ = [
    "Consolidation",
    "VenueMargin",
    "VenuePart",
    "consolidate",
    "hedge_across",
    "union_portfolio",
]


@dataclass(frozen=True, slots=True)
class VenuePart:
    """One venue's account of the owner.

    Attributes
    ----------
    venue
        The venue's name (a label: ``"deribit"``, ``"okx"``).
    portfolio
        The venue's portfolio (the account, and any explicit instruments).
    account
        The account id in ``portfolio``.
    model
        The model the venue margins it with.
    market
        The venue's own market (its marks) where it differs from the owner's; ``None``:
        the market :func:`consolidate` is given. The union is margined at that one.
    """

    venue: str
    portfolio: Portfolio
    account: str
    model: MarginModel
    market: MarketSnapshot | None = None

    def holding(self) -> Account:
        """Return the account of :attr:`portfolio`.

        Raises
        ------
        InputError
            Field ``account`` when the portfolio has no such account.
        """
        for account in self.portfolio.accounts:
            if account.id == self.account:
                return account
        raise InputError("account", self.account, f"is not in the {self.venue} portfolio")


@dataclass(frozen=True, slots=True)
class VenueMargin:
    """Equity, IM and MM (USD) of one account under one model."""

    venue: str
    model: str
    equity: float
    initial_margin: float
    maintenance_margin: float

    def to_dict(self) -> dict[str, Any]:
        """Return the document of ``pmargin consolidate --json`` (one venue)."""
        return {
            "venue": self.venue,
            "model": self.model,
            "equity": self.equity,
            "initial_margin": self.initial_margin,
            "maintenance_margin": self.maintenance_margin,
        }


@dataclass(frozen=True, slots=True)
class Consolidation:
    """Each venue's margin, their sum, the union's margin and what netting would free (USD).

    Attributes
    ----------
    venues
        One :class:`VenueMargin` per part, in order.
    union
        The union account under the union model (``venue = "union"``).
    """

    venues: tuple[VenueMargin, ...]
    union: VenueMargin

    @property
    def total_initial_margin(self) -> float:
        """Sum of the venues' IM (USD)."""
        return float(sum(v.initial_margin for v in self.venues))

    @property
    def total_maintenance_margin(self) -> float:
        """Sum of the venues' MM (USD)."""
        return float(sum(v.maintenance_margin for v in self.venues))

    @property
    def freed(self) -> float:
        """IM cross-venue netting would free: venues' sum minus the union's (USD, may be < 0)."""
        return self.total_initial_margin - self.union.initial_margin

    def to_dict(self) -> dict[str, Any]:
        """Return the ``pmargin consolidate --json`` document."""
        return {
            "venues": [v.to_dict() for v in self.venues],
            "total": {
                "equity": float(sum(v.equity for v in self.venues)),
                "initial_margin": self.total_initial_margin,
                "maintenance_margin": self.total_maintenance_margin,
            },
            "union": self.union.to_dict(),
            "freed": self.freed,
        }


def _margin(venue: str, model: MarginModel, book: BookArrangement) -> VenueMargin:
    result = model.compute(book)
    equity = float(account_equity(book).equity[0])
    im, mm = float(result.initial_margin[0]), float(result.maintenance_margin[0])
    return VenueMargin(venue, model.name, equity, im, mm)


def union_portfolio(parts: tuple[VenuePart, ...] | list[VenuePart], account: str) -> Portfolio:
    """Every part's positions and balances in one account (balances summed by asset).

    Raises
    ------
    InputError
        Field ``instruments`` when two parts define one symbol as different instruments.
    """
    positions: list[Position] = []
    balances: dict[str, float] = {}
    instruments: dict[str, Any] = {}
    for part in parts:
        holding = part.holding()
        positions.extend(holding.positions)
        for asset, amount in holding.balances.items():
            balances[asset] = balances.get(asset, 0.0) + float(amount)
        for symbol, instrument in part.portfolio.instruments.items():
            if instruments.setdefault(symbol, instrument) != instrument:
                raise InputError("instruments", symbol, f"is defined differently at {part.venue}")
    union = Account(account, balances, tuple(positions))
    return Portfolio((union,), instruments)


def consolidate(
    parts: list[VenuePart], market: MarketSnapshot, union_model: MarginModel
) -> Consolidation:
    """Margin each part alone, and the union under ``union_model`` (module docstring).

    Each part at its own market where it has one (:attr:`VenuePart.market`), else at
    ``market``; the union at ``market``.

    Raises
    ------
    InputError
        No parts, an account missing from its portfolio, a model that cannot margin a part.
    """
    if not parts:
        raise InputError("parts", [], "must name at least one venue's account")
    venues = []
    for part in parts:
        one = Portfolio((part.holding(),), part.portfolio.instruments)
        at = market if part.market is None else part.market
        venues.append(_margin(part.venue, part.model, arrange(one, at)))
    union = arrange(union_portfolio(parts, "union"), market)
    return Consolidation(tuple(venues), _margin("union", union_model, union))


# ---------------------------------------------------------------------- the hedge across venues
def _lift(core: LinearCore, start: int, width: int) -> LinearCore:
    """``core`` over a wider trade vector: its candidates at ``start``, zeros elsewhere."""

    def wide(a: Any) -> Any:
        out = np.zeros((width, *np.shape(a)[1:]))
        out[start : start + np.shape(a)[0]] = a
        return out

    return LinearCore(
        width,
        core.constant,
        tuple(MaxTerm(t.weight, t.offset, wide(t.slope)) for t in core.max_terms),
        tuple(AbsTerm(t.weight, t.offset, wide(t.slope)) for t in core.abs_terms),
        tuple(
            TailTerm(
                t.weight,
                tuple(
                    TailSet(s.pnl, wide(s.rows), s.probability, s.tail_mass, _wide_cash(s, wide))
                    for s in t.sets
                ),
            )
            for t in core.tail_terms
        ),
        core.exact,
        core.reason,
    )


def _wide_cash(tail: TailSet, wide: Any) -> tuple[Any, Any] | None:
    return None if tail.cash is None else (wide(tail.cash[0]), wide(tail.cash[1]))


def _joined(cores: list[LinearCore]) -> LinearCore:
    """Return the sum of the venues' cores over the concatenated trade vector."""
    width = sum(c.n for c in cores)
    lifted, start = [], 0
    for core in cores:
        lifted.append(_lift(core, start, width))
        start += core.n
    return LinearCore(
        width,
        float(sum(c.constant for c in lifted)),
        tuple(t for c in lifted for t in c.max_terms),
        tuple(t for c in lifted for t in c.abs_terms),
        tuple(t for c in lifted for t in c.tail_terms),
        all(c.exact for c in lifted),
        "; ".join(c.reason for c in lifted if c.reason),
    )


def hedge_across(
    problems: list[HedgeProblem],
    *,
    delta_band: tuple[float, float] | None = None,
    max_cost: float | None = None,
) -> list[HedgeProposal]:
    """Return the hedge of one owner at several venues, each leg margined at its venue.

    The objective ``sum_v (IM_v(x_v) + cost_v(x_v))`` separates by venue; what joins the
    venues are the owner's limits: ``delta_band`` on the owner's net delta per underlying
    over every venue, ``max_cost`` on the trades' total cost. Every venue's core exact: one
    programme over the concatenated trades (the venues' cores summed). Otherwise each venue
    is first hedged alone (:func:`optimise_hedge`, its own limits), then the joint lots are
    polished with the true models under the joint limits.

    Parameters
    ----------
    problems
        One :class:`HedgeProblem` per venue (model, book, account, universe, its own limits:
        size and lots; no target utilisation).
    delta_band
        ``(low, high)`` base units: the owner's net delta in each underlying, all venues.
    max_cost
        Most USD all the trades may cost together.

    Returns
    -------
    list of HedgeProposal
        One per venue, each verified through its own what-if; ``method``: ``"exact"`` when
        the joint programme's core is every venue's model.

    Raises
    ------
    InputError
        A problem with a target utilisation; joint limits that leave no hedge.
    """
    if any(p.target_util is not None for p in problems):
        raise InputError("target_util", "given", "is not supported across venues")
    ends = np.cumsum([0, *(len(p.universe) for p in problems)])
    bands = _joint_bands(problems, ends, delta_band)
    buy = np.concatenate([p.universe.buy_cost for p in problems])
    sell = np.concatenate([p.universe.sell_cost for p in problems])
    lot = np.concatenate([p.lot for p in problems])
    cores = [linear_core(p.model, p.book, p.row, p.universe, p.im_before) for p in problems]
    known = [c for c in cores if c is not None]
    if len(known) == len(cores) and all(c.exact for c in known):
        solution = solve_hedge(
            _joined(known), lot, buy, sell, np.concatenate([p.max_lots for p in problems]),
            integer=problems[0].limits.lots, bands=bands, max_cost=max_cost,
            time_limit=problems[0].limits.time_limit, window=problems[0].limits.window,
        )  # fmt: skip
        if not solution.feasible:
            raise InputError("limits", "across venues", f"leave no hedge ({solution.status})")
        found = [
            p.proposal(
                "exact",
                solution.quantity[ends[k] : ends[k + 1]],
                _lots(p, solution.quantity[ends[k] : ends[k + 1]]),
                core=cores[k],
            )
            for k, p in enumerate(problems)
        ]
        if all(abs(f.im_after - (f.core_im or 0.0)) <= 1e-9 * max(f.im_after, 1.0) for f in found):
            return found
    alone = [optimise_hedge(p) for p in problems]
    start = np.concatenate(
        [
            np.array([_trade_lots(p, f, i) for i in range(len(p.universe))])
            for p, f in zip(problems, alone, strict=True)
        ]
    )

    def objective(lots: tuple[int, ...]) -> float:
        x = np.asarray(lots, dtype=np.float64) * lot
        for band in bands:
            delta = band.delta_now + float(band.exposure @ x)
            if not band.low - 1e-9 <= delta <= band.high + 1e-9:
                return 1e19
        if (
            max_cost is not None
            and float(np.maximum(x, 0) @ buy + np.maximum(-x, 0) @ sell) > max_cost
        ):
            return 1e19
        return float(sum(p.objective(lots[ends[k] : ends[k + 1]]) for k, p in enumerate(problems)))

    top = max(64.0, float(np.max(np.abs(start), initial=0.0)))
    best, value = polish(objective, start, problems[0].limits.budget, top)
    if value >= 1e18:
        raise InputError("limits", "across venues", "leave no hedge the search found")
    return [
        p.proposal("polish", np.zeros(0), best[ends[k] : ends[k + 1]], core=cores[k])
        for k, p in enumerate(problems)
    ]


def _lots(problem: HedgeProblem, quantity: Any) -> tuple[int, ...] | None:
    if not problem.limits.lots:
        return None
    return tuple(int(v) for v in np.round(quantity / problem.lot))


def _trade_lots(problem: HedgeProblem, proposal: HedgeProposal, i: int) -> float:
    """Lots of candidate ``i`` in a venue's own proposal (0 when it does not trade it)."""
    symbol = problem.universe.symbols[i]
    base = sum(t.base_quantity for t in proposal.trades if t.instrument == symbol)
    return float(np.round(base / problem.lot[i]))


def _joint_bands(
    problems: list[HedgeProblem], ends: Any, band: tuple[float, float] | None
) -> list[DeltaBand]:
    """Return the owner's delta band per underlying over the concatenated trades of every venue."""
    if band is None:
        return []
    out = []
    for underlying in dict.fromkeys(u for p in problems for u in p.underlyings()):
        now, exposure = 0.0, np.zeros(int(ends[-1]))
        for k, p in enumerate(problems):
            held, mine = p.delta_exposure(underlying)
            now += held
            exposure[ends[k] : ends[k + 1]] = mine
        out.append(DeltaBand(underlying, band[0], band[1], now, exposure))
    return out

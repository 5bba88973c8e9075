"""The margin-minimising hedge of one account: :func:`optimise_hedge` and its twins.

A :class:`HedgeProblem` holds what every search asks: the account's what-if
(:class:`pmargin.health.AccountWhatIf`: the true model, fills at the universe's bid/ask), the
limits, and the objective of a trade (``IM + cost``; or, for a target utilisation ``u``, the
cost where ``IM <= u x equity`` after the trades). Then:

* :func:`optimise_hedge`: the model's linear core (:func:`~pmargin.optimise._cores.linear_core`)
  solved exactly by HiGHS (an LP, or a MILP in whole lots); where the core is not the model
  (:attr:`LinearCore.exact` false) or the model has none, a coordinate search on lots with the
  true model from each of no trade, the perpetual's delta hedges and the core's answer.
  Every proposal is re-margined through the what-if: ``im_after`` is the model's.
* :func:`optimise_hedge_reference`: brute force over a lot grid with the true model (small
  universes; the tests' and the docs' optimality gap).
* :func:`delta_hedge`: the best single-instrument hedge, the account's delta in each
  perpetual of the universe (rounded to lots): the baseline the optimiser's gain is measured
  against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.health import AccountWhatIf, Trade
from pmargin.instruments import Kind
from pmargin.margin import MarginModel, MarginResult
from pmargin.optimise._core import LinearCore
from pmargin.optimise._cores import CORE_TOLERANCE, linear_core
from pmargin.optimise._milp import DeltaBand, solve_hedge
from pmargin.optimise._search import brute_force, polish
from pmargin.optimise._universe import HedgeUniverse

__all__ = [
    "HedgeLimits",
    "HedgeProblem",
    "HedgeProposal",
    "HedgeTrade",
    "delta_hedge",
    "optimise_hedge",
    "optimise_hedge_reference",
]

_INFEASIBLE = 1e18
"""Objective of a trade breaking a limit or the target: above any feasible one."""


@dataclass(frozen=True, slots=True)
class HedgeLimits:
    """Limits of a hedge.

    Attributes
    ----------
    max_size
        Most native units traded per instrument (absolute), ``None``: no limit.
    max_cost
        Most USD the trades may cost, ``None``: no limit.
    delta_band
        ``(low, high)``: the account's net delta (base units: Black delta of options, 1 for
        delta-one) in each underlying of the universe after the trades; ``None``: free.
    lots
        Trade whole lots (a MILP) or any amount (an LP).
    time_limit
        Seconds HiGHS may take (each solve).
    budget
        Most true-model evaluations of the polish, from each start.
    window
        Whole lots: search within this many lots of the LP relaxation's trades
        (:func:`~pmargin.optimise.solve_hedge`); ``None`` searches every lot count (slow on
        many tiny lots; what the brute-force tests use).
    """

    max_size: float | None = None
    max_cost: float | None = None
    delta_band: tuple[float, float] | None = None
    lots: bool = True
    time_limit: float = 10.0
    budget: int = 600
    window: int | None = 8

    def __post_init__(self) -> None:
        """Check the limits."""
        if self.max_size is not None and not (self.max_size > 0 and math.isfinite(self.max_size)):
            raise InputError("max_size", self.max_size, "must be a finite number > 0")
        if self.max_cost is not None and not (self.max_cost >= 0 and math.isfinite(self.max_cost)):
            raise InputError("max_cost", self.max_cost, "must be a finite number >= 0")
        if self.delta_band is not None:
            low, high = self.delta_band
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise InputError("delta_band", self.delta_band, "must be LO,HI with LO <= HI")


@dataclass(frozen=True, slots=True)
class HedgeTrade:
    """One trade of a proposal.

    Attributes
    ----------
    instrument
        Symbol.
    quantity
        Signed native units (the portfolio file's: USD for Deribit inverse futures).
    price
        Fill price in the price currency (ask to buy, bid to sell).
    base_quantity
        Signed base units.
    """

    instrument: str
    quantity: float
    price: float
    base_quantity: float


@dataclass(frozen=True, slots=True)
class HedgeProposal:
    """A hedge, verified by re-margining the account after it.

    Attributes
    ----------
    account, model
        Whose and under which model.
    method
        ``"exact"`` (the core is the model: the programme's optimum), ``"core+polish"`` or
        ``"polish"`` (docs/hedge.md).
    trades
        The trades (none: nothing helps).
    cost
        USD the trades take from equity against the marks.
    im_before, im_after, equity_before, equity_after
        USD; ``im_after`` and ``equity_after`` from the what-if after the trades.
    objective
        The programme's objective at its solution (``IM + cost``, or the cost for a target,
        USD; HiGHS's value); ``None`` without a core.
    core_im
        The core's IM at the trades (USD); ``None`` without a core.
    target_util
        The target utilisation, ``None`` when minimising ``IM + cost``.
    bound
        A proven lower bound of the core's optimum (USD; the LP relaxation's for whole lots),
        ``None`` without a core. For an exact core the proposal is within :attr:`gap` of
        the model's optimum.
    reason
        Why the core is not the model (empty when it is).
    """

    account: str
    model: str
    method: str
    trades: tuple[HedgeTrade, ...]
    cost: float
    im_before: float
    im_after: float
    equity_before: float
    equity_after: float
    objective: float | None = None
    core_im: float | None = None
    target_util: float | None = None
    bound: float | None = None
    reason: str = field(default="")

    @property
    def total_after(self) -> float:
        """``im_after + cost`` (USD): what the search minimises without a target."""
        return self.im_after + self.cost

    @property
    def gap(self) -> float | None:
        """Relative distance of the verified proposal to the bound, ``None`` without one.

        ``(value - bound) / value`` with ``value`` ``IM + cost`` (or the cost for a target).
        """
        if self.bound is None:
            return None
        value = self.cost if self.target_util is not None else self.total_after
        return (value - self.bound) / value if value > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the ``pmargin hedge --json`` document."""
        return {
            "account": self.account,
            "model": self.model,
            "method": self.method,
            "trades": [
                {"instrument": t.instrument, "quantity": t.quantity, "price": t.price}
                for t in self.trades
            ],
            "cost": self.cost,
            "im_before": self.im_before,
            "im_after": self.im_after,
            "equity_before": self.equity_before,
            "equity_after": self.equity_after,
            "im_utilization_after": _ratio(self.im_after, self.equity_after),
            "target_util": self.target_util,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "reason": self.reason or None,
        }


def _ratio(im: float, equity: float) -> float | None:
    return im / equity if equity > 0 else None


class HedgeProblem:
    """One account's hedge problem over a universe (module docstring).

    Parameters
    ----------
    model, book
        The model and the book (at its market).
    account
        Account id.
    universe
        The candidates.
    limits
        The limits.
    target_util
        Target IM utilisation after the trades (``IM / equity``), in ``(0, 10]``; ``None``
        minimises ``IM + cost``.
    result
        ``model.compute(book)`` when already computed.
    whatif
        A what-if of ``(model, book, result)`` to share (several accounts' problems on one
        book: the crash replay's agents); built here when not given.
    """

    def __init__(
        self,
        model: MarginModel,
        book: BookArrangement,
        account: str,
        universe: HedgeUniverse,
        limits: HedgeLimits,
        target_util: float | None = None,
        result: MarginResult | None = None,
        whatif: AccountWhatIf | None = None,
    ) -> None:
        if target_util is not None and not (0.0 < target_util <= 10.0):
            raise InputError("target_util", target_util, "must be in (0, 10]")
        self.model, self.book, self.universe, self.limits = model, book, universe, limits
        self.target_util = target_util
        self.row = book.row(account)
        self.account = account
        self.whatif = AccountWhatIf(model, book, result) if whatif is None else whatif
        now = self.whatif.snapshot(self.row)
        self.im_before, self.equity_before = now.initial_margin, now.equity
        self.lot = np.asarray(universe.lot_base, dtype=np.float64)
        if limits.max_size is None:
            self.max_lots = np.full(len(universe), np.inf)
        else:
            size = limits.max_size * universe.base_per_native / self.lot
            self.max_lots = np.floor(size + 1e-9) if limits.lots else size
        self.bands = self._bands()
        self._cache: dict[tuple[int, ...], tuple[float, float]] = {}

    def _bands(self) -> list[DeltaBand]:
        if self.limits.delta_band is None:
            return []
        low, high = self.limits.delta_band
        return [DeltaBand(u, low, high, *self.delta_exposure(u)) for u in self.underlyings()]

    def underlyings(self) -> tuple[str, ...]:
        """Return the universe's underlyings, in order of first appearance."""
        return tuple(dict.fromkeys(i.underlying for i in self.universe.instruments))

    def delta_exposure(self, underlying: str) -> tuple[float, FloatArray]:
        """Return the account's net delta in ``underlying`` now and each candidate's per base unit.

        Base units: Black delta of options, 1 for delta-one instruments; candidates on other
        underlyings 0. Returns ``(delta now, exposure of shape (n,))``.
        """
        book = self.book
        q = sparse.csr_array(book.quantity)[[self.row]].toarray()[0]
        delta = np.where(book.resolved.is_option, book.valuation.delta, 1.0)
        mine = np.array([i.underlying == underlying for i in book.instruments], dtype=bool)
        now = float(q[mine] @ delta[mine]) if mine.size else 0.0
        theirs = np.array([i.underlying == underlying for i in self.universe.instruments])
        return now, np.where(theirs, self.universe.delta, 0.0)

    # ---------------------------------------------------------------- trades
    def trades(self, quantity: FloatArray, lots: tuple[int, ...] | None = None) -> list[HedgeTrade]:
        """Return the trades of base units ``quantity`` (or whole ``lots``), zeros dropped."""
        u = self.universe
        out = []
        for i, symbol in enumerate(u.symbols):
            if lots is not None:  # whole lots: the native amount without float dust
                native = round(lots[i] * float(u.lot_native[i]), 12)
                base = native * float(u.base_per_native[i])
            else:
                base = float(quantity[i])
                native = base / float(u.base_per_native[i])
            if base != 0.0:
                out.append(HedgeTrade(symbol, native, u.price(i, base), base))
        return out

    def after(self, trades: list[HedgeTrade]) -> tuple[float, float]:
        """IM and equity (USD) after ``trades``, by the true model (the what-if)."""
        by_symbol = dict(zip(self.universe.symbols, self.universe.instruments, strict=True))
        legs = [Trade(by_symbol[t.instrument], t.base_quantity, t.price) for t in trades]
        snap = self.whatif.margin_after(self.row, legs)
        return snap.initial_margin, snap.equity

    def feasible(self, quantity: FloatArray, cost: float) -> bool:
        """Whether base quantities ``quantity`` keep the size, delta and cost limits."""
        if np.any(np.abs(quantity) > self.max_lots * self.lot * (1 + 1e-9)):
            return False
        for band in self.bands:
            delta = band.delta_now + float(band.exposure @ quantity)
            if not (band.low - 1e-9 <= delta <= band.high + 1e-9):
                return False
        return self.limits.max_cost is None or cost <= self.limits.max_cost * (1 + 1e-12)

    def objective(self, lots: tuple[int, ...]) -> float:
        """Return the true objective of whole ``lots`` (``inf``-like where a limit is broken)."""
        quantity = np.asarray(lots, dtype=np.float64) * self.lot
        cost = self.universe.cost(quantity)
        if not self.feasible(quantity, cost):
            return _INFEASIBLE * 10
        if lots not in self._cache:
            self._cache[lots] = self.after(self.trades(quantity, lots))
        im, equity = self._cache[lots]
        if self.target_util is None:
            return im + cost
        excess = im - self.target_util * equity
        return cost if excess <= 1e-9 * max(im, 1.0) else _INFEASIBLE + excess

    def proposal(
        self,
        method: str,
        quantity: FloatArray,
        lots: tuple[int, ...] | None = None,
        *,
        core: LinearCore | None = None,
        objective: float | None = None,
        bound: float | None = None,
        reason: str = "",
    ) -> HedgeProposal:
        """Return the verified proposal of ``quantity`` (base units; or whole ``lots``)."""
        if lots is not None:
            quantity = np.asarray(lots, dtype=np.float64) * self.lot
        trades = self.trades(quantity, lots)
        im, equity = self.after(trades)
        if self.target_util is not None and im > self.target_util * equity * (1 + 1e-9):
            raise InputError(
                "target_util",
                self.target_util,
                f"cannot be reached within the limits (best found: IM {im:,.2f} USD on equity "
                f"{equity:,.2f} USD, utilisation {_ratio(im, equity)})",
            )
        return HedgeProposal(
            self.account, self.model.name, method, tuple(trades), self.universe.cost(quantity),
            self.im_before, im, self.equity_before, equity, objective,
            None if core is None else core.evaluate(quantity), self.target_util, bound, reason,
        )  # fmt: skip


def optimise_hedge(problem: HedgeProblem) -> HedgeProposal:
    """Return the hedge of ``problem``: the exact programme, then a polish where needed.

    Raises
    ------
    InputError
        Field ``target_util`` when the target cannot be reached within the limits.
    """
    core = linear_core(
        problem.model, problem.book, problem.row, problem.universe, problem.im_before
    )
    limits = problem.limits
    if core is None:
        found = _polished(problem)
        return problem.proposal("polish", np.zeros(0), found, reason="the model has no linear core")
    u = problem.universe
    target = None
    if problem.target_util is not None:
        target = (problem.target_util, problem.equity_before)
    solution = solve_hedge(
        core, problem.lot, u.buy_cost, u.sell_cost, problem.max_lots, integer=limits.lots,
        bands=problem.bands, max_cost=limits.max_cost, target=target,
        time_limit=limits.time_limit, window=limits.window,
    )  # fmt: skip
    if not solution.feasible:
        if problem.target_util is not None:
            raise InputError(
                "target_util",
                problem.target_util,
                f"cannot be reached within the limits ({solution.status})",
            )
        raise InputError("limits", limits, f"leave no feasible hedge ({solution.status})")
    lots: tuple[int, ...] | None = None
    if limits.lots:
        lots = tuple(int(v) for v in np.round(solution.quantity / problem.lot))
    exact = core.exact
    reason = core.reason
    if exact:
        verified = problem.proposal(
            "exact", solution.quantity, lots, core=core, objective=solution.objective,
            bound=solution.bound,
        )  # fmt: skip
        im = verified.im_after
        if abs(im - (verified.core_im or 0.0)) <= CORE_TOLERANCE * max(im, 1.0):
            return verified
        reason = f"after the trades the core gives {verified.core_im}, the model {im}"
    best = _polished(problem, solution.quantity / problem.lot)
    return problem.proposal(
        "core+polish", np.zeros(0), best, core=core, objective=solution.objective,
        reason=reason,
    )  # fmt: skip


def _polished(problem: HedgeProblem, core_lots: FloatArray | None = None) -> tuple[int, ...]:
    """Polish from each start (no trade, each perpetual delta hedge, the core's); the best.

    Each start gets the whole budget; the largest step covers the largest start (>= 64 lots).
    """
    starts: list[tuple[int, ...]] = [(0,) * len(problem.universe), *_delta_lots(problem)]
    if core_lots is not None:
        starts.append(tuple(int(v) for v in np.round(core_lots)))
    top = max([64.0, *(float(np.max(np.abs(s), initial=0.0)) for s in starts)])
    best: tuple[int, ...] = starts[0]
    value = problem.objective(best)
    for start in dict.fromkeys(starts):
        found, found_value = polish(
            problem.objective, np.asarray(start, dtype=np.float64), problem.limits.budget, top
        )
        if found_value < value:
            best, value = found, found_value
    return best


def _delta_lots(problem: HedgeProblem) -> list[tuple[int, ...]]:
    """For each perpetual of the universe: lots cancelling the account's delta in its underlying.

    Within the size limit (clipped to it).
    """
    u = problem.universe
    out = []
    for i, instrument in enumerate(u.instruments):
        if instrument.kind is not Kind.PERPETUAL:
            continue
        net = problem.delta_exposure(instrument.underlying)[0]
        lots = [0] * len(u)
        cap = float(problem.max_lots[i])
        lots[i] = int(np.clip(np.round(-net / float(u.lot_base[i])), -cap, cap))
        out.append(tuple(lots))
    return out


def delta_hedge(problem: HedgeProblem) -> HedgeProposal:
    """Return the best perpetual delta hedge of the universe (whole lots), verified.

    Raises
    ------
    InputError
        Field ``universe`` when it holds no perpetual.
    """
    options = _delta_lots(problem)
    if not options:
        raise InputError("universe", problem.universe.symbols, "holds no perpetual")
    best = min(options, key=problem.objective)
    return problem.proposal("delta", np.zeros(0), best)


def optimise_hedge_reference(problem: HedgeProblem, grid: int) -> HedgeProposal:
    """Brute force over whole lots in ``[-grid, grid]`` per candidate with the true model."""
    lots, _ = brute_force(problem.objective, len(problem.universe), grid)
    return problem.proposal("brute-force", np.zeros(0), lots)

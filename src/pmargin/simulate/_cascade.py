"""Replay a crash path on a funded book: monitor, liquidate, feed the flow back into the price.

At each path step ``k`` (after the start):

1. the impact offset of every underlying decays, ``I_u <- I_u x 2^(-dt / half_life)``;
2. **round 1**: the monitor takes the step's update, index ``S_u^hist(t_k) exp(I_u)`` and the
   change of the ATM vol since the previous step as a vol shift
   (:class:`~pmargin.monitor.MarketUpdate`); circuit breakers may quarantine the tick and
   pause an underlying;
3. if any account has equity < MM, the liquidation engine runs on the whole book at the
   monitor's market (``paused = monitor.paused_underlyings``; book and margin from
   :func:`~pmargin.monitor.full_recompute`), with the insurance fund carried over from the
   previous round; the monitor is then restarted on the book after the episode (the feed and
   breaker state carried over);
4. the round's **net signed liquidated notional** per underlying gives a log move
   (:class:`~pmargin.simulate.ImpactModel`) added to ``I_u``; if any move is non-zero and the
   round cap is not reached, the next round applies the moved index (same timestamp) and
   goes back to 3; otherwise the step ends and the offset carries into the next steps.

With impact off (or zero) there is exactly one liquidation round per step, at the
historical prices. With hedging agents (``CascadeConfig.agents``, :class:`AgentHook`), after
each step's update (and at the start) the agents see the monitor's state and may trade
before the liquidation engine looks; the monitor restarts on the book after their trades.
Every number is kept per step and per round; the liquidation events of
every round are kept for the audit.

**Money** (USD): over the whole episode,
``sum equity(end) + fund(end) + liquidators + market slippage + hedging costs - bad debt
= sum equity(start) + fund(start) + mark-to-market P&L of the updates``, where the
mark-to-market P&L is the change of the accounts' total equity across monitor updates (the
trades with the rest of the market); :attr:`CascadeRun.conservation_error_usd` is the
difference.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from scipy import sparse

from pmargin._typing import BoolArray, FloatArray, Int8Array
from pmargin.book import BookArrangement
from pmargin.health import status_codes
from pmargin.liquidation import (
    AdlFill,
    BadDebt,
    FundDraw,
    InsuranceFund,
    LiquidationConfig,
    LiquidationEngine,
    LiquidationEvent,
    LiquidationFill,
    LiquidationFinished,
    LiquidationTriggered,
    below_maintenance,
    load_config,
)
from pmargin.margin import MarginModel
from pmargin.monitor import BreakerConfig, FullState, MarketUpdate, Monitor, full_recompute
from pmargin.simulate._impact import ImpactModel
from pmargin.simulate._path import CrashPath
from pmargin.simulate._population import FundedBook

__all__ = [
    "AGENT_SUMMARY",
    "AgentHook",
    "CascadeConfig",
    "CascadeRun",
    "RoundRecord",
    "StepRecord",
    "default_breakers",
    "run_cascade",
    "run_cascade_reference",
    "simulation_liquidation_config",
]


def simulation_liquidation_config() -> LiquidationConfig:
    """Return the shipped ``liquidation.toml`` with a coarser size search (1e-3 of a step).

    The smallest close that restores the target is found to 0.1 % of the step instead of
    1e-6: about 10 one-account margin evaluations per step instead of 20.
    """
    base = load_config()
    return replace(base, steps=replace(base.steps, size_tolerance=1e-3))


def default_breakers(step_hours: float) -> BreakerConfig:
    """Circuit breakers scaled to a replay of ``step_hours`` steps.

    A replay's feed ticks once a step, so the live limits (stale after 60 s, 15 % in 300 s)
    would pause everything. Here: stale after 2 steps, an index jump beyond 25 % within one
    step trips, resume after 2 clean ticks and one step; the mark band is unchanged (the
    replay sends no marks). [ASSUMED]
    """
    step_s = step_hours * 3600.0
    return BreakerConfig(
        index_jump=0.25,
        jump_interval_s=step_s,
        max_age_s=2.0 * step_s,
        resume_clean_updates=2,
        cooldown_s=step_s,
        where="pmargin.simulate.default_breakers",
    )


class AgentHook(Protocol):
    """Hedging agents in a replay (:class:`pmargin.optimise.HedgingAgent`; docs/agent.md).

    Called at the start and after each step's update, before the liquidation engine, with
    the model, the monitor's state (book, margin, equity at the step's market), the time
    (UTC seconds), the index applied and the ATM vol of each underlying. Returns the book
    after the agents' trades (``None``: no trade; same accounts and rows, at the state's
    market) and the step's counts: ``triggered``, ``hedged``, ``trades``, ``cost_usd``
    (equity the trades took against the marks), ``notional_usd``, ``missed``.
    """

    def __call__(
        self,
        model: MarginModel,
        state: FullState,
        time_s: float,
        index: Mapping[str, float],
        vol: Mapping[str, float],
    ) -> tuple[BookArrangement | None, Mapping[str, float]]:
        """Trade for the accounts that need it; return the book after and the counts."""
        ...


AGENT_SUMMARY = {
    "triggered": "agent_triggers",
    "hedged": "agent_hedges",
    "trades": "agent_trades",
    "cost_usd": "hedge_cost_usd",
    "notional_usd": "hedge_notional_usd",
    "missed": "agent_targets_missed",
}
"""An :class:`AgentHook`'s count -> its key in :meth:`CascadeRun.summary` (all zero without
agents)."""


@dataclass(frozen=True, slots=True)
class CascadeConfig:
    """How a replay runs.

    Attributes
    ----------
    impact
        The impact model (``ImpactModel(enabled=False)`` for impact off).
    max_rounds
        Most liquidation rounds in one step (10).
    liquidation
        Liquidation parameters; ``None``: :func:`simulation_liquidation_config`.
    breakers
        Circuit breakers; ``None``: :func:`default_breakers` of the path step.
    fund_usd
        Insurance fund at the start (USD); ``None``: ``fund_fraction x`` the book's gross
        notional.
    fund_fraction
        0.002 [ASSUMED]: 0.2 % of the open interest (the major venues' funds were of the
        order of 0.1-1 % of their open interest).
    keep_events
        Keep every liquidation event (the audit trail); counts are kept either way.
    agents
        Hedging agents acting before the engine at every step (``None``: none).
    """

    impact: ImpactModel = field(default_factory=ImpactModel)
    max_rounds: int = 10
    liquidation: LiquidationConfig | None = None
    breakers: BreakerConfig | None = None
    fund_usd: float | None = None
    fund_fraction: float = 0.002
    keep_events: bool = True
    agents: AgentHook | None = None


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """One liquidation round.

    Attributes
    ----------
    step, round
        Path step and round within it (1-based).
    triggered, fills, adl_fills, bankrupt
        Accounts triggered, market fills, ADL fills, accounts settled bankrupt.
    liquidated_notional_usd
        Gross notional of the market fills (USD).
    net_notional_usd
        Underlying -> net signed delta notional of the fills (USD; sales < 0).
    move
        Underlying -> log move the flow adds to the impact offset.
    fund_usd, bad_debt_usd
        Insurance fund after the round and bad debt written off in it (USD).
    paused
        Underlyings paused during the round.
    """

    step: int
    round: int
    triggered: int
    fills: int
    adl_fills: int
    bankrupt: int
    liquidated_notional_usd: float
    net_notional_usd: dict[str, float]
    move: dict[str, float]
    fund_usd: float
    bad_debt_usd: float
    paused: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StepRecord:
    """The state after a path step's last round.

    Attributes
    ----------
    step, time
        Step number and ISO time.
    index, historical
        Underlying -> index applied (with impact) and on the historical path (USD).
    impact
        Underlying -> impact log offset.
    rounds
        Liquidation rounds run in the step.
    equity_usd, initial_margin_usd, maintenance_margin_usd
        Sums over the accounts (USD).
    below_mm
        Accounts with equity < MM after the step.
    fund_usd, bad_debt_usd
        Insurance fund and cumulative bad debt (USD).
    paused
        Underlyings paused by the circuit breakers.
    """

    step: int
    time: str
    index: dict[str, float]
    historical: dict[str, float]
    impact: dict[str, float]
    rounds: int
    equity_usd: float
    initial_margin_usd: float
    maintenance_margin_usd: float
    below_mm: int
    fund_usd: float
    bad_debt_usd: float
    paused: tuple[str, ...]


@dataclass(slots=True)
class CascadeRun:
    """Everything a replay of one model (impact on or off) produced.

    Attributes
    ----------
    model, impact
        Model name; whether impact fed back.
    funded
        The funded book at the start.
    steps, rounds
        Per-step and per-round records (``steps[0]`` is the start).
    equity_path, status_path
        Shape ``(n_steps, n_accounts)``: equity (USD) and status code (0 healthy,
        1 reduce_only, 2 liquidation, 3 bankrupt) of each account after each step.
    index_path
        Shape ``(n_steps, n_underlyings)``: index applied after each step (USD).
    events
        Liquidation events of every round, in order (empty unless ``keep_events``).
    counts
        Event counts and money totals (see :meth:`summary`).
    monitor_latency_s
        Wall seconds of every ``Monitor.apply``.
    liquidated
        Accounts with at least one market or ADL fill as the liquidated side.
    positions_closed
        Positions closed to zero by liquidation.
    fund_start_usd
        Insurance fund at the start.
    mtm_usd
        Mark-to-market P&L of the accounts across updates (USD).
    seconds
        Wall seconds of the replay.
    """

    model: str
    impact: bool
    funded: FundedBook
    names: tuple[str, ...]
    steps: list[StepRecord]
    rounds: list[RoundRecord]
    equity_path: FloatArray
    status_path: Int8Array
    index_path: FloatArray
    events: list[LiquidationEvent]
    counts: dict[str, float]
    monitor_latency_s: list[float]
    liquidated: set[str]
    positions_closed: int
    fund_start_usd: float
    mtm_usd: float
    seconds: float = 0.0
    historical_drawdown: FloatArray = field(default_factory=lambda: np.zeros(0))

    @property
    def final(self) -> StepRecord:
        """The last step's record."""
        return self.steps[-1]

    @property
    def conservation_error_usd(self) -> float:
        """``end side - start side`` of the money identity (module docstring), USD."""
        c = self.counts
        end = (
            self.final.equity_usd
            + self.final.fund_usd
            + c["penalty_liquidator_usd"]
            + c["slippage_usd"]
            + c.get("hedge_cost_usd", 0.0)
            - c["bad_debt_usd"]
        )
        start = float(self.funded.equity.sum()) + self.fund_start_usd + self.mtm_usd
        return end - start

    def drawdown(self) -> FloatArray:
        """Lowest applied index against the start per underlying (<= 0)."""
        result: FloatArray = self.index_path.min(axis=0) / self.index_path[0] - 1.0
        return result

    def summary(self) -> dict[str, Any]:
        """Return the per-model results (JSON-ready; USD unless named otherwise)."""
        f = self.funded
        c = self.counts
        fund_path = [s.fund_usd for s in self.steps]
        notional = float(f.notional.sum())
        rounds_per_step = [s.rounds for s in self.steps[1:]]
        drawdown = self.drawdown()
        hist = self.historical_drawdown
        amplification = {
            n: (float(drawdown[j] / hist[j]) if hist.size and hist[j] < 0.0 else 1.0)
            for j, n in enumerate(self.names)
        }
        lat = np.asarray(self.monitor_latency_s) if self.monitor_latency_s else np.zeros(1)
        return {
            "model": self.model,
            "impact": self.impact,
            "accounts": len(f.book.account_ids),
            "excluded_accounts": f.excluded,
            "topped_up_accounts": int(f.topped_up.sum()),
            "gross_notional_usd": notional,
            "capital_posted_usd": float(f.equity.sum()),
            "capital_required_usd": float(f.initial_margin.sum()),
            "maintenance_margin_start_usd": float(f.maintenance_margin.sum()),
            "im_to_notional": float(f.initial_margin.sum()) / notional if notional else 0.0,
            "liquidated_accounts": len(self.liquidated),
            "liquidation_triggers": int(c["triggered"]),
            "fills": int(c["fills"]),
            "positions_closed": self.positions_closed,
            "liquidated_notional_usd": c["liquidated_notional_usd"],
            "penalties_usd": c["penalty_usd"],
            "penalty_fund_usd": c["penalty_fund_usd"],
            "penalty_liquidator_usd": c["penalty_liquidator_usd"],
            "slippage_usd": c["slippage_usd"],
            "fund_start_usd": self.fund_start_usd,
            "fund_end_usd": self.final.fund_usd,
            "fund_min_usd": float(min(fund_path)),
            "fund_draws_usd": c["fund_draw_usd"],
            "bad_debt_usd": c["bad_debt_usd"],
            "bankrupt_accounts": int(c["bankrupt"]),
            "adl_events": int(c["adl_fills"]),
            "rounds": int(sum(rounds_per_step)),
            "cascade_rounds": int(sum(max(r - 1, 0) for r in rounds_per_step)),
            "max_rounds_in_step": int(max(rounds_per_step, default=0)),
            "drawdown": {n: float(drawdown[j]) for j, n in enumerate(self.names)},
            "historical_drawdown": {
                n: float(hist[j]) if hist.size else 0.0 for j, n in enumerate(self.names)
            },
            "amplification": amplification,
            **{key: self.counts.get(key, 0.0) for key in AGENT_SUMMARY.values()},
            "conservation_error_usd": self.conservation_error_usd,
            "monitor_updates": len(self.monitor_latency_s),
            "monitor_latency_mean_s": float(lat.mean()),
            "monitor_latency_max_s": float(lat.max()),
            "seconds": self.seconds,
        }


_COUNT_KEYS = (
    "triggered",
    "fills",
    "adl_fills",
    "bankrupt",
    "liquidated_notional_usd",
    "penalty_usd",
    "penalty_fund_usd",
    "penalty_liquidator_usd",
    "slippage_usd",
    "fund_draw_usd",
    "bad_debt_usd",
)


def _open_interest(book: BookArrangement) -> dict[str, float]:
    """Gross notional per underlying (USD): ``sum |q| x underlying USD price``."""
    resolved = book.resolved
    per_column = np.abs(sparse.csr_array(book.quantity)).sum(axis=0)
    usd = np.asarray(per_column).ravel() * resolved.underlying_usd
    out: dict[str, float] = {}
    for j, instrument in enumerate(resolved.instruments):
        out[instrument.underlying] = out.get(instrument.underlying, 0.0) + float(usd[j])
    return out


def _below_maintenance(monitor: Monitor) -> BoolArray:
    """Accounts whose equity fails the maintenance requirement: shape ``(n_accounts,)``.

    A shortfall within :data:`~pmargin.liquidation.ROUNDING_USD` is rounding (an account
    settled to zero equity reads about -1e-12 USD afterwards), not a reason for a round.
    """
    return below_maintenance(monitor.equity, monitor.initial_margin, monitor.maintenance_margin)


def _closed_positions(before: Any, after: Any) -> int:
    """Entries non-zero in ``before`` and zero in ``after`` (same shape, sparse)."""
    b = sparse.coo_array(before)
    held = b.data != 0.0
    if not held.any():
        return 0
    rows, cols = b.row[held], b.col[held]
    now = np.asarray(sparse.csr_array(after)[rows, cols]).ravel()
    return int(np.count_nonzero(now == 0.0))


class _Replay:
    """The mutable state of one replay (see :func:`run_cascade`)."""

    def __init__(
        self,
        model: MarginModel,
        funded: FundedBook,
        path: CrashPath,
        config: CascadeConfig,
        *,
        reference: bool = False,
    ) -> None:
        self.model = model
        self.path = path
        self.config = config
        self.reference = reference
        self.impact = config.impact
        self.liq_config = config.liquidation or simulation_liquidation_config()
        breakers = config.breakers or default_breakers(path.step_hours)
        start = funded.book
        if start.market is not path.market:
            start = start.rebased(path.market)
        self.monitor = Monitor(model, start, breakers=breakers)
        oi = _open_interest(funded.book)
        self.depth = {n: self.impact.depth(n, oi.get(n, 0.0)) for n in path.names}
        gross = float(funded.notional.sum())
        self.fund = (
            float(config.fund_usd) if config.fund_usd is not None else config.fund_fraction * gross
        )
        self.counts = dict.fromkeys((*_COUNT_KEYS, *AGENT_SUMMARY.values()), 0.0)
        self.events: list[LiquidationEvent] = []
        self.rounds: list[RoundRecord] = []
        self.latency: list[float] = []
        self.liquidated: set[str] = set()
        self.closed = 0
        self.mtm = 0.0
        self.offset = dict.fromkeys(path.names, 0.0)

    # ------------------------------------------------------------------ pieces
    def apply(self, update: MarketUpdate) -> None:
        before = float(self.monitor.equity.sum())
        start = time.perf_counter()
        self.monitor.apply(update)
        self.latency.append(time.perf_counter() - start)
        self.mtm += float(self.monitor.equity.sum()) - before

    def hedge(self, k: int, when: datetime) -> None:
        """Let the agents trade at step ``k``'s market; restart the monitor on their book."""
        agents = self.config.agents
        if agents is None:
            return
        monitor = self.monitor
        if self.reference:
            state = full_recompute(self.model, monitor.book.rebased(monitor.market))
        else:
            state = monitor.state()
        names = self.path.names
        index = {n: float(monitor.market.index[n]) for n in names}
        vol = {n: float(self.path.atm_vol[k, j]) for j, n in enumerate(names)}
        book, counts = agents(self.model, state, when.timestamp(), index, vol)
        for key, name in AGENT_SUMMARY.items():
            self.counts[name] += float(counts.get(key, 0.0))
        if book is not None:
            self.monitor = monitor.with_book(book)

    def index_at(self, k: int) -> dict[str, float]:
        return {
            n: float(self.path.index[k, j] * math.exp(self.offset[n]))
            for j, n in enumerate(self.path.names)
        }

    def liquidate(self, step: int, round_no: int) -> dict[str, float]:
        """One engine run at the monitor's market; return the round's log moves."""
        monitor = self.monitor
        paused = monitor.paused_underlyings
        if self.reference:
            state = full_recompute(self.model, monitor.book.rebased(monitor.market))
        else:
            state = monitor.state()
        book = state.book
        engine = LiquidationEngine(
            self.model,
            book,
            InsuranceFund(max(self.fund, 0.0)),
            config=self.liq_config,
            paused=paused,
            result=state.margin,
        )
        outcome = engine.run_reference() if self.reference else engine.run()
        resolved = book.resolved
        usd = resolved.underlying_usd
        delta = np.ones(len(resolved))
        if len(resolved) and resolved.is_option.any():
            delta = np.where(resolved.is_option, book.valuation.delta, 1.0)
        net = dict.fromkeys(self.path.names, 0.0)
        c = dict.fromkeys(_COUNT_KEYS, 0.0)
        for event in outcome.events:
            if isinstance(event, LiquidationTriggered):
                c["triggered"] += 1
            elif isinstance(event, LiquidationFill):
                j = book.column(event.instrument)
                assert j is not None  # the engine fills only instruments of the book
                instrument = resolved.instruments[j]
                signed = event.quantity * float(delta[j]) * float(usd[j])
                net[instrument.underlying] = net.get(instrument.underlying, 0.0) + signed
                c["fills"] += 1
                c["liquidated_notional_usd"] += event.notional_usd
                c["penalty_usd"] += event.penalty_usd
                c["penalty_fund_usd"] += event.penalty_fund_usd
                c["penalty_liquidator_usd"] += event.penalty_liquidator_usd
                c["slippage_usd"] += event.slippage_usd
                self.liquidated.add(event.account)
            elif isinstance(event, AdlFill):
                c["adl_fills"] += 1
                self.liquidated.add(event.account)
            elif isinstance(event, FundDraw):
                c["fund_draw_usd"] += event.amount_usd
            elif isinstance(event, BadDebt):
                c["bad_debt_usd"] += event.amount_usd
            elif isinstance(event, LiquidationFinished) and event.outcome == "bankrupt":
                c["bankrupt"] += 1
        for key, value in c.items():
            self.counts[key] += value
        if self.config.keep_events:
            self.events.extend(outcome.events)
        self.closed += _closed_positions(book.quantity, outcome.state.book.quantity)
        self.fund = outcome.state.fund_usd
        moves = {
            n: self.impact.move(net.get(n, 0.0), self.depth[n]) if n not in paused else 0.0
            for n in self.path.names
        }
        self.rounds.append(
            RoundRecord(
                step=step,
                round=round_no,
                triggered=int(c["triggered"]),
                fills=int(c["fills"]),
                adl_fills=int(c["adl_fills"]),
                bankrupt=int(c["bankrupt"]),
                liquidated_notional_usd=c["liquidated_notional_usd"],
                net_notional_usd=net,
                move=moves,
                fund_usd=self.fund,
                bad_debt_usd=c["bad_debt_usd"],
                paused=tuple(sorted(paused)),
            )
        )
        if c["fills"] or c["adl_fills"] or c["bad_debt_usd"] or c["fund_draw_usd"]:
            self.monitor = monitor.with_book(outcome.state.book)
        if not (c["fills"] or c["adl_fills"]):
            return dict.fromkeys(self.path.names, 0.0)
        return moves

    def record(self, k: int, rounds: int) -> StepRecord:
        m = self.monitor
        equity, im, mm = m.equity, m.initial_margin, m.maintenance_margin
        return StepRecord(
            step=k,
            time=str(self.path.times[k]) + "Z",
            index={n: float(m.market.index[n]) for n in self.path.names},
            historical={n: float(self.path.index[k, j]) for j, n in enumerate(self.path.names)},
            impact=dict(self.offset),
            rounds=rounds,
            equity_usd=float(equity.sum()),
            initial_margin_usd=float(im.sum()),
            maintenance_margin_usd=float(mm.sum()),
            below_mm=int(np.count_nonzero(_below_maintenance(m))),
            fund_usd=self.fund,
            bad_debt_usd=self.counts["bad_debt_usd"],
            paused=tuple(sorted(m.paused_underlyings)),
        )


def run_cascade(
    model: MarginModel,
    funded: FundedBook,
    path: CrashPath,
    config: CascadeConfig | None = None,
) -> CascadeRun:
    """Replay ``path`` on ``funded`` under ``model`` (module docstring).

    Parameters
    ----------
    model
        The margin model the book was funded for.
    funded
        From :func:`~pmargin.simulate.fund_population` at ``path.market``.
    path
        The crash path (its market is the start).
    config
        Impact, rounds, liquidation, breakers and fund; defaults as documented.

    Returns
    -------
    CascadeRun
        Records, paths, counts, money and timings.
    """
    return _run(model, funded, path, config or CascadeConfig(), reference=False)


def run_cascade_reference(
    model: MarginModel,
    funded: FundedBook,
    path: CrashPath,
    config: CascadeConfig | None = None,
) -> CascadeRun:
    """:func:`run_cascade` on the slow paths (its twin: same records, events and money).

    Every liquidation round margins the whole book from scratch
    (:func:`~pmargin.monitor.full_recompute`) instead of taking the monitor's state, and the
    engine runs its reference twin (:meth:`~pmargin.liquidation.LiquidationEngine.run_reference`:
    every account margin rebuilt from scratch and margined alone).
    """
    return _run(model, funded, path, config or CascadeConfig(), reference=True)


def _run(
    model: MarginModel,
    funded: FundedBook,
    path: CrashPath,
    config: CascadeConfig,
    *,
    reference: bool,
) -> CascadeRun:
    clock = time.perf_counter()
    replay = _Replay(model, funded, path, config, reference=reference)
    names = path.names
    surfaces = set(path.market.surfaces)
    n_steps, n_acc = path.n_steps, len(funded.book.account_ids)
    equity_path = np.zeros((n_steps, n_acc))
    status_path = np.zeros((n_steps, n_acc), dtype=np.int8)
    index_path = np.zeros((n_steps, len(names)))
    fund_start = replay.fund
    steps: list[StepRecord] = []

    def snapshot(k: int, rounds: int) -> None:
        m = replay.monitor
        equity_path[k] = m.equity
        status_path[k] = status_codes(m.equity, m.initial_margin, m.maintenance_margin)
        index_path[k] = [m.market.index[n] for n in names]
        steps.append(replay.record(k, rounds))

    rounds = 0
    replay.hedge(0, path.datetime_at(0))
    if np.any(_below_maintenance(replay.monitor)):
        replay.liquidate(0, 1)
        rounds = 1
    snapshot(0, rounds)
    times_s = path.times.astype(np.int64)
    for k in range(1, n_steps):
        hours = float(times_s[k] - times_s[k - 1]) / 3600.0
        keep = replay.impact.decay(hours)
        replay.offset = {n: v * keep for n, v in replay.offset.items()}
        when = path.datetime_at(k)
        shift = {
            n: float(path.atm_vol[k, j] - path.atm_vol[k - 1, j])
            for j, n in enumerate(names)
            if n in surfaces and math.isfinite(float(path.atm_vol[k, j] - path.atm_vol[k - 1, j]))
        }
        replay.apply(MarketUpdate(when, index=replay.index_at(k), vol_shift=shift))
        replay.hedge(k, when)
        rounds = 0
        while rounds < config.max_rounds:
            m = replay.monitor
            if not np.any(_below_maintenance(m)):
                break
            rounds += 1
            moves = replay.liquidate(k, rounds)
            if not any(moves.values()):
                break
            for n, dx in moves.items():
                replay.offset[n] += dx
            if rounds < config.max_rounds:
                replay.apply(MarketUpdate(when, index=replay.index_at(k)))
        snapshot(k, rounds)
    return CascadeRun(
        model=model.name,
        impact=config.impact.enabled and config.impact.scale > 0.0,
        funded=funded,
        names=names,
        steps=steps,
        rounds=replay.rounds,
        equity_path=equity_path,
        status_path=status_path,
        index_path=index_path,
        events=replay.events,
        counts=replay.counts,
        monitor_latency_s=replay.latency,
        liquidated=replay.liquidated,
        positions_closed=replay.closed,
        fund_start_usd=fund_start,
        mtm_usd=replay.mtm,
        seconds=time.perf_counter() - clock,
        historical_drawdown=path.drawdown(),
    )


def summaries(runs: Mapping[str, CascadeRun]) -> list[dict[str, Any]]:
    """Summaries of several runs, in order."""
    return [r.summary() for r in runs.values()]

"""The autonomous hedging agent: a policy that watches accounts and hedges them back to a target.

An :class:`AgentPolicy` (data: ``optimise/agent.toml`` or a user's file with the same fields)
says when an account needs a hedge and what it may trade:

* **utilisation**: ``IM / equity`` above ``utilisation`` (0.8);
* **a change of regime** (:class:`MarketWatch`): the rolling correlation of the BTC and ETH log
  returns over ``window_hours`` moves by more than ``correlation_band`` from its reference, or
  an underlying's ATM implied vol by more than ``vol_band``; then every account the agent runs
  whose utilisation is above the target is hedged. A reference is the first value seen (the
  first full window for the correlation) and is reset to the current value when it triggers.

The hedge is the cheapest one restoring ``target_utilisation`` (:func:`optimise_hedge` with a
target), over the instruments the account holds and the perpetuals and futures of its
underlyings in the settlement currencies it holds (:func:`agent_candidates`); where the limits
cannot reach the target, the hedge minimising ``IM + cost``. :func:`propose_hedge` answers for
one account (the service's proposal); :class:`HedgingAgent` runs the policy over the accounts
of a crash replay and books the trades (the replay's ``agents`` hook, docs/agent.md).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import sparse

from pmargin._params import read_versioned_file
from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.health import AccountWhatIf, Trade
from pmargin.instruments import Instrument, Kind
from pmargin.margin import MarginModel, MarginResult
from pmargin.monitor import FullState
from pmargin.optimise._hedge import HedgeLimits, HedgeProblem, HedgeProposal, optimise_hedge
from pmargin.optimise._rules import TradingRules, load_trading_rules
from pmargin.optimise._universe import HedgeUniverse, hedge_universe

__all__ = [
    "AGENT_COUNTS",
    "AgentPolicy",
    "HedgingAgent",
    "MarketWatch",
    "agent_candidates",
    "agent_policy_path",
    "agent_triggers",
    "load_agent_policy",
    "propose_hedge",
    "rolling_correlation",
]

SCHEMA_VERSION = 1
"""The ``schema_version`` of ``agent.toml`` this reader understands."""

AGENT_COUNTS = ("triggered", "hedged", "trades", "cost_usd", "notional_usd", "missed")
"""What :class:`HedgingAgent` reports per step: accounts triggered, accounts that traded,
trades, their cost and gross notional (USD), accounts whose target was out of reach."""


def agent_policy_path() -> Path:
    """Path of the shipped ``agent.toml``."""
    return Path(str(resources.files("pmargin.optimise") / "agent.toml"))


@dataclass(frozen=True, slots=True)
class AgentPolicy:
    """When the agent hedges and what it may trade (``agent.toml``, module docstring).

    Attributes
    ----------
    utilisation
        IM utilisation (``IM / equity``) above which an account is hedged.
    window_hours
        Length of the rolling window of the BTC/ETH correlation (hours).
    correlation_band
        Move of that correlation from its reference that is a change of regime.
    vol_band
        Move of an ATM implied vol from its reference that is a change of regime (decimal).
    cooldown_hours
        Least time between two hedges of one account (hours).
    target_utilisation
        The utilisation a hedge restores at least cost.
    held, delta_one
        Trade the instruments held; the perpetuals and futures of the underlyings held.
    lots, time_limit, budget
        Whole lots; seconds per solve; polish evaluations per start
        (:class:`~pmargin.optimise.HedgeLimits`).
    """

    utilisation: float = 0.8
    window_hours: float = 24.0
    correlation_band: float = 0.3
    vol_band: float = 0.10
    cooldown_hours: float = 4.0
    target_utilisation: float = 0.5
    held: bool = True
    delta_one: bool = True
    lots: bool = True
    time_limit: float = 5.0
    budget: int = 200

    def __post_init__(self) -> None:
        """Check that the target lies below the trigger."""
        if not 0.0 < self.target_utilisation <= self.utilisation:
            raise InputError(
                "hedge.target_utilisation",
                self.target_utilisation,
                f"must be in (0, triggers.utilisation = {self.utilisation}]",
            )

    def limits(self) -> HedgeLimits:
        """Return the hedge limits of a proposal."""
        return HedgeLimits(lots=self.lots, time_limit=self.time_limit, budget=self.budget)


def load_agent_policy(path: str | Path | None = None) -> AgentPolicy:
    """Read and validate an agent policy file (the shipped ``agent.toml`` without ``path``).

    Raises
    ------
    InputError
        The file is missing or not TOML, or a field is missing, unknown or out of range,
        naming its dotted path.
    """
    file = agent_policy_path() if path is None else Path(path)
    top = read_versioned_file(file, "agent policy", SCHEMA_VERSION, ["triggers", "hedge"])
    t = top.table("triggers")
    t.reject_unknown(
        ["utilisation", "window_hours", "correlation_band", "vol_band", "cooldown_hours"]
    )
    h = top.table("hedge")
    h.reject_unknown(["target_utilisation", "held", "delta_one", "lots", "time_limit", "budget"])
    flags = {key: h.flag(key) for key in ("held", "delta_one", "lots")}
    return AgentPolicy(
        utilisation=t.number("utilisation", low=0.0, high=10.0, low_open=True),
        window_hours=t.number("window_hours", low=0.0, high=24.0 * 365, low_open=True),
        correlation_band=t.number("correlation_band", low=0.0, high=2.0, low_open=True),
        vol_band=t.number("vol_band", low=0.0, high=5.0, low_open=True),
        cooldown_hours=t.number("cooldown_hours", low=0.0, high=24.0 * 365),
        target_utilisation=h.number("target_utilisation", low=0.0, high=10.0, low_open=True),
        held=flags["held"],
        delta_one=flags["delta_one"],
        lots=flags["lots"],
        time_limit=h.number("time_limit", low=0.0, high=600.0, low_open=True),
        budget=h.integer("budget", low=1),
    )


# ---------------------------------------------------------------------- the market's signals
def rolling_correlation(log_a: FloatArray, log_b: FloatArray) -> float:
    """Correlation of the log returns of two price series (NaN with fewer than 3 returns).

    Parameters
    ----------
    log_a, log_b
        Log prices at the same instants, shape ``(n,)``; the ``n - 1`` returns are correlated.
    """
    ra, rb = np.diff(np.asarray(log_a, dtype=np.float64)), np.diff(np.asarray(log_b))
    if ra.size < 3:
        return math.nan
    ra, rb = ra - ra.mean(), rb - rb.mean()
    scale = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / scale if scale > 0.0 else math.nan


class MarketWatch:
    """What the agent sees of the market: index and ATM vol per underlying over time.

    Parameters
    ----------
    policy
        Its window and bands.
    pair
        The two underlyings whose correlation is watched (``("BTC", "ETH")``).
    """

    def __init__(self, policy: AgentPolicy, pair: tuple[str, str] = ("BTC", "ETH")) -> None:
        self.policy, self.pair = policy, pair
        self.times: list[float] = []
        self.logs: list[tuple[float, float]] = []
        self.correlation_ref = math.nan
        self.vol_ref: dict[str, float] = {}

    def observe(self, time_s: float, index: Mapping[str, float], vol: Mapping[str, float]) -> None:
        """Record the index (USD) and ATM vols (decimal) at ``time_s`` (seconds, increasing)."""
        a, b = self.pair
        if a in index and b in index and index[a] > 0 and index[b] > 0:
            self.times.append(time_s)
            self.logs.append((math.log(index[a]), math.log(index[b])))
        self._vol = {u: float(v) for u, v in vol.items() if math.isfinite(float(v))}
        for u, v in self._vol.items():
            self.vol_ref.setdefault(u, v)

    def correlation(self) -> float:
        """Return the correlation over the last ``window_hours`` (NaN before a full window)."""
        if not self.times or self.times[-1] - self.times[0] < self.policy.window_hours * 3600:
            return math.nan
        start = self.times[-1] - self.policy.window_hours * 3600.0
        first = next(k for k, t in enumerate(self.times) if t >= start - 1e-6)
        logs = np.asarray(self.logs[first:])
        return rolling_correlation(logs[:, 0], logs[:, 1])

    def regime(self) -> tuple[str, ...]:
        """Return the changes of regime since the references (empty: none); reset those fired."""
        reasons = []
        rho = self.correlation()
        if math.isfinite(rho):
            if not math.isfinite(self.correlation_ref):
                self.correlation_ref = rho
            elif abs(rho - self.correlation_ref) > self.policy.correlation_band:
                a, b = self.pair
                reasons.append(
                    f"{a}/{b} correlation {self.correlation_ref:.2f} -> {rho:.2f} "
                    f"(band {self.policy.correlation_band})"
                )
                self.correlation_ref = rho
        for u, v in getattr(self, "_vol", {}).items():
            if abs(v - self.vol_ref[u]) > self.policy.vol_band:
                reasons.append(
                    f"{u} ATM vol {self.vol_ref[u]:.3f} -> {v:.3f} (band {self.policy.vol_band})"
                )
                self.vol_ref[u] = v
        return tuple(reasons)


def agent_triggers(
    policy: AgentPolicy, equity: float, initial_margin: float, regime: Sequence[str] = ()
) -> tuple[str, ...]:
    """Why an account needs a hedge now (empty: it does not).

    Parameters
    ----------
    policy
        The thresholds.
    equity, initial_margin
        The account's (USD); an account with no equity is never hedged (it is the
        liquidation engine's).
    regime
        The market's changes of regime now (:meth:`MarketWatch.regime`).
    """
    if not equity > 0.0:
        return ()
    utilisation = initial_margin / equity
    if utilisation > policy.utilisation:
        return (f"utilisation {utilisation:.3f} > {policy.utilisation}",)
    if regime and utilisation > policy.target_utilisation:
        return tuple(regime)
    return ()


# ---------------------------------------------------------------------- one account's hedge
def agent_candidates(
    policy: AgentPolicy, book: BookArrangement, row: int, listed: Sequence[Instrument] = ()
) -> list[Instrument]:
    """Return the instruments account ``row`` may trade (module docstring).

    The book's instruments in column order, then those of ``listed`` (a market's listed
    instruments) the book lacks, by the same rule: held, or a perpetual or future of an
    underlying held in a settlement currency held.
    """
    q = sparse.csr_array(book.quantity)
    start, end = q.indptr[row], q.indptr[row + 1]
    held = {int(j) for j, x in zip(q.indices[start:end], q.data[start:end], strict=True) if x}
    instruments = book.instruments
    underlyings = {instruments[j].underlying for j in held}
    currencies = {instruments[j].settlement_currency for j in held}
    out: list[Instrument] = []
    symbols = {i.symbol for i in instruments}
    extra = [i for i in listed if i.symbol not in symbols]
    for j, inst in enumerate((*instruments, *extra)):
        if (policy.held and j in held) or (
            policy.delta_one
            and inst.kind in (Kind.PERPETUAL, Kind.FUTURE)
            and inst.underlying in underlyings
            and inst.settlement_currency in currencies
        ):
            out.append(inst)
    return out


def propose_hedge(
    policy: AgentPolicy,
    model: MarginModel,
    book: BookArrangement,
    account: str,
    universe: HedgeUniverse,
    *,
    result: MarginResult | None = None,
    whatif: AccountWhatIf | None = None,
) -> tuple[HedgeProposal, bool]:
    """Return the cheapest hedge restoring the target and whether the target was reached.

    ``universe`` holds the candidates; where the target is out of reach within the policy's
    limits, the hedge minimising ``IM + cost`` (``False``). A proposal may hold no trade (the
    account is at or below the target, or nothing helps).
    """
    limits = policy.limits()
    target = policy.target_utilisation
    try:
        problem = HedgeProblem(model, book, account, universe, limits, target, result, whatif)
        if problem.im_before <= target * problem.equity_before:
            return problem.proposal("none", np.zeros(len(universe))), True
        return optimise_hedge(problem), True
    except InputError as error:
        if error.field != "target_util":
            raise
    problem = HedgeProblem(model, book, account, universe, limits, None, result, whatif)
    return optimise_hedge(problem), False


# ---------------------------------------------------------------------- the replay's agents
class HedgingAgent:
    """The policy run over some accounts of a crash replay (the replay's ``agents`` hook).

    Called once per path step with the monitor's state at the step's market, before the
    liquidation engine looks: it observes the index and ATM vols, decides which of its
    accounts need a hedge (not those already below maintenance: the engine's), proposes
    each one's hedge on one what-if of the book and commits its trades. Returns the book
    after the trades (``None``: no trade) and the step's counts (:data:`AGENT_COUNTS`).

    Parameters
    ----------
    policy
        Thresholds and limits.
    accounts
        Ids of the accounts that run the agent.
    rules
        Spread rule and lots (default: the shipped ``hedge.toml``).
    """

    def __init__(
        self,
        policy: AgentPolicy,
        accounts: Collection[str],
        rules: TradingRules | None = None,
    ) -> None:
        self.policy, self.accounts = policy, frozenset(accounts)
        self.rules = rules or load_trading_rules()
        self.watch = MarketWatch(policy)
        self.last: dict[str, float] = {}

    def __call__(
        self,
        model: MarginModel,
        state: FullState,
        time_s: float,
        index: Mapping[str, float],
        vol: Mapping[str, float],
    ) -> tuple[BookArrangement | None, dict[str, float]]:
        """Hedge the accounts that need it at this step (class docstring)."""
        counts = dict.fromkeys(AGENT_COUNTS, 0.0)
        self.watch.observe(time_s, index, vol)
        regime = self.watch.regime()
        book = state.book
        cooldown = self.policy.cooldown_hours * 3600.0
        due = []
        for row, account in enumerate(book.account_ids):
            if account not in self.accounts or state.equity[row] < state.maintenance_margin[row]:
                continue
            if time_s - self.last.get(account, -math.inf) < cooldown - 1e-6:
                continue
            im, equity = float(state.initial_margin[row]), float(state.equity[row])
            if agent_triggers(self.policy, equity, im, regime):
                due.append(row)
        if not due:
            return None, counts
        whatif = AccountWhatIf(model, book, state.margin)
        pool = hedge_universe(book, "*", self.rules, instruments=book.instruments)
        at = {s: i for i, s in enumerate(pool.symbols)}
        for row in due:
            account = book.account_ids[row]
            counts["triggered"] += 1
            candidates = agent_candidates(self.policy, book, row)
            if not candidates:
                continue
            universe = pool.take([at[i.symbol] for i in candidates])
            try:
                proposal, reached = propose_hedge(
                    self.policy, model, book, account, universe, result=state.margin,
                    whatif=whatif,
                )  # fmt: skip
            except InputError:  # no feasible hedge within the limits: nothing to trade
                counts["missed"] += 1.0
                continue
            counts["missed"] += 0.0 if reached else 1.0
            if not proposal.trades:
                continue
            by_symbol = dict(zip(universe.symbols, universe.instruments, strict=True))
            legs = [
                Trade(by_symbol[t.instrument], t.base_quantity, t.price) for t in proposal.trades
            ]
            whatif.commit(row, legs)
            self.last[account] = time_s
            counts["hedged"] += 1
            counts["trades"] += len(legs)
            counts["cost_usd"] += proposal.cost
            underlying_usd = pool.resolved.underlying_usd
            for t in proposal.trades:
                counts["notional_usd"] += abs(t.base_quantity) * float(
                    underlying_usd[at[t.instrument]]
                )
        if not counts["hedged"]:
            return None, counts
        return whatif.book_after_commits(), counts

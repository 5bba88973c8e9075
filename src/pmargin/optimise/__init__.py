"""The margin-minimising hedge: which trades free the most margin, at what cost.

For one account, a margin model and a universe of instruments (the market's, filtered by a
glob; bid/ask from quotes, else the spread rule of ``hedge.toml``), :func:`optimise_hedge`
finds the trades minimising IM plus trading cost, or reaching a target utilisation at least
cost, within limits (size per instrument, whole lots, a delta band, total cost). Models whose
IM is a worst loss or an expected shortfall over scenarios plus linear or absolute add-ons
have a linear core (:class:`LinearCore`) solved exactly by HiGHS (``scipy.optimize.milp``);
other models are polished with the true model. Every proposal is re-margined through
:class:`pmargin.health.AccountWhatIf`. See docs/hedge.md. The hedging agent
(:class:`AgentPolicy`, :class:`HedgingAgent`, :func:`propose_hedge`) watches accounts and
hedges them back to a target utilisation: docs/agent.md.
"""

from pmargin.optimise._agent import (
    AGENT_COUNTS,
    AgentPolicy,
    HedgingAgent,
    MarketWatch,
    agent_candidates,
    agent_policy_path,
    agent_triggers,
    load_agent_policy,
    propose_hedge,
    rolling_correlation,
)
from pmargin.optimise._core import AbsTerm, LinearCore, MaxTerm, TailSet, TailTerm, tail_mean
from pmargin.optimise._cores import CORE_TOLERANCE, linear_core, probe_book
from pmargin.optimise._hedge import (
    HedgeLimits,
    HedgeProblem,
    HedgeProposal,
    HedgeTrade,
    delta_hedge,
    optimise_hedge,
    optimise_hedge_reference,
)
from pmargin.optimise._milp import DeltaBand, LpSolution, solve_hedge
from pmargin.optimise._rules import TradingRules, load_trading_rules, trading_rules_path
from pmargin.optimise._search import brute_force, polish, steps
from pmargin.optimise._universe import HedgeUniverse, Quote, hedge_universe, load_quotes
from pmargin.optimise._venues import (
    Consolidation,
    VenueMargin,
    VenuePart,
    consolidate,
    hedge_across,
    union_portfolio,
)

__all__ = [
    "AGENT_COUNTS",
    "CORE_TOLERANCE",
    "AbsTerm",
    "AgentPolicy",
    "Consolidation",
    "DeltaBand",
    "HedgeLimits",
    "HedgeProblem",
    "HedgeProposal",
    "HedgeTrade",
    "HedgeUniverse",
    "HedgingAgent",
    "LinearCore",
    "LpSolution",
    "MarketWatch",
    "MaxTerm",
    "Quote",
    "TailSet",
    "TailTerm",
    "TradingRules",
    "VenueMargin",
    "VenuePart",
    "agent_candidates",
    "agent_policy_path",
    "agent_triggers",
    "brute_force",
    "consolidate",
    "delta_hedge",
    "hedge_across",
    "hedge_universe",
    "linear_core",
    "load_agent_policy",
    "load_quotes",
    "load_trading_rules",
    "optimise_hedge",
    "optimise_hedge_reference",
    "polish",
    "probe_book",
    "propose_hedge",
    "rolling_correlation",
    "solve_hedge",
    "steps",
    "tail_mean",
    "trading_rules_path",
    "union_portfolio",
]

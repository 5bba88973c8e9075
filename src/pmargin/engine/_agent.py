"""The hedging agent through the facade: the service's proposal and the crash replay's agents.

:func:`hedge_proposal_document` answers ``POST /v1/accounts/{id}/hedge-proposal``: the
account's utilisation against the policy's trigger and the cheapest hedge restoring its
target (:func:`pmargin.optimise.propose_hedge`). :func:`replay_agents` is what
``pmargin simulate --agents SHARE`` hands the replay: a factory of one run's
:class:`pmargin.optimise.HedgingAgent`. The maths lives in :mod:`pmargin.optimise`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pmargin.book import arrange, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.instruments import Instrument, parse_symbol
from pmargin.margin import get_model
from pmargin.market import market_from_dict
from pmargin.optimise import (
    AgentPolicy,
    HedgingAgent,
    agent_candidates,
    agent_triggers,
    hedge_universe,
    load_agent_policy,
    load_trading_rules,
    propose_hedge,
)

__all__ = ["hedge_proposal_document", "replay_agents"]


def replay_agents(policy: str | Path | None = None) -> Callable[[frozenset[str]], HedgingAgent]:
    """Return the factory of a replay's agents (one fresh :class:`HedgingAgent` per run).

    ``policy``: an agent policy file replacing the shipped ``agent.toml``.
    """
    chosen = load_agent_policy(policy)
    rules = load_trading_rules()

    def agents(accounts: frozenset[str]) -> HedgingAgent:
        return HedgingAgent(chosen, accounts, rules)

    return agents


def _listed(marks: Mapping[str, Any], explicit: Mapping[str, Instrument]) -> list[Instrument]:
    """Return the market's marked instruments pmargin reads (others left out, not refused)."""
    out = []
    for symbol in marks:
        if symbol in explicit:
            out.append(explicit[symbol])
            continue
        try:
            out.append(parse_symbol(symbol))
        except InputError:
            continue
    return out


def hedge_proposal_document(
    portfolio: Mapping[str, Any],
    market: Mapping[str, Any],
    account: str,
    *,
    model: str,
    universe: str | None = None,
    target_util: float | None = None,
    policy: str | Path | None = None,
) -> dict[str, Any]:
    """Return the agent's proposal for one account (``POST .../hedge-proposal``).

    Parameters
    ----------
    portfolio, market
        The account (portfolio-file form) and the market in force (documents).
    account
        Its id.
    model
        The margin model.
    universe
        A glob over the market's marked symbols to trade (as ``pmargin hedge --universe``);
        ``None``: the policy's candidates (the instruments held, and the listed perpetuals
        and futures of the underlyings held, in the settlement currencies held).
    target_util
        Replaces the policy's target utilisation.
    policy
        An agent policy file replacing the shipped ``agent.toml``.

    Returns
    -------
    dict
        ``{"account", "model", "utilisation", "trigger", "target_util", "triggered",
        "reasons", "target_reached", "proposal"}``: utilisation ``IM / equity`` now, the
        policy's trigger and target, why the agent would act (the service watches no
        correlation or vol history: utilisation only), and the hedge document of
        ``pmargin hedge --json`` (no trade when the account is at or below the target).

    Raises
    ------
    InputError
        A bad target, a universe matching nothing, an unknown model, a bad policy file.
    """
    chosen = load_agent_policy(policy)
    if target_util is not None:
        if not 0.0 < target_util <= 10.0:
            raise InputError("target_util", target_util, "must be in (0, 10]")
        chosen = _with_target(chosen, target_util)
    parsed = portfolio_from_dict(portfolio)
    snapshot = market_from_dict(market, parsed.instruments)
    book = arrange(parsed, snapshot)
    margin_model = get_model(model)
    result = margin_model.compute(book)
    row = book.row(account)
    rules = load_trading_rules()
    if universe is not None:
        candidates = hedge_universe(book, universe, rules, explicit=parsed.instruments)
    else:
        listed = _listed(snapshot.marks, parsed.instruments)
        chosen_instruments = agent_candidates(chosen, book, row, listed)
        if not chosen_instruments:
            raise InputError("universe", None, "the account holds nothing the agent may trade")
        candidates = hedge_universe(book, "*", rules, instruments=chosen_instruments)
    proposal, reached = propose_hedge(
        chosen, margin_model, book, account, candidates, result=result
    )
    equity, im = proposal.equity_before, proposal.im_before
    reasons = agent_triggers(chosen, equity, im)
    return {
        "account": account,
        "model": margin_model.name,
        "utilisation": im / equity if equity > 0 else None,
        "trigger": chosen.utilisation,
        "target_util": chosen.target_utilisation,
        "triggered": bool(reasons),
        "reasons": list(reasons),
        "target_reached": reached,
        "proposal": proposal.to_dict(),
    }


def _with_target(policy: AgentPolicy, target: float) -> AgentPolicy:
    """Return the policy with another target (its trigger raised to it where below)."""
    trigger = max(policy.utilisation, target)
    return replace(policy, target_utilisation=target, utilisation=trigger)

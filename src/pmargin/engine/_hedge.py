"""The margin-minimising hedge of one account: ``pmargin hedge``.

The facade arranges the book, margins it with the model, builds the universe from the
market (a glob over its marks; bid/ask from a quotes file, else the spread rule) and asks
:func:`pmargin.optimise.optimise_hedge`; the maths lives in :mod:`pmargin.optimise`.
"""

from __future__ import annotations

from pathlib import Path

from pmargin.book import Portfolio, arrange
from pmargin.margin import get_model
from pmargin.market import MarketSnapshot
from pmargin.optimise import (
    HedgeLimits,
    HedgeProblem,
    HedgeProposal,
    hedge_universe,
    load_quotes,
    load_trading_rules,
    optimise_hedge,
)

__all__ = ["hedge_report"]


def hedge_report(
    portfolio: Portfolio,
    market: MarketSnapshot,
    account: str,
    *,
    model: str = "deribit",
    params: str | Path | None = None,
    universe: str = "*",
    target_util: float | None = None,
    max_size: float | None = None,
    max_cost: float | None = None,
    delta_band: tuple[float, float] | None = None,
    lots: bool = True,
    time_limit: float = 10.0,
    quotes: str | Path | None = None,
    rules: str | Path | None = None,
) -> HedgeProposal:
    """Return the hedge of ``account`` under ``model`` over the instruments of ``universe``.

    Parameters
    ----------
    portfolio, market
        The book and the snapshot.
    account
        Account id.
    model, params
        Model name and an optional parameter file replacing its shipped one.
    universe
        Glob over the market's symbols (``"BTC-*"``).
    target_util
        Reach this IM utilisation at least cost instead of minimising ``IM + cost``.
    max_size, max_cost, delta_band, lots, time_limit
        The limits (:class:`pmargin.optimise.HedgeLimits`): native units per instrument,
        USD, ``(low, high)`` net delta per underlying (base units), whole lots, seconds.
    quotes
        Optional quotes file (``{symbol: {"bid", "ask"}}``).
    rules
        Optional trading rules file replacing the shipped ``hedge.toml``.

    Raises
    ------
    InputError
        Unknown account or model, a universe matching nothing, bad limits or files, a target
        that cannot be reached within the limits.
    """
    limits = HedgeLimits(max_size, max_cost, delta_band, lots, time_limit)
    book = arrange(portfolio, market)
    margin_model = get_model(model, params)
    candidates = hedge_universe(
        book,
        universe,
        load_trading_rules(rules),
        quotes=None if quotes is None else load_quotes(quotes),
        explicit=portfolio.instruments,
    )
    problem = HedgeProblem(margin_model, book, account, candidates, limits, target_util)
    return optimise_hedge(problem)

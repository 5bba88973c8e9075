"""Lots, accounts and the problem builder the hedge optimiser's tests share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pmargin.optimise import HedgeProblem, TradingRules

__all__ = ["COARSE", "SHORT_VOL", "ProblemOf"]

COARSE = TradingRules(option_base=0.5, linear_base=0.5, inverse_contracts=2_000.0)
"""Lots large enough that a grid of a few lots spans a real hedge (inverse BTC: 20,000 USD)."""

SHORT_VOL: dict[str, Any] = {
    "id": "alice",
    "balances": {"BTC": 2.0, "USDC": 5_000.0},
    "positions": [
        {"instrument": "BTC-26DEC25-90000-P", "quantity": -3},
        {"instrument": "BTC-28NOV25-110000-C", "quantity": -2},
        {"instrument": "BTC-PERPETUAL", "quantity": 50_000},
    ],
}
"""Short puts and calls with a long inverse perpetual, on the shipped example market."""


ProblemOf = Callable[..., HedgeProblem]
"""The ``problem_of`` fixture's type: ``(model, symbols, limits=None, *, rules, target_util,
book, account) -> HedgeProblem``."""

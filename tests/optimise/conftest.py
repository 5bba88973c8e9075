"""Books, markets and problems the hedge optimiser's tests share."""

from __future__ import annotations

import pytest
from _hedge_cases import COARSE, SHORT_VOL, ProblemOf

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.engine import example_path
from pmargin.margin import MarginModel, get_model
from pmargin.market import MarketSnapshot, load_market
from pmargin.optimise import HedgeLimits, HedgeProblem, TradingRules, hedge_universe


@pytest.fixture(scope="session")
def example_market() -> MarketSnapshot:
    """The shipped example market (2025-11-13)."""
    return load_market(example_path("example_market.json"))


@pytest.fixture(scope="session")
def short_vol_book(example_market: MarketSnapshot) -> BookArrangement:
    """:data:`SHORT_VOL` and a second account, arranged at the example market."""
    other = {"id": "bob", "balances": {"BTC": 1.0}, "positions": [
        {"instrument": "BTC-PERPETUAL", "quantity": -20_000}]}  # fmt: skip
    return arrange(portfolio_from_dict({"accounts": [SHORT_VOL, other]}), example_market)


@pytest.fixture(scope="session")
def problem_of(short_vol_book: BookArrangement) -> ProblemOf:
    """Build a problem for ``alice`` over the symbols given (a glob each, joined)."""

    def build(
        model: str | MarginModel,
        symbols: tuple[str, ...],
        limits: HedgeLimits | None = None,
        *,
        rules: TradingRules = COARSE,
        target_util: float | None = None,
        book: BookArrangement | None = None,
        account: str = "alice",
    ) -> HedgeProblem:
        used = short_vol_book if book is None else book
        everything = hedge_universe(used, "*", rules)
        rows = [everything.symbols.index(s) for s in symbols]
        universe = everything.take(rows)
        margin = get_model(model) if isinstance(model, str) else model
        return HedgeProblem(margin, used, account, universe, limits or HedgeLimits(), target_util)

    return build

"""Deribit's incremental pre-trade path equals re-margining the account from scratch."""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.book import arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.instruments import parse_symbol
from pmargin.margin import get_model
from pmargin.market import load_market
from pmargin.pretrade import Order, PreTradeChecker
from pmargin.valuation import resolve_instruments, value_instruments

NEW_SYMBOLS = (
    "BTC-PERPETUAL",
    "ETH-26DEC25-5000-C",
    "BTC-26DEC25-150000-P",
    "BTC_USDC-26DEC25-70000-P",
    "ETH_USDC-PERPETUAL",
)


@pytest.fixture(scope="module")
def checker() -> PreTradeChecker:
    market = load_market(example_path("example_market.json"))
    book = arrange(example_portfolio(market, 150, seed=11), market)
    return PreTradeChecker(get_model("deribit"), book)


def test_deribit_offers_an_incremental_path(checker: PreTradeChecker) -> None:
    assert checker.whatif.incremental is not None


def _mark(checker: PreTradeChecker, symbol: str) -> float:
    """Mark price of ``symbol`` (premium currency per unit; a future's forward)."""
    resolved = resolve_instruments([parse_symbol(symbol)], checker.book.market)
    return float(value_instruments(resolved).price[0])


def test_incremental_matches_recomputing_on_random_orders(checker: PreTradeChecker) -> None:
    rng = np.random.default_rng(5)
    held = [i.symbol for i in checker.book.instruments]
    for _ in range(200):
        account = checker.book.account_ids[int(rng.integers(len(checker.book.account_ids)))]
        pool = held if rng.random() < 0.7 else NEW_SYMBOLS
        symbol = pool[int(rng.integers(len(pool)))]
        # A fill within 5 % of the mark: inside every band of fill_price_bounds.toml.
        price = None if rng.random() < 0.5 else _mark(checker, symbol) * rng.uniform(0.95, 1.05)
        order = Order(parse_symbol(symbol), float(rng.normal(0.0, 10.0)) or 1.0, "base", price)
        fast = checker.check(account, order)
        slow = checker.check_by_recomputing(account, order)
        for name in ("initial_margin_after", "maintenance_margin_after", "equity_after"):
            assert getattr(fast, name) == pytest.approx(getattr(slow, name), rel=1e-12, abs=1e-9), (
                account,
                symbol,
                name,
            )
        assert (fast.accepted, fast.status_after) == (slow.accepted, slow.status_after)


def test_cross_mode_has_an_incremental_path_that_equals_recomputing() -> None:
    market = load_market(example_path("example_market.json"))
    book = arrange(example_portfolio(market, 40, seed=3), market)
    model = get_model("deribit-cross")
    checker = PreTradeChecker(model, book)
    assert checker.whatif.incremental is not None
    rng = np.random.default_rng(9)
    held = [i.symbol for i in book.instruments]
    for _ in range(60):
        account = book.account_ids[int(rng.integers(len(book.account_ids)))]
        pool = held if rng.random() < 0.7 else NEW_SYMBOLS
        symbol = pool[int(rng.integers(len(pool)))]
        price = None if rng.random() < 0.5 else _mark(checker, symbol) * rng.uniform(0.95, 1.05)
        order = Order(parse_symbol(symbol), float(rng.normal(0.0, 10.0)) or 1.0, "base", price)
        fast = checker.check(account, order)
        slow = checker.check_by_recomputing(account, order)
        for name in ("initial_margin_after", "maintenance_margin_after", "equity_after"):
            assert getattr(fast, name) == pytest.approx(getattr(slow, name), rel=1e-9, abs=1e-9)
        assert (fast.accepted, fast.status_after) == (slow.accepted, slow.status_after)

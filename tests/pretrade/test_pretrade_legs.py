"""Orders of several legs: one what-if of them all, fast path equal to re-margining."""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.book import arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.errors import InputError
from pmargin.instruments import parse_symbol
from pmargin.margin import get_model
from pmargin.market import load_market
from pmargin.pretrade import Order, PreTradeChecker

SYMBOLS = ("BTC-PERPETUAL", "ETH-26DEC25-5000-C", "BTC-26DEC25-150000-P", "ETH_USDC-PERPETUAL")


@pytest.fixture(scope="module")
def checker() -> PreTradeChecker:
    market = load_market(example_path("example_market.json"))
    book = arrange(example_portfolio(market, 40, seed=7), market)
    return PreTradeChecker(get_model("deribit"), book)


def test_one_leg_is_check(checker: PreTradeChecker) -> None:
    order = Order(parse_symbol("BTC-PERPETUAL"), 2.5, "base")
    account = checker.book.account_ids[0]
    assert checker.check_legs(account, [order]) == checker.check(account, order)


def test_legs_match_recomputing(checker: PreTradeChecker) -> None:
    # Tolerance as the one-order test of the incremental path: rel 1e-12 (summation order).
    rng = np.random.default_rng(21)
    held = [i.symbol for i in checker.book.instruments]
    for _ in range(40):
        account = checker.book.account_ids[int(rng.integers(len(checker.book.account_ids)))]
        pool = [*held, *SYMBOLS]
        legs = [
            Order(
                parse_symbol(pool[int(rng.integers(len(pool)))]),
                float(rng.normal(0.0, 5.0)) or 1.0,
                "base",
            )
            for _ in range(int(rng.integers(2, 5)))
        ]
        fast = checker.check_legs(account, legs)
        slow = checker.check_by_recomputing(account, legs)
        for name in ("initial_margin_after", "maintenance_margin_after", "equity_after"):
            assert getattr(fast, name) == pytest.approx(getattr(slow, name), rel=1e-12, abs=1e-9)
        assert (fast.accepted, fast.status_after) == (slow.accepted, slow.status_after)


def test_a_leg_and_its_opposite_leave_the_account_as_it_was(checker: PreTradeChecker) -> None:
    account = checker.book.account_ids[3]
    perp = parse_symbol("BTC-PERPETUAL")
    check = checker.check_legs(account, [Order(perp, 4.0, "base"), Order(perp, -4.0, "base")])
    assert check.initial_margin_after == pytest.approx(check.initial_margin_before, rel=1e-12)
    assert check.equity_after == pytest.approx(check.equity_before, rel=1e-12)


def test_no_legs_is_refused(checker: PreTradeChecker) -> None:
    with pytest.raises(InputError) as err:
        checker.check_legs(checker.book.account_ids[0], [])
    assert err.value.field == "order.legs"

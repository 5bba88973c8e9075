"""The account what-if path equals re-margining the changed account rebuilt from scratch."""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.book import arrange, example_portfolio
from pmargin.collateral import account_equity
from pmargin.engine import example_path
from pmargin.health import (
    AccountWhatIf,
    MarginSnapshot,
    Requirement,
    Trade,
    assess,
    margin_book,
)
from pmargin.instruments import parse_symbol
from pmargin.margin import get_model
from pmargin.market import load_market

MARKET = load_market(example_path("example_market.json"))
BOOK = arrange(example_portfolio(MARKET, 60, seed=13), MARKET)
NEW_SYMBOLS = (
    "BTC-PERPETUAL",
    "ETH-26DEC25-5000-C",
    "BTC-26DEC25-150000-P",
    "BTC_USDC-26DEC25-70000-P",
    "ETH_USDC-PERPETUAL",
)
# (model, number of random changes): pmargin-es takes ~12 ms per account margined.
MODELS = (
    ("deribit", 60),
    ("deribit-cross", 40),
    ("standard", 40),
    ("okx", 40),
    ("pmargin-es", 12),
)


@pytest.fixture(scope="module", params=[m for m, _ in MODELS])
def whatif(request: pytest.FixtureRequest) -> AccountWhatIf:
    return AccountWhatIf(get_model(request.param), BOOK)


def _random_change(
    whatif: AccountWhatIf, rng: np.random.Generator
) -> tuple[int, list[Trade], dict[str, float]]:
    """One account, one or two trades within 5 % of the mark, sometimes a balance delta."""
    row = int(rng.integers(len(BOOK.account_ids)))
    held = [i.symbol for i in BOOK.instruments]
    trades = []
    for _ in range(1 if rng.random() < 0.7 else 2):
        pool = held if rng.random() < 0.7 else NEW_SYMBOLS
        instrument = parse_symbol(pool[int(rng.integers(len(pool)))])
        price = None
        if rng.random() < 0.5:
            if instrument.is_futures_style:
                price = float(whatif.resolved(instrument)[0].underlying_price[0])
            else:
                price = whatif.mark(instrument)
            price *= float(rng.uniform(0.95, 1.05))
        trades.append(Trade(instrument, float(rng.normal(0.0, 5.0)) or 1.0, price))
    balances = {} if rng.random() < 0.7 else {"BTC": float(rng.normal(0.0, 1.0))}
    return row, trades, balances


def _close(fast: MarginSnapshot, slow: MarginSnapshot) -> None:
    for name in ("equity", "initial_margin", "maintenance_margin"):
        assert getattr(fast, name) == pytest.approx(getattr(slow, name), rel=1e-9, abs=1e-9), name


def test_fast_equals_reference_on_random_changes(whatif: AccountWhatIf) -> None:
    n = dict(MODELS)[whatif.model.name]
    rng = np.random.default_rng(21)
    for _ in range(n):
        row, trades, balances = _random_change(whatif, rng)
        fast = whatif.margin_after(row, trades, balances)
        slow = whatif.margin_after_reference(row, trades, balances)
        _close(fast, slow)
        assert fast.account == slow.account == f"{BOOK.account_ids[row]} after"


def test_no_change_is_the_result_row(whatif: AccountWhatIf) -> None:
    for row in (0, 7, 31):
        before = whatif.snapshot(row)
        _close(whatif.margin_after(row), before)
        _close(whatif.margin_after_reference(row), before)


def test_the_incremental_path_is_used_where_the_model_declares_one() -> None:
    for name in ("deribit", "deribit-cross", "standard", "okx", "pmargin-es", "tims"):
        assert AccountWhatIf(get_model(name), BOOK).incremental is not None
    assert get_model("derive-pmrm2").capabilities.incremental


@pytest.mark.parametrize("name", [m for m, _ in MODELS])
def test_incremental_single_orders_equal_the_full_re_margin(name: str) -> None:
    """Single orders (held, held by the book but not the account, not in the book; opening,
    adding, reducing, flipping and closing) through the incremental path equal the account
    rebuilt and re-margined (1e-9 relative)."""
    whatif = AccountWhatIf(get_model(name), BOOK)
    if whatif.incremental is None:
        pytest.skip(f"{name} has no incremental path")
    rng = np.random.default_rng(5)
    q = BOOK.quantity.toarray() if hasattr(BOOK.quantity, "toarray") else BOOK.quantity
    n_acc, n_inst = q.shape
    for k in range(120):
        row = int(rng.integers(n_acc))
        if k % 3 == 2:
            instrument = parse_symbol(NEW_SYMBOLS[int(rng.integers(len(NEW_SYMBOLS)))])
            quantity = float(rng.normal(0.0, 5.0)) or 1.0
        else:
            j = int(rng.integers(n_inst))
            instrument = BOOK.instruments[j]
            held = float(q[row, j])
            quantity = -held if (held and k % 5 == 0) else float(rng.normal(0.0, 5.0)) or 1.0
        trade = [Trade(instrument, quantity)]
        _close(whatif.margin_after(row, trade), whatif.margin_after_reference(row, trade))


def test_balance_delta_moves_equity_by_its_usd_value() -> None:
    whatif = AccountWhatIf(get_model("standard"), BOOK)
    before = whatif.snapshot(3)
    after = whatif.margin_after(3, balances={"ETH": 2.0})
    assert after.equity - before.equity == pytest.approx(2.0 * MARKET.usd_price("ETH"), rel=1e-12)


@pytest.mark.parametrize("model", ["deribit", "standard"])
def test_margin_book_is_the_model_and_equity_of_the_changed_book(model: str) -> None:
    """margin_book of a moved book: the model's result, its equity, surplus and statuses."""
    chosen = get_model(model)
    moved = BOOK.moved({"BTC": -0.1, "ETH": 0.05})
    whole = margin_book(chosen, moved)
    result = chosen.compute(moved)
    equity = account_equity(moved).equity
    np.testing.assert_array_equal(whole.equity, equity)
    np.testing.assert_array_equal(whole.result.maintenance_margin, result.maintenance_margin)
    np.testing.assert_array_equal(
        whole.surplus(Requirement.MAINTENANCE), equity - result.maintenance_margin
    )
    np.testing.assert_array_equal(
        whole.surplus(Requirement.INITIAL), equity - result.initial_margin
    )
    expected = assess(equity, result.initial_margin, result.maintenance_margin).status
    assert list(whole.health().status) == list(expected)
    snap = whole.snapshot(3)
    assert snap.account == moved.account_ids[3]
    assert snap.maintenance_margin == result.maintenance_margin[3]

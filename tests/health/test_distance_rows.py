"""Distance search per row: a book of moved rows, and the fast search against its reference.

:meth:`BookArrangement.moved_rows` puts every row at its own moves in one book; each row must
margin and value exactly as that account alone, moved (``take_accounts([r]).moved(...)``).
:func:`liquidation_distance` (one computation per round for models with
``Capabilities(row_prices=True)``) must give what :func:`liquidation_distance_reference` (one
computation per move vector) gives: the same trials on the same gaps up to rounding in their
last bits, so every move agrees to 1e-9 (stated tolerance; observed about 1e-14) and the same
entries are NaN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmargin.book import Account, BookArrangement, Portfolio, arrange, example_portfolio
from pmargin.collateral import account_equity
from pmargin.errors import InputError
from pmargin.health import liquidation_distance, liquidation_distance_reference
from pmargin.margin import get_model
from pmargin.market import MarketSnapshot, load_market

_MARKET = Path(__file__).parents[2] / "src" / "pmargin" / "data" / "example_market.json"
NAMES = ("BTC", "ETH")


@pytest.fixture(scope="module")
def market() -> MarketSnapshot:
    return load_market(_MARKET)


@pytest.fixture(scope="module")
def book(market: MarketSnapshot) -> BookArrangement:
    """Example accounts (seed 11), BTC and ETH ones paired, plus a few single-underlying ones."""
    portfolio = example_portfolio(market, 120, seed=11)
    btc = [
        a for a in portfolio.accounts if {p.instrument.underlying for p in a.positions} == {"BTC"}
    ]
    eth = [
        a for a in portfolio.accounts if {p.instrument.underlying for p in a.positions} == {"ETH"}
    ]
    accounts = [
        Account(
            id=f"pair-{n}",
            balances={
                k: a.balances.get(k, 0.0) + b.balances.get(k, 0.0)
                for k in {*a.balances, *b.balances}
            },
            positions=a.positions + b.positions,
        )
        for n, (a, b) in enumerate(zip(btc[:16], eth[:16], strict=False))
    ]
    accounts += btc[16:20] + eth[16:20]
    return arrange(Portfolio(tuple(accounts), portfolio.instruments), market)


@pytest.mark.parametrize("name", ["deribit", "deribit-cross", "standard"])
def test_moved_rows_margin_each_row_as_the_account_moved_alone(
    book: BookArrangement, name: str
) -> None:
    rng = np.random.default_rng(5)
    n = 30
    rows = rng.integers(0, book.shape[0], n)
    moves = rng.uniform(-0.6, 1.5, (n, 2))
    moves[::4, 1] = 0.0  # BTC alone
    rows[1::6], moves[1::6] = rows[0], moves[0]  # a shared move vector shares columns
    model = get_model(name)
    moved = book.moved_rows(rows, NAMES, moves)
    assert moved.row_moves is not None
    mm = model.compute(moved).maintenance_margin
    equity = account_equity(moved).equity
    for k, row in enumerate(rows.tolist()):
        alone = book.take_accounts([row]).moved(dict(zip(NAMES, moves[k].tolist(), strict=True)))
        expected_mm = model.compute(alone).maintenance_margin[0]
        expected_equity = account_equity(alone).equity[0]
        assert mm[k] == pytest.approx(expected_mm, rel=1e-12, abs=1e-9)
        assert equity[k] == pytest.approx(expected_equity, rel=1e-12, abs=1e-9)


def test_moved_rows_share_columns_per_move_vector(book: BookArrangement) -> None:
    rows = np.array([0, 1, 2, 0])
    moves = np.array([[-0.1, 0.0], [-0.1, 0.0], [0.2, 0.3], [0.2, 0.3]])
    moved = book.moved_rows(rows, NAMES, moves)
    held = [set(book.take_accounts([r]).instruments) for r in rows.tolist()]
    assert moved.shape == (4, len(held[0] | held[1]) + len(held[2] | held[3]))
    assert moved.account_ids == tuple(book.account_ids[r] for r in rows.tolist())
    price = moved.usd_price("BTC")
    assert isinstance(price, np.ndarray)
    np.testing.assert_allclose(price, book.market.usd_price("BTC") * np.array([0.9, 0.9, 1.2, 1.2]))
    assert moved.usd_price("USDC") == book.market.usd_price("USDC")


@pytest.mark.parametrize("bad", [np.array([[-1.0, 0.0]]), np.array([[np.nan, 0.0]])])
def test_moved_rows_rejects_bad_moves(book: BookArrangement, bad: np.ndarray) -> None:
    with pytest.raises(InputError, match="moves"):
        book.moved_rows([0], NAMES, bad)


@pytest.mark.parametrize("name", ["deribit", "standard"])
@pytest.mark.parametrize("vol_beta", [0.0, 0.3])
def test_fast_search_equals_reference(
    book: BookArrangement, market: MarketSnapshot, name: str, vol_beta: float
) -> None:
    model = get_model(name)
    assert model.capabilities.row_prices
    fast = liquidation_distance(book, market, model, vol_beta=vol_beta)
    slow = liquidation_distance_reference(book, market, model, vol_beta=vol_beta)
    assert fast.evaluations < slow.evaluations
    for field in ("move_down", "move_up", "price_down", "joint_scale", "joint_index"):
        a, b = getattr(fast, field), getattr(slow, field)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=field)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=field)
    np.testing.assert_array_equal(fast.below_maintenance, slow.below_maintenance)


def test_model_without_row_prices_runs_the_reference(
    book: BookArrangement, market: MarketSnapshot
) -> None:
    model = get_model("okx")
    assert not model.capabilities.row_prices
    few = book.take_accounts(range(6))
    fast = liquidation_distance(few, market, model)
    slow = liquidation_distance_reference(few, market, model)
    assert fast.evaluations == slow.evaluations
    np.testing.assert_array_equal(fast.move_down, slow.move_down)

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

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pmargin.book import Account, BookArrangement, Portfolio, arrange, example_portfolio
from pmargin.collateral import account_equity
from pmargin.errors import InputError
from pmargin.health import liquidation_distance, liquidation_distance_reference
from pmargin.margin import get_model
from pmargin.market import MAX_VOL, MarketSnapshot, load_market
from pmargin.valuation import resolve_instruments

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


def _held(book: BookArrangement, rows: list[int], underlying: str) -> set[str]:
    return {i.symbol for i in book.take_accounts(rows).instruments if i.underlying == underlying}


def test_moved_rows_share_columns_per_price(book: BookArrangement) -> None:
    """A column is one instrument at one set of multipliers of the names it depends on."""
    rows = np.array([0, 1, 2, 0, 3])
    moves = np.array([[-0.1, 0.0], [-0.1, 0.0], [0.2, 0.3], [0.2, 0.3], [0.0, 0.3]])
    moved = book.moved_rows(rows, NAMES, moves)
    btc_at = {0.9: [0, 1], 1.2: [2, 0], 1.0: [3]}
    eth_at = {1.0: [0, 1], 1.3: [2, 0, 3]}  # row 3's ETH shares the column of rows 2 and 0
    expected = sum(len(_held(book, r, "BTC")) for r in btc_at.values())
    expected += sum(len(_held(book, r, "ETH")) for r in eth_at.values())
    assert moved.shape == (5, expected)
    assert moved.account_ids == tuple(book.account_ids[r] for r in rows.tolist())
    assert moved.row_moves is not None
    underlying = [i.underlying for i in moved.instruments]
    for j, name in enumerate(underlying):  # a column's multipliers: its own names only
        other = "ETH" if name == "BTC" else "BTC"
        assert moved.row_moves.columns[j, NAMES.index(other)] == 1.0
    q = moved.quantity.toarray()
    btc = np.array([u == "BTC" for u in underlying])
    for k, (m_btc, m_eth) in enumerate(1.0 + moves):
        held = q[k] != 0.0
        np.testing.assert_array_equal(moved.row_moves.columns[held & btc, 0], m_btc)
        np.testing.assert_array_equal(moved.row_moves.columns[held & ~btc, 1], m_eth)
    price = moved.usd_price("BTC")
    assert isinstance(price, np.ndarray)
    np.testing.assert_allclose(
        price, book.market.usd_price("BTC") * np.array([0.9, 0.9, 1.2, 1.2, 1.0])
    )
    assert moved.usd_price("USDC") == book.market.usd_price("USDC")


def test_taking_rows_or_columns_keeps_their_moves(book: BookArrangement) -> None:
    rng = np.random.default_rng(8)
    rows = rng.integers(0, book.shape[0], 12)
    moves = rng.uniform(-0.5, 0.8, (12, 2))
    moved = book.moved_rows(rows, NAMES, moves)
    model = get_model("deribit")
    mm = model.compute(moved).maintenance_margin
    equity = account_equity(moved).equity
    some = np.array([3, 0, 7, 7])
    for taken in (moved.take_accounts(some), moved.take_accounts_reference(some)):
        assert taken.row_moves is not None
        np.testing.assert_allclose(model.compute(taken).maintenance_margin, mm[some], rtol=1e-12)
        np.testing.assert_allclose(account_equity(taken).equity, equity[some], rtol=1e-12)
    every = np.arange(moved.shape[1])
    same = moved.take_columns(every, moved.assets)
    np.testing.assert_allclose(model.compute(same).maintenance_margin, mm, rtol=1e-12)
    np.testing.assert_allclose(account_equity(same).equity, equity, rtol=1e-12)


@pytest.mark.parametrize(
    "operation",
    [
        lambda b: b.with_account(0, balances={"BTC": 1.0}),
        lambda b: b.rebased(b.market),
        lambda b: b.moved({"BTC": -0.1}),
        lambda b: b.moved_rows([0], NAMES, np.array([[0.1, 0.0]])),
    ],
    ids=["with_account", "rebased", "moved", "moved_rows"],
)
def test_other_operations_refuse_a_book_of_moved_rows(
    book: BookArrangement, operation: Callable[[BookArrangement], object]
) -> None:
    moved = book.moved_rows([0, 1], NAMES, np.array([[-0.2, 0.0], [0.1, 0.1]]))
    with pytest.raises(InputError, match="row_moves"):
        operation(moved)


def test_moved_vols_are_capped_alike(book: BookArrangement) -> None:
    """A deep fall with a large vol_beta: every path gives MAX_VOL (the reference used to raise)."""
    moved = book.moved({"BTC": -0.99}, vol_beta=1.5)
    btc_options = np.array([i.is_option and i.underlying == "BTC" for i in moved.instruments])
    assert btc_options.any()
    np.testing.assert_array_equal(moved.resolved.vol[btc_options], MAX_VOL)
    afresh = resolve_instruments(moved.instruments, moved.market)
    np.testing.assert_array_equal(afresh.vol[btc_options], MAX_VOL)
    rows = book.moved_rows(
        range(book.shape[0]), NAMES, np.tile([-0.99, 0.0], (book.shape[0], 1)), 1.5
    )
    options = np.array([i.is_option and i.underlying == "BTC" for i in rows.instruments])
    np.testing.assert_array_equal(rows.resolved.vol[options], MAX_VOL)


@pytest.mark.parametrize("bad", [np.array([[-1.0, 0.0]]), np.array([[np.nan, 0.0]])])
def test_moved_rows_rejects_bad_moves(book: BookArrangement, bad: np.ndarray) -> None:
    with pytest.raises(InputError, match="moves"):
        book.moved_rows([0], NAMES, bad)


@pytest.mark.parametrize("name", ["deribit", "standard"])
@pytest.mark.parametrize("vol_beta", [0.0, 0.3, 1.5])
def test_fast_search_equals_reference(
    book: BookArrangement, market: MarketSnapshot, name: str, vol_beta: float
) -> None:
    model = get_model(name)
    assert model.capabilities.row_prices
    fast = liquidation_distance(model, book, vol_beta=vol_beta)
    slow = liquidation_distance_reference(model, book, vol_beta=vol_beta)
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
    fast = liquidation_distance(model, few)
    slow = liquidation_distance_reference(model, few)
    assert fast.evaluations == slow.evaluations
    np.testing.assert_array_equal(fast.move_down, slow.move_down)

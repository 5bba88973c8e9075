"""The arranged book carries its market: set by every operation, moved by ``moved``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import sparse

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.book._arranged import take_rows
from pmargin.collateral import account_equity, positions_usd
from pmargin.errors import InputError
from pmargin.market import load_market

DATA = Path(__file__).resolve().parents[2] / "src" / "pmargin" / "data"
MARKET = load_market(DATA / "example_market.json")

_AVG = {  # entry prices, so that arranging afresh accrues the move's P&L like ``moved`` does
    "BTC-PERPETUAL": 99_000.0,
    "ETH-27MAR26": 3_300.0,
    "BTC_USDC-PERPETUAL": 104_000.0,
}


def _portfolio() -> Any:
    data = json.loads((DATA / "example_portfolio.json").read_text())
    for account in data["accounts"]:
        for position in account["positions"]:
            if position["instrument"] in _AVG:
                position["avg_price"] = _AVG[position["instrument"]]
    data["accounts"][0]["balances"]["USDT"] = 1_000.0  # a stablecoin balance too
    return portfolio_from_dict(data)


def _book() -> BookArrangement:
    return arrange(_portfolio(), MARKET)


def test_every_operation_sets_the_market() -> None:
    book = _book()
    assert book.market is MARKET
    assert book.take_accounts([2, 0]).market is MARKET
    assert book.take_accounts_reference([1]).market is MARKET
    assert book.take_columns([0, 2], ("BTC",)).market is MARKET
    assert book.with_account(0, balances={"BTC": 1.0}).market is MARKET
    assert book.with_account(1, positions={0: 1.0}).market is MARKET
    later = MARKET.replace(index={**MARKET.index, "BTC": 90_000.0})
    assert book.rebased(later).market is later
    moved = book.moved({"BTC": -0.1})
    assert moved.market is not MARKET
    assert moved.market.index["BTC"] == MARKET.index["BTC"] * 0.9
    assert book.moved({"BTC": 0.0, "ETH": 0.0}) is book  # no move: the same book
    one = BookArrangement.one_account(
        "x", book.resolved.take([0]), [1.0], [0.0], ("BTC",), [2.0], MARKET
    )
    assert one.market is MARKET


def test_a_book_without_a_market_is_an_error_naming_market() -> None:
    book = _book()
    with pytest.raises(InputError, match=r"^market: 'NoneType' must be the MarketSnapshot"):
        BookArrangement(
            account_ids=book.account_ids,
            resolved=book.resolved,
            quantity=book.quantity,
            market=None,  # type: ignore[arg-type]
        )
    with pytest.raises(TypeError, match="market"):
        BookArrangement(  # type: ignore[call-arg]
            account_ids=book.account_ids, resolved=book.resolved, quantity=book.quantity
        )


def test_take_rows_equals_scipy_slicing() -> None:
    """The row/column gather equals ``matrix[rows][:, cols]`` (explicit zeros kept)."""
    rng = np.random.default_rng(11)
    dense = rng.normal(size=(40, 30)) * (rng.random((40, 30)) < 0.2)
    matrix = sparse.csr_array(dense)
    matrix.data[::7] = 0.0  # explicit zeros stay stored
    for rows in (np.array([3]), np.array([0, 5, 5, 39]), np.arange(40)[::-3], np.zeros(0)):
        index = rows.astype(np.int64)
        expected = matrix[index]
        cols, taken = take_rows(matrix, index, None)
        assert np.array_equal(cols, np.unique(expected.indices))
        expected = sparse.csr_array(expected[:, cols])
        assert np.array_equal(taken.toarray(), expected.toarray())
        assert taken.nnz == expected.nnz
        fewer = cols[::2]
        _, taken = take_rows(matrix, index, fewer)
        assert np.array_equal(taken.toarray(), matrix[index][:, fewer].toarray())


def test_take_accounts_equals_its_reference() -> None:
    book = _book()
    for rows in ([0], [3, 1], [2, 2, 0], [0, 1, 2, 3], []):
        fast, slow = book.take_accounts(rows), book.take_accounts_reference(rows)
        assert fast.account_ids == slow.account_ids
        assert fast.instruments == slow.instruments
        for name in ("quantity", "unrealised"):
            a, b = getattr(fast, name), getattr(slow, name)
            assert a.shape == b.shape
            assert a.nnz == b.nnz
            np.testing.assert_array_equal(a.toarray(), b.toarray())
        np.testing.assert_array_equal(fast.balance_matrix, slow.balance_matrix)


def test_take_columns() -> None:
    book = _book()
    columns = [j for j, i in enumerate(book.instruments) if i.underlying == "ETH"]
    taken = book.take_columns(columns, ("ETH",))
    assert taken.account_ids == book.account_ids
    assert all(i.underlying == "ETH" for i in taken.instruments)
    np.testing.assert_array_equal(taken.quantity.toarray(), book.quantity.toarray()[:, columns])
    np.testing.assert_array_equal(taken.unrealised.toarray(), book.unrealised.toarray()[:, columns])
    eth = book.assets.index("ETH")
    np.testing.assert_array_equal(taken.balance_matrix[:, 0], book.balance_matrix[:, eth])
    with pytest.raises(InputError, match=r"^asset: 'SOL' is not in the book's assets"):
        book.take_columns(columns, ("SOL",))


_RESOLVED = ("underlying_price", "vol", "quote_usd", "settlement_usd", "time", "rate", "strike")


@pytest.mark.parametrize(
    ("moves", "vol_beta"),
    [
        ({"BTC": -0.2, "ETH": 0.15}, 0.0),
        ({"BTC": 0.35}, 0.0),
        ({"BTC": -0.5, "ETH": -0.3, "SPX": 0.1}, 0.7),
        ({"ETH": 2.0}, 0.25),
    ],
)
def test_moved_equals_arranging_afresh_at_the_moved_market(
    moves: dict[str, float], vol_beta: float
) -> None:
    """``moved(m)`` == ``arrange(portfolio, moved market)`` to 1e-12 relative.

    The moved book scales resolved arrays where arranging afresh looks every price up again
    and inverts option price marks: equal up to rounding (measured: about 1e-15 relative).
    """
    portfolio = _portfolio()
    book = arrange(portfolio, MARKET)
    moved = book.moved(moves, vol_beta)
    fresh = arrange(portfolio, moved.market)
    assert moved.account_ids == fresh.account_ids
    assert moved.instruments == fresh.instruments
    assert moved.resolved.vol_source == fresh.resolved.vol_source
    for name in _RESOLVED:
        np.testing.assert_allclose(
            getattr(moved.resolved, name), getattr(fresh.resolved, name), rtol=1e-12, atol=0.0
        )
    for name in ("quantity", "unrealised"):
        np.testing.assert_allclose(
            getattr(moved, name).toarray(), getattr(fresh, name).toarray(), rtol=1e-12, atol=1e-9
        )
    np.testing.assert_array_equal(moved.balance_matrix, fresh.balance_matrix)
    for name in ("price", "delta", "gamma", "vega"):
        np.testing.assert_allclose(
            getattr(moved.valuation, name), getattr(fresh.valuation, name), rtol=1e-12, atol=1e-9
        )
    np.testing.assert_allclose(
        account_equity(moved).equity,
        account_equity(fresh).equity,
        rtol=1e-12,
    )
    # every USD price of a moved underlying moved by 1 + m, the others did not
    for code, price in MARKET.index.items():
        assert moved.market.index[code] == pytest.approx(price * (1.0 + moves.get(code, 0.0)))


def test_moved_keeps_inverse_usd_notional_and_accrues_futures_pnl() -> None:
    book = _book()
    j = book.column("BTC-PERPETUAL")
    assert j is not None
    row = book.row("btc-short-strangle")
    moved = book.moved({"BTC": -0.25})
    f0 = book.resolved.underlying_price[j]
    f = moved.resolved.underlying_price[j]
    assert f == pytest.approx(0.75 * f0, rel=1e-15)
    q0, q = book.quantity.toarray()[row, j], moved.quantity.toarray()[row, j]
    assert q * f == pytest.approx(q0 * f0, rel=1e-14)  # USD notional kept
    u0, u = book.unrealised.toarray()[row, j], moved.unrealised.toarray()[row, j]
    assert u - u0 == pytest.approx(q0 * (1.0 - f0 / f), rel=1e-12)  # inverse P&L, coin


def test_bad_moves_are_input_errors() -> None:
    book = _book()
    with pytest.raises(InputError, match=r"^moves\.BTC: -1\.0 must be a finite relative move"):
        book.moved({"BTC": -1.0})
    with pytest.raises(InputError, match=r"^moves\.ETH"):
        book.moved({"ETH": float("nan")})


def test_notional_and_position_values_per_entry() -> None:
    """Notional: Instrument.usd_notional per stored entry; values: the equity's positions part."""
    book = _book().moved({"BTC": -0.05})
    q = sparse.coo_array(book.quantity)
    resolved = book.resolved
    expected = np.zeros(book.shape[0])
    for r, c, x in zip(q.row.tolist(), q.col.tolist(), q.data.tolist(), strict=True):
        inst = resolved.instruments[c]
        price, quote = float(resolved.underlying_price[c]), float(resolved.quote_usd[c])
        expected[r] += inst.usd_notional(x, price, quote)
    np.testing.assert_allclose(book.notional_usd(), expected, rtol=1e-12)
    np.testing.assert_allclose(
        book.position_notional_usd().sum(axis=1), expected, rtol=1e-12, atol=0.0
    )
    values = book.position_values_usd()
    assert values.shape == book.shape
    np.testing.assert_allclose(values.sum(axis=1), positions_usd(book), rtol=1e-12, atol=1e-9)

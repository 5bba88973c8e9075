"""Flat portfolios: CSV with and without ``account``, balance rows, DataFrames in and out.

Both CSV readers (row by row, ``load_portfolio``; column-wise, ``read_portfolio_table``, the
fast path whose twin is the row reader) must read the same accounts, positions and balances;
a hypothesis test compares them on random flat files. ``Portfolio.from_frame`` and
``Portfolio.to_frame`` invert each other; ``MarginResult.to_frame`` carries the result's
numbers unchanged.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmargin.book import (
    Portfolio,
    arrange,
    arrange_table,
    load_portfolio,
    portfolio_rows,
    read_portfolio_table,
)
from pmargin.engine import EXAMPLE_MARKET, example_inputs, example_path, margin_report
from pmargin.errors import InputError
from pmargin.market import load_market

MARKET = load_market(example_path(EXAMPLE_MARKET))


def _both(path: Path) -> tuple[Portfolio, Portfolio]:
    return load_portfolio(path), read_portfolio_table(path).to_portfolio()


def _summary(portfolio: Portfolio) -> list[tuple[str, dict[str, float], list[tuple]]]:
    return [
        (
            a.id,
            dict(a.balances),
            [(p.instrument.symbol, p.quantity, p.unit, p.avg_price) for p in a.positions],
        )
        for a in portfolio.accounts
    ]


def test_csv_without_account_column_is_one_account(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text(
        "instrument,quantity,unit,avg_price\n"
        "BTC-PERPETUAL,-50000,,99000\n"
        "BTC-26DEC25-110000-C,-1.5,,0.03\n"
        "BTC,2.5,balance,\n"
        "usdc,-1000,Balance,\n"
    )
    for portfolio in _both(path):
        assert _summary(portfolio) == [
            (
                "main",
                {"BTC": 2.5, "USDC": -1000.0},
                [
                    ("BTC-PERPETUAL", -50000.0, "native", 99000.0),
                    ("BTC-26DEC25-110000-C", -1.5, "native", 0.03),
                ],
            )
        ]
    book = arrange_table(path, MARKET)
    assert book.assets == ("BTC", "USDC")
    assert book.balances.tolist() == [[2.5, -1000.0]]


def test_csv_with_accounts_and_balance_rows(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text(
        "account,instrument,quantity,unit\n"
        "carol,USDC,100,balance\n"  # carol holds balances only: after the others
        "alice,BTC-PERPETUAL,10,\n"
        "bob,ETH-PERPETUAL,-3,\n"
        "alice,BTC,1,balance\n"
        "alice,BTC-PERPETUAL,5,\n"
    )
    row, columns = _both(path)
    assert _summary(row) == _summary(columns)
    assert [a.id for a in row.accounts] == ["alice", "bob", "carol"]
    assert dict(row.accounts[2].balances) == {"USDC": 100.0}
    fast, slow = arrange_table(path, MARKET), arrange(row, MARKET)
    assert fast.account_ids == slow.account_ids
    assert np.array_equal(fast.balances, slow.balances)
    assert (fast.quantity != slow.quantity).nnz == 0


def test_csv_of_balances_only(tmp_path: Path) -> None:
    path = tmp_path / "cash.csv"
    path.write_text("account,instrument,quantity,unit\nd,BTC,1,balance\n")
    for portfolio in _both(path):
        assert _summary(portfolio) == [("d", {"BTC": 1.0}, [])]


@pytest.mark.parametrize(
    ("text", "row_message", "column_message"),
    [
        (
            "instrument,quantity,unit,avg_price\nBTC,1,balance,5\n",
            "line 2 column avg_price: '5' must be empty on a balance row",
            "line 2 column avg_price: '5' must be empty on a balance row",
        ),
        (
            "instrument,quantity,unit\nBTC-PERPETUAL,1,\nBTC,1,balance\nbtc,2,balance\n",
            "line 4 column instrument: 'btc' repeats the balance of line 3",
            "line 4 column instrument: 'btc' repeats an asset of this account",
        ),
        (
            "instrument,quantity,unit\nBTC-PERPETUAL,1,\nBTC,1e20,balance\n",
            "line 3 column quantity",
            "line 3 column quantity",
        ),
        (
            "instrument,quantity,unit\nBTC-PERPETUAL,1,\nBTC,x,balance\n",
            "line 3 column quantity",
            "line 3 column quantity",
        ),
        (
            "instrument,quantity,unit\nBTC-PERPETUAL,1,coins\n",
            "'coins' is not one of base",
            "line 2 column unit: 'coins' is not one of balance|base",
        ),
    ],
)
def test_bad_balance_rows_name_their_line(
    tmp_path: Path, text: str, row_message: str, column_message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=row_message.replace("(", r"\(")):
        load_portfolio(path)
    with pytest.raises(InputError, match=column_message):
        read_portfolio_table(path)


def test_balance_rows_and_a_balances_table_are_not_both_given(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text("instrument,quantity,unit\nBTC-PERPETUAL,1,\nBTC,1,balance\n")
    cash = tmp_path / "cash.csv"
    cash.write_text("account,asset,amount\nmain,BTC,1\n")
    with pytest.raises(InputError, match=r"line 3 column unit.*give balances one way"):
        read_portfolio_table(path, cash)


SYMBOLS = ["BTC-PERPETUAL", "ETH-PERPETUAL", "BTC-26DEC25-110000-C", "BTC_USDC-PERPETUAL"]
ASSETS = ["BTC", "ETH", "USDC", "USDT"]


@st.composite
def _flat_rows(draw: st.DrawFn) -> list[tuple[str, str, float, str]]:
    accounts = draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4, unique=True))
    rows = []
    for account in accounts:
        positions = draw(st.lists(st.sampled_from(SYMBOLS), max_size=4))
        assets = draw(st.lists(st.sampled_from(ASSETS), max_size=3, unique=True))
        for symbol in positions:
            rows.append((account, symbol, draw(st.integers(-50, 50)) / 4, ""))
        for asset in assets:
            rows.append((account, asset, draw(st.integers(-400, 400)) / 8, "balance"))
    if not rows:
        rows.append((accounts[0], SYMBOLS[0], 1.0, ""))
    order = draw(st.permutations(range(len(rows))))
    return [rows[k] for k in order]


@settings(max_examples=60, deadline=None)
@given(_flat_rows())
def test_row_and_column_readers_agree_on_flat_files(
    rows: list[tuple[str, str, float, str]],
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "flat.csv"
        lines = ["account,instrument,quantity,unit", *(",".join(map(str, r)) for r in rows)]
        path.write_text("\n".join(lines) + "\n")
        row, columns = _both(path)
    assert _summary(row) == _summary(columns)


def _portfolio() -> Portfolio:
    _, book = example_inputs(6, 11)
    return book


def test_frame_round_trip() -> None:
    portfolio = _portfolio()
    frame = portfolio.to_frame()
    assert list(frame.columns) == ["account", "instrument", "quantity", "unit", "avg_price"]
    assert int((frame["unit"] == "balance").sum()) == sum(
        len(a.balances) for a in portfolio.accounts
    )
    back = Portfolio.from_frame(frame)
    assert _summary(back) == _summary(portfolio)


def test_frame_without_account_and_with_numpy_nan() -> None:
    frame = pd.DataFrame(
        {
            "instrument": ["BTC-PERPETUAL", "BTC", "ETH-PERPETUAL"],
            "quantity": [10.0, 2.0, -4.0],
            "unit": [None, "balance", "quote"],
            "avg_price": [100000.0, math.nan, math.nan],
        }
    )
    portfolio = Portfolio.from_frame(frame)
    assert _summary(portfolio) == [
        (
            "main",
            {"BTC": 2.0},
            [("BTC-PERPETUAL", 10.0, "native", 100000.0), ("ETH-PERPETUAL", -4.0, "quote", None)],
        )
    ]


def test_frame_refuses_what_flat_rows_cannot_hold() -> None:
    from pmargin.book import portfolio_from_dict

    spx = {
        "symbol": "SPX-X",
        "kind": "option",
        "underlying": "SPX",
        "expiry": "2025-12-19",
        "strike": 6000,
        "right": "call",
        "contract_size": 100,
    }
    explicit = portfolio_from_dict(
        {
            "accounts": [{"id": "a", "positions": [{"instrument": "SPX-X", "quantity": 1}]}],
            "instruments": [spx],
        }
    )
    with pytest.raises(InputError, match="explicit instrument spec"):
        explicit.to_frame()
    with pytest.raises(InputError, match="explicit instrument spec"):
        portfolio_rows(explicit, field="--out")
    text = pd.DataFrame({"instrument": ["BTC-PERPETUAL", "BTC"], "quantity": ["1", "x"]})
    with pytest.raises(InputError, match=r"positions table row 2 column quantity"):
        Portfolio.from_frame(text)
    mixed = pd.DataFrame({"instrument": ["BTC-PERPETUAL", "BTC"], "quantity": [1, "x"]})
    with pytest.raises(InputError, match=r"column quantit.*cannot be read as columns"):
        Portfolio.from_frame(mixed)


def test_margin_result_to_frame() -> None:
    market, portfolio = example_inputs(5, 3)
    result = margin_report(portfolio, market, "deribit").result
    accounts = result.to_frame()
    assert list(accounts["account"]) == list(result.account_ids)
    assert np.array_equal(accounts["initial_margin"].to_numpy(), result.initial_margin)
    assert np.array_equal(accounts["maintenance_margin"].to_numpy(), result.maintenance_margin)
    assert set(accounts["model"]) == {"deribit"}
    positions = result.to_frame(positions=True)
    assert len(positions) == result.im_contribution.nnz
    for row, account in enumerate(result.account_ids):
        mine = positions[positions["account"] == account]
        assert dict(zip(mine["instrument"], mine["im_contribution"], strict=True)) == (
            result.contributions(row)
        )
    total = positions.groupby("account", sort=False)["im_contribution"].sum()
    assert np.allclose(total.to_numpy() + result.im_other, result.initial_margin, rtol=1e-9)

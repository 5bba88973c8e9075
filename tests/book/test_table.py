"""Books as columns: arrange_table equals arrange of the same positions, bit for bit.

Tolerance: none. The table path runs the same float operations per position as
``Instrument.base_units`` and ``unrealised_pnl`` and the same scipy per-row sort and sum, so
quantity, unrealised P&L and balances are compared with ``array_equal``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmargin.book import (
    BookArrangement,
    arrange_table,
    arrange_table_reference,
    load_portfolio,
    portfolio_table,
    read_portfolio_table,
)
from pmargin.engine import example_path
from pmargin.errors import InputError
from pmargin.market import MarketSnapshot, load_market

SYMBOLS = (
    "BTC-PERPETUAL",  # inverse, native unit USD, contract 10 USD
    "BTC-26DEC25-115000-C",  # inverse option, native unit coin
    "BTC_USDC-PERPETUAL",  # linear perpetual
    "ETH-PERPETUAL",
    "BTC-26DEC25",  # inverse future
    "BTC_USDC-30JAN26-100000-P",  # linear option
)
UNITS = ("", "native", "base", "BASE", "quote", "contracts")


MARKET = load_market(example_path("example_market.json"))


@pytest.fixture(scope="module")
def market() -> MarketSnapshot:
    return MARKET


def _assert_same_book(fast: BookArrangement, slow: BookArrangement) -> None:
    assert fast.account_ids == slow.account_ids
    assert [i.symbol for i in fast.instruments] == [i.symbol for i in slow.instruments]
    for name in ("quantity", "unrealised"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.shape == b.shape
        assert np.array_equal(a.indptr, b.indptr), name
        assert np.array_equal(a.indices, b.indices), name
        assert np.array_equal(a.data, b.data), name
    assert fast.assets == slow.assets
    assert np.array_equal(fast.balance_matrix, slow.balance_matrix)
    assert fast.market is slow.market


def _random_columns(seed: int, n: int, n_accounts: int) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    account = rng.integers(n_accounts, size=n)
    if rng.random() < 0.5:
        account = np.sort(account)  # grouped by account, as most files are
    symbol = np.asarray(SYMBOLS, dtype=object)[rng.integers(len(SYMBOLS), size=n)]
    quantity = np.round(rng.normal(0.0, 3.0, n), 3)
    quantity[rng.random(n) < 0.05] = 0.0
    avg = np.where(rng.random(n) < 0.6, np.round(rng.uniform(2_000, 120_000, n), 1), np.nan)
    unit = np.asarray(UNITS, dtype=object)[rng.integers(len(UNITS), size=n)]
    positions = {
        "account": np.asarray([f"a{k}" for k in account], dtype=object),
        "instrument": symbol,
        "quantity": quantity,
        "unit": unit,
        "avg_price": avg,
    }
    m = max(1, n_accounts // 2)
    held = rng.choice(n_accounts + 3, size=m, replace=False)  # some accounts hold only cash
    assets = np.asarray(["BTC", "eth", "USDC"], dtype=object)[rng.integers(3, size=m)]
    balances = {
        "account": np.asarray([f"a{k}" for k in held], dtype=object),
        "asset": assets,
        "amount": np.round(rng.uniform(-5.0, 50.0, m), 4),
    }
    return positions, balances


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n=st.integers(min_value=1, max_value=120),
    n_accounts=st.integers(min_value=1, max_value=15),
)
def test_arrange_table_equals_arrange_of_the_same_positions(
    seed: int, n: int, n_accounts: int
) -> None:
    positions, balances = _random_columns(seed, n, n_accounts)
    table = portfolio_table(positions, balances)
    _assert_same_book(arrange_table(table, MARKET), arrange_table_reference(table, MARKET))


def test_orders_follow_arrange(market: MarketSnapshot) -> None:
    positions = {
        "account": ["b", "a", "b", "c", "a"],
        "instrument": [
            "BTC-PERPETUAL",
            "ETH-PERPETUAL",
            "BTC-26DEC25",
            "BTC-PERPETUAL",
            "ETH-PERPETUAL",
        ],
        "quantity": [100.0, 2.0, -3.0, 5.0, 1.0],
    }
    book = arrange_table(
        positions,
        market,
        balances={"account": ["z", "a"], "asset": ["usdc", "BTC"], "amount": [1.0, 2.0]},
    )
    # Accounts: first appearance in positions, then balance-only accounts.
    assert book.account_ids == ("b", "a", "c", "z")
    # Instruments: first appearance account by account (b's rows, then a's, then c's).
    assert [i.symbol for i in book.instruments] == ["BTC-PERPETUAL", "BTC-26DEC25", "ETH-PERPETUAL"]
    # a holds ETH-PERPETUAL twice: one stored entry, summed.
    assert book.quantity.nnz == 4
    assert book.assets == ("BTC", "USDC")


def test_a_large_grouped_table_equals_the_reference(market: MarketSnapshot) -> None:
    positions, balances = _random_columns(7, 20_000, 1_000)
    table = portfolio_table(positions, balances)
    _assert_same_book(arrange_table(table, market), arrange_table_reference(table, market))


# ------------------------------------------------------------------ every input form


def _write_csv(path: Path, columns: dict[str, Any]) -> None:
    names = list(columns)
    lines = [",".join(names)]
    for row in zip(*(columns[n] for n in names), strict=True):
        cells = ["" if isinstance(v, float) and np.isnan(v) else str(v) for v in row]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")


def test_every_input_form_gives_the_same_book(market: MarketSnapshot, tmp_path: Path) -> None:
    positions, balances = _random_columns(3, 200, 20)
    expected = arrange_table(positions, market, balances=balances)
    arrow = pa.table({k: pa.array(v, from_pandas=True) for k, v in positions.items()})
    arrow_balances = pa.table(balances)
    frame = pd.DataFrame(positions)
    forms: list[BookArrangement] = [
        arrange_table(arrow, market, balances=arrow_balances),
        arrange_table(frame, market, balances=pd.DataFrame(balances)),
        arrange_table({k: list(v) for k, v in positions.items()}, market, balances=balances),
    ]
    pq.write_table(arrow, tmp_path / "p.parquet")
    pq.write_table(arrow_balances, tmp_path / "b.parquet")
    forms.append(arrange_table(tmp_path / "p.parquet", market, balances=tmp_path / "b.parquet"))
    feather.write_feather(arrow, tmp_path / "p.arrow")
    feather.write_feather(arrow_balances, tmp_path / "b.feather")
    forms.append(arrange_table(tmp_path / "p.arrow", market, balances=tmp_path / "b.feather"))
    _write_csv(tmp_path / "p.csv", positions)
    _write_csv(tmp_path / "b.csv", balances)
    forms.append(arrange_table(tmp_path / "p.csv", market, balances=tmp_path / "b.csv"))
    for book in forms:
        _assert_same_book(book, expected)


def test_integer_account_ids_are_text(market: MarketSnapshot) -> None:
    book = arrange_table(
        {
            "account": np.array([7, 3, 7]),
            "instrument": ["BTC-PERPETUAL"] * 3,
            "quantity": [1, 2, 3],
        },
        market,
    )
    assert book.account_ids == ("7", "3")


def test_csv_table_reader_agrees_with_the_row_reader(tmp_path: Path) -> None:
    # The columnar CSV reader and load_portfolio's csv-module reader give the same portfolio.
    text = (
        "account,instrument,quantity,unit,avg_price\n"
        " a ,BTC-PERPETUAL,-50000,,60000\n"
        "b,BTC-26DEC25-115000-C,1.5,BASE,0.05\n"
        '"a",ETH-PERPETUAL," 2e3",quote,\n'
        "\n"
        "c,BTC_USDC-30JAN26-100000-P,3,contracts,\n"
    )
    path = tmp_path / "p.csv"
    path.write_text(text)
    assert read_portfolio_table(path).to_portfolio() == load_portfolio(path)


def test_load_portfolio_reads_parquet(tmp_path: Path) -> None:
    pq.write_table(
        pa.table({"account": ["a"], "instrument": ["BTC-PERPETUAL"], "quantity": [10.0]}),
        tmp_path / "p.parquet",
    )
    (position,) = load_portfolio(tmp_path / "p.parquet").accounts[0].positions
    assert (position.instrument.symbol, position.quantity, position.unit) == (
        "BTC-PERPETUAL",
        10.0,
        "native",
    )


# ------------------------------------------------------------------ errors name table, row, column


def _refused(columns: dict[str, Any], balances: dict[str, Any] | None = None) -> str:
    with pytest.raises(InputError) as info:
        portfolio_table(columns, balances)
    err = info.value
    return f"{err.field}: {err.value!r} {err.reason}"


def _positions(**changes: Any) -> dict[str, Any]:
    columns: dict[str, Any] = {
        "account": ["a", "a", "b"],
        "instrument": ["BTC-PERPETUAL", "ETH-PERPETUAL", "BTC-PERPETUAL"],
        "quantity": [1.0, 2.0, 3.0],
    }
    return columns | changes


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"quantity": ["1", "x", "3"]}, "row 2 column quantity: 'x' must be a decimal number"),
        ({"quantity": [1.0, np.inf, 3.0]}, "row 2 column quantity: inf must be a finite number"),
        (
            {"quantity": [1.0, 2.0, 1e13]},
            "row 3 column quantity: 10000000000000.0 must be a finite",
        ),
        ({"quantity": [1.0, None, 3.0]}, "row 2 column quantity: None is required"),
        ({"account": ["a", "", "b"]}, "row 2 column account: '' must be non-empty text"),
        (
            {"instrument": ["BTC-PERPETUAL", "NOPE", "X"]},
            "row 2 column instrument: 'NOPE' is not a known instrument symbol",
        ),
        (
            {"unit": ["base", "lots", None]},
            "row 2 column unit: 'lots' is not one of balance|base|contracts|native|quote",
        ),
        (
            {"avg_price": [1.0, -2.0, None]},
            "row 2 column avg_price: -2.0 must be a finite number in [1e-09, 1e+09]",
        ),
        (
            {"quantity": [True, False, True]},
            "positions table column quantity: 'bool' must hold numbers",
        ),
        ({"units": ["base"] * 3}, "column 4: 'units' is not a known column"),
    ],
)
def test_bad_cells_name_row_and_column(changes: dict[str, Any], words: str) -> None:
    assert words in _refused(_positions(**changes))


def test_the_first_bad_row_is_named_whatever_its_column() -> None:
    message = _refused(_positions(quantity=["1", "2", "y"], unit=["base", "lots", "base"]))
    assert "row 2 column unit" in message


def test_missing_column_and_lengths() -> None:
    assert "lacks the columns quantity" in _refused({"account": ["a"], "instrument": ["X"]})
    assert "different lengths" in _refused(_positions(quantity=[1.0]))


def test_balance_errors() -> None:
    message = _refused(
        _positions(), {"account": ["a", "a"], "asset": ["BTC", "btc"], "amount": [1, 2]}
    )
    assert message.startswith("balances table row 2 column asset: 'btc' repeats an asset")
    message = _refused(_positions(), {"account": ["a"], "asset": ["BTC"], "amount": ["1e400"]})
    assert "balances table row 1 column amount" in message


def test_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("account,instrument,quantity\na,BTC-PERPETUAL,1\n\nb,BTC-PERPETUAL,1:30\n")
    with pytest.raises(InputError) as info:
        read_portfolio_table(path)
    assert info.value.field == f"portfolio file {str(path)!r} line 4 column quantity"
    pq.write_table(
        pa.table(
            {"account": ["a", "b"], "instrument": ["BTC-PERPETUAL", "NOPE"], "quantity": [1, 2]}
        ),
        tmp_path / "p.parquet",
    )
    with pytest.raises(InputError, match=r"p\.parquet' row 2 column instrument") as info:
        read_portfolio_table(tmp_path / "p.parquet")
    assert info.value.value == "NOPE"


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("p.txt", b"x", "has an unknown extension"),
        ("p.parquet", b"not parquet", "is not valid Parquet"),
        ("p.arrow", b"not arrow", "is not valid Arrow IPC"),
        ("p.csv", b"account,instrument,quantity\na,BTC-PERPETUAL,1,2\n", "is not valid CSV"),
        ("p.csv", b"account,instrument,quantity\na,BTC-PERPETUAL,\xff\n", "is not valid CSV"),
        ("p.csv", b"", "is empty"),
        ("p.csv", b"account,instrument\n", "lacks the columns quantity"),
        ("p.csv", b"account,instrument,quantity\n", "has no position rows"),
    ],
)
def test_unreadable_files_are_one_line_errors(
    tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=words):
        read_portfolio_table(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_portfolio_table(tmp_path / "absent.parquet")
    folder = tmp_path / "d.csv"
    folder.mkdir()
    with pytest.raises(InputError, match="is a directory"):
        read_portfolio_table(folder)

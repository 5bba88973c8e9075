"""check-order legs, deposits, moves and --max-size; margin --move and --breakdown; --csv.

Each through Typer's runner on the shipped example book, against the library's own answer
(the one what-if path: :class:`pmargin.pretrade.PreTradeChecker`, :func:`pmargin.health.
margin_book`), to 1e-9 relative (the same calls; JSON carries full float64).
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app
from pmargin.engine import OrderLeg, example_path, legs_report, load_inputs, margin_report

MARKET = str(example_path("example_market.json"))
BOOK = str(example_path("example_portfolio.json"))
IO = ["-p", BOOK, "-m", MARKET]
runner = CliRunner()


def _run(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_legs_deposit_and_move_match_the_library() -> None:
    args = [
        "check-order", *IO, "-a", "btc-collar",
        "--leg", "BTC-PERPETUAL=-50000", "--leg", "BTC-26DEC25-115000-C=-2",
        "--deposit", "BTC=1", "--move", "BTC=-0.1,vol=+0.2", "--json",
    ]  # fmt: skip
    doc = json.loads(_run(args))
    snapshot, book = load_inputs(MARKET, BOOK)
    legs = [OrderLeg("BTC-PERPETUAL", -50000.0), OrderLeg("BTC-26DEC25-115000-C", -2.0)]
    report = legs_report(
        book, snapshot, "btc-collar", legs, balances={"BTC": 1.0}, move="BTC=-0.1,vol=+0.2"
    )
    assert doc["initial_margin_after"] == pytest.approx(report.check.initial_margin_after, 1e-9)
    assert doc["equity_after"] == pytest.approx(report.check.equity_after, 1e-9)
    assert doc["balances"] == {"BTC": 1.0}
    today = margin_report(book, snapshot).result
    assert doc["now"]["initial_margin"] == pytest.approx(
        float(today.initial_margin[today.row("btc-collar")]), 1e-12
    )
    table = _run(args[:-1])
    for word in ("now", "after move", "change", "available", "ACCEPT"):
        assert word in table


def test_a_deposit_alone_raises_equity_by_its_value() -> None:
    doc = json.loads(_run(["check-order", *IO, "-a", "btc-collar", "--deposit", "BTC=1", "--json"]))
    snapshot, _ = load_inputs(MARKET, BOOK)
    gain = doc["equity_after"] - doc["equity_before"]
    assert gain == pytest.approx(snapshot.usd_price("BTC"), 1e-9)
    assert doc["initial_margin_after"] == pytest.approx(doc["initial_margin_before"], 1e-12)


def test_max_size_is_accepted_and_a_bit_more_is_not() -> None:
    args = ["check-order", *IO, "-a", "btc-short-strangle", "--leg", "BTC-28NOV25-95000-P=-1"]
    doc = json.loads(_run([*args, "--max-size", "--json"]))
    size = doc["max_size"]
    assert size["quantity"] < 0
    assert "bisection" in size["method"]
    if not size["at_limit"] and size["quantity"] != 0:
        leg = f"BTC-28NOV25-95000-P={size['quantity']}"
        assert json.loads(_run([*args[:-2], "--leg", leg, "--json"]))["accepted"]
        more = f"BTC-28NOV25-95000-P={size['quantity'] * 1.01}"
        assert not json.loads(_run([*args[:-2], "--leg", more, "--json"]))["accepted"]


def test_orders_file_equals_the_same_legs(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "orders.csv"
    path.write_text("instrument,quantity\nBTC-PERPETUAL,-50000\nBTC-26DEC25-115000-C,-2\n")
    base = ["check-order", *IO, "-a", "btc-collar", "--json"]
    from_file = json.loads(_run([*base, "--orders", str(path)]))
    from_legs = json.loads(
        _run([*base, "--leg", "BTC-PERPETUAL=-50000", "--leg", "BTC-26DEC25-115000-C=-2"])
    )
    assert from_file == from_legs


def test_bad_leg_and_nothing_to_check_are_one_line_errors() -> None:
    bad = runner.invoke(app, ["check-order", *IO, "-a", "btc-collar", "--leg", "BTC-PERPETUAL"])
    assert bad.exit_code == 2
    assert "--leg" in bad.stderr
    empty = runner.invoke(app, ["check-order", *IO, "-a", "btc-collar"])
    assert empty.exit_code == 2
    assert "needs a leg" in empty.stderr


def test_margin_move_equals_the_moved_book() -> None:
    from pmargin.book import arrange
    from pmargin.health import margin_book
    from pmargin.margin import get_model

    doc = json.loads(_run(["margin", *IO, "--move", "BTC=-0.2", "--json"]))
    snapshot, book = load_inputs(MARKET, BOOK)
    moved = margin_book(get_model("deribit"), arrange(book, snapshot).moved({"BTC": -0.2}))
    for a, account in enumerate(doc["accounts"]):
        assert account["initial_margin"] == pytest.approx(moved.result.initial_margin[a], 1e-12)
        assert account["equity"] == pytest.approx(moved.equity[a], 1e-12)


def test_breakdown_shows_components_and_contributions() -> None:
    text = _run(["margin", *IO, "--breakdown", "btc-short-strangle"])
    for word in ("worst_case", "roll_shock", "IM", "MM", "binding", "IM contribution"):
        assert word in text


def test_csv_carries_full_precision() -> None:
    rows = list(csv.DictReader(io.StringIO(_run(["margin", *IO, "--csv"]))))
    doc = json.loads(_run(["margin", *IO, "--json"]))
    assert [r["account"] for r in rows] == [a["id"] for a in doc["accounts"]]
    for row, account in zip(rows, doc["accounts"], strict=True):
        assert float(row["IM"]) == account["initial_margin"]
    compare = list(
        csv.reader(io.StringIO(_run(["compare", *IO, "--models", "standard,deribit", "--csv"])))
    )
    assert compare[0] == ["account", "IM standard", "IM deribit", "deribit vs std"]


def test_one_sign_convention_vs_standard() -> None:
    rows = list(
        csv.DictReader(io.StringIO(_run(["compare", *IO, "--models", "standard,deribit", "--csv"])))
    )
    for row in rows:
        std, pm = float(row["IM standard"]), float(row["IM deribit"])
        if std > 0:
            assert float(row["deribit vs std"]) == pytest.approx(pm / std - 1.0, 1e-12)


def test_risk_matrix_marks_the_binding_cell_and_coin_balances() -> None:
    text = _run(["risk-matrix", *IO, "-a", "btc-collar"])
    assert "*" in text
    assert "binding cell" in text
    assert "BTC balance" in text


def test_tables_fit_100_columns() -> None:
    result = runner.invoke(
        app, ["check-order", *IO, "-a", "btc-collar", "--leg", "BTC-PERPETUAL=-1000"],
        env={"COLUMNS": "100"}, terminal_width=100,
    )  # fmt: skip
    assert result.exit_code == 0

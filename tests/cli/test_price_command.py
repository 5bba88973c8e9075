"""`pmargin price` and `pmargin demo`: output contract and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app
from pmargin.engine import example_path

JSON_KEYS = {
    "instrument",
    "price",
    "price_usd",
    "forward",
    "iv",
    "delta",
    "gamma",
    "vega",
    "theta",
    "delta_coin",
}

runner = CliRunner()


def _market_file(tmp_path: Path) -> Path:
    doc = {
        "timestamp": "2024-11-27T08:00:00Z",
        "index": {"BTC": 95_000.0},
        "forwards": {"BTC": {"2024-12-27": 96_000.0}},
        "marks": {"BTC-27DEC24-100000-C": {"iv": 0.6}},
    }
    path = tmp_path / "market.json"
    path.write_text(json.dumps(doc))
    return path


def test_price_symbols_json_contract(tmp_path: Path) -> None:
    market = _market_file(tmp_path)
    result = runner.invoke(
        app, ["price", "--market", str(market), "BTC-27DEC24-100000-C", "BTC-PERPETUAL", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["instrument"] for r in rows] == ["BTC-27DEC24-100000-C", "BTC-PERPETUAL"]
    assert all(set(r) >= JSON_KEYS for r in rows)
    option, perp = rows
    assert option["iv"] == 0.6
    assert option["forward"] == 96_000.0
    assert 0 < option["delta"] < 1
    assert option["delta_coin"] == pytest.approx(option["delta"] - option["price"], rel=1e-12)
    assert perp["iv"] is None


def test_price_table_output(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["price", "-m", str(_market_file(tmp_path)), "BTC-27DEC24-100000-C"]
    )
    assert result.exit_code == 0, result.output
    assert "BTC-27DEC24-100000-C" in result.stdout
    assert "theta/day" in result.stdout


def test_price_portfolio_prices_each_held_instrument_once() -> None:
    result = runner.invoke(
        app,
        [
            "price",
            "--market",
            str(example_path("example_market.json")),
            "--portfolio",
            str(example_path("example_portfolio.json")),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    names = [r["instrument"] for r in rows]
    assert len(names) == len(set(names)) > 5


def _assert_one_line_error(result: object, needle: str) -> None:
    assert result.exit_code == 2  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert needle in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output  # type: ignore[attr-defined]


def test_missing_market_file(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["price", "--market", str(tmp_path / "missing.json"), "BTC-PERPETUAL"]
    )
    _assert_one_line_error(result, "does not exist")


def test_unknown_symbol(tmp_path: Path) -> None:
    result = runner.invoke(app, ["price", "--market", str(_market_file(tmp_path)), "NOT-A-SYMBOL"])
    _assert_one_line_error(result, "NOT-A-SYMBOL")


def test_option_without_vol_data(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["price", "--market", str(_market_file(tmp_path)), "BTC-27DEC24-100000-P"]
    )
    _assert_one_line_error(result, "BTC-27DEC24-100000-P")


def test_bad_market_file_in_a_real_process(tmp_path: Path) -> None:
    bad = tmp_path / "market.yaml"
    bad.write_text("timestamp: 2024-11-27T08:00:00Z\nindex: {BTC: -5}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pmargin.cli.main", "price", "--market", str(bad), "BTC-PERPETUAL"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "index.BTC" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_symbols_and_portfolio_are_exclusive(tmp_path: Path) -> None:
    market = str(_market_file(tmp_path))
    neither = runner.invoke(app, ["price", "--market", market])
    _assert_one_line_error(neither, "needs either --portfolio FILE or SYMBOLs")
    portfolio = tmp_path / "p.json"
    portfolio.write_text('{"id": "a", "positions": []}')
    both = runner.invoke(app, ["price", "-m", market, "-p", str(portfolio), "BTC-PERPETUAL"])
    _assert_one_line_error(both, "'both'")


def test_demo_runs_on_shipped_data() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "account" in result.stdout

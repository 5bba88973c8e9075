"""`pmargin stress`: JSON contract, tables, one-line errors (command registered locally)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pmargin.cli._stress_command import stress
from pmargin.cli.main import _one_line_errors
from pmargin.engine import example_path

app = typer.Typer()
app.command("stress")(_one_line_errors(stress))
app.command("noop")(lambda: None)  # two commands keep `stress` a subcommand
runner = CliRunner()
MARKET = str(example_path("example_market.json"))
ACCOUNT_KEYS = {
    "id",
    "loss",
    "equity",
    "equity_after",
    "initial_margin",
    "maintenance_margin",
    "margin_breach",
    "default",
}


@pytest.fixture
def portfolio(tmp_path: Path) -> str:
    doc = {
        "accounts": [
            {"id": "hodl", "balances": {"BTC": 2.0, "USDC": 1000.0}},
            {
                "id": "short-perp",
                "balances": {"USDC": 20_000.0},
                "positions": [
                    {"instrument": "BTC_USDC-PERPETUAL", "quantity": -1.0, "unit": "base"}
                ],
            },
        ]
    }
    path = tmp_path / "book.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_user_shock_json(portfolio: str) -> None:
    result = runner.invoke(
        app, ["stress", "-p", portfolio, "-m", MARKET, "--shock", "BTC=+0.3", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"] == "deribit"
    (scenario,) = doc["scenarios"]
    assert scenario["name"] == "BTC=+0.3"
    accounts = {a["id"]: a for a in scenario["accounts"]}
    for account in accounts.values():
        assert set(account) >= ACCOUNT_KEYS
        assert account["equity_after"] == pytest.approx(account["equity"] - account["loss"])
    btc = json.loads(Path(MARKET).read_text())["index"]["BTC"]
    assert accounts["hodl"]["loss"] == pytest.approx(-2.0 * btc * 0.3)
    short = accounts["short-perp"]
    assert short["loss"] > short["initial_margin"]
    assert short["margin_breach"]
    assert short["default"] == (short["loss"] > short["equity"])


def test_table_and_scenarios_file(portfolio: str, tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text("crash: 'BTC=-0.5,vol=+0.5'\n")
    result = runner.invoke(
        app, ["stress", "-p", portfolio, "-m", MARKET, "--scenarios-file", str(file)]
    )
    assert result.exit_code == 0, result.output
    assert "crash" in result.stdout
    assert "short-perp" in result.stdout


def test_bad_shock_is_one_line(portfolio: str) -> None:
    result = runner.invoke(app, ["stress", "-p", portfolio, "-m", MARKET, "--shock", "BTC=x"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "shock: 'BTC=x'" in result.stderr


def test_unknown_episode_lists_known_ones(portfolio: str) -> None:
    result = runner.invoke(app, ["stress", "-p", portfolio, "-m", MARKET, "-s", "lehman"])
    assert result.exit_code == 2
    assert "ftx-1d" in result.stderr


def test_named_episodes(portfolio: str, shared_data: Path) -> None:
    args = ["stress", "-p", portfolio, "-m", MARKET, "--data", str(shared_data), "--json"]
    result = runner.invoke(app, [*args, "-s", "ftx"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [s["name"] for s in doc["scenarios"]] == ["ftx-1d", "ftx-7d"]
    ftx = doc["scenarios"][0]["shock"]
    assert ftx["start"] == "2022-11-07 20:00 UTC"
    assert ftx["underlyings"]["BTC"]["vol_source"] == "dvol"
    table = runner.invoke(app, args[:-1])  # default: every episode
    assert table.exit_code == 0, table.output
    for name in ("covid-1d", "may2021-7d", "celsius-3ac-1d", "yen-carry-7d"):
        assert name in table.stdout


@pytest.mark.parametrize(
    ("shock", "start"),
    [
        ("BTX=-0.3", "pmargin: error: scenario BTX=-0.3: 'BTX' is not held by the book"),
        ("DOGE=-0.5", "pmargin: error: scenario DOGE=-0.5: 'DOGE' is not held by the book"),
        ("BTC=1e300", "pmargin: error: shock: 'BTC=1e300' must be a relative move in (-1, 10]"),
    ],
)
def test_issue_shocks_are_refused_on_one_line(portfolio: str, shock: str, start: str) -> None:
    result = runner.invoke(app, ["stress", "-p", portfolio, "-m", MARKET, "--shock", shock])
    assert result.exit_code == 2
    assert result.output.startswith(start)
    assert result.output.count("\n") == 1


def test_allow_unheld_runs_a_shock_that_moves_nothing(portfolio: str) -> None:
    args = ["stress", "-p", portfolio, "-m", MARKET, "--shock", "DOGE=-0.5", "--json"]
    result = runner.invoke(app, [*args, "--allow-unheld"])
    assert result.exit_code == 0, result.output
    (scenario,) = json.loads(result.stdout)["scenarios"]
    assert [a["loss"] for a in scenario["accounts"]] == [0.0, 0.0]

"""`pmargin margin`, `compare`, `risk-matrix`, `check-order`: output contract and errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app
from pmargin.engine import example_path

runner = CliRunner()
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schema" / "margin-output.schema.json"
MARKET = str(example_path("example_market.json"))
ACCOUNT_KEYS = {
    "id",
    "currency",
    "equity",
    "initial_margin",
    "maintenance_margin",
    "available",
    "im_utilization",
    "mm_utilization",
    "status",
    "risk_units",
    "positions",
}
UNIT_KEYS = {"underlying", "currency", "initial_margin", "maintenance_margin", "worst_scenario"}
POSITION_KEYS = {"instrument", "quantity", "value", "delta", "gamma", "vega", "theta"}


@pytest.fixture
def portfolio(tmp_path: Path) -> str:
    doc = {
        "accounts": [
            {
                "id": "covered-call",
                "balances": {"BTC": 10.0},
                "positions": [{"instrument": "BTC-26DEC25-115000-C", "quantity": -10.0}],
            },
            {
                "id": "eth-short-perp",
                "balances": {"ETH": 40.0},
                "positions": [{"instrument": "ETH-PERPETUAL", "quantity": -200_000.0}],
            },
            {
                "id": "usdc-put-spread",
                "balances": {"USDC": 50_000.0},
                "positions": [
                    {"instrument": "BTC_USDC-30JAN26-100000-P", "quantity": 3.0},
                    {"instrument": "BTC_USDC-30JAN26-90000-P", "quantity": -3.0},
                ],
            },
            {"id": "empty", "balances": {"USDC": 10.0}},
        ]
    }
    path = tmp_path / "book.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _json(args: list[str]) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("model", ["standard", "deribit"])
def test_margin_json_follows_the_output_contract(portfolio: str, model: str) -> None:
    doc = _json(["margin", "-p", portfolio, "-m", MARKET, "--model", model, "--json"])
    assert doc["model"] == model
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert doc["timestamp"].startswith("2025-11-13T00:00:00")
    accounts = {a["id"]: a for a in doc["accounts"]}
    assert set(accounts) == {"covered-call", "eth-short-perp", "usdc-put-spread", "empty"}
    for account in accounts.values():
        assert set(account) >= ACCOUNT_KEYS
        im, mm, equity = account["initial_margin"], account["maintenance_margin"], account["equity"]
        assert im >= mm >= 0.0
        assert account["available"] == pytest.approx(equity - im)
        units_usd = sum(u["initial_margin"] * u["usd_rate"] for u in account["risk_units"])
        assert units_usd == pytest.approx(im, rel=1e-9, abs=1e-9)
        for unit in account["risk_units"]:
            assert set(unit) >= UNIT_KEYS
        contributions = sum(p["im_contribution"] for p in account["positions"])
        assert contributions <= im * (1 + 1e-9) + 1e-9
        for position in account["positions"]:
            assert set(position) >= POSITION_KEYS
        expected = (
            "bankrupt"
            if equity < 0
            else "liquidation"
            if equity < mm
            else "reduce_only"
            if equity < im
            else "healthy"
        )
        assert account["status"] == expected
    assert accounts["empty"]["initial_margin"] == 0.0
    assert accounts["empty"]["positions"] == []


def test_deribit_margins_coin_settled_units_in_coin(portfolio: str) -> None:
    doc = _json(["margin", "-p", portfolio, "-m", MARKET, "--model", "deribit", "--json"])
    accounts = {a["id"]: a for a in doc["accounts"]}
    (unit,) = accounts["covered-call"]["risk_units"]
    assert (unit["underlying"], unit["currency"]) == ("BTC", "BTC")
    (unit,) = accounts["usdc-put-spread"]["risk_units"]
    assert unit["underlying"] == "BTC"
    assert unit["currency"] in ("USDC", "USD")


def test_margin_scenarios_give_each_units_vector(portfolio: str) -> None:
    args = ["margin", "-p", portfolio, "-m", MARKET, "--json", "--scenarios"]
    doc = _json(args)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    (unit,) = next(a for a in doc["accounts"] if a["id"] == "covered-call")["risk_units"]
    cells = unit["scenarios"]
    assert len(cells) == 35  # Deribit: 27 standard + 8 extended cells
    worst = min(cells, key=lambda c: c["pnl"])
    assert worst["label"] == unit["worst_scenario"]
    assert -worst["pnl"] == pytest.approx(unit["components"]["worst_case"], rel=1e-12)


def test_compare_lists_every_model_per_account(portfolio: str) -> None:
    doc = _json(
        ["compare", "-p", portfolio, "-m", MARKET, "--models", "standard,deribit", "--json"]
    )
    for account in doc["accounts"]:
        assert set(account["initial_margin"]) == {"standard", "deribit"}
    table = runner.invoke(
        app, ["compare", "-p", portfolio, "-m", MARKET, "--models", "standard,deribit"]
    )
    assert table.exit_code == 0, table.output
    assert "deribit vs std" in table.stdout


def test_compare_marks_accounts_a_model_cannot_margin(portfolio: str) -> None:
    doc = _json(["compare", "-p", portfolio, "-m", MARKET, "--json"])
    accounts = {a["id"]: a for a in doc["accounts"]}
    assert set(accounts["usdc-put-spread"]["initial_margin"]) == {
        "standard", "deribit", "okx", "derive-pmrm2"
    }  # fmt: skip
    # Derive lists USDC-settled options and perpetuals only: the coin-settled book is n/a.
    assert accounts["covered-call"]["initial_margin"]["derive-pmrm2"] is None
    assert "coin-settled" in accounts["covered-call"]["errors"]["derive-pmrm2"]
    assert accounts["usdc-put-spread"]["initial_margin"]["derive-pmrm2"] > 0.0
    assert accounts["usdc-put-spread"]["errors"] == {}
    alone = _json(["margin", "-p", portfolio, "-m", MARKET, "--model", "okx", "--json"])
    for account in alone["accounts"]:
        assert accounts[account["id"]]["initial_margin"]["okx"] == pytest.approx(
            account["initial_margin"], rel=1e-12, abs=1e-9
        )


def test_risk_matrix_shows_moves_by_vol_shocks(portfolio: str) -> None:
    result = runner.invoke(
        app, ["risk-matrix", "-p", portfolio, "-m", MARKET, "--account", "covered-call"]
    )
    assert result.exit_code == 0, result.output
    assert "covered-call" in result.stdout
    assert "BTC" in result.stdout


def test_check_order_matches_a_recomputed_book(portfolio: str, tmp_path: Path) -> None:
    args = ["check-order", "-p", portfolio, "-m", MARKET, "--account", "covered-call"]
    check = _json([*args, "-i", "BTC-26DEC25-115000-C", "-q", "5", "--json"])
    book = json.loads(Path(portfolio).read_text())
    book["accounts"][0]["positions"][0]["quantity"] = -5.0
    # Buying back 5 calls at the mark pays 5 x mark in BTC from the balance.
    mark = _json(["price", "-m", MARKET, "BTC-26DEC25-115000-C", "--json"])[0]["price"]
    book["accounts"][0]["balances"]["BTC"] = 10.0 - 5.0 * mark
    after = tmp_path / "after.json"
    after.write_text(json.dumps(book))
    doc = _json(["margin", "-p", str(after), "-m", MARKET, "--json"])
    expected = doc["accounts"][0]
    assert check["initial_margin_after"] == pytest.approx(expected["initial_margin"], rel=1e-9)
    assert check["maintenance_margin_after"] == pytest.approx(
        expected["maintenance_margin"], rel=1e-9
    )
    assert check["equity_after"] == pytest.approx(expected["equity"], rel=1e-9)
    assert check["initial_margin_after"] < check["initial_margin_before"]
    assert check["accepted"] is True


def _one_line_error(args: list[str], *fragments: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_input_gives_one_line_errors(portfolio: str, tmp_path: Path) -> None:
    base = ["margin", "-p", portfolio, "-m", MARKET]
    _one_line_error([*base, "--model", "spam"], "model: 'spam' is not a known model")
    params = tmp_path / "deribit.toml"
    params.write_text("[general]\nmm_factor = 2.5\n")
    _one_line_error([*base, "--params", str(params)], "deribit.toml")
    _one_line_error(
        [
            "check-order",
            "-p",
            portfolio,
            "-m",
            MARKET,
            "-a",
            "nobody",
            "-i",
            "BTC-PERPETUAL",
            "-q",
            "1",
        ],
        "account: 'nobody' is not in the book",
    )
    _one_line_error(
        [
            "check-order",
            "-p",
            portfolio,
            "-m",
            MARKET,
            "-a",
            "empty",
            "-i",
            "BTC-PERPETUAL",
            "-q",
            "0",
        ],
        "--quantity",
    )
    spx = tmp_path / "spx.json"
    spx.write_text(
        json.dumps({"id": "x", "positions": [{"instrument": "DOGE-PERPETUAL", "quantity": 1}]})
    )
    result = runner.invoke(app, ["margin", "-p", str(spx), "-m", MARKET])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_margin_liquidation_gives_each_account_its_distance(portfolio: str) -> None:
    args = ["margin", "-p", portfolio, "-m", MARKET, "--model", "standard", "--json"]
    doc = _json([*args, "--liquidation"])
    accounts = {a["id"]: a for a in doc["accounts"]}
    perp = accounts["eth-short-perp"]["liquidation"]
    eth = perp["underlyings"]["ETH"]
    # A short perpetual is liquidated on a rise: no fall reaches MM, some rise does.
    assert eth["move_down"] is None
    assert eth["move_up"] > 0.0
    assert eth["price_up"] == pytest.approx(eth["index"] * (1.0 + eth["move_up"]), rel=1e-9)
    assert perp["underlyings"].get("BTC") is None
    assert "liquidation" not in _json(args)["accounts"][0]


def test_stress_is_a_pmargin_command(portfolio: str) -> None:
    shock = "BTC=-0.3,ETH=-0.4,vol=+0.5"
    doc = _json(["stress", "-p", portfolio, "-m", MARKET, "--shock", shock, "--json"])
    (scenario,) = doc["scenarios"]
    accounts = {a["id"]: a for a in scenario["accounts"]}
    assert accounts["empty"]["loss"] == 0.0
    for account in accounts.values():
        assert account["equity_after"] == pytest.approx(account["equity"] - account["loss"])
    _one_line_error(["stress", "-p", portfolio, "-m", MARKET, "--shock", "BTC=oops"], "shock")

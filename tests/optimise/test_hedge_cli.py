"""``pmargin hedge``: the JSON document, its trades reproduce im_after, errors on one line.

The trades are added to the portfolio file in native units (each leg's premium paid out of
its cash asset at the quoted price) and the book re-margined through the facade: its IM is
the command's ``im_after`` (1e-9 relative; 1e-6 USD where it is 0 to rounding).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _hedge_cases import SHORT_VOL
from typer.testing import CliRunner

from pmargin.book import portfolio_from_dict
from pmargin.cli.main import app
from pmargin.engine import example_path, margin_report
from pmargin.instruments import parse_symbol
from pmargin.market import load_market

runner = CliRunner()
MARKET = example_path("example_market.json")


def _write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "book.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _with_trades(account: dict[str, Any], trades: list[dict[str, Any]]) -> dict[str, Any]:
    """The account after the trades: new positions, option premiums out of the cash asset."""
    positions = list(account["positions"])
    balances = dict(account["balances"])
    for trade in trades:
        instrument = parse_symbol(trade["instrument"])
        positions.append({"instrument": trade["instrument"], "quantity": trade["quantity"]})
        if not instrument.is_futures_style:
            asset = instrument.cash_asset
            balances[asset] = balances.get(asset, 0.0) - trade["quantity"] * trade["price"]
    return {**account, "positions": positions, "balances": balances}


@pytest.mark.parametrize("model", ["deribit", "standard"])
def test_trades_reproduce_im_after(tmp_path: Path, model: str) -> None:
    """Adding the printed trades to the book and re-margining gives im_after."""
    path = _write(tmp_path, {"accounts": [SHORT_VOL]})
    args = ["hedge", "-p", str(path), "-m", str(MARKET), "--account", "alice"]
    result = runner.invoke(app, [*args, "--model", model, "--universe", "BTC-*", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) >= {"trades", "cost", "im_before", "im_after"}
    assert document["trades"]
    assert document["im_after"] < document["im_before"]
    after = portfolio_from_dict({"accounts": [_with_trades(SHORT_VOL, document["trades"])]})
    report = margin_report(after, load_market(MARKET), model)
    im_after = document["im_after"]
    assert float(report.result.initial_margin[0]) == pytest.approx(im_after, rel=1e-9, abs=1e-6)


def test_table_and_errors(tmp_path: Path) -> None:
    """Without --json a table; an unreachable target or a bad band: one line, exit 2."""
    path = _write(tmp_path, {"accounts": [SHORT_VOL]})
    args = ["hedge", "-p", str(path), "-m", str(MARKET), "--account", "alice"]
    table = runner.invoke(app, [*args, "--universe", "BTC-PERPETUAL"])
    assert table.exit_code == 0, table.output
    assert "BTC-PERPETUAL" in table.stdout
    assert "IM " in table.stdout
    target = runner.invoke(app, [*args, "--universe", "BTC-PERPETUAL", "--target-util", "0.001"])
    assert target.exit_code == 2
    assert "target_util" in target.stderr
    assert "cannot be reached" in target.stderr
    band = runner.invoke(app, [*args, "--delta-band", "1"])
    assert band.exit_code == 2
    assert "--delta-band" in band.stderr
    nothing = runner.invoke(app, [*args, "--universe", "XRP-*"])
    assert nothing.exit_code == 2
    assert "universe" in nothing.stderr

"""``risk-matrix``: the cells before the model's offsets and dampeners beside the ones after."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app
from pmargin.engine import cells_before_offsets, example_path, load_inputs, margin_report

MARKET = example_path("example_market.json")
PORTFOLIO = example_path("example_portfolio.json")


@pytest.mark.parametrize("model", ["deribit", "deribit-cross"])
def test_raw_cells_are_the_reduced_ones_where_nothing_is_offset(model: str) -> None:
    """Losses in the standard cells are not offset or dampened: raw equals reduced there."""
    market, portfolio = load_inputs(MARKET, PORTFOLIO)
    report = margin_report(portfolio, market, model)
    for account in report.result.account_ids:
        row = report.result.row(account)
        before = cells_before_offsets(portfolio, market, model, account)
        units = [u for u in report.result.risk_units if u.holds[row] and u.scenarios]
        assert {(u.underlying, u.currency) for u in units} <= set(before)
        for unit in units:
            raw, after = before[(unit.underlying, unit.currency)], unit.pnl[row]
            assert raw.shape == after.shape
            # Standard cells: spot moves shocked every way (extended cells: vol up only).
            moves = [s.spot_move for s in unit.scenarios]
            standard = np.array([moves.count(m) == 3 for m in moves])
            losses = standard & (raw < 0.0)
            np.testing.assert_array_equal(after[losses], raw[losses])
            assert np.all(after[standard] <= np.maximum(raw[standard], 0.0) + 1e-12)
            # The binding cell is the worst of the reduced cells, not of the raw ones.
            assert after[unit.worst[row]] == after.min()


def test_models_without_offsets_give_no_raw_cells() -> None:
    market, portfolio = load_inputs(MARKET, PORTFOLIO)
    assert cells_before_offsets(portfolio, market, "standard", "btc-collar") == {}


def test_risk_matrix_shows_raw_and_reduced_columns() -> None:
    args = ["risk-matrix", "-p", str(PORTFOLIO), "-m", str(MARKET), "-a", "btc-collar"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "raw down" in result.output
    assert "vol down" in result.output
    assert "*" in result.output
    assert "before the model's P&L offset" in " ".join(result.output.split())

"""A real crash replayed end to end on a small population (skipped without the shared data)."""

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from pmargin.cli._simulate_command import simulate
from pmargin.history import HistoricalMarkets, load_price_history
from pmargin.simulate import (
    EPISODE_KEYS,
    SimulationConfig,
    crash_path,
    simulate_crash,
    write_report,
)


@pytest.fixture(scope="module")
def ftx(shared_data_module):
    config = SimulationConfig(episode="ftx", models=("standard",), n_accounts=40, seed=7)
    return simulate_crash(config, data=shared_data_module)


@pytest.fixture(scope="module")
def shared_data_module():
    from shared_paths import shared_data_dir

    folder = shared_data_dir()
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder} (set PMARGIN_SHARED_DATA)")
    return folder


@pytest.mark.parametrize("episode", ["covid", "may2021", "ftx"])
def test_crash_paths_follow_the_4h_closes(shared_data_module, episode):
    history = load_price_history(shared_data_module, frequency="4h")
    daily = load_price_history(shared_data_module, frequency="1d")
    markets = HistoricalMarkets(history)
    p = crash_path(markets, episode, daily, substeps=2, interpolation="bridge", seed=1)
    assert episode in EPISODE_KEYS
    closes = history.closes[np.isin(history.times, p.times)]
    np.testing.assert_array_equal(p.index[p.is_close], closes)
    assert p.step_hours == pytest.approx(2.0)
    assert p.drawdown()[0] < -0.1
    assert p.market.index["BTC"] == p.index[0, 0]


def test_replay_reports_every_number(ftx, tmp_path):
    rows = ftx.table()
    assert [r["model"] for r in rows] == ["standard"]
    row = rows[0]
    for key in ("liquidated_accounts", "positions_closed", "penalties_usd", "fund_end_usd",
                "bad_debt_usd", "adl_events", "capital_required_usd", "bad_debt_added_usd",
                "amplification", "cascade_rounds"):  # fmt: skip
        assert key in row
    assert row["capital_required_usd"] > 0.0
    for run in ftx.runs.values():
        assert abs(run.conservation_error_usd) <= 1e-9 * float(run.funded.notional.sum())
    paths = write_report(ftx, tmp_path)
    data = json.loads(paths["results"].read_text())
    assert data["episode"] == "ftx"
    assert len(data["runs"]) == 2
    assert paths["html"].read_text().count("data:image/png;base64") == 3


def test_cli_json(shared_data_module, tmp_path):
    app = typer.Typer()
    app.command("simulate")(simulate)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(
        app,
        ["simulate", "--episode", "ftx", "--models", "standard", "--accounts", "10",
         "--no-impact", "--data", str(shared_data_module), "--out", str(tmp_path), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [m["model"] for m in data["models"]] == ["standard"]
    assert (tmp_path / "report.html").is_file()

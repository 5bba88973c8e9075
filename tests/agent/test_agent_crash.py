"""Agents in a real crash replay (FTX, 40 accounts; skipped without the shared data).

Deterministic per seed (the same accounts run the agent and trade the same way on every run),
money conserved with the hedging costs, share 0 is the replay without agents, and
``pmargin simulate --agents SHARE`` reports the agents' counts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from pmargin.cli._simulate_command import simulate
from pmargin.engine import replay_agents
from pmargin.errors import InputError
from pmargin.simulate import SimulationConfig, SimulationResult, simulate_crash

TIMING = ("seconds", "monitor_latency_mean_s", "monitor_latency_max_s")


@pytest.fixture(scope="module")
def data() -> Path:
    from shared_paths import shared_data_dir

    folder = shared_data_dir()
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder} (set PMARGIN_SHARED_DATA)")
    return folder


def _replay(data: Path, share: float, seed: int = 7) -> SimulationResult:
    config = SimulationConfig(
        episode="ftx", models=("standard",), n_accounts=40, seed=seed, run_without_impact=False,
        agent_share=share, agents=replay_agents() if share > 0 else None,
    )  # fmt: skip
    return simulate_crash(config, data=data)


def _rows(result: SimulationResult) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in result.table()]


def test_agent_replays_are_deterministic_per_seed(data: Path) -> None:
    first, second = _replay(data, 0.5), _replay(data, 0.5)
    assert _rows(first) == _rows(second)
    run_a, run_b = first.runs["standard", True], second.runs["standard", True]
    np.testing.assert_array_equal(run_a.equity_path, run_b.equity_path)
    assert run_a.summary()["agent_hedges"] > 0
    assert abs(run_a.conservation_error_usd) <= 1e-9 * float(run_a.funded.notional.sum())


def test_share_zero_is_the_replay_without_agents(data: Path) -> None:
    plain = simulate_crash(
        SimulationConfig(episode="ftx", models=("standard",), n_accounts=40, seed=7,
                         run_without_impact=False),
        data=data,
    )  # fmt: skip
    assert _rows(_replay(data, 0.0)) == _rows(plain)


def test_cli_agents_option(data: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("simulate")(simulate)
    app.command("other")(lambda: None)
    args = ["simulate", "--episode", "ftx", "--models", "standard", "--accounts", "10",
            "--no-impact", "--data", str(data), "--json"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out"), "--agents", "1"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)["models"][0]
    assert row["agent_triggers"] >= row["agent_hedges"] > 0
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "bad"), "--agents", "1.5"])
    assert isinstance(bad.exception, InputError)
    assert bad.exception.field == "agents"

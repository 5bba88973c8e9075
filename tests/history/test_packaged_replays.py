"""`simulate` and `stress` from the packaged history alone give the shared data's numbers.

The packaged folder ships the 4-hourly closes (``docs/data.md``), so the crash replay and the
1-day stress episodes run from a plain install. Each command is run twice through the CLI, with
``--data`` naming a folder that holds a copy of the packaged files only and with ``--data``
naming ``../shared/data``; the JSON must be equal key for key, wall-clock timings left out.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app
from pmargin.history import load_price_history, packaged_data_dir

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "src" / "pmargin" / "data"
FOUR_HOURLY = ("binance_BTCUSDT_4h.csv", "binance_ETHUSDT_4h.csv")


def _full_shared(shared_data: Path) -> Path:
    if not all((shared_data / name).is_file() for name in FOUR_HOURLY):
        pytest.skip(f"shared data not found at {shared_data} (set PMARGIN_SHARED_DATA)")
    return shared_data


@pytest.fixture
def packaged_only(tmp_path: Path) -> Path:
    """A folder holding a copy of the packaged history files and nothing else."""
    folder = tmp_path / "packaged"
    shutil.copytree(packaged_data_dir(), folder, ignore=shutil.ignore_patterns("__*"))
    return folder


def _untimed(value: Any) -> Any:
    """The JSON without wall-clock timings (keys ``seconds`` and ``*_s``)."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k != "seconds" and not k.endswith("_s")}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def _run_json(args: list[str]) -> Any:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_packaged_four_hourly_closes_equal_the_shared_files_bit_for_bit(
    shared_data: Path, packaged_only: Path
) -> None:
    shared = _full_shared(shared_data)
    full = load_price_history(shared, frequency="4h", with_carry=True)
    compact = load_price_history(packaged_only, frequency="4h", with_carry=True)
    np.testing.assert_array_equal(compact.times, full.times)
    np.testing.assert_array_equal(compact.closes, full.closes)
    np.testing.assert_array_equal(compact.iv, full.iv)
    np.testing.assert_array_equal(compact.carry, full.carry)
    assert compact.sources == full.sources


def test_simulate_from_the_packaged_history_equals_the_shared_data(
    shared_data: Path, packaged_only: Path, tmp_path: Path
) -> None:
    shared = _full_shared(shared_data)
    runs = []
    for name, folder in (("shared", shared), ("packaged", packaged_only)):
        args = ["simulate", "--episode", "ftx", "--accounts", "50", "--json"]
        runs.append(
            _run_json([*args, "--data", str(folder), "--out", str(tmp_path / f"out-{name}")])
        )
    assert _untimed(runs[1]) == _untimed(runs[0])


def test_stress_default_run_from_the_packaged_history_equals_the_shared_data(
    shared_data: Path, packaged_only: Path
) -> None:
    shared = _full_shared(shared_data)
    book = ["-p", str(EXAMPLES / "example_portfolio.json")]
    market = ["-m", str(EXAMPLES / "example_market.json")]
    runs = [
        _run_json(["stress", *book, *market, "--json", "--data", str(folder)])
        for folder in (shared, packaged_only)
    ]
    assert runs[1] == runs[0]
    names = [s["name"] for s in runs[0]["scenarios"]]
    assert {"covid-1d", "ftx-1d", "yen-carry-1d", "ftx-7d"} <= set(names)


def test_a_folder_without_four_hourly_closes_names_data_and_fetch(
    packaged_only: Path, tmp_path: Path
) -> None:
    for name in FOUR_HOURLY:
        (packaged_only / f"{name}.gz").unlink()
    args = ["simulate", "--episode", "ftx", "--accounts", "5", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*args, "--data", str(packaged_only)])
    assert result.exit_code != 0
    assert "binance_BTCUSDT_4h.csv" in result.output
    assert "--data" in result.output
    assert "pmargin data fetch" in result.output

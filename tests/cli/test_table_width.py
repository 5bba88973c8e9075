"""Every tabular command fits a 100-column terminal: no line wider, nothing cut short.

Rendered through Typer's runner with ``COLUMNS=100`` (the console takes ``$COLUMNS`` when
the output is not a terminal, :func:`pmargin.cli._output.console`). A table too wide for the
width would have its cells cut with an ellipsis by rich, so no ``…`` may appear either: the
tables wrap their headers and text or pivot, and every number is shown whole.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app
from pmargin.engine import example_path

WIDTH = 100
MARKET = str(example_path("example_market.json"))
BOOK = str(example_path("example_portfolio.json"))
IO = ["-p", BOOK, "-m", MARKET]
ACCOUNT = ["-a", "btc-collar"]

COMMANDS: dict[str, list[str]] = {
    "price": ["price", "-m", MARKET, "-p", BOOK],
    "margin": ["margin", *IO],
    "margin --liquidation": ["margin", *IO, "--liquidation"],
    "margin --breakdown": ["margin", *IO, "--breakdown", "btc-short-strangle"],
    "margin --summary": ["margin", *IO, "--summary"],
    "margin --move": ["margin", *IO, "--move", "BTC=-0.1,vol=+0.2"],
    "compare": ["compare", *IO],
    "risk-matrix": ["risk-matrix", *IO, *ACCOUNT],
    "risk-matrix okx": ["risk-matrix", *IO, *ACCOUNT, "--model", "okx"],
    "check-order": [
        *("check-order", *IO, *ACCOUNT),
        *("--leg", "BTC-PERPETUAL=-50000", "--move", "BTC=-0.1", "--max-size"),
    ],
    "stress": ["stress", *IO, "--shock", "BTC=-0.3,ETH=-0.3", "--remargin"],
    "demo": ["demo", "--accounts", "40"],
}


def _check(output: str) -> None:
    wide = [line for line in output.splitlines() if len(line) > WIDTH]
    assert not wide, f"{len(wide)} lines wider than {WIDTH}, first:\n{wide[0]}"
    assert "…" not in output, "a cell was cut short"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_fits_100_columns(name: str) -> None:
    result = CliRunner().invoke(app, COMMANDS[name], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    _check(result.stdout)


def test_backtest_fits_100_columns(tmp_path: Path, shared_data: Path) -> None:
    args = [
        "backtest", "--models", "standard,deribit", "--books", "long_perp,short_strangle",
        "--start", "2023-12-01", "--end", "2024-02-01", "--out", str(tmp_path / "bt"),
        "--data", str(shared_data), "--no-html",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    _check(result.stdout)
    with_portfolio = [*args, "--portfolio", BOOK, "--books", "btc-collar"]
    result = CliRunner().invoke(app, with_portfolio, env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    _check(result.stdout)


def test_simulate_fits_100_columns(tmp_path: Path, shared_data: Path) -> None:
    args = [
        "simulate", "--models", "standard,deribit", "--accounts", "30", "--out",
        str(tmp_path / "sim"), "--data", str(shared_data),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    _check(result.stdout)

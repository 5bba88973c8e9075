"""The published cases through `pmargin margin --model deribit --json` (per risk unit, coin)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _deribit_cases import (
    DOC_INDEX,
    DOC_MARKS,
    DOC_MM,
    DOC_POSITIONS,
    DOC_RISK_MATRIX_MARGIN,
    DOC_ROLL_SHOCK,
    DOC_TIMESTAMP,
    DOC_WORST_CASE,
    ETH_INDEX,
    ETH_MARKS,
    ETH_MM,
    ETH_POSITIONS,
    ETH_RISK_MATRIX_MARGIN,
    ETH_ROLL_SHOCK,
    ETH_TIMESTAMP,
    ETH_WORST_CASE,
)
from typer.testing import CliRunner

from pmargin.cli.main import app

MARGIN_ATOL = 5e-10  # Deribit rounds worst_case to 9 decimals (see test_deribit_published)

CASES = {
    "doc-2024": (
        DOC_TIMESTAMP, {"BTC": DOC_INDEX}, DOC_MARKS, DOC_POSITIONS, "BTC",
        DOC_WORST_CASE, DOC_ROLL_SHOCK, DOC_RISK_MATRIX_MARGIN, DOC_MM, "BTC -16% vol none",
    ),
    "eth-2026": (
        ETH_TIMESTAMP, {"ETH": ETH_INDEX}, ETH_MARKS, ETH_POSITIONS, "ETH",
        ETH_WORST_CASE, ETH_ROLL_SHOCK, ETH_RISK_MATRIX_MARGIN, ETH_MM, "ETH +18% vol none",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_published_case_through_the_cli(case: str, tmp_path: Path) -> None:
    ts, index, marks, positions, coin, worst, roll, rmm, mm, label = CASES[case]
    portfolio: dict[str, Any] = {
        "id": case,
        "positions": [
            {"instrument": s, "quantity": q, "unit": "base"} for s, q in positions.items()
        ],
    }
    market = {"timestamp": ts, "index": index, "marks": marks}
    (tmp_path / "p.json").write_text(json.dumps(portfolio))
    (tmp_path / "m.json").write_text(json.dumps(market))
    args = ["margin", "-p", str(tmp_path / "p.json"), "-m", str(tmp_path / "m.json")]
    result = CliRunner().invoke(app, [*args, "--model", "deribit", "--json"])
    assert result.exit_code == 0, result.output
    (account,) = json.loads(result.stdout)["accounts"]
    (unit,) = account["risk_units"]
    assert (unit["underlying"], unit["currency"]) == (coin, coin)
    assert unit["components"]["worst_case"] == pytest.approx(worst, abs=1e-15)
    assert unit["components"]["roll_shock"] == pytest.approx(roll, abs=1e-15)
    assert unit["initial_margin"] == pytest.approx(rmm, abs=MARGIN_ATOL)
    assert unit["maintenance_margin"] == pytest.approx(mm, abs=MARGIN_ATOL)
    assert unit["worst_scenario"] == label
    assert account["initial_margin"] == pytest.approx(unit["initial_margin"] * index[coin])


def test_option_book_output_names_the_reading(tmp_path: Path) -> None:
    import jsonschema

    from pmargin.engine import example_path

    portfolio = {
        "id": "a",
        "positions": [{"instrument": "BTC-26DEC25-115000-C", "quantity": -1, "unit": "base"}],
    }
    (tmp_path / "p.json").write_text(json.dumps(portfolio))
    args = [
        "margin",
        "-p",
        str(tmp_path / "p.json"),
        "-m",
        str(example_path("example_market.json")),
    ]
    schema_path = Path(__file__).resolve().parents[3] / "docs/schema/margin-output.schema.json"
    schema = json.loads(schema_path.read_text())
    for model in ("deribit", "deribit-cross"):
        result = CliRunner().invoke(app, [*args, "--model", model, "--json"])
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        jsonschema.validate(document, schema)
        (note,) = document["notes"]
        assert note.startswith(f"{model} reading of unpublished parts")
        table = CliRunner().invoke(app, [*args, "--model", model])
        assert table.exit_code == 0, table.output
        assert " ".join(note.split()) in " ".join(table.stdout.split())  # one line, maybe wrapped
    standard = CliRunner().invoke(app, [*args, "--model", "standard", "--json"])
    assert "notes" not in json.loads(standard.stdout)


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("compare", ["--models", "standard,deribit,deribit-cross"]),
        ("stress", ["--shock", "BTC=-0.3"]),
        ("check-order", ["-a", "a", "-i", "BTC-26DEC25-115000-C", "-q", "-1"]),
    ],
)
def test_every_command_on_an_option_book_names_the_reading(
    command: str, extra: list[str], tmp_path: Path
) -> None:
    from pmargin.engine import example_path

    portfolio = {
        "id": "a",
        "balances": {"BTC": 1},
        "positions": [{"instrument": "BTC-26DEC25-115000-C", "quantity": -1, "unit": "base"}],
    }
    (tmp_path / "p.json").write_text(json.dumps(portfolio))
    args = [command, "-p", str(tmp_path / "p.json"), "-m", str(example_path("example_market.json"))]
    args += extra
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["notes"]
    lines = [n for v in notes.values() for n in v] if isinstance(notes, dict) else notes
    assert lines
    assert all(" reading of unpublished parts" in line for line in lines)
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0, table.output
    flat = " ".join(table.stdout.split())
    assert all(" ".join(line.split()) in flat for line in lines)

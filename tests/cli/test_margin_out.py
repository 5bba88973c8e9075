"""`pmargin margin --out FILE`, `--summary` and portfolio tables through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pmargin.cli._margin_out import MARGIN_FILE_COLUMNS
from pmargin.cli.main import app
from pmargin.engine import example_path

runner = CliRunner()
MARKET = str(example_path("example_market.json"))
PORTFOLIO = str(example_path("example_portfolio.json"))
FIELDS = [c for c in MARGIN_FILE_COLUMNS if c not in ("account", "model")]


def _margin(*args: str) -> Any:
    return runner.invoke(app, ["margin", "-m", MARKET, *args])


def _json(*args: str) -> dict[str, Any]:
    result = _margin(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _read(path: Path) -> list[dict[str, Any]]:
    table = pa_csv.read_csv(path) if path.suffix == ".csv" else pq.read_table(path)
    return table.to_pylist()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".PARQUET"])
def test_out_writes_the_json_fields_one_row_per_account(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"margin{suffix}"
    result = _margin("-p", PORTFOLIO, "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("pmargin margin --model deribit: ")
    assert "accounts written to" in lines[0]
    expected = _json("-p", PORTFOLIO)["accounts"]
    rows = _read(out.with_suffix(suffix.lower()) if suffix != ".PARQUET" else out)
    assert [r["account"] for r in rows] == [a["id"] for a in expected]
    for row, account in zip(rows, expected, strict=True):
        assert row["model"] == "deribit"
        for field in FIELDS:
            assert row[field] == account[field], field


def test_an_existing_file_is_replaced_only_with_force(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    out.write_text("mine\n")
    result = _margin("-p", PORTFOLIO, "--out", str(out))
    assert result.exit_code == 2
    assert "already exists; pass --force to replace it" in result.stderr
    assert out.read_text() == "mine\n"
    result = _margin("-p", PORTFOLIO, "--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert _read(out)[0]["model"] == "deribit"
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]  # no partial file left


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("m.json", "has an unknown extension; use .csv, .parquet"),
        ("m.xlsx", "has an unknown extension"),
        ("folder.csv", "exists and is not a file"),
        ("absent/m.csv", "cannot be created"),
    ],
)
def test_bad_out_targets_fail_before_margining(tmp_path: Path, target: str, words: str) -> None:
    (tmp_path / "folder.csv").mkdir()
    # A bad portfolio too: the --out check comes first (a bad target fails in a second).
    result = _margin("-p", str(tmp_path / "absent.json"), "--out", str(tmp_path / target))
    assert result.exit_code == 2
    assert words in result.stderr
    assert "Traceback" not in result.output


def test_summary_prints_totals_by_status_only() -> None:
    result = _margin("-p", PORTFOLIO, "--summary")
    assert result.exit_code == 0, result.output
    for status in ("healthy", "reduce_only", "liquidation", "bankrupt", "all"):
        assert status in result.stdout
    accounts = _json("-p", PORTFOLIO)["accounts"]
    assert not any(a["id"] in result.stdout for a in accounts)


def test_summary_json_totals_add_up() -> None:
    totals = _json("-p", PORTFOLIO, "--summary")["totals"]
    accounts = _json("-p", PORTFOLIO)["accounts"]
    by_status = {t["status"]: t for t in totals}
    assert by_status["all"]["accounts"] == len(accounts)
    assert sum(t["accounts"] for t in totals if t["status"] != "all") == len(accounts)
    for field in ("equity", "initial_margin", "maintenance_margin", "available"):
        assert by_status["all"][field] == pytest.approx(sum(a[field] for a in accounts), rel=1e-12)
        for status, total in by_status.items():
            if status != "all":
                members = [a[field] for a in accounts if a["status"] == status]
                assert total[field] == pytest.approx(sum(members), rel=1e-12, abs=1e-9)


def test_out_with_summary_prints_the_confirmation_and_totals(tmp_path: Path) -> None:
    result = _margin("-p", PORTFOLIO, "--out", str(tmp_path / "m.parquet"), "--summary")
    assert result.exit_code == 0, result.output
    assert "accounts written to" in result.stdout
    assert "bankrupt" in result.stdout


# ------------------------------------------------------------------ portfolio tables


def _table_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The same two accounts as a JSON portfolio, a Parquet table and a CSV balances table."""
    positions = [
        ("alice", "BTC-PERPETUAL", -50_000.0, "", 101_000.0),
        ("alice", "BTC-26DEC25-115000-C", 1.5, "base", None),
        ("bob", "ETH-PERPETUAL", 10.0, "base", None),
        ("alice", "BTC-26DEC25", 20_000.0, "", 100_000.0),
    ]
    doc = {
        "accounts": [
            {
                "id": account,
                "balances": balances,
                "positions": [
                    {"instrument": s, "quantity": q}
                    | ({"unit": u} if u else {})
                    | ({"avg_price": p} if p else {})
                    for a, s, q, u, p in positions
                    if a == account
                ],
            }
            for account, balances in (("alice", {"BTC": 2.0}), ("bob", {"ETH": 5.0, "USDC": 100.0}))
        ]
    }
    json_file = tmp_path / "p.json"
    json_file.write_text(json.dumps(doc))
    columns = list(zip(*positions, strict=True))
    table = pa.table(
        {
            "account": list(columns[0]),
            "instrument": list(columns[1]),
            "quantity": list(columns[2]),
            "unit": list(columns[3]),
            "avg_price": pa.array(list(columns[4]), pa.float64()),
        }
    )
    parquet = tmp_path / "p.parquet"
    pq.write_table(table, parquet)
    balances = tmp_path / "b.csv"
    balances.write_text("account,asset,amount\nalice,BTC,2\nbob,ETH,5\nbob,usdc,100\n")
    return json_file, parquet, balances


@pytest.mark.parametrize("model", ["deribit", "standard"])
def test_a_table_portfolio_margins_like_the_same_json_portfolio(tmp_path: Path, model: str) -> None:
    json_file, parquet, balances = _table_files(tmp_path)
    expected = _json("-p", str(json_file), "--model", model)
    got = _json("-p", str(parquet), "--balances", str(balances), "--model", model)
    assert got == expected


def test_balances_need_a_table_portfolio(tmp_path: Path) -> None:
    json_file, _, balances = _table_files(tmp_path)
    result = _margin("-p", str(json_file), "--balances", str(balances))
    assert result.exit_code == 2
    assert "--balances" in result.stderr
    assert "is for a portfolio table" in result.stderr


def test_a_bad_table_cell_is_one_line_naming_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(
        pa.table(
            {"account": ["a", "b"], "instrument": ["BTC-PERPETUAL", "NOPE"], "quantity": [1, 2]}
        ),
        path,
    )
    result = _margin("-p", str(path))
    assert result.exit_code == 2
    assert f"portfolio file {str(path)!r} row 2 column instrument: 'NOPE'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

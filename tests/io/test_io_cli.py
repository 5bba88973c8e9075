"""``pmargin import`` and ``--from VENUE`` through Typer's CliRunner."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app
from pmargin.engine import EXAMPLE_MARKET, example_path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MARKET = str(example_path(EXAMPLE_MARKET))
RUNNER = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = RUNNER.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_import_writes_a_portfolio_the_margin_command_reads(tmp_path: Path) -> None:
    out = tmp_path / "book.json"
    code, stdout, _ = _run(
        "import",
        "deribit",
        str(FIXTURES / "deribit" / "get_account_summary_btc.json"),
        str(FIXTURES / "deribit" / "get_positions.json"),
        "--account",
        "me",
        "-o",
        str(out),
    )
    assert code == 0, stdout
    assert "account 'me', 4 positions, 1 balances written to" in stdout
    document = json.loads(out.read_text())
    assert document["accounts"][0]["id"] == "me"
    code, stdout, _ = _run("margin", "-p", str(out), "-m", MARKET, "--json")
    assert code == 0
    assert json.loads(stdout)["accounts"][0]["status"] == "healthy"


def test_import_to_csv_and_refusing_to_replace(tmp_path: Path) -> None:
    out = tmp_path / "book.csv"
    replies = [str(FIXTURES / "okx" / n) for n in ("positions.json", "balance.json")]
    assert _run("import", "okx", *replies, "-o", str(out))[0] == 0
    rows = list(csv.DictReader(out.open()))
    assert {r["unit"] for r in rows} == {"quote", "base", "balance"}
    assert {r["instrument"]: r["quantity"] for r in rows if r["unit"] == "balance"} == {
        "BTC": "1.5",
        "USDT": "5000.0",
    }
    code, _, stderr = _run("import", "okx", *replies, "-o", str(out))
    assert code == 2
    assert "already exists; pass --force" in stderr
    assert _run("import", "okx", *replies, "-o", str(out), "--force")[0] == 0
    code, stdout, _ = _run("margin", "-p", str(out), "-m", MARKET, "--model", "okx", "--json")
    assert code == 0
    assert json.loads(stdout)["accounts"][0]["id"] == "okx"


@pytest.mark.parametrize(
    "command",
    [
        ["margin", "--model", "okx"],
        ["compare"],
        ["price"],
        ["risk-matrix", "-a", "ccxt", "--model", "okx"],
    ],
)
def test_from_reads_replies_in_place_of_a_portfolio(command: list[str], tmp_path: Path) -> None:
    folder = tmp_path / "replies"
    folder.mkdir()
    for name in ("fetch_positions.json", "fetch_balance.json"):
        (folder / name).write_text((FIXTURES / "ccxt" / name).read_text())
    imported = tmp_path / "book.json"
    assert _run("import", "ccxt", str(folder), "-o", str(imported))[0] == 0
    as_json = [] if command[0] == "risk-matrix" else ["--json"]
    direct = _run(*command, "-p", str(imported), "-m", MARKET, *as_json)
    via_from = _run(*command, "--from", "ccxt", "-p", str(folder), "-m", MARKET, *as_json)
    assert via_from[0] == 0, via_from[2]
    assert direct[0] == 0, direct[2]
    assert via_from[1] == direct[1]


def test_from_errors_are_one_line(tmp_path: Path) -> None:
    code, _, stderr = _run(
        "margin", "--from", "bybit", "-p", str(FIXTURES / "bybit" / "error.json"), "-m", MARKET
    )
    assert code == 2
    assert stderr.startswith("pmargin: error: bybit reply")
    assert "is an error reply: API key is invalid." in stderr
    code, _, stderr = _run("margin", "--from", "kraken", "-p", str(FIXTURES), "-m", MARKET)
    assert code == 2
    assert "venue: 'kraken' is not one of deribit|okx|bybit|binance|ccxt" in stderr


def test_import_refuses_a_reply_of_another_shape(tmp_path: Path) -> None:
    code, _, stderr = _run(
        "import",
        "binance",
        str(FIXTURES / "ccxt" / "fetch_balance.json"),
        "-o",
        str(tmp_path / "b.json"),
    )
    assert code == 2
    assert "binance reply" in stderr
    assert "is not a reply pmargin reads" in stderr
    assert not (tmp_path / "b.json").exists()

"""What the commands print: user strings shown literally, no NaN in JSON, short error values."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from pmargin._validation import input_limits
from pmargin.cli._output import clean, print_json, short_value
from pmargin.cli.main import app
from pmargin.engine import example_path
from pmargin.errors import InputError

runner = CliRunner()
MARKET = str(example_path("example_market.json"))
HOSTILE = ["[/]", "[red]x[/red]", "\x1b[31mred\x1b[0m", "a\rb", "\u202eevil", "x\\"]
"""Account ids that once crashed the table (``[/]``), were rendered as markup or escapes."""


def _book(tmp_path: Path, ids: list[str]) -> str:
    accounts = [
        {
            "id": account_id,
            "balances": {"USDC": 1_000.0},
            "positions": [{"instrument": "BTC_USDC-PERPETUAL", "quantity": 0.01}],
        }
        for account_id in ids
    ]
    path = tmp_path / "book.json"
    path.write_text(json.dumps({"accounts": accounts}))
    return str(path)


def test_clean_shows_control_characters_as_visible_escapes() -> None:
    assert clean("\x1b[31mred") == "\\x1b[31mred"
    assert clean("a\rb\tc\n") == "a\\x0db\\x09c\\x0a"
    assert clean("\u202eevil") == "\\u202eevil"
    assert clean("[red]x[/red] BTC-27DEC24") == "[red]x[/red] BTC-27DEC24"


def test_short_value_quotes_a_prefix() -> None:
    limit = input_limits().integer("files", "max_quoted_chars")
    assert short_value("x" * 1000) == repr("x" * 1000)[: limit - 3] + "..."
    assert short_value(1.5) == "1.5"
    assert short_value("\x1b[2J") == "'\\x1b[2J'"  # repr escapes it already


@pytest.mark.parametrize("command", ["margin", "stress"])
def test_hostile_account_ids_are_shown_literally(tmp_path: Path, command: str) -> None:
    book = _book(tmp_path, HOSTILE)
    args = [command, "-p", book, "-m", MARKET]
    if command == "stress":
        args += ["--shock", "BTC=-0.1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert "\r" not in result.output
    assert "\u202e" not in result.output
    for account_id in HOSTILE:
        assert clean(account_id) in result.output


def test_risk_matrix_and_check_order_titles_are_plain_text(tmp_path: Path) -> None:
    book = _book(tmp_path, ["[bold]a[/]"])
    for args in (
        ["risk-matrix", "-a", "[bold]a[/]"],
        ["check-order", "-a", "[bold]a[/]", "-i", "BTC_USDC-PERPETUAL", "-q", "0.01"],
    ):
        result = runner.invoke(app, [*args, "-p", book, "-m", MARKET])
        assert result.exit_code == 0, result.output
        assert "[bold]a[/]" in result.output


@given(st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s and s.strip()))
def test_any_account_id_renders_without_crash_or_escape(account_id: str) -> None:
    # One file per example (hypothesis forbids function-scoped fixtures across examples).
    with tempfile.TemporaryDirectory() as folder:
        book = _book(Path(folder), [account_id])
        result = runner.invoke(app, ["margin", "-p", book, "-m", MARKET])
    if result.exit_code == 2:  # refused by the portfolio reader, on one line
        assert result.output.count("\n") == 1
        assert "\x1b" not in result.output
        return
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert clean(account_id) in result.output


def test_error_messages_are_one_line_with_a_short_escaped_value(tmp_path: Path) -> None:
    book = _book(tmp_path, ["a"])
    account = "\x1b[2J" + "z" * 500
    args = ["-p", book, "-m", MARKET, "-a", account, "-i", "BTC-PERPETUAL", "-q", "10"]
    result = runner.invoke(app, ["check-order", *args])
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line
    assert "\x1b" not in line
    assert line.startswith("pmargin: error: account: '\\x1b[2Jzzz")
    assert "z" * input_limits().integer("files", "max_quoted_chars") not in line


def test_print_json_refuses_non_finite_numbers_naming_the_account() -> None:
    payload = {"accounts": [{"id": "ok", "equity": 1.0}, {"id": "big", "equity": math.inf}]}
    with pytest.raises(InputError, match=r"accounts\[id=big\]\.equity: inf is not a finite"):
        print_json(payload)
    with pytest.raises(InputError, match=r"\[0\]\.x\[1\]: nan"):
        print_json([{"x": [1.0, math.nan]}])


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (["--accounts", "0"], "--accounts: 0 must be in [1, 100000]"),
        (["--accounts", "1000000000"], "--accounts: 1000000000 must be in [1, 100000]"),
        (["--depth", "nan"], "--depth: nan must be in [0.0001, 10]"),
        (["--depth", "inf"], "--depth: inf must be in [0.0001, 10]"),
        (["--substeps", "100000"], "--substeps: 100000 must be in [1, 48]"),
        (["--seed", "-1"], "--seed: -1 must be in [0, 4294967295]"),
    ],
)
def test_simulate_arguments_out_of_range_are_refused_first(
    tmp_path: Path, args: list[str], start: str
) -> None:
    base = ["simulate", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "out")]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 2
    assert result.output.startswith(f"pmargin: error: {start}")
    assert "argument_limits.toml simulate." in result.output


@pytest.mark.parametrize(
    ("args", "option"), [(["--seed", "-1"], "--seed"), (["--accounts", "0"], "--accounts")]
)
def test_demo_arguments_out_of_range_are_refused(args: list[str], option: str) -> None:
    result = runner.invoke(app, ["demo", *args])
    assert result.exit_code == 2
    assert result.output.startswith(f"pmargin: error: {option}:")
    assert result.output.count("\n") == 1


@pytest.mark.parametrize("quantity", ["1e300", "-1e13", "nan"])
def test_check_order_quantity_out_of_range_names_the_option(tmp_path: Path, quantity: str) -> None:
    book = _book(tmp_path, ["a"])
    args = ["-p", book, "-m", MARKET, "-a", "a", "-i", "BTC-PERPETUAL", "-q", quantity]
    result = runner.invoke(app, ["check-order", *args])
    assert result.exit_code == 2
    assert result.output.startswith("pmargin: error: --quantity:")
    assert "must be a non-zero number in [-1e+12, 1e+12]" in result.output

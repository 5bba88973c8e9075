"""Portfolio files never change what they say: the classes of issue 9 part 5a.

YAML is read by YAML 1.2 core rules without anchors, CSV headers hold known columns only,
numbers are checked finite and in the ranges of ``input_limits.toml``, assets are case-folded
without merging, and files are size- and depth-limited before or while parsing. Every refusal
is an :class:`InputError` whose one-line message names the field and quotes at most a short
prefix of the bad value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pmargin._files as files_module
from pmargin._validation import InputLimits, input_limits
from pmargin.book import load_portfolio, portfolio_from_dict
from pmargin.errors import InputError

MAX_MESSAGE = 300


def _portfolio_yaml(quantity: str) -> str:
    return (
        "accounts:\n"
        "  - id: a\n"
        "    balances: {BTC: 1}\n"
        "    positions:\n"
        f"      - {{instrument: BTC-PERPETUAL, quantity: {quantity}, unit: base}}\n"
    )


def _load_text(tmp_path: Path, name: str, text: str) -> Any:
    path = tmp_path / name
    path.write_text(text)
    return load_portfolio(path)


def _refused(tmp_path: Path, name: str, text: str) -> str:
    with pytest.raises(InputError) as err:
        _load_text(tmp_path, name, text)
    message = str(err.value)
    assert "\n" not in message
    assert len(message) < MAX_MESSAGE, message
    return message


# ------------------------------------------------------------------ YAML 1.2, no aliases


@pytest.mark.parametrize(
    ("written", "read"),
    [("0100", 100.0), ("100", 100.0), ("1.5e2", 150.0), ("-0.25", -0.25), ("0x10", 16.0)],
)
def test_yaml_numbers_follow_yaml_1_2_core(tmp_path: Path, written: str, read: float) -> None:
    # YAML 1.1 (PyYAML's default) reads 0100 as octal 64; YAML 1.2 core reads decimal 100.
    book = _load_text(tmp_path, "p.yaml", _portfolio_yaml(written))
    assert book.accounts[0].positions[0].quantity == read


@pytest.mark.parametrize("written", ["1:30", "1_000", "0b101", ".nan", ".inf", "yes"])
def test_yaml_1_1_forms_are_not_numbers(tmp_path: Path, written: str) -> None:
    # 1:30 was sexagesimal 90 in YAML 1.1; in 1.2 it is text, refused where a number goes.
    message = _refused(tmp_path, "p.yaml", _portfolio_yaml(written))
    assert "accounts[0].positions[0].quantity" in message


def test_yaml_yes_no_are_text(tmp_path: Path) -> None:
    text = "id: no\nbalances: {BTC: 1}\n"
    assert _load_text(tmp_path, "p.yaml", text).accounts[0].id == "no"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: &x [1, 2]\nb: [*x, *x]\n", "anchors and aliases"),
        ("id: &x a\n", "anchors and aliases"),
        ("id: !!binary aGk=\n", "tag 'tag:yaml.org,2002:binary' is not accepted"),
        ("id: !!python/name:os.system a\n", "is not accepted"),
        ("1: a\n", "the key 1 is not text"),
        ("id: a\nid: b\n", "the key 'id' appears twice at line 2"),
        ("id: a\nbalances: [1, 2\n", "is not valid YAML"),
    ],
)
def test_yaml_refusals_are_one_line(tmp_path: Path, text: str, words: str) -> None:
    assert words in _refused(tmp_path, "p.yaml", text)


def test_an_alias_bomb_is_refused_at_the_first_anchor(tmp_path: Path) -> None:
    # The 9-level "billion laughs": 550 bytes that PyYAML expands to ~10**9 nodes.
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    message = _refused(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    assert "anchors and aliases" in message
    assert "line 1" in message


@pytest.mark.parametrize("name", ["deep.json", "deep.yaml"])
@pytest.mark.parametrize("depth", [33, 100_000])
def test_nesting_beyond_the_limit_is_refused(tmp_path: Path, name: str, depth: int) -> None:
    limit = input_limits().integer("files", "max_depth")
    assert depth > limit
    message = _refused(tmp_path, name, "[" * depth + "]" * depth)
    assert f"nests deeper than the limit of {limit} levels" in message


def test_nesting_at_the_limit_parses(tmp_path: Path) -> None:
    limit = input_limits().integer("files", "max_depth")
    path = tmp_path / "ok.json"
    path.write_text("[" * limit + "]" * limit)
    assert files_module.read_structured(path, "file") is not None


def test_json_nan_and_infinity_are_refused(tmp_path: Path) -> None:
    assert "NaN is not a JSON number" in _refused(tmp_path, "p.json", '{"id": "a", "x": NaN}')
    text = '{"id": "a", "x": -Infinity}'
    assert "-Infinity is not a JSON number" in _refused(tmp_path, "p.json", text)


def test_files_over_the_size_limit_are_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = dict(input_limits()._data)
    data["files"] = {**data["files"], "max_bytes": 100, "max_yaml_bytes": 50}
    monkeypatch.setattr(files_module, "input_limits", lambda: InputLimits(data))
    doc = json.dumps({"id": "a", "balances": {"BTC": 1}})
    assert len(doc) < 50
    _load_text(tmp_path, "ok.json", doc)
    message = _refused(tmp_path, "big.json", doc + " " * 100)
    assert "over the limit of 100 (max_bytes)" in message
    message = _refused(tmp_path, "big.yaml", doc + " " * 30)
    assert "over the limit of 50 (max_yaml_bytes)" in message


def test_non_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(b'{"id": "\xff"}')
    with pytest.raises(InputError, match=r"is not UTF-8 text \(byte 8\)"):
        load_portfolio(path)


def test_a_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("\ufeffaccount,instrument,quantity\na,BTC-PERPETUAL,10\n".encode())
    assert load_portfolio(path).accounts[0].positions[0].quantity == 10.0


# ------------------------------------------------------------------ CSV header and rows


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("account,instrument,quantity,units", "column 4: 'units' is not a known column"),
        ("account,instrument,quantity,units", "did you mean 'unit'?"),
        ("account,instrument,quantty", "did you mean 'quantity'?"),
        ("account,instrument,quantity,unit,unit", "column 5: 'unit' appears twice"),
        ("account,instrument,Quantity", "'Quantity' is not a known column"),
        ("account,instrument", "lacks the columns quantity"),
    ],
)
def test_csv_header_is_exactly_known_columns(tmp_path: Path, header: str, words: str) -> None:
    cells = ",".join(["a", "BTC-PERPETUAL", "2", "base", "base"][: header.count(",") + 1])
    assert words in _refused(tmp_path, "p.csv", f"{header}\n{cells}\n")


def test_csv_rows_with_a_different_cell_count_are_refused(tmp_path: Path) -> None:
    text = "account,instrument,quantity\na,BTC-PERPETUAL,10\na,BTC-PERPETUAL,10,base\n"
    message = _refused(tmp_path, "p.csv", text)
    assert "line 3" in message
    assert "has 4 cells; the header has 3" in message


def test_csv_errors_name_the_line_and_column(tmp_path: Path) -> None:
    text = "account,instrument,quantity\na,BTC-PERPETUAL,10\nb,BTC-PERPETUAL,1:30\n"
    message = _refused(tmp_path, "p.csv", text)
    assert message.startswith("portfolio file line 3 column quantity: '1:30'")


def test_csv_units_column_is_read(tmp_path: Path) -> None:
    # The class of "a units column ignored makes 2 BTC into 2 USD": unit is read, not dropped.
    text = "account,unit,instrument,quantity\na,base,BTC-PERPETUAL,2\n"
    position = _load_text(tmp_path, "p.csv", text).accounts[0].positions[0]
    assert (position.quantity, position.unit) == (2.0, "base")


# ------------------------------------------------------------------ numbers and assets


def _one_position(**fields: Any) -> dict[str, Any]:
    return {"id": "a", "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 1, **fields}]}


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"quantity": 10**400}, "quantity"),
        ({"quantity": 1e300}, "quantity"),
        ({"quantity": "1e400"}, "quantity"),
        ({"quantity": "1_000"}, "quantity"),
        ({"quantity": " nan"}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"avg_price": 5e-324}, "avg_price"),
        ({"avg_price": 1e308}, "avg_price"),
        ({"avg_price": -1.0}, "avg_price"),
        ({"unit": 3}, "unit"),
    ],
)
def test_numbers_out_of_range_name_the_field(fields: dict[str, Any], where: str) -> None:
    with pytest.raises(InputError) as err:
        portfolio_from_dict(_one_position(**fields))
    assert err.value.field == f"accounts[0].positions[0].{where}"
    assert len(str(err.value)) < MAX_MESSAGE


def test_the_quantity_range_is_the_limit_file_value() -> None:
    top = input_limits().number("numbers", "max_quantity")
    book = portfolio_from_dict(_one_position(quantity=-top))
    assert book.accounts[0].positions[0].quantity == -top
    with pytest.raises(InputError, match=r"in \[-1e\+12, 1e\+12\]"):
        portfolio_from_dict(_one_position(quantity=top * 1.0001))


def test_decimal_text_is_a_number() -> None:
    book = portfolio_from_dict(_one_position(quantity="-2.5e1", avg_price="65000.5"))
    position = book.accounts[0].positions[0]
    assert (position.quantity, position.avg_price) == (-25.0, 65000.5)


@pytest.mark.parametrize(("first", "second"), [("BTC", "btc"), ("usdc", "USDC"), ("Eth", "ETH")])
def test_two_spellings_of_one_asset_are_refused(first: str, second: str) -> None:
    with pytest.raises(InputError) as err:
        portfolio_from_dict({"id": "a", "balances": {first: 1, second: 2}})
    assert err.value.field == f"accounts[0].balances.{second}"
    assert f"repeats the asset {first!r}" in str(err.value)


def test_assets_are_upper_cased() -> None:
    book = portfolio_from_dict({"id": "a", "balances": {"btc": 1.5, "Usdc": 10}})
    assert dict(book.accounts[0].balances) == {"BTC": 1.5, "USDC": 10.0}


@pytest.mark.parametrize("amount", [10**400, 1e16, float("nan"), float("inf"), "1:30", None])
def test_balances_out_of_range_are_refused(amount: Any) -> None:
    with pytest.raises(InputError) as err:
        portfolio_from_dict({"id": "a", "balances": {"BTC": amount}})
    assert err.value.field == "accounts[0].balances.BTC"


@settings(max_examples=50)
@given(value=st.text(min_size=200, max_size=5000))
def test_error_messages_quote_a_short_prefix(value: str) -> None:
    limit = input_limits().integer("files", "max_quoted_chars")
    with pytest.raises(InputError) as err:  # "x..." is never a number
        portfolio_from_dict(_one_position(quantity="x" + value))
    message = str(err.value)
    assert len(message) < MAX_MESSAGE
    assert message.count("...") >= 1
    quoted = message.split(": ", 1)[1]
    assert len(quoted.split(" must be")[0]) <= limit


def test_a_long_symbol_is_refused_without_parsing() -> None:
    with pytest.raises(InputError) as err:
        portfolio_from_dict({"id": "a", "positions": [{"instrument": "B" * 10_000, "quantity": 1}]})
    assert "is longer than 64 characters" in str(err.value)
    assert len(str(err.value)) < MAX_MESSAGE


def test_the_json_schema_states_the_same_ranges() -> None:
    schema_file = Path(__file__).resolve().parents[2] / "docs" / "schema" / "portfolio.schema.json"
    defs = json.loads(schema_file.read_text())["$defs"]
    numbers = input_limits()
    position = defs["position"]["properties"]
    q = numbers.number("numbers", "max_quantity")
    assert (position["quantity"]["minimum"], position["quantity"]["maximum"]) == (-q, q)
    avg = position["avg_price"]
    assert (avg["minimum"], avg["maximum"]) == (
        numbers.number("numbers", "min_price"),
        numbers.number("numbers", "max_price"),
    )
    balance = defs["account"]["properties"]["balances"]["additionalProperties"]
    b = numbers.number("numbers", "max_balance")
    assert (balance["minimum"], balance["maximum"]) == (-b, b)

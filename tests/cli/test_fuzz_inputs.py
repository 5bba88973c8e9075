"""Fuzzing the CLI with hostile input files (issue 9, part 5a).

Hypothesis writes portfolio files (JSON, YAML, CSV), market files (the shipped example with one
part replaced, removed, renamed or added), scenario files and shock strings to ``tmp_path``
and drives
``margin``, ``compare``, ``risk-matrix`` and ``stress`` through the CLI in-process. The oracle
is the contract of the CLI, whatever the input:

* exit 0 with JSON whose every number is finite, where each account's IM >= MM >= 0 and its
  status is the one the health rule gives its equity (``pmargin.health``: bankrupt below 0,
  liquidation below MM, reduce_only below IM, else healthy); or
* exit 2 with exactly one short line ``pmargin: error: <field>: ...`` on stderr;
* never a traceback or another exit code, and never longer than ``SECONDS_PER_RUN``.

The examples are few (each runs the margin engine; ``PMARGIN_FUZZ_EXAMPLES=500`` explores
more); the conftest profile derandomises them under CI. Each test also replays fixed examples
of the classes the issue lists.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from pmargin.cli.main import app
from pmargin.engine import example_path

runner = CliRunner()

SECONDS_PER_RUN = 60
"""A run slower than this counts as a hang (a normal one takes well under a second)."""

MAX_ERROR_CHARS = 300
ERROR_LINE = re.compile(r"pmargin: error: \S[^\n]*")
MODELS = ("deribit", "standard")
FUZZ = settings(
    max_examples=int(os.environ.get("PMARGIN_FUZZ_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

MARKET_DOC: dict[str, Any] = json.loads(example_path("example_market.json").read_text())
SYMBOLS = sorted(MARKET_DOC["marks"])
ODD_SYMBOLS = [
    "btc-perpetual",
    "BTC-PERPETUL",
    "BTC-27DEC24",  # expired at the example market's timestamp
    "SOL-PERPETUAL",  # no SOL index in the market
    "BTC-26DEC25-115000-X",
    "X" * 500,
    "",
]
ASSETS = ["BTC", "ETH", "USDC", "USD", "btc", "SOL", "usdc", ""]

NASTY_NUMBERS: list[Any] = [
    0,
    -1,
    1e308,
    -1e308,
    5e-324,
    1e-300,
    10**400,
    2**64,
    1.7e18,
    1.7e9,
    float("nan"),
    float("inf"),
]
NASTY_VALUES: list[Any] = [
    *NASTY_NUMBERS,
    True,
    None,
    "",
    "1:30",
    "0100",
    "nan",
    "1e400",
    "x" * 1000,
    [],
    {},
    [1, 2],
    {"a": 1},
    "btc",
    "2024-12-27",
    "9999-12-31T00:00:00Z",
]

numbers = st.one_of(
    st.sampled_from(NASTY_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6),
    st.integers(min_value=-(10**30), max_value=10**30),
)
values = st.one_of(
    st.sampled_from(NASTY_VALUES),
    numbers,
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
)
quantities = st.one_of(
    numbers,
    st.floats(min_value=-5.0, max_value=5.0).map(lambda q: round(q, 4)),
    st.sampled_from(["1.5", "-2e3", "0100", "1:30", "1_000", " 3 ", "abc"]),
)
symbols = st.one_of(st.sampled_from(SYMBOLS), st.sampled_from(ODD_SYMBOLS), st.text(max_size=20))


class _Hang(BaseException):
    """Raised by the alarm when one CLI run takes longer than SECONDS_PER_RUN."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _Hang(f"a CLI run took more than {SECONDS_PER_RUN} s")


def _invoke(args: list[str]) -> Result:
    """Run the CLI in-process under an alarm."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_RUN)
    try:
        return runner.invoke(app, args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _strict_json(text: str) -> Any:
    """Parse CLI JSON output, refusing NaN and Infinity (the oracle wants finite numbers)."""

    def refuse(name: str) -> float:
        raise AssertionError(f"non-finite number {name} in the JSON output")

    return json.loads(text, parse_constant=refuse)


def _numbers(node: Any) -> Iterator[float]:
    """Every number in a JSON value (booleans excluded)."""
    if isinstance(node, bool):
        return
    if isinstance(node, int | float):
        yield float(node)
    elif isinstance(node, dict):
        for child in node.values():
            yield from _numbers(child)
    elif isinstance(node, list):
        for child in node:
            yield from _numbers(child)


def _margins_ok(im: float, mm: float, where: str) -> None:
    assert mm >= 0.0, f"{where}: maintenance margin {mm} < 0"
    assert im >= mm - 1e-9 * max(1.0, abs(mm)), f"{where}: IM {im} < MM {mm}"


def _status(equity: float, im: float, mm: float) -> str:
    """The health rule of pmargin.health (independent restatement)."""
    if equity < 0.0:
        return "bankrupt"
    if equity < mm:
        return "liquidation"
    if equity < im:
        return "reduce_only"
    return "healthy"


def _check_output(command: str, result: Result) -> None:
    """The oracle: exit 0 with sound JSON, or exit 2 with one short line naming a field."""
    assert not isinstance(result.exception, _Hang), "hang"
    assert result.exit_code in (0, 2), (
        f"{command}: exit {result.exit_code}, exception {result.exception!r}\n{result.output}"
    )
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        errors = ERROR_LINE.findall(result.stderr)
        assert len(errors) == 1, f"{command}: expected one error line, got\n{result.stderr}"
        assert result.stderr.strip() == errors[0], f"{command}: more than one line\n{result.stderr}"
        assert len(errors[0]) < MAX_ERROR_CHARS, f"{command}: error too long: {errors[0]}"
        assert ":" in errors[0][len("pmargin: error: ") :], f"no field named: {errors[0]}"
        return
    if command == "risk-matrix":  # a table, no JSON
        return
    data = _strict_json(result.stdout)
    for number in _numbers(data):
        assert math.isfinite(number)
    if command == "margin":
        for account in data["accounts"]:
            im, mm, equity = (
                account["initial_margin"],
                account["maintenance_margin"],
                account["equity"],
            )
            _margins_ok(im, mm, account["id"])
            assert account["status"] == _status(equity, im, mm), account
    elif command == "compare":
        for account in data["accounts"]:
            for model, im in account["initial_margin"].items():
                mm = account["maintenance_margin"][model]
                if im is not None:
                    _margins_ok(im, mm, f"{account['id']} {model}")
    elif command == "stress":
        for scenario in data["scenarios"]:
            for account in scenario["accounts"]:
                _margins_ok(account["initial_margin"], account["maintenance_margin"], "stress")


def _run(command: str, portfolio: Path, market: Path, *extra: str) -> Result:
    args = [command, "-p", str(portfolio), "-m", str(market), *extra]
    if command in ("margin", "compare", "stress"):
        args.append("--json")
    result = _invoke(args)
    _check_output(command, result)
    return result


# ------------------------------------------------------------------ the files


@st.composite
def portfolios(draw: st.DrawFn) -> dict[str, Any]:
    """A portfolio document: mostly well-formed, with hostile symbols, numbers and assets."""
    accounts = []
    for i in range(draw(st.integers(min_value=1, max_value=3))):
        balances = draw(st.dictionaries(st.sampled_from(ASSETS), numbers, max_size=3))
        positions = []
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            position: dict[str, Any] = {"instrument": draw(symbols), "quantity": draw(quantities)}
            if draw(st.booleans()):
                position["unit"] = draw(
                    st.sampled_from(["native", "base", "quote", "contracts", "BASE", "lots", 3])
                )
            if draw(st.booleans()):
                position["avg_price"] = draw(st.one_of(numbers, st.sampled_from(["1.5", "x"])))
            positions.append(position)
        account_id = draw(st.one_of(st.just(f"acct-{i}"), st.text(min_size=1, max_size=8)))
        accounts.append({"id": account_id, "balances": balances, "positions": positions})
    doc: dict[str, Any] = {"accounts": accounts}
    if draw(st.integers(min_value=0, max_value=3)) == 0:  # an explicit spec, maybe hostile
        spec: dict[str, Any] = {
            "symbol": "MY-OPTION",
            "kind": "option",
            "underlying": "BTC",
            "expiry": "2026-03-27",
            "strike": 100000.0,
            "right": "put",
            "settlement": "linear",
            "quote": "USD",
            "contract_size": 1.0,
        }
        field = draw(st.sampled_from([*spec, None]))
        if field is not None:
            spec[field] = draw(values)
        doc["instruments"] = [spec]
        accounts[0]["positions"].append({"instrument": "MY-OPTION", "quantity": draw(quantities)})
    if draw(st.integers(min_value=0, max_value=9)) == 0:  # one structural surprise
        target = draw(st.sampled_from(["top", "account", "position"]))
        key = draw(st.sampled_from(["units", "Quantity", "instruments", "id", "extra"]))
        node: dict[str, Any] = doc
        if target == "account":
            node = accounts[0]
        elif target == "position" and accounts[0]["positions"]:
            node = accounts[0]["positions"][0]
        node[key] = draw(values)
    return doc


def _yaml_text(doc: Any, draw: st.DrawFn) -> str:
    """YAML for ``doc``, sometimes with a YAML-1.1 trap or damage written into the text."""
    text = yaml.safe_dump(doc, sort_keys=False)
    trap = draw(st.integers(min_value=0, max_value=6))
    if trap == 0:
        text = re.sub(r"quantity: \S+", "quantity: 0100", text, count=1)
    elif trap == 1:
        text = re.sub(r"quantity: \S+", "quantity: 1:30", text, count=1)
    elif trap == 2:
        text = text.replace("accounts:", "accounts: &a", 1) + "again: *a\n"
    elif trap == 3:
        cut = draw(st.integers(min_value=0, max_value=max(0, len(text) - 1)))
        text = text[:cut]
    return text


@st.composite
def portfolio_files(draw: st.DrawFn) -> tuple[str, str]:
    """``(suffix, text)`` of a portfolio file in JSON, YAML or CSV."""
    doc = draw(portfolios())
    form = draw(st.sampled_from(["json", "yaml", "csv"]))
    if form == "json":
        return ".json", json.dumps(doc)
    if form == "yaml":
        return ".yaml", _yaml_text(doc, draw)
    columns = ["account", "instrument", "quantity", "unit", "avg_price"]
    header = draw(st.permutations(columns))[: draw(st.integers(min_value=2, max_value=5))]
    surprise = draw(st.integers(min_value=0, max_value=5))
    if surprise == 0:
        header = [*header, "units"]
    elif surprise == 1:
        header = [*header, header[0]]
    elif surprise == 2:
        header = [h.upper() if i == 0 else h for i, h in enumerate(header)]
    rows = [",".join(header)]
    for account in doc["accounts"]:
        for position in account["positions"]:
            cells = {"account": account["id"], **position}
            rows.append(",".join(_csv_cell(cells.get(column, "")) for column in header))
    if draw(st.booleans()) and len(rows) > 1:
        rows[-1] += ",extra"
    return ".csv", "\n".join(rows) + "\n"


def _csv_cell(value: Any) -> str:
    text = str(value)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON value (the root included)."""
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _paths(child, (*prefix, i))


@st.composite
def market_docs(draw: st.DrawFn) -> dict[str, Any]:
    """The example market with one part replaced, removed, renamed or added."""
    doc = copy.deepcopy(MARKET_DOC)
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = draw(st.sampled_from(["replace", "replace", "remove", "rename", "add"]))
        if action == "replace":
            parent[last] = draw(values)
        elif action == "remove":
            del parent[last]
        elif isinstance(parent, dict) and action == "rename":
            new = draw(st.sampled_from([str(last).lower(), str(last) + "X", str(last)[:-1]]))
            parent[new] = parent.pop(last)
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "BTC-PERPETUL", "btc", "2024-12-27"]))] = draw(
                values
            )
    return doc


shocks = st.one_of(
    st.sampled_from(
        [
            "BTC=-0.3",
            "BTC=-0.3,ETH=-0.4,vol=+0.5",
            "vol=+10pt",
            "corr=0.9,q=0.99",
            "BTC=-1.5",
            "btc=-0.3",
            "SOL=-0.2",
            "BTC=nan",
            "BTC",
            "=",
            "",
        ]
    ),
    st.text(max_size=30),
    st.builds(lambda a, x: f"{a}={x!r}", st.sampled_from(["BTC", "ETH", "vol", "x"]), numbers),
)


spot_keys = st.sampled_from(["BTC", "ETH", "btc", "SOL", "USDC", "*", ""])


@st.composite
def scenario_docs(draw: st.DrawFn) -> Any:
    """A scenarios file: a list of named shocks (spot/vol maps or compact text), or a mapping."""
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        return draw(st.dictionaries(st.text(max_size=8), shocks, max_size=3))
    items = []
    for i in range(draw(st.integers(min_value=0, max_value=3))):
        item: dict[str, Any] = {"name": draw(st.one_of(st.just(f"s{i}"), values))}
        if draw(st.booleans()):
            item["shock"] = draw(shocks)
        else:
            item["spot"] = draw(st.dictionaries(spot_keys, numbers, max_size=2))
            if draw(st.booleans()):
                key = draw(st.sampled_from(["vol", "vol_points"]))
                item[key] = draw(st.dictionaries(spot_keys, numbers, max_size=2))
        if draw(st.integers(min_value=0, max_value=7)) == 0:
            item[draw(st.sampled_from(["spots", "Name", "correlation", "description"]))] = draw(
                values
            )
        items.append(item)
    return {"scenarios": items}


# ------------------------------------------------------------------ the tests


@FUZZ
@given(file=portfolio_files(), model=st.sampled_from(MODELS))
@example(file=(".yaml", "accounts:\n- id: a\n  balances: {BTC: 1, btc: 2}\n"), model="deribit")
@example(file=(".json", '{"accounts": [{"id": "a", "balances": {"BTC": 1e400}}]}'), model="deribit")
@example(
    file=(
        ".json",
        '{"id": "a", "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 1e400}]}',
    ),
    model="deribit",
)
@example(
    file=(
        ".json",
        '{"id": "a", "balances": {"BTC": 1}, "positions": [{"instrument": "BTC-PERPETUAL", '
        '"quantity": 1000, "avg_price": 5e-324}]}',
    ),
    model="deribit",
)
@example(
    file=(".csv", "account,instrument,quantity,units\na,BTC-PERPETUAL,2,base\n"), model="deribit"
)
@example(file=(".json", "[" * 100_000 + "]" * 100_000), model="standard")
@example(file=(".yaml", "a: &a [1, 2]\nb: [*a, *a]\n"), model="deribit")
def test_portfolio_files(tmp_path: Path, file: tuple[str, str], model: str) -> None:
    suffix, text = file
    portfolio = tmp_path / f"portfolio{suffix}"
    portfolio.write_text(text)
    market = example_path("example_market.json")
    _run("margin", portfolio, market, "--model", model)
    _run("compare", portfolio, market, "--models", "standard,deribit")


@FUZZ
@given(doc=market_docs(), model=st.sampled_from(MODELS))
@example(doc={**MARKET_DOC, "index": {**MARKET_DOC["index"], "BTC": 1e308}}, model="deribit")
@example(doc={**MARKET_DOC, "timestamp": 1.7e18}, model="deribit")
@example(doc={**MARKET_DOC, "timestamp": "9999-12-31T00:00:00Z"}, model="deribit")
@example(
    doc={
        **MARKET_DOC,
        "marks": {
            **{k: v for k, v in MARKET_DOC["marks"].items() if k != "BTC-PERPETUAL"},
            "btc-perpetual": MARKET_DOC["marks"]["BTC-PERPETUAL"],
        },
    },
    model="deribit",
)
def test_market_files(tmp_path: Path, doc: dict[str, Any], model: str) -> None:
    market = tmp_path / "market.json"
    market.write_text(json.dumps(doc))
    portfolio = example_path("example_portfolio.json")
    _run("margin", portfolio, market, "--model", model)
    first = json.loads(portfolio.read_text())["accounts"][0]["id"]
    _run("risk-matrix", portfolio, market, "--account", first, "--model", model)


@FUZZ
@given(doc=market_docs())
def test_market_files_in_yaml(tmp_path: Path, doc: dict[str, Any]) -> None:
    market = tmp_path / "market.yaml"
    market.write_text(yaml.safe_dump(doc, sort_keys=False))
    _run("margin", example_path("example_portfolio.json"), market)


@FUZZ
@given(shock_list=st.lists(shocks, min_size=1, max_size=2))
@example(shock_list=["BTC=1e308"])
def test_stress_shocks(shock_list: list[str]) -> None:
    extra = [f"--shock={shock}" for shock in shock_list]
    _run(
        "stress",
        example_path("example_portfolio.json"),
        example_path("example_market.json"),
        *extra,
    )


@FUZZ
@given(doc=scenario_docs(), form=st.sampled_from(["json", "yaml"]))
@example(doc={"scenarios": [{"name": "x", "spot": {"BTC": 1e308}}]}, form="json")
@example(doc={"scenarios": [{"name": "x", "correlation": {"factor": 7}}]}, form="yaml")
def test_scenario_files(tmp_path: Path, doc: Any, form: str) -> None:
    path = tmp_path / f"scenarios.{form}"
    if form == "json":
        path.write_text(json.dumps(doc))
    else:
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    _run(
        "stress",
        example_path("example_portfolio.json"),
        example_path("example_market.json"),
        "--scenarios-file",
        str(path),
    )


def test_a_parameter_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    params = tmp_path / "params.toml"
    params.write_bytes(b"# \xff\xfe not utf-8\n")
    result = _run(
        "margin",
        example_path("example_portfolio.json"),
        example_path("example_market.json"),
        "--params",
        str(params),
    )
    assert result.exit_code == 2
    assert "is not UTF-8 text" in result.stderr


def test_a_misspelt_parameter_field_is_refused_by_name(tmp_path: Path) -> None:
    params = tmp_path / "params.toml"
    params.write_text('base = "deribit"\n[generel]\nx = 1\n')
    result = _run(
        "margin",
        example_path("example_portfolio.json"),
        example_path("example_market.json"),
        "--params",
        str(params),
    )
    assert result.exit_code == 2
    assert "params.toml: generel" in result.stderr
    assert "did you mean 'general'?" in result.stderr


def test_a_close_typed_x100_in_the_history_is_refused_by_the_margin_command(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The case: one daily close x100 raised pmargin-es IM 2,167-fold without a word.
    for name in (
        "binance_BTCUSDT_1d.csv",
        "binance_ETHUSDT_1d.csv",
        "deribit_dvol_btc_1d.json",
        "binance_funding_rate_BTCUSDT_8h.csv",
    ):
        (tmp_path / name).write_bytes((shared_data / name).read_bytes())
    btc = tmp_path / "binance_BTCUSDT_1d.csv"
    lines = btc.read_text().splitlines()
    cells = lines[2000].split(",")  # file line 2001
    close = float(cells[4])
    cells[4] = repr(close * 100.0)
    lines[2000] = ",".join(cells)
    btc.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("PMARGIN_SHARED_DATA", str(tmp_path))
    result = _run(
        "margin",
        example_path("example_portfolio.json"),
        example_path("example_market.json"),
        "--model",
        "pmargin-es",
    )
    assert result.exit_code == 2
    assert "binance_BTCUSDT_1d.csv line 2001 close" in result.stderr
    assert f"log move of +{math.log(100.0 * close / float(lines[1999].split(',')[4])):.2f}" in (
        result.stderr
    )

"""`pmargin verify deribit CAPTURE.json` and `pmargin params import deribit CAPTURE.json`.

The two published ``private/pme/simulate`` replies (the 2024 API-reference example and the
Feb 2026 ETH capture; sources in ``tests/margin/deribit/_deribit_cases.py``) are stored as
JSON under ``tests/margin/deribit/captures``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app
from pmargin.margin import get_model
from pmargin.margin.deribit import DeribitMode, DeribitModel

CAPTURES = Path(__file__).resolve().parents[1] / "margin" / "deribit" / "captures"
NAMES = ("doc-2024", "eth-2026")
PUBLISHED_IM = {"doc-2024": 0.06284313098, "eth-2026": 0.157461562265}
"""risk_matrix_margin of each reply (coin): the IM of its positions."""
INDEX = {"doc-2024": ("BTC", 65666.19), "eth-2026": ("ETH", 1949.34)}


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text())
    return data


def _result(data: dict[str, Any]) -> dict[str, Any]:
    inner: dict[str, Any] = data.get("result", data)
    return inner


def _write(tmp_path: Path, data: Any, name: str = "capture.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("name", NAMES)
def test_published_replies_verify(name: str) -> None:
    result = _invoke("verify", "deribit", str(CAPTURES / f"{name}.json"))
    assert result.exit_code == 0, result.output
    assert "match within Deribit's 9-decimal rounding" in result.stdout
    assert "MISMATCH" not in result.stdout
    assert "0 beyond 1e-09" in result.stdout


@pytest.mark.parametrize("name", NAMES)
def test_verify_json_compares_every_vector_cell_and_margin(name: str) -> None:
    result = _invoke("verify", "deribit", str(CAPTURES / f"{name}.json"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["tolerance"] == 1e-9
    quantities = [r["quantity"] for r in report["rows"]]
    data = _result(_load(name))
    n_positions = len(data["initial_risk_vectors"])
    n_units = len(data["aggregated_risk_vectors"]) + len(
        data.get("pre_aggregated_risk_vectors", {})
    )
    assert sum(
        q.startswith(("initial ", "pre_aggregated ", "aggregated ")) for q in quantities
    ) == (35 * (n_positions + n_units))
    rows = {r["quantity"]: r for r in report["rows"]}
    assert rows["risk_matrix_margin"]["published"] == PUBLISHED_IM[name]
    assert abs(rows["risk_matrix_margin"]["difference"]) < 5e-10
    assert rows["worst_case_bucket (cell)"]["difference"] == 0


def test_tampered_vector_cell_exits_1_and_names_it(tmp_path: Path) -> None:
    data = _load("doc-2024")
    data["result"]["aggregated_risk_vectors"]["btc_btc"]["standard"][4] += 1e-6
    path = _write(tmp_path, data)
    result = _invoke("verify", "deribit", str(path), "--json")
    assert result.exit_code == 1, result.output
    bad = [r for r in json.loads(result.stdout)["rows"] if not r["ok"]]
    assert [(r["unit"], r["quantity"]) for r in bad] == [
        ("btc_btc", "aggregated BTC -12% vol none")
    ]
    assert bad[0]["difference"] == pytest.approx(-1e-6, rel=1e-6)
    table = _invoke("verify", "deribit", str(path))
    assert table.exit_code == 1
    assert "MISMATCH (1 numbers)" in table.stdout


def test_tampered_margin_beyond_the_rounding_exits_1(tmp_path: Path) -> None:
    data = _load("eth-2026")
    details = data["margins"]["eth"]["initial_margin_details"]["risk_matrix_margin_details"]
    details["roll_shock"] += 2e-9  # beyond Deribit's 9-decimal rounding
    result = _invoke("verify", "deribit", str(_write(tmp_path, data)))
    assert result.exit_code == 1, result.output
    # within it: accepted
    details["roll_shock"] -= 1.5e-9
    assert _invoke("verify", "deribit", str(_write(tmp_path, data))).exit_code == 0


def test_reply_without_positions_takes_a_portfolio_file(tmp_path: Path) -> None:
    data = _load("eth-2026")
    positions = data["portfolio"].pop("position")
    path = _write(tmp_path, data)
    missing = _invoke("verify", "deribit", str(path))
    assert missing.exit_code == 2
    assert "result.portfolio.position" in missing.stderr
    assert "--portfolio" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    portfolio = {
        "id": "me",
        "positions": [
            {"instrument": s, "quantity": q, "unit": "base"} for s, q in positions.items()
        ],
    }
    book = _write(tmp_path, portfolio, "positions.json")
    result = _invoke("verify", "deribit", str(path), "--portfolio", str(book))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["result"].pop("index_price"), "result.index_price"),
        (lambda d: d["result"]["index_price"].update(btc_usd="65k"), "index_price.btc_usd"),
        (lambda d: d["result"]["model_params"]["general"].pop("timestamp"), "general.timestamp"),
        (
            lambda d: d["result"]["model_params"]["currency"]["btc"].update(pnl_offset=1.5),
            "capture.json: model_params.currency.btc.pnl_offset",
        ),
        (lambda d: d["result"].update(ticker=[1, 2]), "result.ticker"),
    ],
)
def test_bad_reply_is_a_one_line_error_naming_the_field(
    tmp_path: Path, edit: Any, field: str
) -> None:
    data = _load("doc-2024")
    edit(data)
    result = _invoke("verify", "deribit", str(_write(tmp_path, data)))
    assert result.exit_code == 2, result.output
    assert field in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_not_json_unknown_model_and_missing_file_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    for args in (
        ("verify", "deribit", str(path)),
        ("verify", "okx", str(CAPTURES / "doc-2024.json")),
        ("verify", "deribit", str(tmp_path / "absent.json")),
        ("params", "import", "okx", str(CAPTURES / "doc-2024.json")),
    ):
        result = _invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("pmargin: error: ")


@pytest.mark.parametrize("name", NAMES)
def test_params_import_writes_an_override_margin_accepts(name: str, tmp_path: Path) -> None:
    out = tmp_path / "deribit-import.toml"
    result = _invoke("params", "import", "deribit", str(CAPTURES / f"{name}.json"), "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    parsed = tomllib.loads(text)
    assert parsed["base"] == "deribit"
    published = _result(_load(name))["model_params"]
    for table in ("currency", "currency_pair"):
        for key, values in published[table].items():
            assert parsed[table][key] == values
    assert parsed["currency"]["usdc"] == published["currency"]["usd"]
    model = get_model("deribit", out)
    assert isinstance(model, DeribitModel)
    usd = model.params.currency("usd")
    assert usd.pnl_offset == published["currency"]["usd"]["pnl_offset"]
    # the imported file through `pmargin margin --params`: the published IM of the positions
    data = _result(_load(name))
    coin, index = INDEX[name]
    portfolio = {
        "id": name,
        "positions": [
            {"instrument": s, "quantity": q, "unit": "base"}
            for s, q in data["portfolio"]["position"].items()
        ],
    }
    market = {
        "timestamp": data["model_params"]["general"]["timestamp"],
        "index": {coin: index},
        "marks": {s: {"price": t["mark_price"]} for s, t in data["ticker"].items()},
    }
    p, m = _write(tmp_path, portfolio, "p.json"), _write(tmp_path, market, "m.json")
    margin = _invoke("margin", "-p", str(p), "-m", str(m), "--params", str(out), "--json")
    assert margin.exit_code == 0, margin.output
    (unit,) = json.loads(margin.stdout)["accounts"][0]["risk_units"]
    assert unit["initial_margin"] == pytest.approx(PUBLISHED_IM[name], abs=5e-10)


def test_params_import_cross_and_to_stdout(tmp_path: Path) -> None:
    result = _invoke("params", "import", "deribit-cross", str(CAPTURES / "eth-2026.json"))
    assert result.exit_code == 0, result.output
    path = tmp_path / "x.toml"
    path.write_text(result.stdout)
    model = get_model("deribit", path)
    assert isinstance(model, DeribitModel)
    assert model.params.mode is DeribitMode.CROSS
    assert model.params.currency("eth").pnl_offset == 0.6

"""`pmargin price` reproduces Deribit's own marks and Greeks on real option chains.

The chains are in ``../shared/data/deribit`` (see its README for sources and the tolerances
measured there). Each option is priced through the CLI's JSON output with its own forward
(``underlying_price``) and mark IV, at its own ticker timestamp (rows were fetched one by one).
Deribit's units: mark price in coin, vega USD per vol point, theta USD per day, gamma per USD.
"""

from __future__ import annotations

import ast
import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app

runner = CliRunner()
CHAINS_2020 = ["schepal_btc_ticker_chain_20200514.csv", "schepal_btc_ticker_chain_20200521.csv"]
THETA_MIN_DAYS = 1.5  # Deribit's theta departs from the instantaneous value closer to expiry


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC).isoformat().replace("+00:00", "Z")


def _price_cli(tmp_path: Path, market: dict[str, Any], symbols: list[str]) -> list[dict]:
    path = tmp_path / "market.json"
    path.write_text(json.dumps(market))
    result = runner.invoke(app, ["price", "--market", str(path), "--json", *symbols])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / "deribit" / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("chain", CHAINS_2020)
def test_2020_chains_marks_and_greeks(shared_data: Path, tmp_path: Path, chain: str) -> None:
    errors: dict[str, list[float]] = {
        "price": [],
        "delta": [],
        "gamma": [],
        "vega": [],
        "theta": [],
    }
    rows = _rows(shared_data, chain)
    assert len(rows) > 300
    for row in rows:
        expiry_ms, ts_ms = float(row["expiration_timestamp"]), float(row["timestamp"])
        market = {
            "timestamp": _iso(ts_ms),
            "index": {"BTC": float(row["index_price"])},
            "forwards": {"BTC": {_iso(expiry_ms): float(row["underlying_price"])}},
            "marks": {row["instrument_name"]: {"iv": float(row["mark_iv"]) / 100.0}},
        }
        (ours,) = _price_cli(tmp_path, market, [row["instrument_name"]])
        greeks = ast.literal_eval(row["greeks"])
        errors["price"].append(ours["price"] - float(row["mark_price"]))
        errors["delta"].append(ours["delta"] - greeks["delta"])
        errors["gamma"].append(ours["gamma"] - greeks["gamma"])
        errors["vega"].append(ours["vega"] / 100.0 - greeks["vega"])
        if (expiry_ms - ts_ms) / 86_400_000.0 > THETA_MIN_DAYS:
            errors["theta"].append(ours["theta"] / 365.0 - greeks["theta"])
    abs_err = {k: np.abs(v) for k, v in errors.items()}
    # ../shared/data/deribit/README.md reports (rounded) median 4e-6 / max 1e-3 coin for the
    # mark price and median 4e-6 / max 3e-4 for delta. Measured here: max 1.14e-3 coin (a deep
    # ITM put worth 2.2 coin, 43 days out) and 2.8e-4. Deribit rounds Greeks to 5 decimals.
    assert abs_err["price"].max() <= 1.2e-3
    assert median(abs_err["price"]) <= 1e-5
    assert abs_err["delta"].max() <= 3e-4
    assert median(abs_err["delta"]) <= 1e-5
    assert abs_err["gamma"].max() <= 6e-6
    assert abs_err["vega"].max() <= 2e-3  # USD per vol point
    assert len(abs_err["theta"]) > 200
    assert abs_err["theta"].max() <= 5e-3  # USD per day; measured max 4.1e-3
    assert median(abs_err["theta"]) <= 1e-3


def test_2026_chain_single_snapshot(shared_data: Path, tmp_path: Path) -> None:
    rows = _rows(shared_data, "znmahbub_deribit_options_snapshot_20260105T092511Z.csv")
    timestamps = {r["timestamp"] for r in rows}
    assert len(timestamps) == 1
    forwards: dict[str, dict[str, float]] = {}
    for r in rows:
        forwards.setdefault(r["currency"], {})[r["expiry_datetime"]] = float(r["underlying"])
    market = {
        "timestamp": rows[0]["timestamp"],
        "index": {r["currency"]: float(r["index_price"]) for r in rows},
        "forwards": forwards,
        "marks": {r["instrument_name"]: {"iv": float(r["implied_volatility"])} for r in rows},
    }
    ours = _price_cli(tmp_path, market, [r["instrument_name"] for r in rows])
    assert len(ours) == len(rows) == 1286
    by_ccy: dict[str, dict[str, list[float]]] = {}
    for r, o in zip(rows, ours, strict=True):
        assert o["instrument"] == r["instrument_name"]
        e = by_ccy.setdefault(r["currency"], {"price": [], "delta": [], "vega": []})
        e["price"].append(abs(o["price"] - float(r["mark_price"])))
        e["delta"].append(abs(o["delta"] - float(r["delta"])))
        vega_diff = abs(o["vega"] / 100.0 - float(r["vega"]))
        # Relative where vega exceeds 0.01 USD per vol point, absolute (in 0.01 units) below.
        e["vega"].append(vega_diff / max(float(r["vega"]), 0.01))
    # README: mark price consistent with mark_iv to 2e-5 coin (BTC) and "max 1e-3" (ETH,
    # measured 1.06e-3 on an ITM option worth 3.4 coin). Delta and vega come from ticker calls
    # made after the book summary, so they drift with the underlying: delta up to ~5e-3
    # (measured 5.2e-3), vega up to 3.1% (medians 3e-5..2e-4 and 0.02%..0.1%).
    assert max(by_ccy["BTC"]["price"]) <= 2e-5
    assert max(by_ccy["ETH"]["price"]) <= 1.1e-3
    for ccy in ("BTC", "ETH"):
        assert max(by_ccy[ccy]["delta"]) <= 6e-3
        assert median(by_ccy[ccy]["delta"]) <= 3e-4
        assert max(by_ccy[ccy]["vega"]) <= 0.04
        assert median(by_ccy[ccy]["vega"]) <= 2e-3


def test_2024_eth_book_summary_mark_prices_invert(shared_data: Path, tmp_path: Path) -> None:
    """No IV in this file: every mark price is inverted to an IV that reprices it exactly."""
    rows = _rows(shared_data, "jiaxiang_eth_book_summary_20240108.csv")
    stamps = sorted(int(r["creation_timestamp"]) for r in rows)
    assert stamps[-1] - stamps[0] < 1_000  # one API call: 15 ms apart at most
    # A few expiries show two underlying prices (future vs synthetic); any one forward per
    # expiry is fine here, since the same forward is used to invert and to reprice.
    expiry_forward: dict[str, float] = {}
    for r in rows:
        expiry_forward.setdefault(_day(r), float(r["underlying_price"]))
    # Deribit marks a few deep ITM options a hair below intrinsic value (in coin,
    # (F - K)/F for a call); no volatility reproduces those, and pmargin must say so.
    below = [r for r in rows if float(r["mark_price"]) < _coin_intrinsic(r, expiry_forward)]
    fine = [r for r in rows if r not in below]
    assert 0 < len(below) < 10
    market = {
        "timestamp": _iso(float(stamps[0])),
        "index": {"ETH": float(rows[0]["estimated_delivery_price"])},
        "forwards": {"ETH": expiry_forward},
        "marks": {r["instrument_name"]: {"price": float(r["mark_price"])} for r in rows},
    }
    ours = _price_cli(tmp_path, market, [r["instrument_name"] for r in fine])
    priced = [(float(r["mark_price"]), o) for r, o in zip(fine, ours, strict=True)]
    # Worthless options marked at exactly 0 carry no volatility: vol 0, value 0.
    zero = [o for mark, o in priced if mark == 0.0]
    assert all(o["price"] == 0.0 and o["iv"] == 0.0 for o in zero)
    ivs = np.array([o["iv"] for mark, o in priced if mark > 0.0])
    rel = np.array([abs(o["price"] / mark - 1.0) for mark, o in priced if mark > 0.0])
    assert len(ivs) > 500
    assert (ivs > 0.05).all()
    assert (ivs < 5.0).all()
    assert rel.max() <= 1e-9
    path = tmp_path / "market.json"
    result = runner.invoke(app, ["price", "-m", str(path), below[0]["instrument_name"]])
    assert result.exit_code == 2
    assert below[0]["instrument_name"] in result.stderr
    assert "below the discounted intrinsic value" in result.stderr


def _day(row: dict[str, str]) -> str:
    return datetime.strptime(row["expire_date"], "%d%b%y").date().isoformat()


def _coin_intrinsic(row: dict[str, str], forwards: dict[str, float]) -> float:
    f, k = forwards[_day(row)], float(row["strike_price"])
    return max(f - k, 0.0) / f if row["option_type"] == "C" else max(k - f, 0.0) / f

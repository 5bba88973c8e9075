"""A market from a Deribit chain: saved replies (fixtures) and the four real chains.

The fixtures in ``fixtures/chain/`` follow the shapes of Deribit's API reference
(``public/get_book_summary_by_currency``, ``public/ticker``) with our own values: marks and
mark IVs from known raw SVI slices (28MAR25: a=0.004, b=0.03, rho=-0.25, m=0.02, sigma=0.1;
25APR25: a=0.009, b=0.045, rho=-0.2, m=0.03, sigma=0.14), bid and ask 2 % either side.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from pmargin.book import portfolio_from_dict
from pmargin.cli.main import app
from pmargin.engine import VenueMarket, margin_report, venue_market
from pmargin.errors import InputError
from pmargin.io import market_from_chain, read_deribit_chain, reprice_chain
from pmargin.market import RawSVI, load_market
from shared_paths import shared_data_dir

REPLIES = Path(__file__).parent / "fixtures" / "chain"
SUMMARY = REPLIES / "deribit_book_summary_btc_option.json"
TICKERS = REPLIES / "deribit_tickers_btc.json"
MAR = datetime(2025, 3, 28, 8, tzinfo=UTC)
APR = datetime(2025, 4, 25, 8, tzinfo=UTC)
TRUE = {
    MAR: RawSVI(0.0040, 0.030, -0.25, 0.02, 0.10),
    APR: RawSVI(0.0090, 0.045, -0.20, 0.03, 0.14),
}

REAL_CHAINS = {
    # file: (options outside their bid-ask at most, worst outside at most, coin)
    "jiaxiang_eth_book_summary_20240108.csv": (30, 0.001),
    "schepal_btc_ticker_chain_20200514.csv": (15, 0.002),
    "schepal_btc_ticker_chain_20200521.csv": (22, 0.0016),
    "znmahbub_deribit_options_snapshot_20260105T092511Z.csv": (55, 0.0002),
}
"""Measured (docs/market.md): 25 / 0.00090, 11 / 0.00180, 18 / 0.00147, 47 / 0.000175."""


def _summary_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(SUMMARY.read_text())["result"]
    return rows


def test_book_summary_reply_builds_the_market_by_the_stated_rules() -> None:
    quotes = read_deribit_chain([SUMMARY])
    assert len(quotes) == 40
    built = market_from_chain(quotes)
    doc = built.document
    assert doc["timestamp"] == "2025-03-03T08:00:00Z"
    assert doc["index"] == {"BTC": 86000.0}  # estimated_delivery_price (no index_price)
    assert doc["forwards"]["BTC"] == {
        "2025-03-28T08:00:00Z": 86250.0,
        "2025-04-25T08:00:00Z": 86700.0,
    }
    assert doc["marks"]["BTC-28MAR25"] == {"price": 86250.0}  # a listed future
    assert not any(s.startswith("SYN") or s == "BTC-25APR25" for s in doc["marks"])
    by_symbol = {q.instrument.symbol: q.mark for q in quotes}
    assert doc["marks"]["BTC-28MAR25-90000-C"] == {"price": by_symbol["BTC-28MAR25-90000-C"]}
    assert sum(1 for s in doc["marks"] if s.endswith(("-C", "-P"))) == 40
    snap = built.snapshot
    assert snap.forward("BTC", MAR) == 86250.0
    for expiry, svi in TRUE.items():
        t = snap.year_fraction(expiry)
        forward = snap.forward("BTC", expiry)
        strikes = forward * np.exp(np.linspace(-0.3, 0.3, 13))
        model = snap.surface_vols("BTC", strikes, forward, t)
        true = np.sqrt(svi.total_variance(np.log(strikes / forward)) / t)
        assert float(np.abs(model - true).max()) < 2e-3  # mark IVs are rounded to 0.01 vp
    fit = built.fits["BTC"]
    assert fit.ok
    assert fit.rmse_vol_points < 0.05
    assert built.skipped == ()


def test_every_fixture_option_reprices_within_its_bid_ask() -> None:
    quotes = read_deribit_chain([SUMMARY])
    report = reprice_chain(market_from_chain(quotes).snapshot, quotes)
    assert len(report.symbols) == 40
    assert report.n_outside == 0
    assert report.worst[1] == 0.0


def test_marks_can_be_left_out() -> None:
    built = market_from_chain(read_deribit_chain([SUMMARY]), marks=False)
    assert list(built.document["marks"]) == ["BTC-28MAR25"]


def test_ticker_replies_take_the_index_price_and_the_latest_timestamp() -> None:
    quotes = read_deribit_chain([TICKERS])
    assert len(quotes) == 6
    assert {q.instrument.symbol for q in quotes} >= {"BTC-28MAR25-85000-C"}
    assert quotes[0].index == 86000.0
    assert quotes[0].bid < quotes[0].mark < quotes[0].ask
    built = market_from_chain(quotes)
    assert built.document["index"] == {"BTC": 86000.0}
    assert built.document["timestamp"] == "2025-03-03T07:59:58.500000Z"


def test_forward_is_the_median_of_disagreeing_rows(tmp_path: Path) -> None:
    rows = [r for r in _summary_rows() if "28MAR25" in r["instrument_name"]]
    for i, row in enumerate(rows):
        row["underlying_price"] = 86250.0 + (i % 3 - 1) * 10.0 + (50.0 if i == 0 else 0.0)
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    built = market_from_chain(read_deribit_chain([path]))
    expected = float(np.median([r["underlying_price"] for r in rows]))
    assert built.document["forwards"]["BTC"]["2025-03-28T08:00:00Z"] == expected


def test_a_plain_list_of_rows_and_a_list_of_replies_read_alike(tmp_path: Path) -> None:
    rows = _summary_rows()
    plain, replies = tmp_path / "plain.json", tmp_path / "replies.json"
    plain.write_text(json.dumps(rows))
    replies.write_text(json.dumps([{"jsonrpc": "2.0", "id": 1, "result": rows}]))
    assert read_deribit_chain([plain]) == read_deribit_chain([replies])


def test_non_options_are_skipped(tmp_path: Path) -> None:
    rows = _summary_rows()
    future = copy.deepcopy(rows[0])
    future["instrument_name"] = "BTC-PERPETUAL"
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"jsonrpc": "2.0", "result": [future, *rows]}))
    assert len(read_deribit_chain([path])) == 40


@pytest.mark.parametrize(
    ("document", "match"),
    [
        (
            {"jsonrpc": "2.0", "id": 3, "error": {"code": 10009, "message": "not_enough_funds"}},
            r"deribit reply .*\.error",
        ),
        ({"jsonrpc": "2.0", "id": 3, "usIn": 1}, "has no result"),
        ({"jsonrpc": "2.0", "result": [{"mark_price": 0.01}]}, "instrument_name"),
        ({"jsonrpc": "2.0", "result": [{"instrument_name": "BTC-XX-1-C"}]}, "instrument_name"),
        ({"jsonrpc": "2.0", "result": 7}, "result"),
    ],
)
def test_unrecognised_replies_are_refused_naming_deribit(
    tmp_path: Path, document: Any, match: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=match):
        read_deribit_chain([path])


def test_bad_numbers_name_the_field(tmp_path: Path) -> None:
    rows = _summary_rows()[:1]
    rows[0]["mark_price"] = "cheap"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(InputError, match=r"\[0\]\.mark_price"):
        read_deribit_chain([path])
    rows[0]["mark_price"] = 0.01
    del rows[0]["creation_timestamp"]
    path.write_text(json.dumps(rows))
    with pytest.raises(InputError, match="timestamp"):
        read_deribit_chain([path])


def test_cli_from_deribit_writes_a_market_file(tmp_path: Path) -> None:
    out = tmp_path / "market.json"
    result = CliRunner().invoke(app, ["market", "from-deribit", str(SUMMARY), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "0 of 40 outside their bid-ask" in result.output
    snap = load_market(out)
    assert snap.forward("BTC", APR) == 86700.0
    again = CliRunner().invoke(app, ["market", "from-deribit", str(SUMMARY), "-o", str(out)])
    assert again.exit_code == 2
    as_json = CliRunner().invoke(
        app, ["market", "from-deribit", str(SUMMARY), "-o", str(out), "--force", "--json"]
    )
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["reprice"]["outside"] == 0


def test_cli_bad_reply_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"jsonrpc": "2.0", "error": {"message": "x"}}))
    result = CliRunner().invoke(
        app, ["market", "from-deribit", str(bad), "-o", str(tmp_path / "m.json")]
    )
    assert result.exit_code == 2
    assert "is an error reply" in result.output
    assert not (tmp_path / "m.json").exists()


# ------------------------------------------------------------------ the four real chains


@pytest.fixture(scope="module", params=sorted(REAL_CHAINS))
def real_chain(request: pytest.FixtureRequest) -> tuple[str, VenueMarket]:
    """The market built from one real chain (once per module)."""
    path = shared_data_dir() / "deribit" / request.param
    if not path.is_file():
        pytest.skip(f"real Deribit chain not found at {path} (set PMARGIN_SHARED_DATA)")
    return request.param, venue_market("deribit", [path])


def test_real_chain_reprices_within_bid_ask_but_for_a_stated_few(
    real_chain: tuple[str, VenueMarket],
) -> None:
    name, built = real_chain
    most_outside, worst_bound = REAL_CHAINS[name]
    symbol, worst = built.reprice.worst
    print(
        f"{name}: {built.reprice.n_outside} of {len(built.reprice.symbols)} "
        f"outside bid-ask, worst {symbol} by {worst:.3g}"
    )
    assert built.reprice.n_outside <= most_outside
    assert worst <= worst_bound
    for fit in built.chain.fits.values():
        assert fit.butterfly_ok
    assert built.chain.skipped == ()


def test_real_chain_market_margins_a_book(real_chain: tuple[str, VenueMarket]) -> None:
    snap = real_chain[1].chain.snapshot
    positions: list[dict[str, Any]] = []
    coin = next(iter(snap.index))
    options = sorted(s for s in snap.marks if s.startswith(f"{coin}-") and s.endswith("-C"))
    expiries = sorted(
        {s.split("-")[1] for s in options},
        key=lambda c: snap.year_fraction(
            datetime.strptime(c, "%d%b%y").replace(hour=8, tzinfo=UTC)
        ),
    )
    middle = expiries[len(expiries) // 2]
    forward = snap.forward(coin, datetime.strptime(middle, "%d%b%y").replace(hour=8, tzinfo=UTC))
    calls = [s for s in options if s.split("-")[1] == middle]
    atm = min(calls, key=lambda s: abs(float(s.split("-")[2]) - forward))
    put = atm[:-1] + "P"
    positions = [
        {"instrument": atm, "quantity": -5.0},
        {"instrument": put, "quantity": -5.0},
    ]
    futures = [s for s in snap.marks if s.count("-") == 1]
    if futures:
        positions.append({"instrument": futures[0], "quantity": 10_000.0})
    book = portfolio_from_dict(
        {"accounts": [{"id": "chain", "balances": {coin: 10.0}, "positions": positions}]}
    )
    for model in ("deribit", "standard"):
        report = margin_report(book, snap, model)
        im = float(report.health.initial_margin[0])
        assert math.isfinite(im)
        assert im > 0.0

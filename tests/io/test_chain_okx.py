"""A market from OKX replies: option summary + mark prices (+ index tickers).

The fixtures in ``fixtures/chain/`` follow the shapes of OKX's API reference
(``GET /api/v5/public/opt-summary``, ``/public/mark-price``, ``/market/index-tickers``:
``{"code", "msg", "data"}``, numbers as text) with our own values, from the same known SVI
slices as the Deribit fixtures (``test_chain_deribit.py``).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app
from pmargin.errors import InputError
from pmargin.io import market_from_chain, read_okx_chain, reprice_chain
from pmargin.market import RawSVI, load_market

REPLIES = Path(__file__).parent / "fixtures" / "chain"
SUMMARY = REPLIES / "okx_opt_summary_btc.json"
MARKS = REPLIES / "okx_mark_price_option.json"
INDEX = REPLIES / "okx_index_tickers.json"
MAR = datetime(2025, 3, 28, 8, tzinfo=UTC)
APR = datetime(2025, 4, 25, 8, tzinfo=UTC)
TRUE = {
    MAR: RawSVI(0.0040, 0.030, -0.25, 0.02, 0.10),
    APR: RawSVI(0.0090, 0.045, -0.20, 0.03, 0.14),
}


def test_summary_marks_and_index_build_the_market() -> None:
    quotes = read_okx_chain([SUMMARY, MARKS, INDEX])
    assert len(quotes) == 40
    assert quotes[0].instrument.symbol == "BTC-USD-250328-60000-C"
    marks = {r["instId"]: float(r["markPx"]) for r in json.loads(MARKS.read_text())["data"]}
    assert all(q.mark == marks[q.instrument.symbol] for q in quotes)
    built = market_from_chain(quotes)
    doc = built.document
    assert doc["index"] == {"BTC": 86000.0}
    assert doc["forwards"]["BTC"] == {
        "2025-03-28T08:00:00Z": 86250.0,
        "2025-04-25T08:00:00Z": 86700.0,
    }
    snap = built.snapshot
    for expiry, svi in TRUE.items():
        t = snap.year_fraction(expiry)
        forward = snap.forward("BTC", expiry)
        strikes = forward * np.exp(np.linspace(-0.3, 0.3, 13))
        true = np.sqrt(svi.total_variance(np.log(strikes / forward)) / t)
        model = snap.surface_vols("BTC", strikes, forward, t)
        assert float(np.abs(model - true).max()) < 1e-3
    assert built.fits["BTC"].ok
    report = reprice_chain(snap, quotes)
    assert report.n_outside == 0


def test_without_index_reply_the_index_is_the_nearest_forward() -> None:
    built = market_from_chain(read_okx_chain([SUMMARY, MARKS]))
    assert built.document["index"] == {"BTC": 86250.0}


def test_without_mark_prices_marks_come_from_mark_vol() -> None:
    quotes = read_okx_chain([SUMMARY, INDEX])
    with_marks = read_okx_chain([SUMMARY, MARKS, INDEX])
    for mine, theirs in zip(quotes, with_marks, strict=True):
        # markPx has 8 decimals, markVol 6 (a vol error below 5e-7 times a vega below 0.2)
        assert mine.mark == pytest.approx(theirs.mark, abs=2e-7)


def test_bid_and_ask_come_from_bid_and_ask_vols() -> None:
    quote = read_okx_chain([SUMMARY])[0]
    assert quote.bid < quote.mark < quote.ask
    assert math.isfinite(quote.mark_iv)


def test_a_list_of_replies_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "all.json"
    path.write_text(json.dumps([json.loads(p.read_text()) for p in (SUMMARY, MARKS, INDEX)]))
    assert read_okx_chain([path]) == read_okx_chain([SUMMARY, MARKS, INDEX])


@pytest.mark.parametrize(
    ("document", "match"),
    [
        ({"code": "51001", "msg": "Instrument ID does not exist", "data": []}, r"okx .*\.code"),
        ({"jsonrpc": "2.0", "result": []}, "is not an OKX reply"),
        ({"code": "0", "msg": "", "data": {"instId": "x"}}, r"\.data"),
        ({"code": "0", "msg": "", "data": [{"uly": "BTC-USD"}]}, "instId"),
        ({"code": "0", "msg": "", "data": [{"instId": "BTC-USD", "px": "1"}]}, "not an option"),
        (
            {"code": "0", "msg": "", "data": [{"instId": "BTC-USD-250328-1-C", "markVol": "x"}]},
            "markVol",
        ),
    ],
)
def test_unrecognised_replies_are_refused_naming_okx(
    tmp_path: Path, document: Any, match: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=match):
        read_okx_chain([path])


def test_cli_from_okx(tmp_path: Path) -> None:
    out = tmp_path / "market.json"
    result = CliRunner().invoke(
        app, ["market", "from-okx", str(SUMMARY), str(MARKS), str(INDEX), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert load_market(out).index["BTC"] == 86000.0

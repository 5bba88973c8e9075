"""``pmargin data fetch``: the reply parsers on saved replies, paging, files the loaders read.

No test touches the network: the saved replies in ``replies/`` follow the shapes of Binance's
(``GET /api/v3/klines``, ``GET /fapi/v1/fundingRate``) and Deribit's
(``public/get_volatility_index_data``) API references with our own values, and
:func:`fetch_history` gets a fake ``get`` (the CLI test replaces ``http_get_json``).
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app
from pmargin.errors import InputError
from pmargin.history import _fetch as fetch_module
from pmargin.history import (
    fetch_history,
    load_funding,
    load_price_history,
    parse_dvol,
    parse_funding,
    parse_klines,
    read_dvol,
)
from pmargin.history._fetch import (
    BINANCE_FUNDING_URL,
    BINANCE_KLINES_URL,
    DERIBIT_DVOL_URL,
    http_get_json,
)

REPLIES = Path(__file__).parent / "replies"
DAY = 86_400_000
H4 = 14_400_000
START = int(datetime(2017, 8, 1, tzinfo=UTC).timestamp() * 1000)
NOW = datetime(2021, 6, 1, 12, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def _saved(name: str) -> Any:
    return json.loads((REPLIES / name).read_text())


def test_klines_parser_keeps_the_text_of_prices() -> None:
    candles = parse_klines(_saved("binance_klines_BTCUSDT_1d.json"))
    assert len(candles) == 3
    assert candles[0] == [
        1704067200000,
        "42283.58000000",
        "44184.10000000",
        "42180.77000000",
        "44179.55000000",
        "27174.29903000",
        1704153599999,
    ]


def test_funding_parser() -> None:
    rows = parse_funding(_saved("binance_funding_BTCUSDT.json"))
    assert rows == [
        (1704067200000, "0.00037409"),
        (1704096000001, "0.00028766"),
        (1704124800000, "-0.00001200"),
    ]


def test_dvol_parser_takes_the_close_and_the_continuation() -> None:
    points, continuation = parse_dvol(_saved("deribit_dvol_BTC.json"))
    assert points == [(1704067200000, 54.9), (1704153600000, 57.41), (1704240000000, 63.22)]
    assert continuation is None
    reply = _saved("deribit_dvol_BTC.json")
    reply["result"]["continuation"] = 1703980800000
    assert parse_dvol(reply)[1] == 1703980800000


@pytest.mark.parametrize(
    ("parser", "reply", "match"),
    [
        (parse_klines, {"code": -1121, "msg": "Invalid symbol."}, r"klines\.code"),
        (parse_klines, [[1704067200000, "1", "2"]], r"klines\[0\]"),
        (parse_klines, [[1704067200000, "x", "2", "1", "1", "1", 1704153599999]], r"\[0\]\[1\]"),
        (parse_klines, [[17040672, "1", "2", "1", "1", "1", 1704153599999]], "milliseconds"),
        (parse_funding, {"code": -1003, "msg": "Too many requests"}, r"fundingRate\.code"),
        (parse_funding, [{"fundingTime": 1704067200000}], "fundingRate"),
        (parse_funding, [{"fundingTime": 1704067200000, "fundingRate": "nan"}], "finite"),
        (parse_dvol, {"jsonrpc": "2.0", "error": {"code": 10047}}, r"\.error"),
        (parse_dvol, {"jsonrpc": "2.0", "result": {}}, r"result\.data"),
        (parse_dvol, {"result": {"data": [[1704067200000, 1, 2, 3]]}}, r"data\[0\]"),
        (parse_dvol, {"result": {"data": [[1704067200000, 1, 2, 3, -4]]}}, r"data\[0\]\[4\]"),
    ],
)
def test_malformed_replies_are_refused_naming_the_endpoint(
    parser: Any, reply: Any, match: str
) -> None:
    with pytest.raises(InputError, match=match):
        parser(reply)


class FakeVenues:
    """Serves paged replies like the three endpoints, from synthetic series."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, params: Mapping[str, str | int]) -> Any:
        self.calls.append((url, dict(params)))
        if url == BINANCE_KLINES_URL:
            step = DAY if params["interval"] == "1d" else H4
            first = max(int(params["startTime"]), START + 16 * DAY)  # listed 2017-08-17
            first = START + -(-(first - START) // step) * step
            scale = 1.0 if str(params["symbol"]).startswith("BTC") else 0.07
            rows = []
            for i in range(int(params["limit"])):
                t = first + i * step
                if t > NOW_MS:
                    break
                close = f"{scale * (5000.0 + 10.0 * ((t - START) // step % 97)):.2f}"
                rows.append(
                    [t, close, close, close, close, "1.5", t + step - 1, "0", 1, "0", "0", "0"]
                )
            return rows
        if url == BINANCE_FUNDING_URL:
            first = max(
                int(params["startTime"]),
                int(datetime(2019, 9, 10, 8, tzinfo=UTC).timestamp() * 1000),
            )
            first = -(-first // (8 * 3_600_000)) * 8 * 3_600_000
            return [
                {
                    "symbol": "BTCUSDT",
                    "fundingTime": t,
                    "fundingRate": "0.00010000",
                    "markPrice": "1",
                }
                for t in range(first, NOW_MS + 1, 8 * 3_600_000)
            ][: int(params["limit"])]
        if url == DERIBIT_DVOL_URL:
            end = int(params["end_timestamp"])
            start = int(params["start_timestamp"])
            days = [t for t in range(start, end + 1, DAY)][-300:]  # newest 300, then continue
            data = [[t, 60.0, 61.0, 59.0, 50.0 + (t // DAY) % 20] for t in days]
            more = days[0] - DAY if days and days[0] - DAY >= start else None
            return {"jsonrpc": "2.0", "result": {"data": data, "continuation": more}}
        raise AssertionError(url)


def test_fetch_pages_every_endpoint_and_writes_files_the_loaders_read(tmp_path: Path) -> None:
    fake = FakeVenues()
    seen: list[tuple[str, int]] = []
    written = fetch_history(tmp_path, get=fake, now=NOW, progress=lambda n, r: seen.append((n, r)))
    names = [f.path.name for f in written]
    assert names == [
        "binance_BTCUSDT_1d.csv",
        "binance_BTCUSDT_4h.csv",
        "binance_ETHUSDT_1d.csv",
        "binance_ETHUSDT_4h.csv",
        "binance_funding_rate_BTCUSDT_8h.csv",
        "deribit_dvol_btc_1d.json",
    ]
    klines = [c for c in fake.calls if c[0] == BINANCE_KLINES_URL]
    # about 8,300 4-hour candles per symbol from 2017-08-17: 9 pages of at most 1,000 each
    assert len([c for c in klines if c[1]["interval"] == "4h"]) == 2 * 9
    daily = load_price_history(tmp_path, frequency="1d", with_carry=True)
    four = load_price_history(tmp_path, frequency="4h")
    assert daily.times[0] == np.datetime64("2017-08-18T00:00:00")
    assert daily.times[-1] <= np.datetime64("2021-06-01T12:00:00")  # no open candle
    assert four.step == 4.0
    assert not four.gaps()
    assert written[0].rows == daily.n_times
    funding = load_funding(tmp_path)
    assert np.all(funding.rates == 0.0001)
    times, vols = read_dvol(tmp_path / "deribit_dvol_btc_1d.json")
    assert np.all(np.diff(times) > np.timedelta64(0, "s"))
    assert times[-1] <= np.datetime64("2021-06-01T12:00:00")
    assert vols.max() <= 0.7
    assert seen[0][0] == "binance_BTCUSDT_1d.csv"
    assert not list(tmp_path.glob(".*partial*"))


def test_fetch_only_deribit(tmp_path: Path) -> None:
    written = fetch_history(tmp_path, sources=["deribit"], get=FakeVenues(), now=NOW)
    assert [f.path.name for f in written] == ["deribit_dvol_btc_1d.json"]
    with pytest.raises(InputError, match="--source"):
        fetch_history(tmp_path, sources=["kraken"], get=FakeVenues(), now=NOW)


def test_cli_data_fetch_and_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVenues()
    monkeypatch.setattr(fetch_module, "http_get_json", fake)
    monkeypatch.setattr(fetch_module, "datetime", _FrozenDatetime)
    result = CliRunner().invoke(app, ["data", "fetch", "--to", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert "6 files written" in result.output
    assert (tmp_path / "cache" / "binance_ETHUSDT_4h.csv").is_file()
    where = CliRunner().invoke(app, ["data", "where", "--data", str(tmp_path / "cache")])
    assert where.exit_code == 0, where.output
    assert "--data" in where.output
    assert f"history folder: {tmp_path / 'cache'}" in where.output
    missing = CliRunner().invoke(app, ["data", "where", "--data", str(tmp_path / "none")])
    assert missing.exit_code == 2
    assert "--data" in missing.output


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> _FrozenDatetime:
        return cls(2021, 6, 1, 12, tzinfo=UTC)


def test_http_errors_name_the_url_after_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", refuse)
    monkeypatch.setattr(fetch_module.time, "sleep", lambda s: None)
    with pytest.raises(InputError, match="no route to host") as info:
        http_get_json(BINANCE_KLINES_URL, {"symbol": "BTCUSDT"}, attempts=3)
    assert info.value.field == "url"
    assert "symbol=BTCUSDT" in str(info.value)

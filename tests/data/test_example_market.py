"""The shipped example market snapshot: format, no-arbitrage surfaces, and its real-data anchors.

Expected values are recomputed here from the shared real data (``../shared/data``, skipped when
absent) and from closed forms; nothing is read back from the build script.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _example_files import (
    black76_call_put,
    deribit_dated,
    expiry_instant,
    load_example,
    parse_timestamp,
    svi_density_g,
    svi_w,
    years,
)
from scipy.optimize import brentq
from scipy.stats import norm

MARKET_KEYS = {"timestamp", "index", "prices", "rates", "marks", "forwards", "surfaces"}
CRYPTO = ("BTC", "ETH")
K_GRID = np.linspace(-3.0, 3.0, 2401)


@pytest.fixture(scope="module")
def market() -> dict[str, Any]:
    return load_example("example_market.json")


@pytest.fixture(scope="module")
def now(market: dict[str, Any]) -> datetime:
    return parse_timestamp(market["timestamp"])


def _slices(market: dict[str, Any], underlying: str, now: datetime) -> list[tuple[float, Any]]:
    """(T in years, slice) sorted by T."""
    out = [(years(now, expiry_instant(s["expiry"])), s) for s in market["surfaces"][underlying]]
    return sorted(out, key=lambda item: item[0])


def _vol(
    market: dict[str, Any], underlying: str, expiry: str, strike: float, now: datetime
) -> float:
    (entry,) = [s for s in market["surfaces"][underlying] if s["expiry"] == expiry]
    t = years(now, expiry_instant(expiry))
    k = np.array([math.log(strike / entry["forward"])])
    return math.sqrt(float(svi_w(entry["svi"], k)[0]) / t)


# ----------------------------------------------------------------------------- format


def test_top_level_keys_are_the_documented_ones(market: dict[str, Any]) -> None:
    assert set(market) == MARKET_KEYS


def test_timestamp_is_utc_midnight_closing_the_as_of_day(now: datetime) -> None:
    assert now == datetime(2025, 11, 13, tzinfo=UTC)


def test_every_mark_is_exactly_one_positive_price_or_iv(market: dict[str, Any]) -> None:
    kinds = set()
    for symbol, mark in market["marks"].items():
        assert len(mark) == 1, symbol
        ((kind, value),) = mark.items()
        kinds.add(kind)
        assert kind in {"price", "iv"}, symbol
        assert isinstance(value, float), symbol
        assert value > 0.0, symbol
    assert kinds == {"price", "iv"}


def test_every_svi_slice_has_the_five_raw_parameters_within_their_domain(
    market: dict[str, Any],
) -> None:
    for underlying, slices in market["surfaces"].items():
        for entry in slices:
            assert set(entry) == {"expiry", "forward", "svi"}
            svi = entry["svi"]
            assert set(svi) == {"a", "b", "rho", "m", "sigma"}
            assert svi["b"] >= 0.0
            assert abs(svi["rho"]) < 1.0
            assert svi["sigma"] > 0.0
            lowest = svi["a"] + svi["b"] * svi["sigma"] * math.sqrt(1.0 - svi["rho"] ** 2)
            assert lowest > 0.0, (underlying, entry["expiry"])


def test_crypto_expiries_are_deribit_dates_after_the_timestamp(
    market: dict[str, Any], now: datetime
) -> None:
    for underlying in CRYPTO:
        expiries = [date.fromisoformat(s["expiry"]) for s in market["surfaces"][underlying]]
        assert len(expiries) >= 9
        for day in expiries:
            assert expiry_instant(day.isoformat()) > now
            if (day - now.date()).days > 3:  # beyond the dailies only Friday expiries are listed
                assert day.weekday() == 4, day
        dated_futures = [deribit_dated(s) for s in market["marks"] if s.startswith(underlying)]
        futures = [d for d in dated_futures if d is not None and d["strike"] is None]
        assert len(futures) >= 5
        for future in futures:
            assert future["expiry"].weekday() == 4
            assert future["expiry"].isoformat() in market["forwards"][underlying]


# ----------------------------------------------------------------------------- no arbitrage


@pytest.mark.parametrize("underlying", [*CRYPTO, "SPX"])
def test_no_butterfly_arbitrage_density_g_non_negative(
    market: dict[str, Any], underlying: str
) -> None:
    for entry in market["surfaces"][underlying]:
        g = svi_density_g(entry["svi"], K_GRID)
        assert g.min() >= 0.0, (entry["expiry"], float(g.min()))


@pytest.mark.parametrize("underlying", CRYPTO)
def test_no_calendar_arbitrage_total_variance_non_decreasing(
    market: dict[str, Any], now: datetime, underlying: str
) -> None:
    w = np.array([svi_w(s["svi"], K_GRID) for _, s in _slices(market, underlying, now)])
    assert np.diff(w, axis=0).min() >= 0.0


def test_butterfly_check_catches_an_arbitrageable_slice() -> None:
    # A slice with a steep wing and tiny curvature radius violates g >= 0 (Gatheral's example
    # from Axel Vogt): the check used above must detect it.
    vogt = {"a": -0.0410, "b": 0.1331, "rho": 0.3060, "m": 0.3586, "sigma": 0.4153}
    assert svi_density_g(vogt, K_GRID).min() < 0.0


# ----------------------------------------------------------------------------- consistency


@pytest.mark.parametrize("underlying", [*CRYPTO, "SPX"])
def test_surface_forwards_equal_the_forwards_section(
    market: dict[str, Any], underlying: str
) -> None:
    forwards = market["forwards"][underlying]
    expiries = [s["expiry"] for s in market["surfaces"][underlying]]
    assert sorted(expiries) == sorted(forwards)
    for entry in market["surfaces"][underlying]:
        assert entry["forward"] == forwards[entry["expiry"]]


@pytest.mark.parametrize("underlying", CRYPTO)
def test_forwards_carry_one_positive_rate(
    market: dict[str, Any], now: datetime, underlying: str
) -> None:
    spot = market["index"][underlying]
    rates = []
    for expiry, forward in market["forwards"][underlying].items():
        t = years(now, expiry_instant(expiry))
        rates.append(math.log(forward / spot) / t)
    # one carry for every expiry, up to the 0.01 USD rounding of the forward
    assert max(rates) - min(rates) < 0.01 / spot / (1.0 / 365.0) * 2.0
    assert 0.0 < float(np.median(rates)) < 0.2


def test_future_marks_equal_the_forward_of_their_expiry(market: dict[str, Any]) -> None:
    n = 0
    for symbol, mark in market["marks"].items():
        parsed = deribit_dated(symbol)
        if parsed is not None and parsed["strike"] is None:
            assert mark == {
                "price": market["forwards"][parsed["underlying"]][parsed["expiry"].isoformat()]
            }
            n += 1
    assert n >= 10


def test_perpetual_marks_sit_within_ten_bp_of_the_index(market: dict[str, Any]) -> None:
    for symbol, underlying in [
        ("BTC-PERPETUAL", "BTC"),
        ("ETH-PERPETUAL", "ETH"),
        ("BTC_USDC-PERPETUAL", "BTC"),
    ]:
        price = market["marks"][symbol]["price"]
        assert abs(price / market["index"][underlying] - 1.0) < 1e-3


def test_option_iv_marks_match_the_surface_to_deribit_rounding(
    market: dict[str, Any], now: datetime
) -> None:
    n = 0
    for symbol, mark in market["marks"].items():
        parsed = deribit_dated(symbol)
        if parsed is None or parsed["strike"] is None or "iv" not in mark:
            continue
        vol = _vol(
            market, parsed["underlying"], parsed["expiry"].isoformat(), parsed["strike"], now
        )
        assert mark["iv"] == pytest.approx(vol, abs=5e-5 + 1e-12), symbol
        n += 1
    assert n >= 3


def test_option_price_marks_are_black76_in_coin_checked_with_quantlib(
    market: dict[str, Any], now: datetime
) -> None:
    ql = pytest.importorskip("QuantLib")
    n = 0
    for symbol, mark in market["marks"].items():
        parsed = deribit_dated(symbol)
        if parsed is None or parsed["strike"] is None or "price" not in mark:
            continue
        expiry = parsed["expiry"].isoformat()
        forward = market["forwards"][parsed["underlying"]][expiry]
        t = years(now, expiry_instant(expiry))
        vol = _vol(market, parsed["underlying"], expiry, parsed["strike"], now)
        kind = ql.Option.Call if parsed["right"] == "C" else ql.Option.Put
        usd = ql.blackFormula(kind, parsed["strike"], forward, vol * math.sqrt(t), 1.0)
        assert mark["price"] == pytest.approx(usd / forward, abs=1e-8), symbol
        call, put = black76_call_put(forward, parsed["strike"], t, vol)
        assert usd == pytest.approx(call if kind == ql.Option.Call else put, rel=1e-10)
        n += 1
    assert n >= 1


def test_spx_surface_is_flat_in_strike(market: dict[str, Any], now: datetime) -> None:
    (entry,) = market["surfaces"]["SPX"]
    t = years(now, expiry_instant(entry["expiry"]))
    vols = np.sqrt(svi_w(entry["svi"], K_GRID) / t)
    assert np.ptp(vols) == pytest.approx(0.0, abs=1e-12)
    assert 0.05 < vols[0] < 0.5
    assert "USD" in market["rates"]


# ----------------------------------------------------------------------------- realism


def _delta_strike_vol(
    market: dict[str, Any], underlying: str, expiry: str, delta: float, now: datetime
) -> float:
    forward = market["forwards"][underlying][expiry]
    t = years(now, expiry_instant(expiry))

    def gap(k: float) -> float:
        vol = _vol(market, underlying, expiry, forward * math.exp(k), now)
        d1 = -k / (vol * math.sqrt(t)) + 0.5 * vol * math.sqrt(t)
        return float(norm.cdf(d1)) - (0.0 if delta > 0 else 1.0) - delta

    return _vol(market, underlying, expiry, forward * math.exp(brentq(gap, -5.0, 5.0)), now)


@pytest.mark.parametrize("underlying", CRYPTO)
def test_25_delta_risk_reversals_and_butterflies_are_in_a_realistic_range(
    market: dict[str, Any], now: datetime, underlying: str
) -> None:
    # Deribit 2026-01-05 chain (shared data): 25d RR -2.7 .. +2.2 vol points, BF 0.4 .. 1.4.
    # Puts over calls at every expiry here; a few vol points either way is realistic.
    for entry in market["surfaces"][underlying]:
        expiry = entry["expiry"]
        atm = _vol(market, underlying, expiry, entry["forward"], now)
        call = _delta_strike_vol(market, underlying, expiry, 0.25, now)
        put = _delta_strike_vol(market, underlying, expiry, -0.25, now)
        assert -0.06 < call - put < 0.0, expiry
        assert 0.0 < (call + put) / 2.0 - atm < 0.03, expiry
        assert 0.3 < atm < 1.0, expiry


# ----------------------------------------------------------------------------- real-data anchors


def _binance_close(folder: Path, pair: str, day: date) -> float:
    with (folder / f"binance_{pair}_1d.csv").open() as handle:
        rows = {row["timestamp"]: float(row["close"]) for row in csv.DictReader(handle)}
    return rows[day.isoformat()]


def test_index_is_the_binance_daily_close_that_ends_at_the_timestamp(
    market: dict[str, Any], now: datetime, shared_data: Path
) -> None:
    day = (now - timedelta(days=1)).date()  # the daily candle that opens a day earlier
    assert market["index"]["BTC"] == _binance_close(shared_data, "BTCUSDT", day)
    assert market["index"]["ETH"] == _binance_close(shared_data, "ETHUSDT", day)


def _atm_vol_at_30_days(market: dict[str, Any], underlying: str, now: datetime) -> float:
    t30 = 30.0 / 365.0
    slices = _slices(market, underlying, now)
    t = np.array([ti for ti, _ in slices])
    w0 = np.array([float(svi_w(s["svi"], np.zeros(1))[0]) for _, s in slices])
    assert t[0] < t30 < t[-1]
    return math.sqrt(float(np.interp(t30, t, w0)) / t30)


def _dvol(folder: Path, day: date) -> float:
    points = json.loads((folder / "deribit_dvol_btc_1d.json").read_text())
    by_day = {datetime.fromtimestamp(ms / 1000, tz=UTC).date(): v for ms, v in points}
    assert max(by_day) == day  # the snapshot uses the last DVOL point
    return float(by_day[day]) / 100.0


def test_btc_atm_vol_interpolated_to_30_days_is_dvol(
    market: dict[str, Any], now: datetime, shared_data: Path
) -> None:
    dvol = _dvol(shared_data, (now - timedelta(days=1)).date())
    assert _atm_vol_at_30_days(market, "BTC", now) == pytest.approx(dvol, abs=1e-6)


def _realised_vol(folder: Path, pair: str, last: date, days: int) -> float:
    closes = [_binance_close(folder, pair, last - timedelta(days=i)) for i in range(days, -1, -1)]
    returns = np.diff(np.log(closes))
    return float(np.sqrt(np.mean(returns**2) * 365.0))


def test_eth_atm_vol_at_30_days_is_dvol_scaled_by_realised_vol_ratio(
    market: dict[str, Any], now: datetime, shared_data: Path
) -> None:
    last = (now - timedelta(days=1)).date()
    ratio = _realised_vol(shared_data, "ETHUSDT", last, 30) / _realised_vol(
        shared_data, "BTCUSDT", last, 30
    )
    expected = _dvol(shared_data, last) * ratio
    assert _atm_vol_at_30_days(market, "ETH", now) == pytest.approx(expected, abs=1e-6)


def test_forward_carry_is_thirty_day_mean_binance_funding_annualised(
    market: dict[str, Any], now: datetime, shared_data: Path
) -> None:
    with (shared_data / "binance_funding_rate_BTCUSDT_8h.csv").open() as handle:
        prints = [
            (datetime.fromisoformat(r["timestamp"]).replace(tzinfo=UTC), float(r["funding_rate"]))
            for r in csv.DictReader(handle)
        ]
    window = [rate for when, rate in prints if now - timedelta(days=30) <= when < now]
    assert len(window) == 90
    carry = sum(window) / len(window) * 3 * 365
    for underlying in CRYPTO:
        spot = market["index"][underlying]
        for expiry, forward in market["forwards"][underlying].items():
            t = years(now, expiry_instant(expiry))
            assert forward == pytest.approx(spot * math.exp(carry * t), abs=0.005 + 1e-9)


def test_usdt_price_is_coinbase_over_binance_btc_close(
    market: dict[str, Any], shared_data: Path
) -> None:
    with (shared_data / "bitstamp_coinbase_BTCUSD_1d_2011_2025.csv").open() as handle:
        coinbase = {r["timestamp"][:10]: float(r["close"]) for r in csv.DictReader(handle)}
    with (shared_data / "binance_BTCUSDT_1d.csv").open() as handle:
        binance = {r["timestamp"]: float(r["close"]) for r in csv.DictReader(handle)}
    common = sorted(set(coinbase) & set(binance))[-30:]
    expected = float(np.median([coinbase[d] / binance[d] for d in common]))
    assert market["prices"]["USDT"] == pytest.approx(expected, abs=5e-5)
    assert market["prices"]["USDC"] == 1.0

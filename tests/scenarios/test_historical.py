"""Historical and filtered historical simulation: windows, look-ahead, weights, vol moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _books import UNIVERSE, market

from pmargin.engine import instruments_for
from pmargin.errors import InputError
from pmargin.history import PriceHistory, load_price_history, per_step_lambda
from pmargin.scenarios import (
    HistoricalScenarios,
    ScenarioSource,
    StressedPeriod,
    VolMoveSource,
    historical_scenarios,
    parse_mpor,
    stressed_weights,
)
from pmargin.valuation import ResolvedInstruments, resolve_instruments

HOUR = np.timedelta64(3600, "s")
T0 = np.datetime64("2020-01-01T00:00:00", "s")


def _history(
    n: int = 800, step_hours: int = 24, seed: int = 0, vols: tuple[float, float] = (0.02, 0.03)
) -> PriceHistory:
    rng = np.random.default_rng(seed)
    r = rng.standard_normal((n - 1, 2)) * vols
    closes = np.exp(np.vstack([np.zeros((1, 2)), np.cumsum(r, axis=0)])) * [100.0, 10.0]
    times = T0 + HOUR * step_hours * np.arange(n)
    return PriceHistory(("BTC", "ETH"), times, closes)


@pytest.fixture(scope="module")
def resolved() -> ResolvedInstruments:
    return resolve_instruments(instruments_for(UNIVERSE), market())


def test_overlapping_windows_equal_close_ratios_by_index() -> None:
    history = _history()
    s = historical_scenarios(history, mpor="3d", lookback_days=100)
    n, h = history.n_times, 3
    # Windows start at every close from as_of - 100 days and end by as_of: starts n-101..n-4.
    starts = np.arange(n - 101, n - h)
    assert s.n_scenarios == starts.size
    expected = history.closes[starts + h] / history.closes[starts]
    np.testing.assert_allclose(s.spot_multiplier, expected.T, rtol=1e-15)
    np.testing.assert_array_equal(s.start, history.times[starts])
    np.testing.assert_array_equal(s.end - s.start, np.full(starts.size, 72 * HOUR))
    np.testing.assert_allclose(s.weights, 1.0 / starts.size)
    assert isinstance(s, ScenarioSource)
    assert len(s.labels) == s.n_scenarios


def test_no_look_ahead() -> None:
    history = _history()
    as_of = history.times[500]
    s = historical_scenarios(history, as_of=as_of, mpor="1d", lookback_days=200)
    assert s.end.max() == as_of == s.as_of
    # Changing every close after as_of changes nothing.
    closes = history.closes.copy()
    closes[501:] *= 3.0
    other = PriceHistory(history.names, history.times, closes)
    t = historical_scenarios(other, as_of=as_of, mpor="1d", lookback_days=200)
    np.testing.assert_array_equal(s.spot_multiplier, t.spot_multiplier)
    np.testing.assert_array_equal(s.vol_change, t.vol_change)
    f1 = historical_scenarios(history, as_of=as_of, lookback_days=200, filtered=True)
    f2 = historical_scenarios(other, as_of=as_of, lookback_days=200, filtered=True)
    np.testing.assert_array_equal(f1.spot_multiplier, f2.spot_multiplier)


def test_sub_daily_mpor_on_four_hour_data_and_gaps() -> None:
    history = _history(n=400, step_hours=4)
    s = historical_scenarios(history, mpor="8h", lookback_days=30)
    starts = np.arange(history.n_times - 181, history.n_times - 2)
    np.testing.assert_allclose(
        s.spot_multiplier, (history.closes[starts + 2] / history.closes[starts]).T
    )
    # An outage (one 4h close missing) drops the windows that span it.
    keep = np.ones(history.n_times, dtype=bool)
    keep[-50] = False
    gappy = PriceHistory(history.names, history.times[keep], history.closes[keep], step_hours=4)
    g = historical_scenarios(gappy, mpor="8h", lookback_days=30)
    assert np.all(g.end - g.start == 8 * HOUR)
    assert g.n_scenarios == s.n_scenarios - 3  # windows starting at closes -52, -51, -50
    with pytest.raises(InputError, match="mpor"):
        historical_scenarios(history, mpor="6h", lookback_days=30)
    with pytest.raises(InputError, match="mpor"):
        historical_scenarios(_history(), mpor="12h", lookback_days=30)
    with pytest.raises(InputError, match="mpor"):
        historical_scenarios(_history(), mpor="soon", lookback_days=30)


def test_parse_mpor() -> None:
    assert parse_mpor("4h") == 4.0
    assert parse_mpor("2d") == 48.0
    assert parse_mpor(12) == 12.0
    with pytest.raises(InputError, match="mpor"):
        parse_mpor(-1)


def test_bad_inputs_name_the_field() -> None:
    history = _history(n=100)
    with pytest.raises(InputError, match="lookback_days"):
        historical_scenarios(history, lookback_days=365)
    with pytest.raises(InputError, match="ewma_lambda"):
        historical_scenarios(history, lookback_days=30, ewma_lambda=1.0)
    with pytest.raises(InputError, match=r"underlyings\[0\]"):
        historical_scenarios(history, lookback_days=30, underlyings=["SOL"])
    with pytest.raises(InputError, match="stressed"):
        StressedPeriod(share=0.25)
    with pytest.raises(InputError, match=r"stressed\.share"):
        StressedPeriod(share=1.0, worst_days=5)


def test_stressed_weights_share() -> None:
    flags = np.array([True] * 3 + [False] * 97)
    w = stressed_weights(flags, 0.25)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert w[flags].sum() == pytest.approx(0.25)
    np.testing.assert_allclose(w[flags], 0.25 / 3)
    np.testing.assert_allclose(w[~flags], 0.75 / 97)
    # Already above the share: equal weights.
    np.testing.assert_allclose(stressed_weights(flags, 0.02), 0.01)


def test_stressed_window_outside_lookback_is_added() -> None:
    history = _history()
    stress = StressedPeriod(share=0.3, start=history.times[100], end=history.times[130])
    s = historical_scenarios(history, mpor="2d", lookback_days=200, stressed=stress)
    assert s.stressed.sum() == 29  # windows [t, t+2] inside closes 100..130
    assert s.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert s.weights[s.stressed].sum() == pytest.approx(0.3)
    assert s.n_scenarios == 29 + 199  # 199 lookback windows: starts n-201 .. n-3
    assert all(label.endswith("stressed") for label in np.array(s.labels)[s.stressed])


def test_worst_window_found_is_the_crash() -> None:
    history = _history()
    closes = history.closes.copy()
    closes[300:] *= np.exp(-np.linspace(0, 0.8, 11))[-1]  # a drop starting after close 299
    closes[300:311] = history.closes[300:311] * np.exp(-np.linspace(0.08, 0.8, 11))[:, None]
    crash = PriceHistory(history.names, history.times, closes)
    s = historical_scenarios(
        crash, mpor="1d", lookback_days=100, stressed=StressedPeriod(share=0.25, worst_days=10)
    )
    assert s.stressed_window is not None
    start, end = s.stressed_window
    assert history.times[295] <= start <= history.times[300] <= end <= history.times[312]
    assert s.weights[s.stressed].sum() == pytest.approx(0.25)


def _loop_ewma(r: np.ndarray, lam: float) -> np.ndarray:
    v = [float(np.mean(r[:30] ** 2))]
    for x in r:
        v.append(lam * v[-1] + (1.0 - lam) * x * x)
    return np.array(v)


@pytest.mark.parametrize("step_hours", [24, 4])
def test_filtered_moves_are_returns_rescaled_to_todays_ewma_vol(step_hours: int) -> None:
    history = _history(n=600, step_hours=step_hours)
    s = historical_scenarios(
        history, mpor=f"{2 * step_hours}h", lookback_days=40, filtered=True, ewma_lambda=0.9
    )
    lam = 0.9 ** (step_hours / 24)
    assert per_step_lambda(0.9, step_hours) == pytest.approx(lam)
    r = np.diff(np.log(history.closes), axis=0)
    for k in range(2):
        v = _loop_ewma(r[:, k], lam)
        scaled = r[:, k] * np.sqrt(v[-1] / v[:-1])
        idx = np.searchsorted(history.times, s.start)
        expected = np.exp(scaled[idx] + scaled[idx + 1])
        np.testing.assert_allclose(s.spot_multiplier[k], expected, rtol=1e-12)
        assert s.ewma_vol is not None
        assert s.ewma_vol[k] == pytest.approx(np.sqrt(v[-1] * 365 * 24 / step_hours))


def test_filtered_returns_have_todays_vol() -> None:
    # Calm (1%/day) then a turbulent regime (5%/day) for the last 60 days: FHS rescales the
    # whole one-year lookback to today's vol. The std of 365 rescaled daily returns has a
    # sampling error of about 1/sqrt(2 * 365) = 3.7%; the EWMA filter adds its own; 15%.
    rng = np.random.default_rng(5)
    sig = np.where(np.arange(899) < 840, 0.01, 0.05)[:, None] * [1.0, 1.5]
    r = rng.standard_normal((899, 2)) * sig
    closes = np.exp(np.vstack([np.zeros((1, 2)), np.cumsum(r, axis=0)]))
    history = PriceHistory(("BTC", "ETH"), T0 + 24 * HOUR * np.arange(900), closes)
    plain = historical_scenarios(history, lookback_days=365)
    fhs = historical_scenarios(history, lookback_days=365, filtered=True)
    assert fhs.ewma_vol is not None
    today_daily = fhs.ewma_vol / np.sqrt(365.0)
    np.testing.assert_allclose(np.log(fhs.spot_multiplier).std(axis=1), today_daily, rtol=0.15)
    # The plain set mixes both regimes and is far below today's vol.
    assert np.all(np.log(plain.spot_multiplier).std(axis=1) < 0.6 * today_daily)


def test_vol_moves_from_dvol_then_realised_vol_proxy(resolved: ResolvedInstruments) -> None:
    history = _history(n=200)
    iv = np.full(history.closes.shape, np.nan)
    iv[150:, 0] = 0.5 + 0.01 * np.arange(50)  # DVOL on BTC for the last 50 closes only
    h = PriceHistory(history.names, history.times, history.closes, iv)
    s = historical_scenarios(h, mpor="2d", lookback_days=100)
    idx = np.searchsorted(h.times, s.start)
    has = idx >= 150
    np.testing.assert_allclose(s.vol_change[0, has], iv[idx[has] + 2, 0] / iv[idx[has], 0] - 1)
    assert np.all(s.vol_source[0, has] == VolMoveSource.DVOL)
    assert np.all(s.vol_source[0, ~has] == VolMoveSource.REALISED_VOL)
    assert np.all(s.vol_source[1] == VolMoveSource.REALISED_VOL)
    r2 = np.diff(np.log(h.closes[:, 1])) ** 2
    rv = [np.sqrt(r2[t - 30 : t].mean() * 365) for t in (idx[0], idx[0] + 2)]
    assert s.vol_change[1, 0] == pytest.approx(rv[1] / rv[0] - 1.0)
    # apply: each option's vol times (1 + its underlying's vol move), floored.
    arrays = s.apply(resolved)
    names = [i.underlying for i in resolved.instruments]
    rows = [h.names.index(n) for n in names]
    assert arrays.spot_multiplier.shape == arrays.vol.shape == (len(resolved), s.n_scenarios)
    np.testing.assert_array_equal(arrays.spot_multiplier, s.spot_multiplier[rows])
    opt = resolved.is_option
    expected = np.maximum(0.01, resolved.vol[opt, None] * (1 + s.vol_change[np.array(rows)[opt]]))
    np.testing.assert_allclose(arrays.vol[opt], expected)
    assert np.all(np.isnan(arrays.vol[~opt]))
    np.testing.assert_array_equal(arrays.weight, 1.0)


def test_vol_floor_and_unknown_underlying(resolved: ResolvedInstruments) -> None:
    history = _history(n=200)
    iv = np.full(history.closes.shape, np.nan)
    iv[:, 0] = np.where(np.arange(200) % 2 == 0, 1.0, 0.001)  # DVOL swings 1000x
    s = historical_scenarios(
        PriceHistory(history.names, history.times, history.closes, iv),
        mpor="1d",
        lookback_days=50,
        min_vol=0.05,
    )
    arrays = s.apply(resolved)
    assert np.nanmin(arrays.vol) == pytest.approx(0.05)
    btc_only = historical_scenarios(history, lookback_days=50, underlyings=["BTC"])
    with pytest.raises(InputError, match="underlying: 'ETH'"):
        btc_only.apply(resolved)


def test_real_data_daily_and_four_hourly(shared_data: Path) -> None:
    daily = load_price_history(shared_data)
    s = historical_scenarios(
        daily,
        as_of="2024-06-01",
        mpor="2d",
        lookback_days=365,
        stressed=StressedPeriod(share=0.25, worst_days=30),
        filtered=True,
    )
    assert isinstance(s, HistoricalScenarios)
    assert s.end.max() <= np.datetime64("2024-06-01")
    assert s.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert s.weights[s.stressed].sum() == pytest.approx(0.25)
    assert s.stressed_window is not None
    assert s.stressed_window[1] <= np.datetime64("2024-06-01")
    # BTC vol moves come from DVOL inside its coverage; ETH from the realised-vol proxy.
    recent = s.start >= np.datetime64("2023-01-01")
    assert np.all(s.vol_source[0, recent] == VolMoveSource.DVOL)
    assert np.all(s.vol_source[1] == VolMoveSource.REALISED_VOL)
    plain = historical_scenarios(daily, as_of="2024-06-01", mpor="1d", lookback_days=30)
    i = np.searchsorted(daily.times, plain.start)
    np.testing.assert_allclose(plain.spot_multiplier, (daily.closes[i + 1] / daily.closes[i]).T)
    four = load_price_history(shared_data, frequency="4h")
    q = historical_scenarios(four, as_of="2025-01-01", mpor="4h", lookback_days=365)
    assert 365 * 6 - 20 < q.n_scenarios <= 365 * 6  # windows across outages are dropped
    assert np.all(q.end - q.start == 4 * HOUR)
    j = np.searchsorted(four.times, q.start)
    np.testing.assert_allclose(q.spot_multiplier, (four.closes[j + 1] / four.closes[j]).T)

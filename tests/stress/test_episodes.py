"""Episode windows: the library's search equals an independent brute force over the files."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.history import (
    EPISODES,
    WINDOW_RULES,
    PriceHistory,
    WindowRule,
    episode_names,
    find_window,
    select_episodes,
)
from pmargin.stress import historical_episodes

HOURS = {"4h": 4, "1d": 24}


def _closes(folder: Path, coin: str, freq: str) -> dict[datetime, float]:
    """Close instant (bar open + period, UTC) -> close, read with the csv module."""
    out = {}
    with (folder / f"binance_{coin}USDT_{freq}.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            opened = datetime.fromisoformat(row["timestamp"]).replace(tzinfo=UTC)
            out[opened + timedelta(hours=HOURS[freq])] = float(row["close"])
    return out


def _brute_force(
    btc: dict[datetime, float], anchor: str, max_hours: float, exact: bool
) -> tuple[datetime, datetime]:
    day = datetime.fromisoformat(anchor).replace(tzinfo=UTC)
    span = timedelta(hours=max_hours)
    times = sorted(t for t in btc if day - span - timedelta(days=1) <= t <= day + 2 * span)
    best = None
    for i, s in enumerate(times):
        for e in times[i + 1 :]:
            length = e - s
            if length > span or (exact and length != span):
                continue
            if not (s < day + timedelta(days=1) and e > day):
                continue
            key = (btc[e] / btc[s], s, e)
            if best is None or key < best:
                best = key
    assert best is not None
    return best[1], best[2]


@pytest.fixture(scope="module")
def episodes(shared_data_module: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    return {e.name: e.to_dict() for e in historical_episodes(path=shared_data_module)}


@pytest.fixture(scope="module")
def shared_data_module() -> Path:
    from shared_paths import shared_data_dir

    folder = shared_data_dir()
    if not (folder / "binance_BTCUSDT_4h.csv").is_file():
        pytest.skip(f"shared data not found at {folder} (set PMARGIN_SHARED_DATA)")
    return folder


@pytest.mark.parametrize("rule", WINDOW_RULES, ids=lambda r: r.name)
def test_windows_equal_an_independent_search(
    episodes: dict[str, dict],  # type: ignore[type-arg]
    shared_data_module: Path,
    rule: WindowRule,
) -> None:
    btc = _closes(shared_data_module, "BTC", rule.frequency)
    eth = _closes(shared_data_module, "ETH", rule.frequency)
    for spec in EPISODES:
        start, end = _brute_force(btc, spec.anchor, rule.max_hours, rule.exact)
        found = episodes[f"{spec.key}-{rule.name}"]
        assert found["start"] == start.strftime("%Y-%m-%d %H:%M UTC")
        assert found["end"] == end.strftime("%Y-%m-%d %H:%M UTC")
        moves = found["underlyings"]
        assert moves["BTC"]["spot_move"] == pytest.approx(btc[end] / btc[start] - 1.0, rel=1e-12)
        assert moves["ETH"]["spot_move"] == pytest.approx(eth[end] / eth[start] - 1.0, rel=1e-12)
        assert moves["BTC"]["spot_move"] < 0.0


def test_vol_shock_is_dvol_where_it_exists_else_the_proxy(
    episodes: dict[str, dict],  # type: ignore[type-arg]
    shared_data_module: Path,
) -> None:
    points = json.loads((shared_data_module / "deribit_dvol_btc_1d.json").read_text())
    # A point labelled day D (its open) closes at D + 1 day.
    dvol = {datetime.fromtimestamp(ms / 1000, UTC) + timedelta(days=1): v / 100 for ms, v in points}
    first = min(dvol)
    for name, found in episodes.items():
        start = datetime.strptime(found["start"], "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
        end = datetime.strptime(found["end"], "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
        a = start.replace(hour=0, minute=0)
        b = end if end.hour == 0 else end.replace(hour=0) + timedelta(days=1)
        btc = found["underlyings"]["BTC"]
        assert found["underlyings"]["ETH"]["vol_source"] == "rv30-proxy"
        if a >= first and a in dvol and b in dvol:
            assert btc["vol_source"] == "dvol", name
            assert btc["vol_move"] == pytest.approx(dvol[b] / dvol[a] - 1.0, rel=1e-12)
        else:
            assert btc["vol_source"] == "rv30-proxy", name
            assert btc["vol_move"] == pytest.approx(btc["vol_end"] / btc["vol_start"] - 1.0)
    assert episodes["ftx-1d"]["underlyings"]["BTC"]["vol_source"] == "dvol"
    assert episodes["covid-1d"]["underlyings"]["BTC"]["vol_source"] == "rv30-proxy"


def test_covid_day_is_the_12_march_daily_bar(episodes: dict[str, dict]) -> None:  # type: ignore[type-arg]
    covid = episodes["covid-1d"]
    assert (covid["start"], covid["end"]) == ("2020-03-12 00:00 UTC", "2020-03-13 00:00 UTC")
    assert covid["underlyings"]["BTC"]["spot_move"] == pytest.approx(-0.395, abs=5e-4)


def test_unknown_episode_lists_the_known_ones() -> None:
    with pytest.raises(InputError) as info:
        select_episodes(["lehman"])
    assert info.value.field == "scenario"
    for name in episode_names():
        assert name in str(info.value)


def test_a_key_selects_both_horizons() -> None:
    chosen = select_episodes(["ftx", "ftx-1d", "COVID-7d"])
    assert [(e.key, r.name) for e, r in chosen] == [("ftx", "1d"), ("ftx", "7d"), ("covid", "7d")]


def _synthetic(step_hours: int, n: int, dip_at: int, dip: float) -> PriceHistory:
    times = np.datetime64("2024-01-01T00:00:00", "s") + np.arange(n) * np.timedelta64(
        step_hours * 3600, "s"
    )
    btc = np.full(n, 100.0)
    btc[dip_at:] = 100.0 * (1.0 + dip)
    btc[dip_at + 1 :] = 100.0 * (1.0 + dip / 2)  # partial recovery one step later
    return PriceHistory(("BTC",), times, btc)


def test_find_window_on_synthetic_closes() -> None:
    daily = _synthetic(24, 40, dip_at=20, dip=-0.3)  # close 20 is 2024-01-21 00:00
    s, e = find_window(daily, "2024-01-20", WindowRule("7d", "1d", 168.0, False))
    # Ties at ratio 0.7 (any start before the dip): the earliest start within 7 days of the end.
    assert daily.times[e] == np.datetime64("2024-01-21T00:00:00")
    assert daily.times[s] == np.datetime64("2024-01-14T00:00:00")
    with pytest.raises(InputError, match="anchor"):
        find_window(daily, "2025-06-01", WindowRule("1d", "1d", 24.0, True))

"""PriceHistory: loading the shared data, alignment, as-of slicing, DVOL alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.history import (
    DATA_ENV_VAR,
    PriceHistory,
    load_price_history,
    read_binance_closes,
    resolve_data_dir,
)
from shared_paths import shared_data_dir

DAY = np.timedelta64(86_400, "s")


def _synthetic(n: int = 10) -> PriceHistory:
    times = np.datetime64("2024-01-01T00:00:00", "s") + DAY * np.arange(n)
    closes = np.column_stack([100.0 + np.arange(n), 10.0 + 0.5 * np.arange(n)])
    return PriceHistory(("BTC", "ETH"), times, closes)


def test_as_of_excludes_later_data() -> None:
    history = _synthetic()
    cut = history.as_of("2024-01-05T12:00:00Z")
    assert cut.times[-1] == np.datetime64("2024-01-05T00:00:00")
    assert cut.n_times == 5
    np.testing.assert_array_equal(cut.closes, history.closes[:5])
    # A close exactly at the cut is known at the cut.
    assert history.as_of("2024-01-05T00:00:00Z").n_times == 5
    with pytest.raises(InputError, match="as_of"):
        history.as_of("2023-12-31")


def test_step_inferred_and_gaps_reported() -> None:
    times = np.datetime64("2024-01-01T00:00:00", "s") + np.array([0, 4, 8, 20, 24]) * 3600
    history = PriceHistory(("BTC",), times, np.arange(1.0, 6.0))
    assert history.step == 4.0
    assert history.gaps() == [(times[2], times[3])]


def test_constructor_validation() -> None:
    times = np.datetime64("2024-01-01T00:00:00", "s") + DAY * np.arange(3)
    with pytest.raises(InputError, match="closes"):
        PriceHistory(("BTC",), times, [1.0, -2.0, 3.0])
    with pytest.raises(InputError, match="times"):
        PriceHistory(("BTC",), times[::-1], [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="names"):
        PriceHistory(("BTC", "BTC"), times, np.ones((3, 2)))
    with pytest.raises(InputError, match=r"underlyings\[0\]"):
        _synthetic().select(["SOL"])


def test_missing_folder_names_the_flag(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(InputError, match="--data") as info:
        resolve_data_dir(missing)
    assert str(missing) in str(info.value)
    assert "path=" not in str(info.value)
    with pytest.raises(InputError, match=r"binance_BTCUSDT_1d\.csv") as info:
        load_price_history(tmp_path)
    assert "--data" in str(info.value)
    assert "pmargin data fetch" in str(info.value)


def test_env_variable_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    assert resolve_data_dir() == tmp_path


def test_inner_join_and_dvol_as_of_on_written_files(tmp_path: Path) -> None:
    (tmp_path / "binance_BTCUSDT_1d.csv").write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01,1,1,1,100,1\n2024-01-02,1,1,1,101,1\n2024-01-03,1,1,1,102,1\n"
        "2024-01-04,1,1,1,103,1\n"
    )
    (tmp_path / "binance_ETHUSDT_1d.csv").write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01,1,1,1,10,1\n2024-01-03,1,1,1,12,1\n2024-01-04,1,1,1,13,1\n"
    )
    # DVOL candles labelled 2024-01-01 and 2024-01-03 (ms), closes known a day later.
    (tmp_path / "deribit_dvol_btc_1d.json").write_text(
        "[[1704067200000, 50.0], [1704240000000, 60.0]]"
    )
    history = load_price_history(tmp_path)
    # Candles labelled by open day; the close instant is the next midnight. 2024-01-02 is
    # missing for ETH, so dropped for both (inner join).
    expected = np.array(["2024-01-02", "2024-01-04", "2024-01-05"], dtype="datetime64[s]")
    np.testing.assert_array_equal(history.times, expected)
    np.testing.assert_array_equal(history.closes, [[100, 10], [102, 12], [103, 13]])
    np.testing.assert_array_equal(history.iv[:, 0], [0.5, 0.6, np.nan])
    assert np.all(np.isnan(history.iv[:, 1]))
    assert len(history.sources) == 3


def test_four_hour_close_sees_last_midnight_dvol(tmp_path: Path) -> None:
    rows = "".join(f"2024-01-02 {h:02d}:00:00,1,1,1,{100 + h},1\n" for h in range(0, 24, 4))
    header = "timestamp,open,high,low,close,volume\n"
    (tmp_path / "binance_BTCUSDT_4h.csv").write_text(header + rows)
    (tmp_path / "deribit_dvol_btc_1d.json").write_text("[[1704067200000, 50.0]]")
    history = load_price_history(tmp_path, frequency="4h", underlyings=["BTC"])
    assert history.step == 4.0
    # DVOL of 2024-01-01 closes 2024-01-02 00:00: every 4h close that day (ages < 24 h) sees
    # it; the close at 2024-01-03 00:00 (age 24 h) does not.
    np.testing.assert_array_equal(history.iv[:-1, 0], 0.5)
    assert np.isnan(history.iv[-1, 0])


def test_unknown_frequency() -> None:
    with pytest.raises(InputError, match="frequency"):
        load_price_history(".", frequency="1h")


@pytest.mark.parametrize("frequency", ["1d", "4h"])
def test_real_history_loads(shared_data: Path, frequency: str) -> None:
    history = load_price_history(shared_data, frequency=frequency)
    assert history.names == ("BTC", "ETH")
    assert history.closes.shape == (history.n_times, 2)
    assert np.all(np.diff(history.times) > np.timedelta64(0, "s"))
    if frequency == "1d":
        assert history.n_times == 3065
        assert history.gaps() == []
        assert np.isfinite(history.iv[:, 0]).sum() == 1102  # one DVOL day is missing
    else:
        assert history.n_times == 18371
        assert len(history.gaps()) == 8
    assert np.all(np.isnan(history.iv[:, 1]))
    # First BTC close in the file: 4285.08 on the 2017-08-17 daily bar.
    if frequency == "1d":
        assert history.closes[0, 0] == 4285.08
        assert history.times[0] == np.datetime64("2017-08-18T00:00:00")


def test_reader_on_real_file(shared_data: Path) -> None:
    times, closes = read_binance_closes(shared_data / "binance_ETHUSDT_1d.csv", 24)
    assert times.size == closes.size == 3065
    assert closes[0] == 302.0


def test_conftest_helper_points_at_shared_data() -> None:
    assert isinstance(shared_data_dir(), Path)

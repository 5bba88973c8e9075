"""Funding prints and the trailing annualised carry shared by the backtest and the scenarios."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.history import FundingHistory, carry_known, load_funding, trailing_carry

EIGHT_H = np.timedelta64(8 * 3600, "s")
T0 = np.datetime64("2021-01-01T00:00:00", "s")


def _prints(n: int, rate: float | np.ndarray) -> FundingHistory:
    times = T0 + EIGHT_H * np.arange(1, n + 1)
    return FundingHistory(times, np.broadcast_to(np.asarray(rate, dtype=float), (n,)).copy())


def test_trailing_carry_is_the_clipped_annualised_window_mean() -> None:
    rates = np.linspace(-0.001, 0.003, 200)
    funding = _prints(200, rates)
    grid = funding.times[[0, 50, 120, 199]]
    got = trailing_carry(funding, grid, window_days=30, bounds=(-0.5, 1.0))
    for t, value in zip(grid, got, strict=True):
        inside = (funding.times > t - np.timedelta64(30 * 86_400, "s")) & (funding.times <= t)
        expected = np.clip(rates[inside].mean() * 3 * 365, -0.5, 1.0)
        assert value == pytest.approx(expected, abs=1e-15)
    # Before the first print: 0 (and unknown).
    before = np.array([T0])
    assert trailing_carry(funding, before)[0] == 0.0
    assert not carry_known(funding, before)[0]


def test_carry_is_known_with_ninety_percent_of_a_full_window() -> None:
    funding = _prints(200, 0.0001)
    # 81 prints = 90 % of the 90 prints of 30 days.
    assert not carry_known(funding, funding.times[[79]])[0]
    assert carry_known(funding, funding.times[[80]])[0]
    # After the series ends the window empties and the carry is unknown again.
    assert not carry_known(
        funding, np.array([funding.times[-1] + np.timedelta64(10 * 86_400, "s")])
    )[0]


def test_load_funding_reads_the_file_and_names_bad_headers(tmp_path: Path) -> None:
    file = tmp_path / "binance_funding_rate_BTCUSDT_8h.csv"
    file.write_text(
        "timestamp,funding_rate\n2019-09-10 16:00:00.000,0.0002\n2019-09-10 08:00:00.000,0.0001\n"
    )
    funding = load_funding(tmp_path)
    assert funding.times[0] == np.datetime64("2019-09-10T08:00:00")
    np.testing.assert_array_equal(funding.rates, [0.0001, 0.0002])
    file.write_text("time,rate\n")
    with pytest.raises(InputError, match="funding_rate"):
        load_funding(tmp_path)
    file.unlink()
    with pytest.raises(InputError, match=r"--data.*pmargin data fetch"):
        load_funding(tmp_path)

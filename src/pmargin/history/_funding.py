"""Binance perpetual funding prints and the trailing annualised carry built from them.

One function, :func:`trailing_carry`, turns funding prints into the carry ``c(t)`` (decimal per
year) at any instants; the backtest's market builds its forwards ``index x exp(c T)`` with it
(:class:`pmargin.history.HistoricalMarkets`) and the historical / Monte Carlo scenario sources
take their carry changes ``c(t + h) - c(t)`` from the same numbers
(:func:`load_price_history` with ``with_carry=True``), so the risk factor the scenarios move is
exactly the one the backtest's realised P&L follows.

Rule::

    c(t) = clip(mean(funding prints in (t - window_days, t]) x 3 x 365, *bounds)

with 0 where the window holds no print (before the series starts on 2019-09-10). A carry is
*known* (:func:`carry_known`) where the window holds at least ``min_coverage`` of the prints a
full window should hold (3 a day): the first ~27 days of the series, and any instant after it
ends, are not known (their partial means are an artefact of the data's start, not a market
move), and the scenario sources give them a carry change of 0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pmargin._typing import BoolArray, FloatArray
from pmargin._validation import input_limits
from pmargin.history._paths import data_file, resolve_data_dir
from pmargin.history._rows import read_rows
from pmargin.timeutil import DAYS_PER_YEAR

__all__ = [
    "CARRY_BOUNDS",
    "CARRY_MIN_COVERAGE",
    "CARRY_WINDOW_DAYS",
    "FUNDING_FILE",
    "FUNDING_SOURCE",
    "PRINTS_PER_DAY",
    "FundingHistory",
    "carry_known",
    "load_funding",
    "trailing_carry",
]

FUNDING_FILE = "binance_funding_rate_BTCUSDT_8h.csv"
"""The shared data file of Binance BTCUSDT funding prints."""

FUNDING_SOURCE = (
    "Binance BTCUSDT funding rates every 8 h, from sky1241/HSBC-algo-genetic @ 6cde086 (MIT) "
    "(data/funding_rate_BTCUSDT.csv)"
)
"""Credit line of :data:`FUNDING_FILE`."""

PRINTS_PER_DAY = 3
"""Funding prints per day (one every 8 hours)."""

CARRY_WINDOW_DAYS = 30
"""Default trailing window of the carry, days."""

CARRY_BOUNDS = (-0.5, 1.0)
"""Default clip of the annualised carry (decimal per year)."""

CARRY_MIN_COVERAGE = 0.9
"""Least share of a full window's prints for the carry to count as known."""

_DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class FundingHistory:
    """Funding prints of a perpetual: instants and rates per 8-hour period (fraction).

    Attributes
    ----------
    times
        ``datetime64[s]`` UTC print instants, increasing, shape ``(n,)``.
    rates
        Funding per 8 hours as a fraction (0.0001 = 1 bp), shape ``(n,)``.
    """

    times: npt.NDArray[np.datetime64]
    rates: FloatArray

    def as_of(self, when: np.datetime64) -> FundingHistory:
        """Return the prints at or before ``when``."""
        n = int(np.searchsorted(self.times, when, side="right"))
        return FundingHistory(self.times[:n], self.rates[:n])

    def window_counts(
        self, grid: npt.NDArray[np.datetime64], window_days: int
    ) -> tuple[npt.NDArray[np.intp], FloatArray]:
        """Count and sum the prints in ``(t - window, t]`` at each grid instant.

        Returns two arrays of shape ``(len(grid),)``: counts and sums of rates (per 8 hours).
        """
        window = np.timedelta64(window_days * _DAY_S, "s")
        hi = np.searchsorted(self.times, grid, side="right")
        lo = np.searchsorted(self.times, grid - window, side="right")
        csum = np.concatenate([[0.0], np.cumsum(self.rates)])
        return hi - lo, csum[hi] - csum[lo]

    def trailing_carry(self, grid: npt.NDArray[np.datetime64], window_days: int) -> FloatArray:
        """Annualised mean funding over ``(t - window, t]`` at each grid instant (0 if none).

        Returns shape ``(len(grid),)``: ``mean(rate) x 3 x 365``, unclipped (see
        :func:`trailing_carry` for the clipped carry).
        """
        count, total = self.window_counts(grid, window_days)
        mean = np.divide(total, count, out=np.zeros(grid.shape), where=count > 0)
        result: FloatArray = mean * float(PRINTS_PER_DAY) * DAYS_PER_YEAR
        return result


def trailing_carry(
    funding: FundingHistory,
    grid: npt.NDArray[np.datetime64],
    window_days: int = CARRY_WINDOW_DAYS,
    bounds: tuple[float, float] = CARRY_BOUNDS,
) -> FloatArray:
    """Return the carry ``c(t)`` of the backtest's forwards and the scenarios' carry changes.

    Parameters
    ----------
    funding
        Funding prints (per 8 hours, fraction).
    grid
        ``datetime64[s]`` UTC instants, shape ``(n,)``.
    window_days
        Trailing window, days (prints in ``(t - window, t]``; none after ``t``).
    bounds
        Clip of the annualised carry, decimal per year.

    Returns
    -------
    FloatArray
        Shape ``(n,)``: ``clip(mean funding x 3 x 365, *bounds)``, decimal per year; 0 where
        the window holds no print.
    """
    result: FloatArray = np.clip(funding.trailing_carry(grid, window_days), *bounds)
    return result


def carry_known(
    funding: FundingHistory,
    grid: npt.NDArray[np.datetime64],
    window_days: int = CARRY_WINDOW_DAYS,
    min_coverage: float = CARRY_MIN_COVERAGE,
) -> BoolArray:
    """Whether the trailing window at each instant holds enough prints to count as known.

    Returns shape ``(len(grid),)``: ``count >= min_coverage x 3 x window_days``.
    """
    count, _ = funding.window_counts(grid, window_days)
    known: BoolArray = count >= min_coverage * PRINTS_PER_DAY * window_days
    return known


def load_funding(path: str | os.PathLike[str] | None = None) -> FundingHistory:
    """Read :data:`FUNDING_FILE` (``timestamp,funding_rate``) from the history folder.

    Parameters
    ----------
    path
        History folder (``--data``); ``None`` searches as :func:`~pmargin.history.resolve_data_dir`.

    Raises
    ------
    InputError
        For a missing folder or file (naming ``--data``), or a malformed row, a
        time outside the accepted years or a rate beyond ``history.max_abs_funding`` of
        ``input_limits.toml`` (naming file, line and column).
    """
    file = data_file(resolve_data_dir(path), FUNDING_FILE)
    rows = read_rows(Path(file), ("timestamp", "funding_rate"), "funding file")
    times = rows.times("timestamp", "ms")
    limit = input_limits().number("history", "max_abs_funding")
    rates = rows.numbers("funding_rate", -limit, limit)
    order = np.argsort(times, kind="stable")
    return FundingHistory(times[order], rates[order])

"""Read Binance candle files (``timestamp,open,high,low,close,volume``) into close series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from pmargin._typing import FloatArray
from pmargin._validation import input_limits
from pmargin.history._rows import read_rows, screen_jumps

__all__ = ["read_binance_closes"]


def read_binance_closes(
    file: Path, period_hours: int
) -> tuple[npt.NDArray[np.datetime64], FloatArray]:
    """Close instants and close prices of one Binance candle file.

    Binance labels a candle by its OPEN time (``2017-08-17`` for the day, ``2017-08-17
    04:00:00`` for a 4-hour bar); the close is known only at the end of the bar, so the returned
    time is ``open + period`` (the daily close of 2017-08-17 is at 2017-08-18 00:00 UTC).

    Parameters
    ----------
    file
        CSV with a header holding at least ``timestamp`` and ``close`` (UTC timestamps).
    period_hours
        Bar length in hours (24 or 4).

    Returns
    -------
    times, closes
        ``datetime64[s]`` close instants (UTC, strictly increasing), shape ``(n,)``, and close
        prices in the quote currency (USDT), shape ``(n,)``.

    Raises
    ------
    InputError
        Naming file, line and column: a malformed row, a time outside the accepted years, a
        close that is not a price in range, or a close beyond the outlier screen
        (:func:`~pmargin.history._rows.screen_jumps`).
    """
    rows = read_rows(file, ("timestamp", "close"), "price history file")
    opens = rows.times("timestamp")
    limits = input_limits()
    low, high = limits.number("numbers", "min_price"), limits.number("numbers", "max_price")
    closes = rows.numbers("close", low, high)
    times = (opens + np.timedelta64(period_hours * 3600, "s")).astype("datetime64[s]")
    order = np.argsort(times, kind="stable")
    times, closes = times[order], closes[order]
    screen_jumps(times, closes, rows.lines[order], file)
    return times, closes

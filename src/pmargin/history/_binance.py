"""Read Binance candle files (``timestamp,open,high,low,close,volume``) into close series."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pmargin._typing import FloatArray
from pmargin.errors import InputError

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
    """
    stamps: list[str] = []
    closes: list[float] = []
    with file.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"timestamp", "close"} <= set(reader.fieldnames):
            raise InputError(str(file), reader.fieldnames, "must have timestamp and close columns")
        for row in reader:
            stamps.append(row["timestamp"].strip())
            closes.append(float(row["close"]))
    try:
        opens = np.array(stamps, dtype="datetime64[s]")
    except ValueError as exc:
        raise InputError(str(file), "timestamp", f"holds an unreadable time: {exc}") from exc
    times = (opens + np.timedelta64(period_hours * 3600, "s")).astype("datetime64[s]")
    order = np.argsort(times, kind="stable")
    return times[order], np.asarray(closes, dtype=np.float64)[order]

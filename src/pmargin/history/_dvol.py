"""Read Deribit DVOL daily closes (JSON list of ``[unix_ms, vol_points]``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from pmargin._files import read_structured, short_path
from pmargin._typing import FloatArray
from pmargin._validation import abbreviate, as_float, input_limits
from pmargin.errors import InputError
from pmargin.timeutil import parse_timestamp

__all__ = ["read_dvol"]

_DAY = np.timedelta64(86_400, "s")


def read_dvol(file: Path) -> tuple[npt.NDArray[np.datetime64], FloatArray]:
    """Close instants and DVOL closes as annualised decimal vols.

    Each point ``[unix_ms, 56.76]`` is a daily candle labelled by its start (00:00 UTC, as
    Deribit's ``get_volatility_index_data`` returns them); its close is known one day later,
    which is the returned time. Vol points are divided by 100 (56.76 -> 0.5676, the 30-day
    implied vol of BTC options, annualised).

    Returns
    -------
    times, vols
        ``datetime64[s]`` close instants (UTC, increasing), shape ``(n,)``, and decimal
        annualised vols, shape ``(n,)``.

    Raises
    ------
    InputError
        Naming the file and the point: not a list of pairs, a time that is not epoch ms in the
        accepted years, or a vol outside ``(0, history.max_dvol_points]``.
    """
    points = read_structured(file, "DVOL file")
    name = short_path(file)
    if not isinstance(points, list) or not points:
        raise InputError(name, abbreviate(points), "must be a non-empty list of [unix_ms, vol]")
    max_points = input_limits().number("history", "max_dvol_points")
    array = np.empty((len(points), 2), dtype=np.float64)
    for row, point in enumerate(points):
        where = f"{name}[{row}]"
        if not isinstance(point, list) or len(point) != 2:
            raise InputError(where, abbreviate(point), "must be a pair [unix_ms, vol_points]")
        stamp = parse_timestamp(point[0], f"{where}[0]")
        array[row, 0] = stamp.timestamp() * 1000.0
        array[row, 1] = as_float(point[1], f"{where}[1]", low=0.0, high=max_points, low_open=True)
    seconds = (array[:, 0] // 1000).astype(np.int64)
    times = (seconds.astype("datetime64[s]") + _DAY).astype("datetime64[s]")
    order = np.argsort(times, kind="stable")
    return times[order], array[order, 1] / 100.0

"""Read Deribit DVOL daily closes (JSON list of ``[unix_ms, vol_points]``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pmargin._typing import FloatArray
from pmargin.errors import InputError

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
    """
    try:
        points = json.loads(file.read_text())
        array = np.asarray(points, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise InputError(str(file), "content", f"is not a JSON list of [ms, vol]: {exc}") from exc
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0:
        raise InputError(str(file), array.shape, "must be a non-empty list of [unix_ms, vol] pairs")
    seconds = (array[:, 0] // 1000).astype(np.int64)
    times = (seconds.astype("datetime64[s]") + _DAY).astype("datetime64[s]")
    order = np.argsort(times, kind="stable")
    return times[order], array[order, 1] / 100.0

"""Helpers shared by the tests of the shipped example files (independent of the package code)."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_DERIBIT = re.compile(
    r"^(?P<base>[A-Z]+)(?:_(?P<quote>[A-Z]+))?-(?P<day>\d{1,2})(?P<mon>[A-Z]{3})(?P<yy>\d{2})"
    r"(?:-(?P<strike>\d+(?:\.\d+)?)-(?P<right>[CP]))?$"
)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def load_example(name: str) -> Any:
    """Parse ``pmargin/data/<name>`` as shipped with the package."""
    text = resources.files("pmargin").joinpath("data", name).read_text(encoding="utf-8")
    return json.loads(text)


def parse_timestamp(text: str) -> datetime:
    """ISO-8601 with a trailing Z to an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def expiry_instant(text: str) -> datetime:
    """A file expiry: a date alone means 08:00 UTC (DESIGN.md)."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC) + timedelta(
            hours=8
        )
    return parse_timestamp(text)


def years(start: datetime, end: datetime) -> float:
    """ACT/365 year fraction in seconds."""
    return (end - start).total_seconds() / (365.0 * 86_400.0)


def deribit_dated(symbol: str) -> dict[str, Any] | None:
    """Split a Deribit dated symbol (future or option); None for anything else."""
    match = _DERIBIT.match(symbol)
    if match is None:
        return None
    expiry = date(2000 + int(match["yy"]), _MONTHS.index(match["mon"]) + 1, int(match["day"]))
    strike = match["strike"]
    return {
        "underlying": match["base"],
        "quote": match["quote"] or "USD",
        "expiry": expiry,
        "strike": None if strike is None else float(strike),
        "right": match["right"],
    }


def svi_w(svi: dict[str, float], k: FloatArray) -> FloatArray:
    """Raw SVI total variance."""
    x = k - svi["m"]
    return svi["a"] + svi["b"] * (svi["rho"] * x + np.sqrt(x * x + svi["sigma"] ** 2))


def svi_density_g(svi: dict[str, float], k: FloatArray) -> FloatArray:
    """Gatheral's g(k) = (1 - k w'/2w)^2 - w'^2/4 (1/w + 1/4) + w''/2 for raw SVI."""
    a, b, rho, m, s = (svi[name] for name in ("a", "b", "rho", "m", "sigma"))
    x = k - m
    r = np.hypot(x, s)
    w = a + b * (rho * x + r)
    dw = b * (rho + x / r)
    d2w = b * s * s / r**3
    return (1.0 - k * dw / (2.0 * w)) ** 2 - 0.25 * dw * dw * (1.0 / w + 0.25) + 0.5 * d2w


def black76_call_put(forward: float, strike: float, t: float, vol: float) -> tuple[float, float]:
    """Undiscounted Black-76 call and put in the quote currency (independent of QuantLib)."""
    sd = vol * math.sqrt(t)
    d1 = math.log(forward / strike) / sd + 0.5 * sd
    d2 = d1 - sd
    cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0))  # noqa: E731
    call = forward * cdf(d1) - strike * cdf(d2)
    return call, call - (forward - strike)

"""Shared inputs and independent reference formulas for the market tests.

Nothing here calls pmargin: expected values in the tests come from these plain-math versions.
"""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

NOW = datetime(2024, 11, 1, 8, 0, tzinfo=UTC)
DEC27 = datetime(2024, 12, 27, 8, 0, tzinfo=UTC)
NOV29 = datetime(2024, 11, 29, 8, 0, tzinfo=UTC)
MAR28 = datetime(2025, 3, 28, 8, 0, tzinfo=UTC)

SVI_NOV = {"a": 0.004, "b": 0.03, "rho": -0.25, "m": 0.01, "sigma": 0.12}
SVI_DEC = {"a": 0.010, "b": 0.05, "rho": -0.20, "m": 0.00, "sigma": 0.10}
SVI_MAR = {"a": 0.030, "b": 0.08, "rho": -0.15, "m": 0.02, "sigma": 0.20}

BASE: dict[str, Any] = {
    "timestamp": "2024-11-01T08:00:00Z",
    "index": {"BTC": 69000.0, "ETH": 2500.0},
    "prices": {"USDC": 0.9998, "USDT": 1.0003},
    "rates": {"USD": 0.05, "BTC": 0.01},
    "marks": {
        "BTC-27DEC24-70000-C": {"iv": 0.55},
        "BTC-27DEC24-60000-P": {"price": 0.0123},
    },
    "forwards": {"BTC": {"2024-12-27": 69880.0}},
    "surfaces": {
        "BTC": [
            {"expiry": "2024-12-27", "forward": 69900.0, "svi": dict(SVI_DEC)},
            {"expiry": "2024-11-29", "svi": dict(SVI_NOV)},
            {"expiry": "2025-03-28", "forward": 71000.0, "svi": dict(SVI_MAR)},
        ]
    },
}


def base() -> dict[str, Any]:
    """A fresh deep copy of the base market file content."""
    return copy.deepcopy(BASE)


def years(start: datetime, end: datetime) -> float:
    """ACT/365 years, computed from whole seconds."""
    return (end - start).total_seconds() / (365 * 24 * 3600)


def svi_w(params: dict[str, float], k: float) -> float:
    """Raw SVI total variance, written straight from Gatheral's formula."""
    a, b, rho, m, sigma = (params[name] for name in ("a", "b", "rho", "m", "sigma"))
    return a + b * (rho * (k - m) + math.sqrt((k - m) ** 2 + sigma**2))

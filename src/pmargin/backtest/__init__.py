"""Backtesting of margin and VaR models: coverage statistics (Kupiec, Christoffersen, Basel)."""

from pmargin.backtest._stats import (
    ChristoffersenResult,
    KupiecResult,
    TrafficLightResult,
    christoffersen,
    kupiec_pof,
    traffic_light,
)

__all__ = [
    "ChristoffersenResult",
    "KupiecResult",
    "TrafficLightResult",
    "christoffersen",
    "kupiec_pof",
    "traffic_light",
]

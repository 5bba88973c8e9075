"""Real-time health monitor and price-feed circuit breakers.

:class:`Monitor` holds a book, a margin model and the market in force, consumes
:class:`MarketUpdate` s and keeps every account's equity, IM, MM and status current,
recomputing only the underlyings an update touches; it emits :class:`StatusChange` events and,
when a circuit breaker trips on a bad tick, :class:`LiquidationPause` (and later
:class:`LiquidationResume`). ``Monitor.paused_underlyings`` is what the liquidation engine must
not liquidate. Limits: ``circuit_breakers.toml`` (:func:`load_breaker_config`). See
docs/monitor.md.
"""

from pmargin.monitor._book import STATUS_ORDER, FullState, full_recompute
from pmargin.monitor._config import BreakerConfig, default_config_path, load_breaker_config
from pmargin.monitor._events import (
    BreakerReason,
    LiquidationPause,
    LiquidationResume,
    MonitorEvent,
    StatusChange,
)
from pmargin.monitor._monitor import Monitor
from pmargin.monitor._scope import margin_totals, totals_plan, unit_scope
from pmargin.monitor._update import MarketUpdate, MarkTick

__all__ = [
    "STATUS_ORDER",
    "BreakerConfig",
    "BreakerReason",
    "FullState",
    "LiquidationPause",
    "LiquidationResume",
    "MarkTick",
    "MarketUpdate",
    "Monitor",
    "MonitorEvent",
    "StatusChange",
    "default_config_path",
    "full_recompute",
    "load_breaker_config",
    "margin_totals",
    "totals_plan",
    "unit_scope",
]

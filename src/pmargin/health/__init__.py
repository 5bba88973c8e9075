"""Account health: equity against IM and MM, utilisation, status, distance to liquidation."""

from pmargin.health._distance import (
    LiquidationDistance,
    joint_direction,
    liquidation_distance,
    margin_gap_after_move,
)
from pmargin.health._status import AccountHealth, HealthStatus, account_status, assess

__all__ = [
    "AccountHealth",
    "HealthStatus",
    "LiquidationDistance",
    "account_status",
    "assess",
    "joint_direction",
    "liquidation_distance",
    "margin_gap_after_move",
]

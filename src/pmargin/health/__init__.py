"""Account health: requirements, equity against IM and MM, status, distance to liquidation."""

from pmargin.health._distance import (
    LiquidationDistance,
    joint_direction,
    liquidation_distance,
    liquidation_distance_reference,
    margin_gap_after_move,
)
from pmargin.health._requirement import LiquidationEnd, Requirement, required_equity
from pmargin.health._snapshot import MarginSnapshot
from pmargin.health._status import (
    STATUS_ORDER,
    AccountHealth,
    HealthStatus,
    account_status,
    assess,
    status_codes,
)
from pmargin.health._whatif import (
    AccountWhatIf,
    BookMargin,
    Trade,
    WhatIfAccount,
    margin_book,
)

__all__ = [
    "STATUS_ORDER",
    "AccountHealth",
    "AccountWhatIf",
    "BookMargin",
    "HealthStatus",
    "LiquidationDistance",
    "LiquidationEnd",
    "MarginSnapshot",
    "Requirement",
    "Trade",
    "WhatIfAccount",
    "account_status",
    "assess",
    "joint_direction",
    "liquidation_distance",
    "liquidation_distance_reference",
    "margin_book",
    "margin_gap_after_move",
    "required_equity",
    "status_codes",
]

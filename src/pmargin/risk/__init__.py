"""Risk: the revaluation kernel (instrument P&L matrix), aggregation."""

from pmargin.risk._kernel import (
    account_pnl,
    account_pnl_by_currency,
    instrument_pnl,
    settlement_to_usd,
    usd_pnl,
)
from pmargin.risk._measures import euler_contributions, expected_shortfall, var

__all__ = [
    "account_pnl",
    "account_pnl_by_currency",
    "euler_contributions",
    "expected_shortfall",
    "instrument_pnl",
    "settlement_to_usd",
    "usd_pnl",
    "var",
]

"""Collateral: account equity from balances and positions, haircuts, collateral scenario P&L."""

from pmargin.collateral._equity import (
    AccountEquity,
    account_equity,
    balance_scenario_pnl,
    balances_usd,
    haircut_charge,
    positions_usd,
    positions_usd_reference,
)

__all__ = [
    "AccountEquity",
    "account_equity",
    "balance_scenario_pnl",
    "balances_usd",
    "haircut_charge",
    "positions_usd",
    "positions_usd_reference",
]

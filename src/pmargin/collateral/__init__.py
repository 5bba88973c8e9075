"""Collateral: account equity, haircuts, collateral scenario P&L, the P&L profile."""

from pmargin.collateral._equity import (
    AccountEquity,
    KeptPositionsUsd,
    account_equity,
    balance_scenario_pnl,
    balances_usd,
    haircut_charge,
    positions_usd,
    positions_usd_reference,
)
from pmargin.collateral._profile import expiry_dates, pnl_profile, pnl_profile_reference

__all__ = [
    "AccountEquity",
    "KeptPositionsUsd",
    "account_equity",
    "balance_scenario_pnl",
    "balances_usd",
    "expiry_dates",
    "haircut_charge",
    "pnl_profile",
    "pnl_profile_reference",
    "positions_usd",
    "positions_usd_reference",
]

"""Accounts, balances and signed positions; the portfolio file."""

from pmargin.book._portfolio import (
    NATIVE,
    Account,
    Portfolio,
    Position,
    base_quantity,
    unrealised_pnl,
)
from pmargin.book._portfolio_file import load_portfolio, portfolio_from_dict

__all__ = [
    "NATIVE",
    "Account",
    "Portfolio",
    "Position",
    "base_quantity",
    "load_portfolio",
    "portfolio_from_dict",
    "unrealised_pnl",
]

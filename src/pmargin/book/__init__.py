"""Accounts, balances and signed positions; the portfolio file."""

from pmargin.book._examples import STRATEGIES, example_portfolio
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
    "STRATEGIES",
    "Account",
    "Portfolio",
    "Position",
    "base_quantity",
    "example_portfolio",
    "load_portfolio",
    "portfolio_from_dict",
    "unrealised_pnl",
]

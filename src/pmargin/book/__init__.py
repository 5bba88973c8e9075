"""Accounts, positions, the portfolio file, fill accounting and the arranged book."""

from pmargin.book._arranged import BookArrangement, arrange
from pmargin.book._examples import STRATEGIES, example_portfolio
from pmargin.book._fills import AccountHoldings, Fill, fill, position_after, trade_pnl
from pmargin.book._moved_rows import RowMoves
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
    "AccountHoldings",
    "BookArrangement",
    "Fill",
    "Portfolio",
    "Position",
    "RowMoves",
    "arrange",
    "base_quantity",
    "example_portfolio",
    "fill",
    "load_portfolio",
    "portfolio_from_dict",
    "position_after",
    "trade_pnl",
    "unrealised_pnl",
]

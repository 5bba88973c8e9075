"""Accounts, positions, the portfolio file, fill accounting and the arranged book."""

from typing import TYPE_CHECKING

from pmargin._lazy import lazy_exports

if TYPE_CHECKING:
    from pmargin.book._arranged import BookArrangement, arrange
    from pmargin.book._examples import STRATEGIES, example_portfolio
    from pmargin.book._fills import AccountHoldings, Fill, fill, position_after, trade_pnl
    from pmargin.book._flat import (
        BALANCE_UNIT,
        DEFAULT_ACCOUNT,
        FLAT_COLUMNS,
        portfolio_frame,
        portfolio_from_frame,
        portfolio_rows,
        require_pandas,
    )
    from pmargin.book._ledger_fill import LedgerFill, ledger_fill
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
    from pmargin.book._table import (
        PortfolioTable,
        arrange_table,
        arrange_table_reference,
        portfolio_table,
        read_portfolio_table,
    )
    from pmargin.book._table_file import TABLE_SUFFIXES, is_table_file

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "BALANCE_UNIT",
    "DEFAULT_ACCOUNT",
    "FLAT_COLUMNS",
    "NATIVE",
    "STRATEGIES",
    "TABLE_SUFFIXES",
    "Account",
    "AccountHoldings",
    "BookArrangement",
    "Fill",
    "LedgerFill",
    "Portfolio",
    "PortfolioTable",
    "Position",
    "RowMoves",
    "arrange",
    "arrange_table",
    "arrange_table_reference",
    "base_quantity",
    "example_portfolio",
    "fill",
    "is_table_file",
    "ledger_fill",
    "load_portfolio",
    "portfolio_frame",
    "portfolio_from_dict",
    "portfolio_from_frame",
    "portfolio_rows",
    "portfolio_table",
    "position_after",
    "read_portfolio_table",
    "require_pandas",
    "trade_pnl",
    "unrealised_pnl",
]

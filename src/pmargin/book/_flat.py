"""The flat portfolio: one row per position or balance (CSV files and DataFrames).

Columns :data:`FLAT_COLUMNS`: ``account`` (optional: without it every row belongs to the
account :data:`DEFAULT_ACCOUNT`), ``instrument``, ``quantity`` (required), ``unit`` and
``avg_price`` (optional). A **balance row** has ``unit`` = ``balance`` (any case): its
``instrument`` cell holds the asset code and its ``quantity`` the amount (units of the asset,
negative = borrowed), ``avg_price`` empty::

    account,instrument,quantity,unit,avg_price
    alice,BTC-PERPETUAL,-50000,,
    alice,BTC-27DEC24-60000-C,-1.5,,0.05
    alice,BTC,2.5,balance,
    alice,USDC,-1000,balance,

Accounts come in order of their first position row, then the accounts with balance rows
only, in order of their first balance row (the order of a positions table with a balances
table beside it). Both CSV readers (row by row, :func:`~pmargin.book.load_portfolio`, and
column-wise, :func:`~pmargin.book.read_portfolio_table`) and :meth:`Portfolio.from_frame`
read this format; :func:`portfolio_rows` and :meth:`Portfolio.to_frame` write it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pmargin.errors import InputError
from pmargin.instruments import parse_symbol

if TYPE_CHECKING:
    from pmargin.book._portfolio import Portfolio

__all__ = [
    "BALANCE_UNIT",
    "DEFAULT_ACCOUNT",
    "FLAT_COLUMNS",
    "FLAT_REQUIRED",
    "portfolio_frame",
    "portfolio_from_frame",
    "portfolio_rows",
    "require_pandas",
]

FLAT_COLUMNS = ("account", "instrument", "quantity", "unit", "avg_price")
"""Columns of the flat portfolio; ``instrument`` and ``quantity`` are required."""
FLAT_REQUIRED = ("instrument", "quantity")
"""The columns a flat portfolio must have."""
BALANCE_UNIT = "balance"
"""The ``unit`` of a balance row: ``instrument`` is an asset, ``quantity`` its amount."""
DEFAULT_ACCOUNT = "main"
"""The account id of every row of a flat portfolio without an ``account`` column."""


def portfolio_rows(portfolio: Portfolio, *, field: str = "portfolio") -> list[dict[str, Any]]:
    """Return a portfolio as flat rows: each account's positions, then its balance rows.

    Parameters
    ----------
    portfolio
        The portfolio; every instrument must be a venue symbol (the flat format has no place
        for explicit specs).
    field
        What names the output in the error (``--out``).

    Returns
    -------
    list of dict
        One ``{account, instrument, quantity, unit, avg_price}`` per position (``unit`` as
        given, ``avg_price`` ``""`` for none) and per balance (``unit`` ``balance``,
        ``instrument`` the asset, ``quantity`` the amount), account by account.

    Raises
    ------
    InputError
        An instrument that is not the venue symbol of its own terms (an explicit spec).
    """
    rows: list[dict[str, Any]] = []
    for account in portfolio.accounts:
        for position in account.positions:
            _check_venue_symbol(position.instrument, field)
            price = position.avg_price
            rows.append(
                {
                    "account": account.id,
                    "instrument": position.instrument.symbol,
                    "quantity": position.quantity,
                    "unit": position.unit,
                    "avg_price": "" if price is None else price,
                }
            )
        for asset, amount in account.balances.items():
            rows.append(
                {
                    "account": account.id,
                    "instrument": asset,
                    "quantity": amount,
                    "unit": BALANCE_UNIT,
                    "avg_price": "",
                }
            )
    return rows


def _check_venue_symbol(instrument: Any, field: str) -> None:
    try:
        same = parse_symbol(instrument.symbol) == instrument
    except InputError:
        same = False
    if not same:
        raise InputError(
            field,
            instrument.symbol,
            "is an explicit instrument spec; flat rows hold venue symbols only (write JSON)",
        )


def portfolio_frame(portfolio: Portfolio) -> Any:
    """Return :func:`portfolio_rows` as a pandas DataFrame (``avg_price`` NaN where none).

    Raises
    ------
    InputError
        pandas is not installed (``pip install 'pmargin[frames]'``), or an explicit spec.
    """
    pandas = require_pandas("Portfolio.to_frame")
    rows = portfolio_rows(portfolio)
    for row in rows:
        if row["avg_price"] == "":
            row["avg_price"] = math.nan
    return pandas.DataFrame(rows, columns=list(FLAT_COLUMNS))


def portfolio_from_frame(frame: Any, instruments: Any = None) -> Portfolio:
    """Read a flat DataFrame (or any table :func:`~pmargin.book.portfolio_table` takes).

    Parameters
    ----------
    frame
        Columns of :data:`FLAT_COLUMNS` (``account``, ``unit`` and ``avg_price`` optional),
        balance rows included.
    instruments
        Explicit instruments by symbol, looked up before venue symbols are parsed.

    Raises
    ------
    InputError
        Naming ``positions table row N column C`` (see :func:`~pmargin.book.portfolio_table`).
    """
    from pmargin.book import portfolio_table

    return portfolio_table(frame, instruments=instruments).to_portfolio()


def require_pandas(what: str) -> Any:
    """Return the pandas module, imported on first use (the optional extra ``frames``).

    Parameters
    ----------
    what
        The function that needs it, for the message.

    Raises
    ------
    InputError
        pandas is not installed: ``pip install 'pmargin[frames]'``.
    """
    try:
        import pandas
    except ImportError:
        raise InputError(
            what, "pandas", "needs pandas: pip install 'pmargin[frames]' for DataFrames"
        ) from None
    return pandas

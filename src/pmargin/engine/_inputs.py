"""Load what a command needs: a market and a portfolio from files, symbols, the example book.

The portfolio is read before the market so that the market reader knows the portfolio's
explicit instruments: a mark keyed by a symbol that is neither a venue symbol nor one of them
is refused by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, overload

from pmargin.errors import InputError
from pmargin.instruments import Instrument, parse_symbol
from pmargin.market import MarketSnapshot, load_market

if TYPE_CHECKING:
    from pmargin.book import BookArrangement, Portfolio
    from pmargin.simulate import FundedBook

__all__ = [
    "EXAMPLE_MARKET",
    "example_inputs",
    "example_path",
    "instruments_for",
    "load_book",
    "load_inputs",
    "venue_funded_example",
]

EXAMPLE_MARKET = "example_market.json"
"""The shipped market snapshot the demo and the examples use (``pmargin/data``)."""


def example_path(name: str) -> Path:
    """Path of a file shipped in ``pmargin/data`` (``example_market.json``, ...)."""
    return Path(str(resources.files("pmargin") / "data" / name))


def instruments_for(
    symbols: Iterable[str], explicit: Mapping[str, Instrument] | None = None
) -> list[Instrument]:
    """Instruments for symbols: explicit specs first, then venue symbol parsing."""
    known = explicit or {}
    return [known[s] if s in known else parse_symbol(s) for s in symbols]


@overload
def load_inputs(
    market_file: str | Path, portfolio_file: str | Path
) -> tuple[MarketSnapshot, Portfolio]: ...


@overload
def load_inputs(
    market_file: str | Path, portfolio_file: None
) -> tuple[MarketSnapshot, Portfolio | None]: ...


def load_inputs(
    market_file: str | Path, portfolio_file: str | Path | None
) -> tuple[MarketSnapshot, Portfolio | None]:
    """Load a market snapshot and, optionally, a portfolio (read first, see the module)."""
    portfolio = None
    if portfolio_file is not None:
        from pmargin.book import load_portfolio  # the book's readers at first use: fast start

        portfolio = load_portfolio(portfolio_file)
    market = load_market(market_file, None if portfolio is None else portfolio.instruments)
    return market, portfolio


def load_book(
    market_file: str | Path, portfolio_file: str | Path, balances_file: str | Path | None = None
) -> tuple[MarketSnapshot, BookArrangement]:
    """Load a market and a portfolio and arrange the book at the market.

    A flat table (``.csv``, ``.parquet``, ``.arrow``, ``.feather``) goes through the
    columnar path (:func:`pmargin.book.arrange_table`: no object per position), with its
    balances from ``balances_file``; a JSON or YAML portfolio through
    :func:`pmargin.book.arrange`.

    Raises
    ------
    InputError
        ``--balances`` given with a JSON or YAML portfolio (its balances are in the file);
        and every error of the readers, naming the file.
    """
    from pmargin.book import arrange, arrange_table, is_table_file, read_portfolio_table

    if not is_table_file(portfolio_file):
        if balances_file is not None:
            raise InputError(
                "--balances",
                str(balances_file),
                "is for a portfolio table (CSV, Parquet, Arrow); a JSON or YAML portfolio "
                "holds its balances",
            )
        market, portfolio = load_inputs(market_file, portfolio_file)
        return market, arrange(portfolio, market)
    table = read_portfolio_table(portfolio_file, balances_file)
    market = load_market(market_file, {i.symbol: i for i in table.instruments})
    return market, arrange_table(table, market)


def example_inputs(n_accounts: int, seed: int) -> tuple[MarketSnapshot, Portfolio]:
    """Load the shipped market (:data:`EXAMPLE_MARKET`) and seed a book of example accounts.

    Parameters
    ----------
    n_accounts
        Accounts of the book (:func:`pmargin.book.example_portfolio`).
    seed
        Seed of the book.
    """
    from pmargin.book import example_portfolio

    market = load_market(example_path(EXAMPLE_MARKET))
    return market, example_portfolio(market, n_accounts, seed=seed)


def venue_funded_example(
    n_accounts: int, seed: int, model: str = "deribit"
) -> tuple[MarketSnapshot, FundedBook]:
    """Return the crash replay's seeded population on the shipped market, venue-funded.

    The accounts of :func:`pmargin.simulate.generate_population` at :data:`EXAMPLE_MARKET`,
    funded for ``model`` by :func:`pmargin.simulate.fund_population` in mode ``"venue"``
    (:class:`pmargin.simulate.VenueFunding`: 10 % of the accounts at ``MM x U[1.05, 1.2]``,
    the others at ``IM x U[1.1, 3]``; the draws seeded by ``seed``): no account starts below
    MM. ``pmargin demo`` shows it.

    Parameters
    ----------
    n_accounts
        Accounts generated.
    seed
        Seed of the population and of the funding draws.
    model
        The venue's margin model the accounts are funded for.

    Returns
    -------
    tuple
        The market and the funded book (its ``book``: balances included; ``near_mm``: the
        accounts funded close to MM, shape ``(n_accounts,)``).
    """
    from pmargin.margin import get_model
    from pmargin.simulate import VenueFunding, fund_population, generate_population

    market = load_market(example_path(EXAMPLE_MARKET))
    population = generate_population(market, n_accounts, seed=seed)
    funded = fund_population(
        get_model(model), population, mode="venue", venue=VenueFunding(seed=seed)
    )
    return market, funded

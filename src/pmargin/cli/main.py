"""The ``pmargin`` command line: a thin adapter over :mod:`pmargin.engine`.

Every error caused by input (files, symbols, market data) is printed on one line to stderr
and exits with code 2; no traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from pmargin.cli._render import account_table, quotes_table
from pmargin.engine import (
    example_path,
    instruments_for,
    load_inputs,
    position_risk,
    price_instruments,
)
from pmargin.errors import InputError, PmarginError

__all__ = ["app"]

app = typer.Typer(
    name="pmargin",
    help="Portfolio margin engine for crypto derivatives.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_BAD_INPUT = 2
PIPE_WIDTH = 220
"""Table width when stdout is not a terminal (files, pipes): wide enough for every column."""
_F = TypeVar("_F", bound=Callable[..., Any])


def _one_line_errors(command: _F) -> _F:
    """Turn pmargin errors into a one-line message on stderr and exit code 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PmarginError as exc:
            message = " ".join(str(exc).split())
            print(f"pmargin: error: {message}", file=sys.stderr)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper  # type: ignore[return-value]


MarketOption = Annotated[
    Path, typer.Option("--market", "-m", help="Market snapshot file (JSON or YAML).")
]


@app.command()
@_one_line_errors
def price(
    market: MarketOption,
    symbols: Annotated[
        list[str] | None, typer.Argument(help="Venue symbols, e.g. BTC-27DEC24-60000-C.")
    ] = None,
    portfolio: Annotated[
        Path | None,
        typer.Option("--portfolio", "-p", help="Portfolio file: price every instrument held."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Price instruments: mark value, forward, implied vol and Greeks.

    JSON rows carry raw Greeks (per unit of underlying: delta, gamma per USD, vega per 1.00 vol,
    theta per year); the table shows vega per vol point and theta per day.
    """
    if (portfolio is None) == (not symbols):
        given = "both" if symbols else "neither"
        raise InputError("price", given, "needs either --portfolio FILE or SYMBOLs (not both)")
    snapshot, book = load_inputs(market, portfolio)
    if book is not None:
        instruments = list(book.unique_instruments())
    else:
        instruments = instruments_for(symbols or [])
    quotes = price_instruments(instruments, snapshot)
    if as_json:
        _print_json([q.to_dict() for q in quotes])
        return
    title = f"pmargin price @ {snapshot.timestamp.isoformat()}"
    _console().print(quotes_table(quotes, title))


@app.command()
@_one_line_errors
def demo() -> None:
    """Price the shipped example portfolio on the shipped example market (no network)."""
    market_file = example_path("example_market.json")
    portfolio_file = example_path("example_portfolio.json")
    snapshot, book = load_inputs(market_file, portfolio_file)
    assert book is not None
    console = _console()
    console.print(
        f"[bold]pmargin demo[/bold]: market {market_file.name} @ "
        f"{snapshot.timestamp.isoformat()}, portfolio {portfolio_file.name}"
    )
    quotes = price_instruments(list(book.unique_instruments()), snapshot)
    console.print(quotes_table(quotes, "instruments held (per unit of underlying)"))
    rows = position_risk(book, snapshot)
    for account in book.accounts:
        console.print(account_table(account.id, [r for r in rows if r.account == account.id]))


def _console() -> Console:
    """Return a console that never truncates tables when the output is piped or captured."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)


def _print_json(payload: Sequence[dict[str, Any]] | dict[str, Any]) -> None:
    json.dump(payload, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":  # pragma: no cover
    app()

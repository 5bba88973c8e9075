"""``pmargin price``: mark value, forward, implied vol and Greeks of instruments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmargin.cli._options import JsonOption, MarketOption
from pmargin.cli._output import CsvOption

__all__ = ["price"]


def price(
    market: MarketOption,
    symbols: Annotated[
        list[str] | None,
        typer.Argument(metavar="SYMBOL...", help="Venue symbols, e.g. BTC-27DEC24-60000-C."),
    ] = None,
    portfolio: Annotated[
        Path | None,
        typer.Option(
            "--portfolio", "-p", metavar="FILE", help="Portfolio file: price every instrument held."
        ),
    ] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Price instruments: mark value, forward, implied vol and Greeks.

    JSON rows carry raw Greeks (per unit of underlying: delta, gamma per USD, vega per 1.00
    vol, theta per year); the table shows gamma as the delta change for a 1% move, vega per
    vol point and theta per day.
    """
    from pmargin._compiled import numpy_kernels
    from pmargin.cli._output import emit_table, print_json
    from pmargin.cli._render import quotes_table
    from pmargin.engine import instruments_for, load_inputs, price_instruments
    from pmargin.errors import InputError

    if (portfolio is None) == (not symbols):
        given = "both" if symbols else "neither"
        raise InputError("price", given, "needs either --portfolio FILE or SYMBOLs (not both)")
    snapshot, book = load_inputs(market, portfolio)
    if book is not None:
        instruments = list(book.unique_instruments())
    else:
        instruments = instruments_for(symbols or [])
    with numpy_kernels():  # a few options: numba's start-up would cost more than it saves
        quotes = price_instruments(instruments, snapshot)
    if as_json:
        print_json([q.to_dict() for q in quotes])
        return
    title = f"pmargin price @ {snapshot.timestamp.isoformat()}"
    emit_table(quotes_table(quotes, title), as_csv=as_csv)

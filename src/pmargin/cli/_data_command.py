"""``pmargin data fetch`` and ``pmargin data where``: the history files and where they live.

Registered in :mod:`pmargin.cli.main` with one line, ``register_data(app, _one_line_errors)``
(the sub-app ``data``, each command wrapped so that input errors print on one line).

- ``pmargin data fetch [--to DIR] [--source binance|deribit]`` downloads fresh BTC/ETH
  candles (daily and 4-hourly), BTC funding and BTC DVOL from Binance's and Deribit's public
  endpoints into the user cache (``$XDG_CACHE_HOME/pmargin`` or ``~/.cache/pmargin``), with a
  progress bar (:mod:`pmargin.cli._progress`) on a terminal;
- ``pmargin data where [--data DIR]`` prints the search order and the folder it resolves to.

The rules are in ``docs/data.md``. Imports of the library are lazy (inside the functions).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["data_fetch", "data_where", "register_data"]


def data_fetch(
    to: Annotated[
        Path | None,
        typer.Option(
            "--to",
            metavar="DIR",
            help="Folder to write (default: the user cache, $XDG_CACHE_HOME/pmargin or "
            "~/.cache/pmargin).",
            show_default=False,
        ),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            metavar="NAME",
            help="binance (candles, funding) or deribit (DVOL); repeatable (default: both).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Download fresh price, funding and DVOL history from Binance and Deribit (needs internet).

    Writes the files pmargin-es, stress, backtest and simulate read, in the shared data's
    formats; later runs find them in the user cache (docs/data.md: search order).
    """
    from pmargin.cli._progress import progress
    from pmargin.engine import fetch_data

    sources = tuple(source) if source else ("binance", "deribit")
    files = 5 * ("binance" in sources) + ("deribit" in sources)
    with progress("pmargin data fetch", files) as advance:
        seen: list[str] = []

        def report(name: str, rows: int) -> None:
            if name not in seen:
                if seen:
                    advance()
                seen.append(name)

        folder, fetched = fetch_data(to, sources=sources, progress=report)
        advance()
    for item in fetched:
        print(
            f"{item.path.name}: {item.rows:,} rows, {item.first:%Y-%m-%d %H:%M} to "
            f"{item.last:%Y-%m-%d %H:%M} UTC"
        )
    print(f"pmargin data fetch: {len(fetched)} files written to {folder}")


def data_where(
    data: Annotated[
        Path | None,
        typer.Option("--data", metavar="DIR", help="A history folder to check first."),
    ] = None,
) -> None:
    """Print the history search order and the folder pmargin reads (docs/data.md)."""
    from pmargin.engine import data_search

    steps, folder = data_search(data)
    for i, step in enumerate(steps, start=1):
        mark = "*" if step.folder == folder and step.usable else " "
        state = "used" if mark == "*" else ("present" if step.usable else "absent")
        print(f"{mark} {i}. {step.source:16s} {step.folder}  ({state})")
    print(f"history folder: {folder}")


def register_data(app: typer.Typer, wrap: Callable[[Any], Any]) -> None:
    """Add the ``data`` sub-app to ``app``, each command wrapped by ``wrap``."""
    data_app = typer.Typer(
        name="data",
        help="History data: download fresh history, show where it is read from.",
        no_args_is_help=True,
    )
    data_app.command("fetch")(wrap(data_fetch))
    data_app.command("where")(wrap(data_where))
    app.add_typer(data_app, name="data")

"""``pmargin import VENUE REPLY...``, and ``--from VENUE`` on every command that reads ``-p``.

``pmargin import deribit positions.json summary.json -o book.json`` converts a venue's saved
replies into a portfolio file (docs/import.md). ``--from VENUE`` does the same in memory for
every command that takes ``--portfolio/-p``: ``-p`` then names the venue's saved replies (a
file, or a folder of them) instead of a portfolio file.

:func:`register_import` is the one line ``cli/main.py`` needs: it registers ``import`` and
adds ``--from`` to each command that has a ``portfolio`` parameter, wrapping it so that the
replies are imported into a temporary portfolio file the command then reads like any other
(the command's own code is unchanged; the file is removed when it returns).

Imports of the library are lazy (inside the functions), so ``pmargin --help`` stays quick.
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from pmargin.cli._options import ForceOption

__all__ = ["FromOption", "import_command", "register_import"]

_VENUES = "deribit, okx, bybit, binance, ccxt"
_SOURCE = "import_from"
"""Name of the parameter ``--from`` fills (``from`` is a Python keyword)."""

FromOption = Annotated[
    str | None,
    typer.Option(
        "--from",
        metavar="VENUE",
        help=f"Read --portfolio as a venue's saved replies ({_VENUES}): a reply file or a "
        "folder of them, imported as one account (see pmargin import).",
        show_default=False,
    ),
]


def import_command(
    venue: Annotated[
        str,
        typer.Argument(metavar="VENUE", help=f"The venue that sent the replies: {_VENUES}."),
    ],
    replies: Annotated[
        list[Path],
        typer.Argument(
            metavar="REPLY",
            help="Saved replies (JSON or YAML), in any order: positions and balances; a "
            "folder stands for the replies in it.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Portfolio file to write: .json, or .csv (flat rows).",
            show_default=False,
        ),
    ],
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            metavar="ID",
            help="Account id (default: the venue's name).",
            show_default=False,
        ),
    ] = None,
    force: ForceOption = False,
) -> None:
    """Convert a venue's saved account replies into a portfolio file.

    Quantities are written in explicit units (base coins, quote USD face or contracts),
    average prices are kept and symbols are pmargin's venue symbols; docs/import.md lists
    what each venue's importer reads.
    """
    from pmargin._outputs import check_output_file
    from pmargin.engine import PORTFOLIO_SUFFIXES, import_document, read_replies, write_portfolio

    check_output_file(out, force=force, suffixes=PORTFOLIO_SUFFIXES)  # before reading
    document = import_document(venue, read_replies(venue, replies), account=account)
    portfolio = write_portfolio(document, out, force=force)
    held = portfolio.accounts[0]
    print(
        f"pmargin import {venue.lower()}: account {held.id!r}, {len(held.positions)} positions, "
        f"{len(held.balances)} balances written to {out}"
    )


def _replies_portfolio(venue: str, replies: Path, folder: Path) -> Path:
    """Import ``replies`` (a file or a folder) into ``folder/portfolio.json``; return the path."""
    from pmargin.engine import import_document, read_replies, write_portfolio

    path = folder / "portfolio.json"
    write_portfolio(import_document(venue, read_replies(venue, [replies])), path, force=False)
    return path


def with_from_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``command`` with a ``--from VENUE`` option that imports ``-p`` from replies.

    Commands without a ``portfolio`` parameter are returned unchanged.
    """
    signature = inspect.signature(command, eval_str=True)  # the command module's names
    if "portfolio" not in signature.parameters or _SOURCE in signature.parameters:
        return command

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        venue = kwargs.pop(_SOURCE, None)
        if venue is None:
            return command(*args, **kwargs)
        replies = kwargs.get("portfolio")
        if replies is None:
            from pmargin.errors import InputError

            raise InputError(
                "--from", venue, "needs --portfolio/-p: the venue's saved replies (file or folder)"
            )
        with tempfile.TemporaryDirectory(prefix="pmargin-import-") as folder:
            kwargs["portfolio"] = _replies_portfolio(venue, Path(replies), Path(folder))
            return command(*args, **kwargs)

    extra = inspect.Parameter(
        _SOURCE, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=FromOption
    )
    parameters = [*signature.parameters.values(), extra]
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters} | {
        "return": signature.return_annotation
    }
    return wrapper


def register_import(
    app: typer.Typer, errors: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    """Register ``pmargin import`` and add ``--from VENUE`` to every portfolio command.

    Parameters
    ----------
    app
        The ``pmargin`` application, every other command registered already.
    errors
        The CLI's wrapper that prints a pmargin error on one line and exits with code 2;
        applied outside ``--from`` so that an import error is printed like any other.
    """
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = errors(with_from_option(info.callback))
    app.command("import")(errors(import_command))

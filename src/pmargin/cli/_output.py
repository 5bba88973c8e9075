r"""Where every command writes: a console that never truncates piped tables, safe text, and JSON.

Every string a user supplied (account ids, symbols, asset and scenario names, file names,
error messages) passes through :func:`clean` before it is shown: control characters (ANSI
escape sequences, carriage returns, bidirectional overrides) are shown as visible ``\x1b``
escapes instead of acting on the terminal. Text placed in a table or title goes through
:func:`plain` (a :class:`rich.text.Text`, never parsed as markup); text inside a markup string
printed by the console goes through :func:`markup_safe` (:func:`rich.markup.escape`).
"""

from __future__ import annotations

import csv
import math
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from pmargin.errors import InputError

if TYPE_CHECKING:
    from pmargin._params import ParamTable

__all__ = [
    "PIPE_WIDTH",
    "ClusterOption",
    "CsvOption",
    "check_arguments",
    "clean",
    "console",
    "emit_table",
    "markup_safe",
    "plain",
    "print_json",
    "short_value",
]

PIPE_WIDTH = 220
"""Table width when stdout is not a terminal (files, pipes): wide enough for every column."""


def _visible(char: str) -> str:
    r"""Return a control or format character as a visible escape (``\x1b``), else itself."""
    if char != " " and unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def clean(text: object) -> str:
    r"""Return ``str(text)`` with every control or format character shown as an escape.

    ``"\x1b[31mx"`` (5 characters) becomes the 9 visible characters ``\x1b[31mx``: nothing
    reaches the terminal that could colour it, move the cursor or reorder text; printable
    text, brackets included, is kept as it is.
    """
    return "".join(_visible(c) for c in str(text))


def plain(text: object, style: str = "") -> Text:
    """:func:`clean` text as a :class:`rich.text.Text`: shown literally, never read as markup."""
    return Text(clean(text), style=style)


def markup_safe(text: object) -> str:
    """:func:`clean` text escaped for a console markup string (``[red]`` shown literally)."""
    return escape(clean(text))


def short_value(value: object) -> str:
    """Return ``repr(value)`` cut to a short prefix, control characters escaped.

    The prefix is ``files.max_quoted_chars`` of ``input_limits.toml`` (``...`` marks a cut;
    :func:`pmargin._validation.abbreviate`).
    """
    from pmargin._validation import abbreviate

    return clean(repr(abbreviate(value)))


@cache
def _argument_limits() -> ParamTable:
    """Return the shipped ``argument_limits.toml`` (read once)."""
    from importlib import resources

    from pmargin._files import read_toml_file
    from pmargin._params import ParamTable

    file = resources.files("pmargin.cli") / "argument_limits.toml"
    top = ParamTable(read_toml_file(str(file), "argument limits"), "argument_limits.toml")
    if top.integer("schema_version", low=1) != 1:
        raise InputError(top.field("schema_version"), top.raw("schema_version"), "must be 1")
    return top


def check_arguments(command: str, values: Mapping[str, float]) -> None:
    """Refuse a numeric option outside its range in ``argument_limits.toml``, naming it.

    Parameters
    ----------
    command
        Table of the file (``"simulate"``).
    values
        Option name without dashes -> value; every name must have a range in the table.

    Raises
    ------
    InputError
        Field ``--NAME``: the value is NaN or outside ``[low, high]``.
    """
    table = _argument_limits().table(command)
    for name, value in values.items():
        low, high = table.numbers(name, min_len=2)
        if not (math.isfinite(value) and low <= value <= high):
            where = f"argument_limits.toml {command}.{name}"
            raise InputError(f"--{name}", value, f"must be in [{low:.10g}, {high:.10g}] ({where})")


def console() -> Console:
    """Return a console that never truncates tables when the output is piped or captured."""
    terminal = Console()
    return terminal if terminal.is_terminal else Console(width=PIPE_WIDTH)


def print_json(payload: Sequence[dict[str, Any]] | dict[str, Any]) -> None:
    """Write ``payload`` to stdout as indented JSON.

    Raises
    ------
    InputError
        A NaN or infinite number anywhere in ``payload``, naming its path (an account's by
        its id, ``accounts[id=a1].equity``): JSON has no such numbers, and they only come from
        inputs out of any sensible range (:func:`pmargin._outputs.finite_json`). Nothing is
        written then.
    """
    from pmargin._outputs import finite_json

    sys.stdout.write(finite_json(payload, indent=2) + "\n")


ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Run on Dask: local:N (a local cluster of N worker processes) or a scheduler "
        "address such as tcp://scheduler:8786. Same results as without (docs/scale.md).",
    ),
]
"""The ``--cluster`` option of the batch commands (margin, compare, stress, backtest)."""


CsvOption = Annotated[
    bool,
    typer.Option("--csv", help="Print the table as CSV (full-precision numbers) instead."),
]
"""The ``--csv`` option of the tabular commands (:func:`emit_table`)."""


def _csv_cell(cell: object) -> str:
    """Return a cell's CSV text: a number's full value (``Num``), else the plain text."""
    value = getattr(cell, "value", False)
    if value is not False:
        return "" if value is None else repr(float(value))
    if isinstance(cell, Text):
        return cell.plain
    return Text.from_markup(str(cell)).plain if cell is not None else ""


def emit_table(table: Table, *, as_csv: bool = False) -> None:
    """Print ``table`` on the console, or as CSV on stdout (header row, then one per row).

    CSV: headers and text cells as shown; numbers (:class:`~pmargin.cli._format.Num`) at
    full float64 precision (a percentage as its fraction); the title and caption are left out.
    """
    if not as_csv:
        console().print(table)
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([_csv_cell(column.header) for column in table.columns])
    cells = [list(column.cells) for column in table.columns]
    for r in range(table.row_count):
        writer.writerow([_csv_cell(column[r]) if r < len(column) else "" for column in cells])

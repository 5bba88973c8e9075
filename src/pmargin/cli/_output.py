r"""Where every command writes: a console that never truncates piped tables, safe text, and JSON.

Every string a user supplied (account ids, symbols, asset and scenario names, file names,
error messages) passes through :func:`clean` before it is shown: control characters (ANSI
escape sequences, carriage returns, bidirectional overrides) are shown as visible ``\x1b``
escapes instead of acting on the terminal. Text placed in a table or title goes through
:func:`plain` (a :class:`rich.text.Text`, never parsed as markup); text inside a markup string
printed by the console goes through :func:`markup_safe` (:func:`rich.markup.escape`).
"""

from __future__ import annotations

import copy
import csv
import io
import math
import os
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import replace
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
    "fit_table",
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


_ELLIPSIS = "\u2026"


def fit_table(table: Table, width: int) -> list[Table]:
    """Split a table too wide for ``width`` into tables of its columns that fit.

    A table fits when rich shows it in ``width`` columns without cutting a cell short (rich
    wraps text and headers first, then cuts cells with an ellipsis): checked by rendering the
    rows that hold each column's longest cell. The leading left-aligned columns (the row
    labels: instrument, account, scenario; at most two) repeat in every part; the other
    columns fill the parts in order, as many as fit. The title heads the first part, the
    caption follows the last; rows, styles and sections are the table's own.

    Parameters
    ----------
    table
        The table to show.
    width
        Terminal width in characters.

    Returns
    -------
    list of Table
        ``[table]`` when it fits (or cannot be split); else its parts, in column order.
    """
    probe_rows = _longest_rows(table)
    if len(table.columns) < 2 or not _cuts(
        table, list(range(len(table.columns))), probe_rows, width
    ):
        return [table]
    keys = 0
    while keys < min(2, len(table.columns) - 1) and table.columns[keys].justify == "left":
        keys += 1
    keys = max(keys, 1)
    parts: list[list[int]] = []
    for index in range(keys, len(table.columns)):
        trial = [*range(keys), *(parts[-1] if parts else []), index]
        if parts and not _cuts(table, trial, probe_rows, width):
            parts[-1].append(index)
        else:
            parts.append([index])
    if len(parts) < 2:
        return [table]
    last = len(parts) - 1
    return [
        _part(table, [*range(keys), *chunk], title=k == 0, caption=k == last)
        for k, chunk in enumerate(parts)
    ]


def _part(table: Table, columns: list[int], *, title: bool = True, caption: bool = True) -> Table:
    """``table`` restricted to ``columns`` (indices), with or without its title and caption."""
    part: Table = copy.copy(table)
    part.columns = [replace(table.columns[c], _index=i) for i, c in enumerate(columns)]
    part.rows = list(table.rows)
    part.title = table.title if title else None
    part.caption = table.caption if caption else None
    return part


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _longest_rows(table: Table) -> list[int]:
    """Rows holding the longest cell of some column (what sets the columns' widths)."""
    rows: set[int] = set()
    for column in table.columns:
        cells = [len(_plain(c)) for c in column.cells]
        if cells:
            rows.add(max(range(len(cells)), key=cells.__getitem__))
    return sorted(rows)


def _cuts(table: Table, columns: list[int], rows: list[int], width: int) -> bool:
    """Whether rich cuts a cell short showing ``columns`` of ``rows`` in ``width``."""
    probe = _part(table, columns, title=False, caption=False)
    for i, c in enumerate(columns):
        cells = list(table.columns[c].cells)
        kept = [cells[r] for r in rows if r < len(cells)]
        probe.columns[i] = replace(probe.columns[i], _cells=kept)
    probe.rows = [table.rows[r] for r in rows if r < len(table.rows)]
    shown = sum(_plain(c).count(_ELLIPSIS) for col in probe.columns for c in col.cells)
    buffer = io.StringIO()
    Console(width=width, file=buffer, color_system=None).print(probe)
    return buffer.getvalue().count(_ELLIPSIS) > shown


class _FittingConsole(Console):
    """A console whose tables are split to fit its width (:func:`fit_table`)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Print like :meth:`rich.console.Console.print`, each table in parts that fit."""
        if not any(isinstance(o, Table) for o in objects):
            super().print(*objects, **kwargs)
            return
        for o in objects:
            for piece in fit_table(o, self.width) if isinstance(o, Table) else [o]:
                super().print(piece, **kwargs)


def console() -> Console:
    """Return a console that never truncates tables when the output is piped or captured.

    A terminal's own width; piped or captured, ``$COLUMNS`` when set (``COLUMNS=100 pmargin
    ... > file`` renders as a 100-column terminal would), else :data:`PIPE_WIDTH`. A table
    wider than that is printed in parts that fit (:func:`fit_table`).
    """
    terminal = _FittingConsole()
    if terminal.is_terminal:
        return terminal
    columns = os.environ.get("COLUMNS", "")
    wide = int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH
    return _FittingConsole(width=wide)


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

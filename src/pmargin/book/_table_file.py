"""Table files (CSV, Parquet, Arrow) read into Arrow tables, with rows named for errors.

A portfolio given as a table (docs/portfolio-tables.md) is read by a columnar reader: CSV by
Arrow's parser (every cell read as text, stripped of surrounding whitespace), Parquet and
Arrow IPC (``.arrow``, ``.feather``) as stored. The header (CSV) or schema (Parquet, Arrow)
must name known columns only, each once, with the required ones present (the same check and
words as the JSON/CSV portfolio file, :func:`pmargin._files.check_header`).

The file is refused before it is parsed when it is missing, a folder, or larger than
``files.max_table_bytes`` of ``input_limits.toml``. A file the parser cannot read is an
:class:`~pmargin.errors.InputError` naming it, never a traceback.

:class:`TableRows` names a cell for error messages: ``portfolio file 'p.csv' line 7 column
quantity`` (CSV: the line of the file, header = line 1, found again only when an error is
raised) or ``portfolio file 'p.parquet' row 3 column quantity`` (rows counted from 1), or
``positions table row 3 column quantity`` for a table given in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.ipc as pa_ipc
import pyarrow.parquet as pq

from pmargin._files import check_header, short_path
from pmargin._validation import abbreviate, input_limits
from pmargin.errors import InputError

__all__ = ["TABLE_SUFFIXES", "TableRows", "is_table_file", "read_table_file"]

TABLE_SUFFIXES = (".csv", ".parquet", ".arrow", ".feather")
"""Extensions of the files read by the columnar reader (case-insensitive)."""


@dataclass(frozen=True, slots=True)
class TableRows:
    """Names the rows of one table in error messages.

    Attributes
    ----------
    name
        What the table is: ``"portfolio file 'p.csv'"``, ``"positions table"``.
    csv_file
        The CSV file the table was read from (rows are then named by their line), else
        ``None`` (rows named by their number, counted from 1).
    origin
        For a table of some rows of another (:meth:`taken`): each row's row there; ``None``
        for a table as read.
    aliases
        ``(column, name)`` pairs: a column named in messages as another.
    """

    name: str
    csv_file: Path | None = None
    origin: tuple[int, ...] | None = None
    aliases: tuple[tuple[str, str], ...] = ()

    def taken(self, rows: Sequence[int], aliases: tuple[tuple[str, str], ...] = ()) -> TableRows:
        """Return the names of a table of some of these rows (``rows``: 0-based, in order).

        ``aliases``: ``(column, name)`` pairs, a column of the new table named as the column
        ``name`` of this one (the balance rows' ``amount`` is the flat table's ``quantity``).
        """
        origin = tuple(int(r) for r in rows)
        if self.origin is not None:
            origin = tuple(self.origin[r] for r in origin)
        return TableRows(self.name, self.csv_file, origin, aliases or self.aliases)

    def cell(self, row: int, column: str) -> str:
        """Return the field naming ``column`` of data row ``row`` (0-based in the table)."""
        column = dict(self.aliases).get(column, column)
        if self.origin is not None:
            row = self.origin[row]
        if self.csv_file is not None:
            return f"{self.name} line {_csv_line(self.csv_file, row)} column {column}"
        return f"{self.name} row {row + 1} column {column}"

    def column(self, column: str) -> str:
        """Return the field naming a whole column (a column of the wrong type)."""
        column = dict(self.aliases).get(column, column)
        return f"{self.name} column {column}"


def is_table_file(path: str | Path) -> bool:
    """Return whether ``path``'s extension is one of :data:`TABLE_SUFFIXES`."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def read_table_file(
    path: str | Path, what: str, *, columns: Sequence[str], required: Sequence[str]
) -> tuple[pa.Table, TableRows]:
    """Read a CSV, Parquet or Arrow IPC file into an Arrow table of known columns.

    Parameters
    ----------
    path
        The file; its extension (:data:`TABLE_SUFFIXES`) says the format.
    what
        What the file is, for error messages (``"portfolio file"``).
    columns, required
        Every column the table may have, and those it must have.

    Returns
    -------
    tuple
        ``(table, rows)``: the columns as read (CSV: every column text, cells stripped,
        blank lines skipped; Parquet: ``account`` and ``instrument`` read as dictionaries),
        and the :class:`TableRows` naming its rows.

    Raises
    ------
    InputError
        Naming the file: unknown extension, missing, a folder, over ``max_table_bytes``,
        unreadable, not valid for its format, or a header with an unknown (misspelt),
        repeated or missing column.
    """
    file = Path(path)
    name = short_path(file)
    suffix = file.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(what, name, f"has an unknown extension; use {', '.join(TABLE_SUFFIXES)}")
    _check_size(file, what)
    rows = TableRows(f"{what} {name!r}", file if suffix == ".csv" else None)
    try:
        if suffix == ".csv":
            table = _read_csv(file, what, columns, required)
        elif suffix == ".parquet":
            table = _read_parquet(file, what, columns, required)
        else:
            table = _read_ipc(file, what, columns, required)
    except (pa.ArrowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = {".csv": "CSV", ".parquet": "Parquet"}.get(suffix, "Arrow IPC")
        raise InputError(what, name, f"is not valid {kind}: {abbreviate(first)}") from None
    return table, rows


def _check_size(file: Path, what: str) -> None:
    name = short_path(file)
    limit = input_limits().integer("files", "max_table_bytes")
    try:
        if file.is_dir():
            raise InputError(what, name, "is a directory, not a file")
        size = file.stat().st_size
    except FileNotFoundError:
        raise InputError(what, name, "does not exist") from None
    except OSError as exc:
        raise InputError(what, name, f"cannot be read: {exc.strerror}") from None
    if size > limit:
        raise InputError(
            what, name, f"is {size:,} bytes, over the limit of {limit:,} (max_table_bytes)"
        )


def _header(file: Path, what: str) -> list[str]:
    """Return the CSV header cells, stripped (a leading byte-order mark dropped)."""
    with file.open("rb") as handle:
        line = handle.readline(1 << 20)
    try:
        header = next(csv.reader([line.decode("utf-8-sig")]), None)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(what, short_path(file), f"has an unreadable header: {exc}") from None
    if not header or not any(cell.strip() for cell in header):
        raise InputError(what, short_path(file), "is empty; expected a header line")
    return [cell.strip() for cell in header]


def _read_csv(file: Path, what: str, columns: Sequence[str], required: Sequence[str]) -> pa.Table:
    names = _header(file, what)
    check_header(names, columns, required, what, str(file))
    table = pa_csv.read_csv(
        file,
        read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return pa.table({n: pc.utf8_trim_whitespace(table.column(n)) for n in names})


def _read_parquet(
    file: Path, what: str, columns: Sequence[str], required: Sequence[str]
) -> pa.Table:
    names = list(pq.read_schema(file).names)
    check_header(names, columns, required, what, str(file))
    dictionaries = [n for n in ("account", "instrument", "asset") if n in names]
    return pq.read_table(file, read_dictionary=dictionaries)


def _read_ipc(file: Path, what: str, columns: Sequence[str], required: Sequence[str]) -> pa.Table:
    source = pa.memory_map(str(file))
    try:
        table = pa_ipc.open_file(source).read_all()
    except pa.ArrowInvalid:
        source = pa.memory_map(str(file))
        table = pa_ipc.open_stream(source).read_all()
    check_header(list(table.column_names), columns, required, what, str(file))
    return table


def _csv_line(file: Path, row: int) -> int:
    """Line of data row ``row`` (0-based, blank lines skipped) of a CSV file; header = line 1.

    Read again from the file, only when an error names the row.
    """
    with file.open("r", encoding="utf-8-sig", newline="", errors="replace") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        seen = -1
        for cells in reader:
            if cells:
                seen += 1
                if seen == row:
                    return reader.line_num
    return -1

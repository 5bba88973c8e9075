"""Row-checked reading of the history files, and the outlier screen of close prices.

Every row of a history file is checked where it is read: a missing cell, a time that is not an
ISO date or outside the years of ``input_limits.toml`` (table ``time``), or a number that is not
plain decimal text inside its range is an :class:`~pmargin.errors.InputError` naming the file,
the line and the column. The close prices then pass the outlier screen (:func:`screen_jumps`),
the history twin of the monitor's live ``index_jump`` breaker: a close whose log move from the
previous close exceeds ``history.max_log_move`` is refused, naming file, line and move, because
one bad print (a close x100) would otherwise become a scenario and inflate every margin built
from the history.
"""

from __future__ import annotations

import csv
import gzip
import math
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pmargin._files import read_text_file, short_path
from pmargin._typing import FloatArray
from pmargin._validation import DECIMAL_TEXT, abbreviate, input_limits
from pmargin.errors import InputError

__all__ = ["HistoryRows", "read_gzip_text", "read_rows", "screen_jumps"]


class HistoryRows:
    """The rows of one history CSV file: cells by column, with their line numbers.

    Attributes
    ----------
    file
        The file, for error messages.
    lines
        Line number of each row (1 is the header), shape ``(n_rows,)``.
    """

    def __init__(self, file: Path, lines: list[int], cells: dict[str, list[str]]) -> None:
        self.file = file
        self.lines = np.asarray(lines, dtype=np.int64)
        self._cells = cells

    def where(self, row: int, column: str) -> str:
        """Field path of one cell: ``<file> line <n> column <name>``."""
        return f"{short_path(self.file)} line {int(self.lines[row])} column {column}"

    def times(self, column: str, unit: str = "s") -> npt.NDArray[np.datetime64]:
        """Return the column as UTC instants (``datetime64[s]``), each in the accepted years.

        Parameters
        ----------
        column
            Column of ISO times (``2024-01-01``, ``2024-01-01 08:00:00.000``).
        unit
            Precision the text is parsed at before truncation to seconds.

        Returns
        -------
        ndarray
            ``datetime64[s]``, shape ``(n_rows,)``, in file order.
        """
        texts = [text.strip().replace(" ", "T") for text in self._cells[column]]
        try:
            parsed = np.array(texts, dtype=f"datetime64[{unit}]").astype("datetime64[s]")
        except ValueError:
            for row, text in enumerate(texts):
                try:
                    np.datetime64(text, unit)  # type: ignore[call-overload]
                except ValueError:
                    raise InputError(
                        self.where(row, column), abbreviate(text), "is not an ISO date or time"
                    ) from None
            raise InputError(self.where(0, column), None, "holds an unreadable time") from None
        limits = input_limits()
        first_year = limits.integer("time", "min_year")
        last_year = limits.integer("time", "max_year")
        first = np.datetime64(f"{first_year:04d}-01-01", "s")
        last = np.datetime64(f"{last_year:04d}-01-01", "s")
        bad = np.flatnonzero(np.isnat(parsed) | (parsed < first) | (parsed >= last))
        if bad.size:
            row = int(bad[0])
            raise InputError(
                self.where(row, column),
                abbreviate(self._cells[column][row]),
                f"is not a time in the years {first_year} to {last_year - 1}",
            )
        result: npt.NDArray[np.datetime64] = parsed
        return result

    def numbers(self, column: str, low: float, high: float) -> FloatArray:
        """Return the column as floats, plain decimal text in ``[low, high]``; ``(n_rows,)``."""
        values = np.empty(len(self.lines), dtype=np.float64)
        for row, text in enumerate(self._cells[column]):
            cell = text.strip()
            number = float(cell) if DECIMAL_TEXT.fullmatch(cell) else math.nan
            if not (math.isfinite(number) and low <= number <= high):
                raise InputError(
                    self.where(row, column),
                    abbreviate(text),
                    f"must be a finite decimal number in [{low:g}, {high:g}]",
                )
            values[row] = number
        return values


def read_rows(file: Path, required: Sequence[str], what: str = "history file") -> HistoryRows:
    """Read a history CSV file whose header holds at least the ``required`` columns.

    Parameters
    ----------
    file
        The CSV file (UTF-8, header first; other columns are allowed and ignored); a name
        ending in ``.gz`` is read gzip-compressed (:func:`read_gzip_text`).
    required
        Columns that must be present, each once.
    what
        What the file is, for error messages.

    Raises
    ------
    InputError
        Naming the file and the line: a missing or repeated required column, a row with a
        different number of cells than the header, or a CSV syntax error.
    """
    text = read_gzip_text(file, what) if file.suffix == ".gz" else read_text_file(file, what)
    reader = csv.reader(text.splitlines())
    name = short_path(file)
    lines: list[int] = []
    try:
        header = [cell.strip() for cell in next(reader, [])]
        for column in required:
            if header.count(column) != 1:
                raise InputError(
                    f"{what} {name} header",
                    abbreviate(",".join(header)),
                    f"must have the column {column!r} exactly once",
                )
        index = {column: header.index(column) for column in required}
        cells: dict[str, list[str]] = {column: [] for column in required}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(
                    f"{what} {name} line {reader.line_num}",
                    abbreviate(",".join(row)),
                    f"has {len(row)} cells; the header has {len(header)}",
                )
            lines.append(reader.line_num)
            for column, position in index.items():
                cells[column].append(row[position])
    except csv.Error as err:
        raise InputError(
            f"{what} {name} line {reader.line_num}", None, f"is not valid CSV: {err}"
        ) from None
    if not lines:
        raise InputError(what, name, "has no data rows")
    return HistoryRows(file, lines, cells)


def screen_jumps(
    times: npt.NDArray[np.datetime64], closes: FloatArray, lines: npt.NDArray[np.int64], file: Path
) -> None:
    """Refuse a close whose log move from the previous close is beyond ``history.max_log_move``.

    Parameters
    ----------
    times
        ``datetime64[s]`` close instants in increasing order, shape ``(n,)``.
    closes
        Close prices, > 0, shape ``(n,)``, in the order of ``times``.
    lines
        Line number of each close in ``file``, shape ``(n,)``.
    file
        The file, for the message.

    Raises
    ------
    InputError
        Naming the file, the line of the later close, both closes and the log move.
    """
    if closes.size < 2:
        return
    limit = input_limits().number("history", "max_log_move")
    moves = np.diff(np.log(closes))
    beyond = np.flatnonzero(np.abs(moves) > limit)
    if beyond.size == 0:
        return
    i = int(beyond[0])
    raise InputError(
        f"{short_path(file)} line {int(lines[i + 1])} close",
        float(closes[i + 1]),
        f"is a log move of {moves[i]:+.2f} from the previous close {closes[i]:g} "
        f"(line {int(lines[i])}, {str(times[i])[:10]}); more than the outlier screen's "
        f"{limit:g} (input_limits.toml history.max_log_move): a bad print?",
    )


def read_gzip_text(file: Path, what: str) -> str:
    """Read a gzip-compressed UTF-8 text file whose text is no larger than the input limit.

    The decompressed size is bounded while reading (``files.max_bytes`` of
    ``input_limits.toml``), so a small file that expands without bound is refused.

    Raises
    ------
    InputError
        Naming the file: missing, not gzip, too large once decompressed, or not UTF-8.
    """
    name = short_path(file)
    max_bytes = input_limits().integer("files", "max_bytes")
    try:
        with gzip.open(file, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(what, name, "does not exist") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(what, name, f"is not a readable gzip file ({exc})") from None
    if len(raw) > max_bytes:
        raise InputError(what, name, f"is over the limit of {max_bytes:,} bytes once decompressed")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(what, name, f"is not UTF-8 text (byte {err.start})") from None

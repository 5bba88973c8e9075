"""Reading user files (JSON, YAML, CSV) with one-line errors that name the file.

Every reader refuses, before or while parsing, what could change what the file says or make
parsing itself blow up (limits in ``pmargin/input_limits.toml``, section ``files``):

* size: a file larger than ``max_bytes`` (``max_yaml_bytes`` for YAML) is refused before it
  is read;
* nesting: mappings and lists deeper than ``max_depth`` are refused (JSON after parsing, or on
  Python's own recursion limit; YAML while composing, before any recursion);
* repeated keys in one mapping (JSON parsers silently keep the last one, which would hide a
  typo in a position or a mark);
* YAML: anchors and aliases (an alias bomb of a few hundred bytes expands to gigabytes),
  merge keys ``<<``, explicit tags and non-text keys are refused; plain scalars are resolved
  with the YAML 1.2 core schema, not PyYAML's YAML 1.1 rules: ``0100`` is the integer 100
  (not octal 64), ``1:30`` is the text ``"1:30"`` (not sexagesimal 90, and refused where a
  number is expected), ``yes``/``on`` are text, ``2024-12-27`` is text (read as a date by the
  field that expects one);
* JSON: ``NaN`` and ``Infinity`` (not JSON) are refused;
* CSV: the header must hold known columns only, each once, with the required ones present;
  every row must have as many cells as the header.
"""

from __future__ import annotations

import csv
import difflib
import json
import tomllib
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from pmargin._refusals import DuplicateKeyError, RefusedError, max_depth
from pmargin._validation import abbreviate, input_limits
from pmargin.errors import InputError

__all__ = [
    "STRUCTURED_SUFFIXES",
    "check_header",
    "read_csv_rows",
    "read_structured",
    "read_text_file",
    "read_toml_file",
    "short_path",
]

_MAX_PATH_CHARS = 160

STRUCTURED_SUFFIXES = (".json", ".yaml", ".yml")
"""Accepted extensions of JSON/YAML input files (case-insensitive)."""


def short_path(path: str | PathLike[str]) -> str:
    """Return the path as given, or ``...`` and its last 157 characters when longer."""
    text = str(path)
    if len(text) <= _MAX_PATH_CHARS:
        return text
    return "..." + text[-(_MAX_PATH_CHARS - 3) :]


def read_structured(path: str | PathLike[str], what: str) -> Any:
    """Parse a JSON or YAML file into plain Python values, within the input limits.

    Parameters
    ----------
    path
        A ``.json``, ``.yaml`` or ``.yml`` file.
    what
        What the file is, for error messages (``"market file"``).

    Returns
    -------
    Any
        Dicts with text keys, lists, text, int, float, bool and ``None``.

    Raises
    ------
    InputError
        Naming the file: unknown extension, missing, unreadable or too large file, syntax
        error (with line and column), a key repeated in one mapping, nesting deeper than the
        limit, or a YAML feature that is refused (see the module docstring).
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in STRUCTURED_SUFFIXES:
        raise InputError(
            what,
            short_path(path),
            f"has an unknown extension; use {', '.join(STRUCTURED_SUFFIXES)}",
        )
    limit_key = "max_bytes" if suffix == ".json" else "max_yaml_bytes"
    text = read_text_file(file, what, limit_key)
    if suffix == ".json":
        return _parse_json(text, str(path), what)
    from pmargin._yaml_file import parse_yaml  # PyYAML only where a YAML file is read

    return parse_yaml(text, short_path(path), what)


def read_text_file(file: Path, what: str, limit_key: str = "max_bytes") -> str:
    """Read a UTF-8 text file (a leading byte-order mark is dropped) no larger than the limit.

    Parameters
    ----------
    file
        The file.
    what
        What the file is, for error messages.
    limit_key
        Key of the size limit in the ``files`` table of ``input_limits.toml``.

    Raises
    ------
    InputError
        Naming the file: missing, a directory, too large, not UTF-8, or unreadable.
    """
    name = short_path(file)
    max_bytes = input_limits().integer("files", limit_key)
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise InputError(
                what, name, f"is {size:,} bytes, over the limit of {max_bytes:,} ({limit_key})"
            )
        with file.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(what, name, "does not exist") from None
    except IsADirectoryError:
        raise InputError(what, name, "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(what, name, f"cannot be read: {exc.strerror}") from None
    if len(raw) > max_bytes:  # grew while being read, or a device without a size
        raise InputError(what, name, f"is over the limit of {max_bytes:,} bytes ({limit_key})")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(what, name, f"is not UTF-8 text (byte {err.start})") from None


def read_toml_file(file: str | PathLike[str], what: str) -> dict[str, Any]:
    """Read a TOML file (parameters, limits, configuration) with one-line errors.

    Parameters
    ----------
    file
        The file (UTF-8, within the size limit of :func:`read_text_file`).
    what
        What the file is, for error messages.

    Raises
    ------
    InputError
        Naming the file: missing, a directory, too large, not UTF-8, unreadable, or not valid
        TOML (with the parser's message).
    """
    path = Path(file)
    text = read_text_file(path, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(what, short_path(path), f"is not valid TOML: {exc}") from None


def read_csv_rows(
    path: str | PathLike[str],
    what: str,
    *,
    columns: Sequence[str],
    required: Sequence[str],
) -> list[tuple[int, dict[str, str]]]:
    """Read a CSV file whose header names known columns, each once.

    Parameters
    ----------
    path
        The CSV file (UTF-8, first row the header).
    what
        What the file is, for error messages.
    columns
        Every column the file may have.
    required
        The columns it must have.

    Returns
    -------
    list of (int, dict)
        ``(line number, {column: stripped cell})`` per non-blank row, in file order.

    Raises
    ------
    InputError
        Naming the file and the column or line: an empty file, an unknown (misspelt) column
        with the closest known one, a repeated or missing column, a row with a different number
        of cells than the header, or a CSV syntax error.
    """
    file = Path(path)
    name = short_path(file)
    text = read_text_file(file, what)
    reader = csv.reader(text.splitlines())
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise InputError(what, name, f"is empty; expected the header {','.join(columns)}")
        names = [cell.strip() for cell in header]
        check_header(names, columns, required, what, str(file))
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(names):
                raise InputError(
                    f"{what} {name} line {reader.line_num}",
                    abbreviate(",".join(cells)),
                    f"has {len(cells)} cells; the header has {len(names)}",
                )
            rows.append(
                (reader.line_num, {k: v.strip() for k, v in zip(names, cells, strict=True)})
            )
    except csv.Error as err:
        raise InputError(
            f"{what} {name} line {reader.line_num}", None, f"is not valid CSV: {err}"
        ) from None
    return rows


def check_header(
    names: list[str], columns: Sequence[str], required: Sequence[str], what: str, file: str
) -> None:
    """Refuse unknown, repeated and missing columns of a table's header, naming the column.

    Parameters
    ----------
    names
        The header as read (CSV cells stripped, or a Parquet/Arrow schema's field names).
    columns, required
        Every column the table may have, and those it must have.
    what, file
        What the file is and its path, for error messages.
    """
    where = f"{what} {short_path(file)!r} header"
    for position, column in enumerate(names, start=1):
        if column not in columns:
            close = difflib.get_close_matches(column.lower(), columns, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(
                f"{where} column {position}",
                abbreviate(column),
                f"is not a known column ({', '.join(columns)}){hint}",
            )
        if names.index(column) != position - 1:
            raise InputError(f"{where} column {position}", column, "appears twice")
    missing = [c for c in required if c not in names]
    if missing:
        raise InputError(where, ",".join(names)[:80], f"lacks the columns {', '.join(missing)}")


def _parse_json(text: str, name: str, what: str) -> Any:
    """Parse JSON text; errors name the file, line and column."""
    shown = short_path(name)
    try:
        data = json.loads(text, object_pairs_hook=_json_object, parse_constant=_json_constant)
    except json.JSONDecodeError as err:
        raise InputError(
            what, shown, f"is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None
    except DuplicateKeyError as err:
        raise InputError(
            what,
            shown,
            f"is not valid: the key {abbreviate(err.key)!r} appears twice in one object",
        ) from None
    except RefusedError as err:
        raise InputError(what, shown, f"is not valid JSON: {err.reason}") from None
    except RecursionError:
        raise InputError(
            what, shown, f"nests deeper than the limit of {max_depth()} levels"
        ) from None
    except ValueError:  # Python refuses integer literals of more than 4,300 digits
        raise InputError(what, shown, "is not valid JSON: an integer has too many digits") from None
    depth = _depth(data)
    if depth > max_depth():
        raise InputError(what, shown, f"nests deeper than the limit of {max_depth()} levels")
    return data


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook that rejects a repeated key."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(key, None)
        result[key] = value
    return result


def _json_constant(name: str) -> float:
    """Refuse ``NaN``, ``Infinity`` and ``-Infinity``, which Python's parser accepts."""
    raise RefusedError(f"{name} is not a JSON number")


def _depth(data: Any) -> int:
    """Deepest nesting of dicts and lists in ``data``, counted without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    limit = max_depth()
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            level += 1
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            stack.extend(
                (child, level) for child in (node.values() if isinstance(node, dict) else node)
            )
    return deepest

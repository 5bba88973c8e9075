"""Reading user files (JSON, YAML, CSV) with one-line errors that name the file.

JSON and YAML are chosen by the file suffix; both reject a key repeated in one mapping (JSON
parsers silently keep the last one, which would hide a typo in a position or a mark).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Hashable
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from pmargin.errors import InputError

__all__ = ["STRUCTURED_SUFFIXES", "read_csv_rows", "read_structured"]

STRUCTURED_SUFFIXES = (".json", ".yaml", ".yml")
"""Accepted extensions of JSON/YAML input files (case-insensitive)."""


def read_structured(path: str | PathLike[str], what: str) -> Any:
    """Parse a JSON or YAML file into plain Python values, rejecting duplicate keys.

    Parameters
    ----------
    path
        A ``.json``, ``.yaml`` or ``.yml`` file.
    what
        What the file is, for error messages (``"market file"``).

    Raises
    ------
    InputError
        Naming the file: unknown extension, missing or unreadable file, syntax error (with
        line and column), or a key repeated in one mapping.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in STRUCTURED_SUFFIXES:
        raise InputError(
            what, str(path), f"has an unknown extension; use {', '.join(STRUCTURED_SUFFIXES)}"
        )
    text = _read_text(file, what)
    if suffix == ".json":
        return _parse_json(text, str(path), what)
    return _parse_yaml(text, str(path), what)


def read_csv_rows(path: str | PathLike[str], what: str) -> list[dict[str, str]]:
    """Read a CSV file with a header row into a list of dicts (empty cells are ``""``)."""
    file = Path(path)
    text = _read_text(file, what)
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        raise InputError(what, str(file), "is empty; expected a CSV header row")
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]


def _read_text(file: Path, what: str) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(what, str(file), "does not exist") from None
    except IsADirectoryError:
        raise InputError(what, str(file), "is a directory, not a file") from None
    except UnicodeDecodeError:
        raise InputError(what, str(file), "is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(what, str(file), f"cannot be read: {exc.strerror}") from None


class _DuplicateKeyError(Exception):
    """A key appears twice in one mapping (internal: turned into an InputError)."""

    def __init__(self, key: object, line: int | None) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


def _parse_json(text: str, name: str, what: str) -> Any:
    """Parse JSON text; errors name the file, line and column."""
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as err:
        raise InputError(
            what, name, f"is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None
    except _DuplicateKeyError as err:
        raise InputError(
            what, name, f"is not valid: the key {err.key!r} appears twice in one object"
        ) from None


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook that rejects a repeated key."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key, None)
        result[key] = value
    return result


class _StrictSafeLoader(yaml.SafeLoader):
    """YAML safe loader that rejects a key repeated in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """Build a mapping, raising on a repeated key (with its line)."""
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:
                repeated = False
            if repeated:
                raise _DuplicateKeyError(key, key_node.start_mark.line + 1)
            if not isinstance(key, list | dict):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str, name: str, what: str) -> Any:
    """Parse YAML text (safe loader); errors name the file and line."""
    try:
        return yaml.load(text, Loader=_StrictSafeLoader)  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        raise InputError(what, name, f"is not valid YAML: {err.problem}{where}") from None
    except yaml.YAMLError as err:
        raise InputError(what, name, f"is not valid YAML: {err}") from None
    except _DuplicateKeyError as err:
        raise InputError(
            what, name, f"is not valid: the key {err.key!r} appears twice at line {err.line}"
        ) from None

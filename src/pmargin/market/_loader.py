"""Read a market file (JSON or YAML, chosen by extension) into a :class:`MarketSnapshot`.

File problems (missing file, unknown extension, invalid JSON/YAML with its line, a key given
twice in one mapping) raise :class:`~pmargin.errors.InputError` naming the file; content
problems name the file and the field path (``market.json: index.BTC: -1.0 must be ...``).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from pmargin.errors import InputError
from pmargin.instruments import Instrument
from pmargin.market._codec import market_from_dict
from pmargin.market._snapshot import MarketSnapshot

__all__ = ["MARKET_FILE_SUFFIXES", "load_market", "read_market_file"]

MARKET_FILE_SUFFIXES = (".json", ".yaml", ".yml")
"""Accepted market file extensions (case-insensitive)."""

_FILE = "market file"


def load_market(
    path: str | PathLike[str], instruments: Mapping[str, Instrument] | None = None
) -> MarketSnapshot:
    """Load and validate a market snapshot file.

    Parameters
    ----------
    path
        A ``.json``, ``.yaml`` or ``.yml`` file in the layout of :func:`market_from_dict`.
    instruments
        Optional explicit contracts for mark symbols that are not venue symbols.

    Raises
    ------
    InputError
        For file problems (naming the file) and invalid content (naming file and field).
    """
    data = read_market_file(path)
    try:
        return market_from_dict(data, instruments)
    except InputError as err:
        raise InputError(f"{path}: {err.field}", err.value, err.reason) from err


def read_market_file(path: str | PathLike[str]) -> Any:
    """Parse a JSON or YAML file into plain Python values, rejecting duplicate keys.

    Raises
    ------
    InputError
        Naming the file: unknown extension, missing or unreadable file, syntax error (with
        line and column), or a key repeated in one mapping.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in MARKET_FILE_SUFFIXES:
        raise InputError(
            _FILE, str(path), f"has an unknown extension; use {', '.join(MARKET_FILE_SUFFIXES)}"
        )
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(_FILE, str(path), "does not exist") from None
    except IsADirectoryError:
        raise InputError(_FILE, str(path), "is a directory, not a file") from None
    except UnicodeDecodeError:
        raise InputError(_FILE, str(path), "is not UTF-8 text") from None
    except OSError as err:
        raise InputError(_FILE, str(path), f"cannot be read: {err.strerror}") from None
    if suffix == ".json":
        return _parse_json(text, str(path))
    return _parse_yaml(text, str(path))


class _DuplicateKeyError(Exception):
    """A key appears twice in one mapping (internal: turned into an InputError)."""

    def __init__(self, key: object, line: int | None) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


def _parse_json(text: str, name: str) -> Any:
    """Parse JSON text; errors name the file, line and column."""
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as err:
        raise InputError(
            _FILE, name, f"is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None
    except _DuplicateKeyError as err:
        raise InputError(
            _FILE, name, f"is not valid: the key {err.key!r} appears twice in one object"
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


def _parse_yaml(text: str, name: str) -> Any:
    """Parse YAML text (safe loader); errors name the file and line."""
    try:
        return yaml.load(text, Loader=_StrictSafeLoader)  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        raise InputError(_FILE, name, f"is not valid YAML: {err.problem}{where}") from None
    except yaml.YAMLError as err:
        raise InputError(_FILE, name, f"is not valid YAML: {err}") from None
    except _DuplicateKeyError as err:
        raise InputError(
            _FILE, name, f"is not valid: the key {err.key!r} appears twice at line {err.line}"
        ) from None

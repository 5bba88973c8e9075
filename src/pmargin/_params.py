"""Parameter tables: TOML files of numbers with bounds, validated on load (a foundation).

Every number a methodology or a consumer uses (shock sizes, factors, tiers, breaker limits,
liquidation steps) lives in such a file, never in code (DESIGN.md). :class:`ParamTable` reads
a table's fields with bounds, so that a missing or out-of-range field is an
:class:`~pmargin.errors.InputError` naming its dotted path, e.g. ``deribit.toml:
currencies.BTC.price_range``; :func:`merge_tables` lays an override file over a shipped one;
:func:`load_parameter_table` reads a file that may name a ``base`` file and checks a user's
file against the shipped one (known fields, open tables); :func:`read_versioned_file` opens a
consumer's small file (``schema_version``, ``source`` and named tables, nothing else). Finding a
methodology's shipped file by model name is :mod:`pmargin.margin`'s job
(``load_parameter_file``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmargin._files import read_toml_file
from pmargin._validation import abbreviate, as_float
from pmargin.errors import InputError

__all__ = ["ParamTable", "load_parameter_table", "merge_tables", "read_versioned_file"]

_MISSING: Any = object()

_LOADER_KEY = "extensible"
"""Top-level key of a shipped file naming its open tables (read by the loader, not a model)."""


def load_parameter_table(
    file: Path, *, base_file: Callable[[str], Path], shipped: Path | None = None
) -> ParamTable:
    """Read a parameter file, merged over its ``base`` and checked against ``shipped``.

    Parameters
    ----------
    file
        The TOML file to read.
    base_file
        Path of the shipped file a top-level ``base = "<name>"`` names (for a methodology,
        ``methodologies/<name>.toml``).
    shipped
        The shipped file ``file`` stands in for, when ``file`` is a user's own: its fields
        and open tables bound what ``file`` may hold. ``None`` reads ``file`` unchecked.

    Returns
    -------
    ParamTable
        The top-level table, whose errors name the file; :meth:`ParamTable.added` lists the
        entries a user's file adds to the shipped file's open tables.

    Notes
    -----
    A file whose top level has ``base = "<name>"`` holds overrides only: it is merged, table by
    table, over ``base_file(name)``. Bases may chain, but not loop.

    A user's file may only hold fields the shipped file has (checked by name, table by table,
    before anyone reads it): a misspelt field would otherwise be ignored and the shipped
    value used. The exception is the tables the shipped file names in its top-level
    ``extensible`` list (dotted paths, e.g. ``"groups"``, ``"mr1.moves"``), whose keys are
    names the user chooses (coin groups, currencies): a user's file may add entries to those,
    each shaped like the table's shipped entries (a list among lists, a number among numbers,
    a table holding only its siblings' fields). ``extensible`` is read by the loader, not by
    a model; each path must name a table of the file, and a user's file may not open a table
    the shipped file keeps closed.

    Raises
    ------
    InputError
        Naming the file: missing, unreadable, too large, not UTF-8, or not valid TOML (with
        the parser's message); naming the field: a field the shipped file does not have, an
        entry shaped unlike its siblings, an ``extensible`` path that names no table, or a
        ``base`` that names no shipped file or makes the bases loop.
    """
    user = _load(file, (), base_file)
    if shipped is None:
        return user.table
    reference = _load(shipped, (), base_file)
    where = f"{file.name}:"
    for i, opened in enumerate(user.declared):
        if opened not in reference.extensible:
            raise InputError(
                f"{where} extensible[{i}]",
                opened,
                f"is not open in {shipped.name} (open: {', '.join(reference.extensible)})",
            )
    added: list[tuple[str, ...]] = []
    _check_known(
        user.table.data,
        reference.table.data,
        _Walk(frozenset(reference.extensible), shipped.name, added),
        (),
        where,
    )
    return ParamTable(user.table.data, user.table.where, frozenset(added))


def read_versioned_file(
    file: Path, what: str, schema_version: int, tables: Sequence[str]
) -> ParamTable:
    """Open a consumer's versioned parameter file and check its header.

    Parameters
    ----------
    file
        The TOML file to read.
    what
        What the file holds, for the error naming an unreadable file (``"price bounds"``).
    schema_version
        The ``schema_version`` the caller's reader understands.
    tables
        The top-level tables the file may hold besides ``schema_version`` and the optional
        ``source`` string; the caller reads them from the returned table.

    Returns
    -------
    ParamTable
        The top-level table, whose errors name the file.

    Raises
    ------
    InputError
        The file is missing or not TOML, holds a top-level key other than these, has another
        ``schema_version``, or a ``source`` that is not a string.
    """
    top = ParamTable(read_toml_file(file, what), file.name)
    top.reject_unknown(["schema_version", "source", *tables])
    version = top.integer("schema_version", low=1)
    if version != schema_version:
        raise InputError(top.field("schema_version"), version, f"must be {schema_version}")
    top.text("source", "")
    return top


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A parameter file as read: its table, its own and its bases' ``extensible`` paths."""

    table: ParamTable
    extensible: tuple[str, ...]
    declared: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Walk:
    """What :func:`_check_known` carries down: open paths, reference name, added entries."""

    extensible: frozenset[str]
    reference: str
    added: list[tuple[str, ...]]


_KINDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("a table", Mapping),
    ("a list", list),
    ("true or false", bool),
    ("a number", (int, float)),
    ("a string", str),
)
"""Shapes of TOML values, in the order they are told apart (a bool is not a number)."""


def _kind(value: object) -> str:
    """Name the shape of a TOML value (``"a table"``, ``"a number"``, ...)."""
    return next((name for name, types in _KINDS if isinstance(value, types)), "a date or time")


def _check_known(
    given: Mapping[str, Any],
    shipped: Mapping[str, Any],
    walk: _Walk,
    path: tuple[str, ...],
    where: str,
) -> None:
    """Refuse a key of ``given`` that ``shipped`` lacks, unless ``path`` is open (see loader).

    New entries of an open table are recorded in ``walk.added`` by their key path.
    """
    is_open = ".".join(path) in walk.extensible
    for key, value in given.items():
        field = f"{where} {key}" if where.endswith(":") else f"{where}.{key}"
        if key in shipped:
            if isinstance(value, Mapping) and isinstance(shipped[key], Mapping):
                _check_known(value, shipped[key], walk, (*path, key), field)
            continue
        if not is_open:
            close = difflib.get_close_matches(key, [str(k) for k in shipped], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(field, abbreviate(value), f"is not a field of {walk.reference}{hint}")
        kinds = sorted({_kind(v) for v in shipped.values()})
        if kinds and _kind(value) not in kinds:
            raise InputError(
                field,
                abbreviate(value),
                f"must be {' or '.join(kinds)}, like the other entries of "
                f"{'.'.join(path)} in {walk.reference}",
            )
        walk.added.append((*path, key))
        if isinstance(value, Mapping):
            template: dict[str, Any] = {}
            for sibling in shipped.values():
                if isinstance(sibling, Mapping):
                    template.update(sibling)
            _check_known(value, template, walk, (*path, "*"), field)


def _load(file: Path, seen: tuple[str, ...], base_file: Callable[[str], Path]) -> _Loaded:
    """Read ``file``, merging it over its ``base`` file when it names one."""
    data = read_toml_file(file, "params")
    base = data.pop("base", None)
    opened = data.pop(_LOADER_KEY, [])
    extensible: tuple[str, ...] = ()
    if base is not None:
        if not isinstance(base, str) or not base_file(base).is_file():
            raise InputError(f"{file.name}: base", base, "must name a shipped methodology file")
        if base in seen:
            raise InputError(f"{file.name}: base", base, "makes the bases loop")
        parent = _load(base_file(base), (*seen, base), base_file)
        data = merge_tables(parent.table.data, data)
        extensible = parent.extensible
    table = ParamTable(data, file.name)
    declared = _extensible_paths(table, opened)
    return _Loaded(table, (*extensible, *declared), declared)


def _extensible_paths(table: ParamTable, value: object) -> tuple[str, ...]:
    """Check ``extensible`` (a list of dotted paths, each naming a table of ``table``)."""
    field = table.field(_LOADER_KEY)
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise InputError(field, abbreviate(value), "must be a list of dotted table paths")
    for i, path in enumerate(value):
        node: Any = table.data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            raise InputError(f"{field}[{i}]", path, "is not a table of this file")
    return tuple(value)


def merge_tables(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``override`` over ``base``: sub-tables merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_tables(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True, slots=True)
class ParamTable:
    """A table of a parameter file with validating accessors.

    Attributes
    ----------
    data
        The parsed table.
    where
        Dotted path of the table for error messages (``"deribit.toml: currencies.BTC"``).
    added_paths
        Key paths, relative to this table, of the entries a user's file added to the open
        (``extensible``) tables of the model's shipped file (see :func:`load_parameter_file`);
        empty for a shipped file or a table built in code.
    """

    data: Mapping[str, Any]
    where: str
    added_paths: frozenset[tuple[str, ...]] = frozenset()

    def field(self, key: str) -> str:
        """Dotted path of ``key`` in this table, for error messages."""
        return f"{self.where}: {key}" if ":" not in self.where else f"{self.where}.{key}"

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def keys(self) -> list[str]:
        """Keys of this table, in file order."""
        return list(self.data)

    def added(self) -> tuple[str, ...]:
        """Keys of this table a user's file added (new entries of an open table), file order."""
        mine = {p[0] for p in self.added_paths if len(p) == 1}
        return tuple(k for k in self.data if k in mine)

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        """Return the value of ``key`` as parsed; a missing key without default is an error."""
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise InputError(self.field(key), None, "is required")
        return default

    def number(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        low: float = -math.inf,
        high: float = math.inf,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        """Read a finite number within bounds (``*_open`` excludes the bound)."""
        value = self.raw(key, default)
        return as_float(
            value, self.field(key), low=low, high=high, low_open=low_open, high_open=high_open
        )

    def integer(self, key: str, default: Any = _MISSING, *, low: int = 0) -> int:
        """Read an integer ``>= low``."""
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(self.field(key), value, f"must be an integer >= {low}")
        return value

    def flag(self, key: str, default: Any = _MISSING) -> bool:
        """Read ``true`` or ``false`` (a number is not a flag)."""
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise InputError(self.field(key), value, "must be true or false")
        return value

    def text(self, key: str, default: Any = _MISSING, *, choices: Sequence[str] = ()) -> str:
        """Read a string, one of ``choices`` when given."""
        value = self.raw(key, default)
        if not isinstance(value, str) or (choices and value not in choices):
            expected = f"one of {'|'.join(choices)}" if choices else "a string"
            raise InputError(self.field(key), value, f"must be {expected}")
        return value

    def numbers(
        self, key: str, default: Any = _MISSING, *, low: float = -math.inf, min_len: int = 0
    ) -> tuple[float, ...]:
        """Read a list of finite numbers ``>= low`` with at least ``min_len`` entries."""
        value = self.raw(key, default)
        if isinstance(value, str) or not isinstance(value, Sequence) or len(value) < min_len:
            raise InputError(
                self.field(key), value, f"must be a list of at least {min_len} numbers"
            )
        return tuple(as_float(v, f"{self.field(key)}[{i}]", low=low) for i, v in enumerate(value))

    def table(self, key: str, default: Any = _MISSING) -> ParamTable:
        """Read a sub-table."""
        value = self.raw(key, default)
        if not isinstance(value, Mapping):
            raise InputError(self.field(key), value, "must be a table")
        inner = frozenset(p[1:] for p in self.added_paths if len(p) > 1 and p[0] == key)
        return ParamTable(value, self.field(key), inner)

    def field_paths(self, key: str) -> tuple[str, ...]:
        """Read a list of dotted paths (``"mr2.days"``), each naming a field of this table.

        Methodology files list the values they assume (not published) this way; a path that
        names no field is an error, so the list cannot go stale silently.
        """
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise InputError(self.field(key), value, "must be a list of dotted field paths")
        for i, path in enumerate(value):
            node: Any = self.data
            for part in path.split("."):
                if not isinstance(node, Mapping) or part not in node:
                    raise InputError(f"{self.field(key)}[{i}]", path, "is not a field of this file")
                node = node[part]
        return tuple(value)

    def check_header(self, schema_version: int, methodology: str) -> None:
        """Check the file's ``schema_version`` and ``methodology`` fields name this reader.

        A file written for another version of the format, or for another methodology, is an
        error naming the field rather than a silent misreading.
        """
        version = self.integer("schema_version", low=1)
        if version != schema_version:
            raise InputError(self.field("schema_version"), version, f"must be {schema_version}")
        self.text("methodology", choices=(methodology,))

    def reject_unknown(self, allowed: Sequence[str]) -> None:
        """Raise naming the first key that is not in ``allowed`` (a typo guard).

        A file's top-level ``extensible`` list is the loader's, not a parameter: it is let
        through at the top level of a table parsed straight from a shipped file.
        """
        top = ":" not in self.where
        for key in self.data:
            if key not in allowed and not (top and key == _LOADER_KEY):
                raise InputError(
                    self.field(key), self.data[key], f"is not a known field ({sorted(allowed)})"
                )

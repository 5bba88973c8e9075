"""Methodology parameter files: TOML under ``pmargin/margin/methodologies``, validated on load.

Every number a methodology uses (shock sizes, factors, tiers) lives in such a file, never in
code (DESIGN.md). :func:`load_parameter_file` finds a shipped file by model name or reads a
user's own file; :class:`ParamTable` reads its fields with bounds, so that a missing or
out-of-range field is an :class:`~pmargin.errors.InputError` naming its dotted path, e.g.
``deribit.toml: currencies.BTC.price_range``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pmargin._files import read_toml_file
from pmargin._validation import abbreviate, as_float
from pmargin.errors import InputError

__all__ = ["ParamTable", "load_parameter_file", "merge_tables", "methodology_path"]

_MISSING: Any = object()

_LOADER_KEY = "extensible"
"""Top-level key of a shipped file naming its open tables (read by the loader, not a model)."""


def methodology_path(name: str) -> Path:
    """Path of the parameter file shipped for model ``name`` (``methodologies/<name>.toml``)."""
    return Path(str(resources.files("pmargin.margin") / "methodologies" / f"{name}.toml"))


def load_parameter_file(model: str, path: str | Path | None = None) -> ParamTable:
    """Read a methodology parameter file.

    Parameters
    ----------
    model
        Model name; without ``path`` the shipped ``methodologies/<model>.toml`` is read.
    path
        A user's own TOML file with the same fields.

    Returns
    -------
    ParamTable
        The top-level table, whose errors name the file; :meth:`ParamTable.added` lists the
        entries a user's file adds to the shipped file's open tables.

    Notes
    -----
    A file whose top level has ``base = "<model>"`` holds overrides only: it is merged, table by
    table, over the shipped file of that model (``base = "deribit"`` plus ``[model] mode =
    "cross"`` selects Deribit's X:PM). Bases may chain, but not loop.

    A user's file may only hold fields the shipped file of ``model`` has (checked by name,
    table by table, before any model reads it): a misspelt field would otherwise be ignored
    and the shipped value used. The exception is the tables the shipped file names in its
    top-level ``extensible`` list (dotted paths, e.g. ``"groups"``, ``"mr1.moves"``), whose keys
    are names the user chooses (coin groups, currencies): a user's file may add entries to
    those, each shaped like the table's shipped entries (a list among lists, a number among
    numbers, a table holding only its siblings' fields). ``extensible`` is read by the loader,
    not by a model; each path must name a table of the file, and a user's file may not open a
    table the shipped file keeps closed.

    Raises
    ------
    InputError
        Naming the file: missing, unreadable, too large, not UTF-8, or not valid TOML (with
        the parser's message); naming the field: a field the shipped file does not have, an
        entry shaped unlike its siblings, or an ``extensible`` path that names no table.
    """
    if path is None:
        return _load(methodology_path(model), ()).table
    user = _load(Path(path), ())
    shipped_file = methodology_path(model)
    if not shipped_file.is_file():
        return user.table
    shipped = _load(shipped_file, ())
    where = f"{Path(path).name}:"
    for i, opened in enumerate(user.declared):
        if opened not in shipped.extensible:
            raise InputError(
                f"{where} extensible[{i}]",
                opened,
                f"is not open in {shipped_file.name} (open: {', '.join(shipped.extensible)})",
            )
    added: list[tuple[str, ...]] = []
    _check_known(
        user.table.data,
        shipped.table.data,
        _Walk(frozenset(shipped.extensible), shipped_file.name, added),
        (),
        where,
    )
    return ParamTable(user.table.data, user.table.where, frozenset(added))


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


def _load(file: Path, seen: tuple[str, ...]) -> _Loaded:
    """Read ``file``, merging it over its ``base`` methodology when it names one."""
    data = read_toml_file(file, "params")
    base = data.pop("base", None)
    opened = data.pop(_LOADER_KEY, [])
    extensible: tuple[str, ...] = ()
    if base is not None:
        if not isinstance(base, str) or not methodology_path(base).is_file():
            raise InputError(f"{file.name}: base", base, "must name a shipped methodology file")
        if base in seen:
            raise InputError(f"{file.name}: base", base, "makes the bases loop")
        parent = _load(methodology_path(base), (*seen, base))
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

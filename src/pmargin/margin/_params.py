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
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pmargin._files import read_text_file
from pmargin._validation import abbreviate, as_float
from pmargin.errors import InputError

__all__ = ["ParamTable", "load_parameter_file", "methodology_path"]

_MISSING: Any = object()


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
        The top-level table, whose errors name the file.

    Notes
    -----
    A file whose top level has ``base = "<model>"`` holds overrides only: it is merged, table by
    table, over the shipped file of that model (``base = "deribit"`` plus ``[model] mode =
    "cross"`` selects Deribit's X:PM). Bases may chain, but not loop.

    A user's file may only hold fields the shipped file of ``model`` has (checked by name,
    table by table, before any model reads it): a misspelt field would otherwise be ignored
    and the shipped value used. A table of like entries (``currency.btc``, ``currency.eth``:
    sub-tables sharing most fields) may gain new entries, shaped like their siblings.

    Raises
    ------
    InputError
        Naming the file: missing, unreadable, too large, not UTF-8, or not valid TOML (with
        the parser's message); naming the field: a field the shipped file does not have.
    """
    if path is None:
        return _load(methodology_path(model), ())
    table = _load(Path(path), ())
    shipped = methodology_path(model)
    if shipped.is_file():
        _check_known(table.data, _load(shipped, ()).data, f"{Path(path).name}:", shipped.name)
    return table


def _check_known(
    given: Mapping[str, Any], shipped: Mapping[str, Any], where: str, reference: str
) -> None:
    """Refuse a key of ``given`` that ``shipped`` lacks (recursively, see the loader)."""
    keyed = _is_keyed(shipped)
    for key, value in given.items():
        field = f"{where} {key}" if where.endswith(":") else f"{where}.{key}"
        if key in shipped:
            if isinstance(value, Mapping) and isinstance(shipped[key], Mapping):
                _check_known(value, shipped[key], field, reference)
            continue
        if keyed and isinstance(value, Mapping):
            template: dict[str, Any] = {}
            for sibling in shipped.values():
                template.update(sibling)
            _check_known(value, template, field, reference)
            continue
        close = difflib.get_close_matches(key, [str(k) for k in shipped], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(field, abbreviate(value), f"is not a field of {reference}{hint}")


def _is_keyed(table: Mapping[str, Any]) -> bool:
    """Whether ``table`` is a collection keyed by name (``currency.btc``, ``currency.eth``).

    True when it holds at least two sub-tables and nothing else, and they share most of their
    fields (at least 2, and at least half of the smallest one's), as entries of one kind do.
    """
    entries = list(table.values())
    if len(entries) < 2 or not all(isinstance(v, Mapping) for v in entries):
        return False
    fields = [set(v) for v in entries]
    shared = set.intersection(*fields)
    return len(shared) >= max(2, min(len(f) for f in fields) // 2)


def _load(file: Path, seen: tuple[str, ...]) -> ParamTable:
    """Read ``file``, merging it over its ``base`` methodology when it names one."""
    text = read_text_file(file, "params")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError("params", str(file), f"is not valid TOML: {exc}") from None
    base = data.pop("base", None)
    if base is None:
        return ParamTable(data, file.name)
    if not isinstance(base, str) or not methodology_path(base).is_file():
        raise InputError(f"{file.name}: base", base, "must name a shipped methodology file")
    if base in seen:
        raise InputError(f"{file.name}: base", base, "makes the bases loop")
    parent = _load(methodology_path(base), (*seen, base))
    return ParamTable(_merged(parent.data, data), file.name)


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: sub-tables merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
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
    """

    data: Mapping[str, Any]
    where: str

    def field(self, key: str) -> str:
        """Dotted path of ``key`` in this table, for error messages."""
        return f"{self.where}: {key}" if ":" not in self.where else f"{self.where}.{key}"

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def keys(self) -> list[str]:
        """Keys of this table, in file order."""
        return list(self.data)

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
        return ParamTable(value, self.field(key))

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
        """Raise naming the first key that is not in ``allowed`` (a typo guard)."""
        for key in self.data:
            if key not in allowed:
                raise InputError(
                    self.field(key), self.data[key], f"is not a known field ({sorted(allowed)})"
                )

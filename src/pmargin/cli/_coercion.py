"""Command-line values of plain types coerced without pydantic (Typer 0.29's own rules).

Typer 0.29 coerces every parameter through a pydantic ``TypeAdapter``: importing pydantic and
building the adapters is ~80 ms of every command's start (``benchmarks/bench_cli_start.py``),
a quarter of ``pmargin price``. A parameter whose annotation is ``bool``, ``str``, a ``Path``
or a list of ``str``, with no parser and no path option set, and whose value arrived in the
form Typer's adapter would pass through (a ``bool`` for a flag, text for the others), is
coerced here by Typer's own rules, with the same results and the same errors; anything else
(numbers, choices, dates, files, constrained paths, a value of another form) is handed to the
runtime parameter Typer builds, built when first needed. ``tests/cli/test_coercion.py`` checks
every parameter of every command against Typer's adapter.

:func:`install` puts the builder in place of Typer's; it leaves Typer alone where its internals
are not the ones this module was written for (another Typer version: nothing breaks, the start
is slower).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, get_args, get_origin

__all__ = ["install", "plain_kind"]

_PATH_DEFAULTS = {
    "exists": False,
    "file_okay": True,
    "dir_okay": True,
    "writable": False,
    "readable": True,
    "resolve_path": False,
    "allow_dash": False,
    "path_type": None,
}
"""Typer's path options at their defaults: with these a path is checked only for reading."""


def plain_kind(annotation: Any, info: Any) -> str | None:
    """Return ``"bool"``, ``"str"``, ``"path"`` or ``"strs"`` for a parameter coerced here.

    ``annotation`` and ``info`` are a Typer type descriptor's annotation and parameter info;
    ``None``: Typer's adapter coerces it.
    """
    if getattr(info, "parser", None) is not None:
        return None
    if annotation is bool:
        return "bool"
    if annotation is str:
        return "str"
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        return "strs"
    if isinstance(annotation, type) and issubclass(annotation, Path):
        same = all(getattr(info, k, None) == v for k, v in _PATH_DEFAULTS.items())
        return "path" if same and annotation is Path else None
    return None


def install() -> bool:
    """Put :func:`_builder` in place of Typer's runtime-parameter builder; ``True`` if done."""
    try:
        from typer import _coercion, core
        from typer._param_types import coerce_cli_path
    except ImportError:  # pragma: no cover - another Typer
        return False
    typer_build = getattr(core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if typer_build is None or base is None or getattr(typer_build, "_pmargin", False):
        return False
    core.build_runtime_param = _builder(typer_build, base, coerce_cli_path)  # type: ignore[attr-defined,assignment]
    return True


def _builder(
    typer_build: Callable[[Any], Any], base: type, coerce_cli_path: Callable[..., Any]
) -> Callable[[Any], Any]:
    """Return a builder: plain parameters coerced here, the others by ``typer_build``."""

    @dataclass(frozen=True)
    class PlainRuntimeParam(base):  # type: ignore[misc]
        """A plain parameter: its common values here, any other by Typer's runtime param."""

        kind: str
        descriptor: Any

        @cached_property
        def typer_param(self) -> Any:
            return typer_build(self.descriptor)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            kind = self.kind
            if kind == "bool" and isinstance(value, bool):
                return value
            if kind == "str" and isinstance(value, str):
                return value
            plain_list = kind == "strs" and isinstance(value, list | tuple)
            if plain_list and all(isinstance(v, str) for v in value):
                return list(value)
            if kind == "path" and isinstance(value, str | os.PathLike):
                checked = coerce_cli_path(
                    value, self.parameter_info, path_type=None, param=param, ctx=ctx
                )
                return Path(checked)
            return self.typer_param._coerce_value(value, param, ctx)

    def build(descriptor: Any) -> Any:
        if descriptor.file_annotation is None:
            kind = plain_kind(descriptor.annotation, descriptor.parameter_info)
            if kind is not None:
                return PlainRuntimeParam(
                    parameter_info=descriptor.parameter_info,
                    annotation=descriptor.annotation,
                    kind=kind,
                    descriptor=descriptor,
                )
        return typer_build(descriptor)

    build._pmargin = True  # type: ignore[attr-defined]
    return build

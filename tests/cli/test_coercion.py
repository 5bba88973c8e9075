"""Plain command-line values coerced without pydantic give Typer's own results and errors.

:mod:`pmargin.cli._coercion` coerces ``bool``, ``str``, ``Path`` and ``list[str]`` parameters
itself; its twin is the runtime parameter Typer builds (``typer._coercion.build_runtime_param``,
pydantic adapters). Every parameter of every command is coerced both ways, for values of each
form, and the results (or the error messages) must be equal.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import typer
from typer import _coercion, core
from typer.main import get_command

from pmargin.cli._coercion import install, plain_kind
from pmargin.cli.main import app


def _params() -> list[tuple[str, Any, Any]]:
    """``(command path, click command, parameter)`` of every parameter of every command."""
    found: list[tuple[str, Any, Any]] = []

    def walk(command: Any, path: str) -> None:
        for param in command.params:
            found.append((path, command, param))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(get_command(app), "")
    return found


PARAMS = _params()


def _kind(param: Any) -> str | None:
    descriptor = param.type_descriptor
    if descriptor.file_annotation is not None:
        return None
    return plain_kind(descriptor.annotation, descriptor.parameter_info)


def _values(kind: str, folder: Path) -> list[Any]:
    file = folder / "file.json"
    file.write_text("{}", encoding="utf-8")
    return {
        "bool": [True, False, "true", "no"],
        "str": ["BTC", "", "a b", b"bytes"],
        "strs": [["BTC-PERPETUAL", "ETH"], ("x",), [], ["a", 1]],
        "path": [str(file), str(folder), str(folder / "missing.json"), "-", Path(file), ""],
    }[kind]


def _outcome(runtime: Any, value: Any, param: Any, ctx: Any) -> tuple[str, Any]:
    try:
        return "value", runtime.coerce(value, param=param, ctx=ctx)
    except typer.BadParameter as exc:
        return "error", exc.format_message()


def test_the_builder_is_in_place() -> None:
    assert getattr(core.build_runtime_param, "_pmargin", False)
    assert install() is False  # once only


def test_commands_have_plain_parameters() -> None:
    kinds = {_kind(p) for _, _, p in PARAMS}
    assert {"bool", "str", "path", "strs"} <= kinds


@pytest.mark.parametrize(("path", "command", "param"), PARAMS, ids=lambda x: str(x))
def test_every_parameter_coerces_as_typer_does(
    path: str, command: Any, param: Any, tmp_path: Path
) -> None:
    descriptor = param.type_descriptor
    kind = _kind(param)
    if kind is None:
        assert not hasattr(core.build_runtime_param(descriptor), "kind")
        return
    ours = core.build_runtime_param(descriptor)
    theirs = _coercion.build_runtime_param(descriptor)  # Typer's own, pydantic adapters
    assert type(ours).__name__ == "PlainRuntimeParam"
    ctx = typer.Context(command)
    for value in _values(kind, tmp_path):
        assert _outcome(ours, value, param, ctx) == _outcome(theirs, value, param, ctx), value


def test_an_unreadable_path_is_refused_as_typer_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "secret.json"
    file.write_text("{}", encoding="utf-8")
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)  # root reads everything
    _, command, param = next(t for t in PARAMS if _kind(t[2]) == "path")
    ctx = typer.Context(command)
    ours = core.build_runtime_param(param.type_descriptor)
    theirs = _coercion.build_runtime_param(param.type_descriptor)
    outcome = _outcome(ours, str(file), param, ctx)
    assert outcome[0] == "error"
    assert "is not readable" in outcome[1]
    assert outcome == _outcome(theirs, str(file), param, ctx)

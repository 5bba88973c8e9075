"""Every command's ``--help``, compared with the snapshot under tests/cli/snapshots/.

Rendered by Typer's runner at a fixed 100-column terminal. Refresh the snapshots after an
intended change with ``PMARGIN_UPDATE_SNAPSHOTS=1 pytest tests/cli/test_help_snapshots.py``.
Every help is also checked to be clean: no RST markup, no Typer type label as a metavar
(``<bool>``, ``<path>``, ``<list[str]>``), no file that is not in the repository, no line
wider than the terminal.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmargin import __version__
from pmargin.cli.main import app

SNAPSHOTS = Path(__file__).parent / "snapshots"
WIDTH = 100


def _paths() -> list[tuple[str, ...]]:
    """Every command and subcommand of the app (a new registration is covered at once)."""
    import typer.main

    paths: list[tuple[str, ...]] = [()]

    def walk(group: object, prefix: tuple[str, ...]) -> None:
        for name, command in sorted(getattr(group, "commands", {}).items()):
            paths.append((*prefix, name))
            walk(command, (*prefix, name))

    walk(typer.main.get_command(app), ())
    return paths


COMMANDS = _paths()
FORBIDDEN = (
    "``",
    "<bool>",
    "<path>",
    "<str>",
    "<float>",
    "<int>",
    "<list[",
    ":func:",
    ":class:",
    ":data:",
    "DESIGN.md",
    "../shared",
    "{models}",
)

runner = CliRunner()


def _help(path: tuple[str, ...]) -> str:
    result = runner.invoke(
        app, [*path, "--help"], env={"COLUMNS": str(WIDTH)}, terminal_width=WIDTH
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: "-".join(p) or "pmargin")
def test_help_matches_snapshot(path: tuple[str, ...]) -> None:
    text = _help(path)
    snapshot = SNAPSHOTS / f"{'-'.join(path) or 'pmargin'}.txt"
    if os.environ.get("PMARGIN_UPDATE_SNAPSHOTS") == "1" or not snapshot.exists():
        snapshot.write_text(text, encoding="utf-8")
    assert text == snapshot.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: "-".join(p) or "pmargin")
def test_help_is_clean(path: tuple[str, ...]) -> None:
    text = _help(path)
    for marker in FORBIDDEN:
        assert marker not in text, f"{marker!r} in {' '.join(path)} --help"
    assert max(len(line) for line in text.splitlines()) <= WIDTH


def test_the_main_commands_are_covered() -> None:
    names = {p[0] for p in COMMANDS if p}
    assert {"price", "margin", "check-order", "risk-matrix", "stress", "demo"} <= names


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"pmargin {__version__}"


def test_help_lists_the_models_on_demand() -> None:
    from pmargin.margin import MODELS

    assert ", ".join(MODELS) in " ".join(_help(("margin",)).split())

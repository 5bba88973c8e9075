"""Help that costs nothing to start: the command group fills in library names on demand.

``pmargin --help`` and ``pmargin price`` must start fast, so no command module imports the
library when it is imported (each imports :mod:`pmargin.engine` inside its body). Option
help that lists the library's names (models, episodes, funding modes) names a placeholder
instead, ``{models}``, and :class:`ChoicesGroup` replaces it with the list when a command is
resolved: only for the command that runs or shows its help, whose run imports the library
anyway. The names stay in one home, the library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer.core

__all__ = ["CHOICES", "ChoicesGroup", "fill_choices", "plain_help"]


def _models() -> str:
    from pmargin.engine import MODELS

    return ", ".join(MODELS)


def _episodes() -> str:
    from pmargin.engine import episode_names

    return ", ".join(episode_names())


def _episode_keys() -> str:
    from pmargin.engine import EPISODE_KEYS

    return "|".join(EPISODE_KEYS)


def _funding_modes() -> str:
    from pmargin.engine import FUNDING_MODES

    return "|".join(FUNDING_MODES)


def _interpolations() -> str:
    from pmargin.engine import INTERPOLATIONS

    return "|".join(INTERPOLATIONS)


def _simulation_models() -> str:
    from pmargin.engine import SIMULATION_MODELS

    return ",".join(SIMULATION_MODELS)


CHOICES: dict[str, Callable[[], str]] = {
    "models": _models,
    "episodes": _episodes,
    "episode_keys": _episode_keys,
    "funding_modes": _funding_modes,
    "interpolations": _interpolations,
    "simulation_models": _simulation_models,
}
"""Placeholder name -> the library's names it stands for (imported when first asked)."""

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(text: str | None) -> str | None:
    if text is None or "{" not in text:
        return text
    return _PLACEHOLDER.sub(
        lambda m: CHOICES[m.group(1)]() if m.group(1) in CHOICES else m.group(0), text
    )


def fill_choices(command: Any) -> None:
    """Replace every ``{name}`` of :data:`CHOICES` in the help of a command's options.

    ``command`` is a click command or group (a group's subcommands are filled too); idempotent.
    """
    for param in getattr(command, "params", ()):
        param.help = _fill(getattr(param, "help", None))
    for sub in getattr(command, "commands", {}).values():
        fill_choices(sub)


def plain_help(command: Any) -> Any:
    """Drop RST literal markup (double backquotes) from a command's help text; return it.

    Docstrings are written for the API docs; the terminal shows ``--out`` as --out.
    """
    for attribute in ("help", "short_help"):
        text = getattr(command, attribute, None)
        if isinstance(text, str) and "``" in text:
            setattr(command, attribute, text.replace("``", ""))
    return command


_METAVARS = {"path": "FILE", "str": "TEXT", "float": "NUMBER", "int": "INTEGER"}
"""Typer's type labels (``<path>``, ``<float>``) as the plain metavars the help shows."""


def _no_type(ctx: Any) -> None:
    """Show no type beside an argument's name in its help row."""
    return None


def plain_metavars(command: Any) -> Any:
    """Give every option without a metavar a plain one (``FILE``, ``NUMBER``); return the command.

    Typer labels them ``<path>``, ``<list[str]>``, ``<float>``; a flag shows none; choices keep
    their list (``[a|b]``). An argument shows its upper-case name only (``SYMBOL...``).
    """
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") == "argument":
            if param.metavar is None:
                param.metavar = param.name.upper()
            param.display_type_rich = _no_type  # the name (SYMBOL...) says it; no <list[str]>
            continue
        if param.metavar is not None or getattr(param, "is_flag", False):
            continue
        label = str(param.display_type(None)).strip("<>")
        inner = label[5:-1] if label.startswith("list[") else label
        param.metavar = _METAVARS.get(inner, f"[{inner}]" if "|" in inner else inner.upper())
    return command


class ChoicesGroup(typer.core.TyperGroup):
    """The ``pmargin`` group: plain help text, placeholders filled on resolve.

    Every subcommand's help loses its RST markup (:func:`plain_help`) when listed or
    resolved; the resolved command's option help gets the library's names
    (:func:`fill_choices`).
    """

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """Return the subcommand with plain help text (its subcommands too)."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            plain_metavars(plain_help(command))
            for sub in getattr(command, "commands", {}).values():
                plain_metavars(plain_help(sub))
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Resolve as click does, then fill the command's help placeholders."""
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            fill_choices(command)
        return name, command, rest

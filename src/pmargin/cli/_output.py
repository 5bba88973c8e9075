r"""Where every command writes: a console that never truncates piped tables, safe text, and JSON.

Every string a user supplied (account ids, symbols, asset and scenario names, file names,
error messages) passes through :func:`clean` before it is shown: control characters (ANSI
escape sequences, carriage returns, bidirectional overrides) are shown as visible ``\x1b``
escapes instead of acting on the terminal. Text placed in a table or title goes through
:func:`plain` (a :class:`rich.text.Text`, never parsed as markup); text inside a markup string
printed by the console goes through :func:`markup_safe` (:func:`rich.markup.escape`).
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from pmargin._outputs import finite_json
from pmargin._validation import abbreviate

__all__ = [
    "PIPE_WIDTH",
    "clean",
    "console",
    "markup_safe",
    "plain",
    "print_json",
    "short_value",
]

PIPE_WIDTH = 220
"""Table width when stdout is not a terminal (files, pipes): wide enough for every column."""


def _visible(char: str) -> str:
    r"""Return a control or format character as a visible escape (``\x1b``), else itself."""
    if char != " " and unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def clean(text: object) -> str:
    r"""Return ``str(text)`` with every control or format character shown as an escape.

    ``"\x1b[31mx"`` (5 characters) becomes the 9 visible characters ``\x1b[31mx``: nothing
    reaches the terminal that could colour it, move the cursor or reorder text; printable
    text, brackets included, is kept as it is.
    """
    return "".join(_visible(c) for c in str(text))


def plain(text: object, style: str = "") -> Text:
    """:func:`clean` text as a :class:`rich.text.Text`: shown literally, never read as markup."""
    return Text(clean(text), style=style)


def markup_safe(text: object) -> str:
    """:func:`clean` text escaped for a console markup string (``[red]`` shown literally)."""
    return escape(clean(text))


def short_value(value: object) -> str:
    """Return ``repr(value)`` cut to a short prefix, control characters escaped.

    The prefix is ``files.max_quoted_chars`` of ``input_limits.toml`` (``...`` marks a cut;
    :func:`pmargin._validation.abbreviate`).
    """
    return clean(repr(abbreviate(value)))


def console() -> Console:
    """Return a console that never truncates tables when the output is piped or captured."""
    terminal = Console()
    return terminal if terminal.is_terminal else Console(width=PIPE_WIDTH)


def print_json(payload: Sequence[dict[str, Any]] | dict[str, Any]) -> None:
    """Write ``payload`` to stdout as indented JSON.

    Raises
    ------
    InputError
        A NaN or infinite number anywhere in ``payload``, naming its path (an account's by
        its id, ``accounts[id=a1].equity``): JSON has no such numbers, and they only come from
        inputs out of any sensible range (:func:`pmargin._outputs.finite_json`). Nothing is
        written then.
    """
    sys.stdout.write(finite_json(payload, indent=2) + "\n")

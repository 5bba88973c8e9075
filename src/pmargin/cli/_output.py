"""Where every command writes: a console that never truncates piped tables, and JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console

__all__ = ["PIPE_WIDTH", "console", "print_json"]

PIPE_WIDTH = 220
"""Table width when stdout is not a terminal (files, pipes): wide enough for every column."""


def console() -> Console:
    """Return a console that never truncates tables when the output is piped or captured."""
    terminal = Console()
    return terminal if terminal.is_terminal else Console(width=PIPE_WIDTH)


def print_json(payload: Sequence[dict[str, Any]] | dict[str, Any]) -> None:
    """Write ``payload`` to stdout as indented JSON (NaN and infinity are errors)."""
    json.dump(payload, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")

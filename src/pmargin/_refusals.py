"""What the file readers refuse, as the signals their parsers raise (:mod:`pmargin._files`).

The JSON reader (:mod:`pmargin._files`) and the YAML reader (:mod:`pmargin._yaml_file`) raise
these while parsing; each reader turns them into an :class:`~pmargin.errors.InputError` that
names the file (and the line, where known).
"""

from __future__ import annotations

from pmargin._validation import input_limits

__all__ = ["DuplicateKeyError", "RefusedError", "max_depth"]


class DuplicateKeyError(Exception):
    """A key appears twice in one mapping (turned into an InputError by the reader)."""

    def __init__(self, key: object, line: int | None) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


class RefusedError(Exception):
    """A feature or a structure the readers refuse (turned into an InputError by the reader)."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def max_depth() -> int:
    """Deepest nesting of mappings and lists a file may hold (``files.max_depth``)."""
    return input_limits().integer("files", "max_depth")

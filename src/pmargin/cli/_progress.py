"""Progress bars for long work: one helper every command (and ``make bench``) uses.

Bars are drawn with rich on stderr, only when stderr is a terminal (pipes, files, CI logs and
tests see nothing), and vanish when the work ends. Three doors, one bar:

- :func:`progress` ``(description, total)``: a context manager yielding ``advance(n=1)``;
- :func:`track` ``(items, description)``: iterate with a bar (the total from ``len`` when
  the items have one);
- :func:`progress_callback` ``(description)``: a context manager yielding ``report(done,
  total)``, the callback a library function takes (``progress=``) to say how far it is.

``enabled`` forces the bar on or off (default: whether stderr is a terminal).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["ProgressCallback", "progress", "progress_callback", "track"]

_T = TypeVar("_T")
ProgressCallback = Callable[[int, int], None]
"""``report(done, total)``: ``done`` of ``total`` items finished (a library's progress hook)."""


def _bar(enabled: bool | None) -> Any:
    """Return a rich Progress on stderr, or None when the bar is off."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


@contextmanager
def progress(
    description: str, total: int | None = None, *, enabled: bool | None = None
) -> Iterator[Callable[..., None]]:
    """Show a bar while the block runs; yield ``advance(n=1, total=None)``.

    ``total``: the number of items (``None``: unknown until ``advance(total=...)`` says it).
    """
    bar = _bar(enabled)
    if bar is None:
        yield lambda n=1, total=None: None
        return
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1, total: int | None = None) -> None:
            if total is not None:
                bar.update(task, total=total)
            bar.advance(task, n)

        yield advance


def track(
    items: Iterable[_T], description: str, *, total: int | None = None, enabled: bool | None = None
) -> Iterator[_T]:
    """Yield ``items`` one by one with a bar (``total`` defaults to ``len(items)``)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(description, total, enabled=enabled) as advance:
        for item in items:
            yield item
            advance()


@contextmanager
def progress_callback(
    description: str, *, enabled: bool | None = None
) -> Iterator[ProgressCallback]:
    """Yield ``report(done, total)`` driving a bar: the ``progress=`` hook of library calls."""
    bar = _bar(enabled)
    if bar is None:
        yield lambda done, total: None
        return
    with bar:
        task = bar.add_task(description, total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield report

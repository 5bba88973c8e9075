"""Shared pieces of the benchmarks: the result row, a timer and the table printer."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One measured line: ``items`` processed in ``seconds`` (best of the repeats)."""

    benchmark: str
    implementation: str
    items: int
    seconds: float
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.items / self.seconds


def best_time(
    func: Callable[[], object], repeats: int = 3, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Best seconds of ``repeats`` calls of ``func`` by ``clock`` (wall-clock by default)."""
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        func()
        best = min(best, clock() - start)
    return best


def format_table(rows: Sequence[Row]) -> str:
    """Render rows as a fixed-width text table."""
    header = ("benchmark", "implementation", "items", "seconds", "items/s", "note")
    body = [
        (
            r.benchmark,
            r.implementation,
            f"{r.items:,}",
            f"{r.seconds:.4f}",
            f"{r.per_second:,.0f}",
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in (header, *body)) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True))
        for line in (header, *body)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

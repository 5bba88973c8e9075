"""Shared pieces of the benchmarks: the result row, a timer, growth fits and the table printer."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


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


def fit_exponent(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """Slope ``k`` of ``log(seconds) = a + k log(sizes)`` by least squares.

    ``seconds ~ sizes**k``: 1 is linear growth, 0 a constant cost, 2 quadratic. Needs two
    sizes or more, all distinct, and positive sizes and seconds.
    """
    n, t = np.asarray(sizes, dtype=np.float64), np.asarray(seconds, dtype=np.float64)
    if n.shape != t.shape or n.size < 2 or not (np.all(n > 0.0) and np.all(t > 0.0)):
        raise ValueError(f"need two or more positive (size, seconds) pairs: {sizes}, {seconds}")
    x, y = np.log(n), np.log(t)
    dx = x - x.mean()
    if not dx.any():
        raise ValueError(f"sizes must not all be equal: {sizes}")
    return float(dx @ (y - y.mean()) / (dx @ dx))


def growth(
    benchmark: str,
    variable: str,
    sizes: Sequence[int],
    setup: Callable[[int], Callable[[], object]],
    *,
    repeats: int = 3,
    clock: Callable[[], float] = time.process_time,
    context: str = "",
) -> Row:
    """How the cost of one job grows with ``variable``: its fitted exponent over ``sizes``.

    For each size, ``setup(size)`` builds the inputs (not timed) and returns the job; the job
    is run once to warm it, then timed best of ``repeats`` by ``clock`` (CPU seconds of the
    process by default: what one core spends, whatever else the machine runs). The exponent
    ``k`` of ``seconds ~ size**k`` is fitted over the points (:func:`fit_exponent`), with its
    standard error from the fit's residuals (``+-``: how far the points stray from one power
    law, the measure of noise); a regression that changes how a cost scales shows as a change
    of ``k`` larger than that. Three sizes or more.

    Returns the row ``(benchmark, "growth in <variable>", largest size, its seconds)`` whose
    note gives the exponent and every point (also printed to stderr as measured).
    """
    if len(sizes) < 3:
        raise ValueError(f"growth needs three sizes or more, got {list(sizes)}")
    seconds = []
    for size in sizes:
        job = setup(size)
        job()  # warm: caches, compilation, the allocator
        seconds.append(best_time(job, repeats, clock=clock))
        print(f"  {benchmark}: {variable} {size:,} {seconds[-1]:.4f} s", file=sys.stderr)
    k = fit_exponent(sizes, seconds)
    x, y = np.log(np.asarray(sizes, dtype=np.float64)), np.log(seconds)
    residual = y - y.mean() - k * (x - x.mean())
    spread = float(np.sqrt(residual @ residual / (x.size - 2) / ((x - x.mean()) ** 2).sum()))
    points = ", ".join(
        f"{s:,}: {t * 1e3:.3g} ms" if t < 1.0 else f"{s:,}: {t:.3g} s"
        for s, t in zip(sizes, seconds, strict=True)
    )
    note = f"exponent {k:.2f} +- {spread:.2f} in {variable} ({points})" + (
        f"; {context}" if context else ""
    )
    return Row(benchmark, f"growth in {variable}", sizes[-1], seconds[-1], note)

"""The distance search: a shared grid of moves, then bracketed regula falsi per account.

:class:`BracketSearch` finds, for each of its rows, the smallest scale ``s`` in ``(0, limit]``
at which the gap ``equity - MM`` along one direction first reaches 0. It does not compute a
gap itself: a driver asks it which rows need the gap at which scale (:meth:`~BracketSearch.
requests`), margins them (every search of a call in lock step, as few model computations as it
can) and hands the gaps back (:meth:`~BracketSearch.receive`). The grid, the Illinois steps and
the tolerance are described in ``docs/liquidation-distance.md``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pmargin._typing import FloatArray

__all__ = ["DOWN_LIMIT", "UP_LIMIT", "BracketSearch", "limit_along", "nearer"]

DOWN_LIMIT = 0.99
"""Largest fall searched: a relative move of -0.99 (-99 %)."""

UP_LIMIT = 10.0
"""Largest rise searched: a relative move of +10.0 (+1,000 %)."""

_GRID = (0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 0.9)
_GRID_UP = (1.25, 1.6, 2.0, 3.0, 5.0, 7.5)
"""Scales of the shared grid (absolute relative moves), before the search's own limit."""


class BracketSearch:
    """Smallest scale ``s`` in ``(0, limit]`` with ``gap(s x direction) <= 0``, per row.

    Run in lock step with the other searches of a call by a driver: :meth:`requests` says
    which rows need the gap at which scale, :meth:`receive` takes the gaps back. First the shared
    grid (every row still searching at one scale), then Illinois rounds (bracketed regula
    falsi, the end kept twice running has its gap halved) until each bracket is narrower
    than ``tolerance``.
    """

    def __init__(
        self,
        rows: npt.NDArray[np.int64],
        gap0: FloatArray,
        direction: FloatArray,
        limit: float,
        tolerance: float,
        max_rounds: int,
    ) -> None:
        n = rows.size
        self.rows = rows
        self.direction = direction
        self.tolerance = tolerance
        self.rounds_left = max_rounds
        self.grid = [g for g in (*_GRID, *_GRID_UP) if g < limit] + [limit]
        self.lo = np.zeros(n)
        self.hi = np.full(n, np.nan)
        self.f_lo = gap0.astype(np.float64, copy=True)
        self.f_hi = np.full(n, np.nan)
        self.x_prev = np.full(n, np.nan)  # the grid point before lo, for the first estimate
        self.f_prev = np.full(n, np.nan)
        self.side = np.zeros(n, dtype=np.int8)  # end kept last round: -1 lo, +1 hi
        self.searching = np.arange(n) if limit > 0.0 else np.zeros(0, dtype=np.int64)
        self.step = 0
        self.pending = np.zeros(0, dtype=np.int64)
        self.trial = np.zeros(0)

    def requests(self) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """Local row numbers and the scale each needs next (empty when done)."""
        if self.searching.size and self.step < len(self.grid):
            self.pending = self.searching
            self.trial = np.full(self.searching.size, self.grid[self.step])
            return self.pending, self.trial
        self.searching = np.zeros(0, dtype=np.int64)
        todo = np.flatnonzero(np.isfinite(self.hi))
        todo = todo[self.hi[todo] - self.lo[todo] > self.tolerance]
        if todo.size == 0 or self.rounds_left <= 0:
            self.pending = np.zeros(0, dtype=np.int64)
            return self.pending, np.zeros(0)
        self.rounds_left -= 1
        lo, hi, f_lo, f_hi = self.lo[todo], self.hi[todo], self.f_lo[todo], self.f_hi[todo]
        width = hi - lo
        trial = lo + width * f_lo / (f_lo - f_hi)
        first = self.side[todo] == 0
        if first.any():  # inverse quadratic through the last three grid points
            x0, f0 = self.x_prev[todo], self.f_prev[todo]
            with np.errstate(divide="ignore", invalid="ignore"):
                quadratic = (
                    x0 * f_lo * f_hi / ((f0 - f_lo) * (f0 - f_hi))
                    + lo * f0 * f_hi / ((f_lo - f0) * (f_lo - f_hi))
                    + hi * f0 * f_lo / ((f_hi - f0) * (f_hi - f_lo))
                )
            usable = first & np.isfinite(quadratic) & (quadratic > lo) & (quadratic < hi)
            trial = np.where(usable, quadratic, trial)
        # step a third of the tolerance past the estimate, towards the end kept last round,
        # so that an accurate estimate closes the bracket from the other side next
        trial += self.side[todo] * self.tolerance / 3.0
        margin = np.minimum(self.tolerance / 3.0, width / 4.0)
        self.pending, self.trial = todo, np.clip(trial, lo + margin, hi - margin)
        return self.pending, self.trial

    def receive(self, gap: FloatArray) -> None:
        """Take the gaps at the scales of the last :meth:`requests`."""
        at, trial = self.pending, self.trial
        crossed = gap <= 0.0
        up, down = at[crossed], at[~crossed]
        if self.searching.size and self.step < len(self.grid):
            self.step += 1
            self.searching = down
            # rows still positive: their lo becomes the point before the new lo
            self.x_prev[down], self.f_prev[down] = self.lo[down], self.f_lo[down]
        else:  # Illinois: halve the gap of an end kept twice running
            self.f_lo[up[self.side[up] == -1]] /= 2.0
            self.f_hi[down[self.side[down] == 1]] /= 2.0
            self.side[up], self.side[down] = -1, 1
        self.hi[up], self.f_hi[up] = trial[crossed], gap[crossed]
        self.lo[down], self.f_lo[down] = trial[~crossed], gap[~crossed]

    def result(self) -> FloatArray:
        """Scale per row, interpolated in the final bracket; NaN where none was found."""
        out = np.full(self.rows.size, np.nan)
        found = np.isfinite(self.hi)
        lo, hi = self.lo[found], self.hi[found]
        f_lo, f_hi = self.f_lo[found], self.f_hi[found]
        out[found] = lo + (hi - lo) * np.clip(f_lo / (f_lo - f_hi), 0.0, 1.0)
        return out


def limit_along(direction: FloatArray) -> float:
    """Largest scale along ``direction`` keeping every move within [-DOWN_LIMIT, UP_LIMIT]."""
    bounds = [UP_LIMIT / d for d in direction if d > 0.0]
    bounds += [DOWN_LIMIT / -d for d in direction if d < 0.0]
    return min(bounds) if bounds else 0.0


def nearer(negative: FloatArray, positive: FloatArray) -> FloatArray:
    """Per entry, the one of ``negative`` (<= 0) and ``positive`` (>= 0) nearer 0; NaN if none."""
    a = np.where(np.isfinite(negative), np.abs(negative), np.inf)
    b = np.where(np.isfinite(positive), positive, np.inf)
    out: FloatArray = np.where(a <= b, negative, positive)
    return np.where(np.isinf(np.minimum(a, b)), np.nan, out)

"""Searches over whole lots with the true model: the polish and the brute-force twin.

Both ask an :class:`Objective`: the value of a lot vector by the model itself (re-margined
through :meth:`pmargin.health.AccountWhatIf.margin_after`), ``inf`` where a limit is broken.

* :func:`polish`: a coordinate search from a start: for steps of ``4^k`` lots from the
  largest at most ``top`` down to 1, move one candidate by +-step while that lowers the
  objective, until no move does or the budget of evaluations is spent. What a model with
  non-linear parts gets after its linear core (and from the perpetual's delta hedges).
* :func:`brute_force`: every lot vector in ``[-g, g]^n``; the exact optimum on the grid for
  small universes, which the programme is tested against.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from pmargin._typing import FloatArray

__all__ = ["Objective", "brute_force", "polish", "steps"]

Objective = Callable[[tuple[int, ...]], float]
"""Lots per candidate -> objective (USD), ``inf`` where a limit is broken."""


def steps(top: float) -> tuple[int, ...]:
    """Step sizes of :func:`polish` in lots, largest first: ``4^k <= max(top, 1)``, ..., 4, 1."""
    k = int(np.floor(np.log(max(top, 1.0)) / np.log(4.0) + 1e-12))
    return tuple(4**j for j in range(k, -1, -1))


def polish(
    objective: Objective, start: FloatArray, budget: int, top: float = 64.0
) -> tuple[tuple[int, ...], float]:
    """Coordinate search on whole lots from ``start`` (module docstring).

    Parameters
    ----------
    objective
        The true objective of a lot vector.
    start
        Shape ``(n,)``: lots to start from (rounded).
    budget
        Most objective evaluations.
    top
        The largest step, in lots (:func:`steps`).

    Returns
    -------
    tuple
        The best lot vector found and its objective.
    """
    best = tuple(int(v) for v in np.round(start))
    value = objective(best)
    spent = 1
    for step in steps(top):
        improved = True
        while improved and spent < budget:
            improved = False
            for i, sign in itertools.product(range(len(best)), (1, -1)):
                if spent >= budget:
                    break
                trial = list(best)
                trial[i] += sign * step
                candidate = tuple(trial)
                trial_value = objective(candidate)
                spent += 1
                if trial_value < value - 1e-9 * max(abs(value), 1.0):
                    best, value, improved = candidate, trial_value, True
    return best, value


def brute_force(objective: Objective, n: int, grid: int) -> tuple[tuple[int, ...], float]:
    """Every lot vector in ``[-grid, grid]^n``: the best and its objective (first on ties)."""
    best: tuple[int, ...] = (0,) * n
    value = objective(best)
    for lots in itertools.product(range(-grid, grid + 1), repeat=n):
        trial = objective(lots)
        if trial < value:
            best, value = lots, trial
    return best, value

"""Static-arbitrage checks of raw SVI slices: butterfly (Durrleman) and calendar.

Butterfly: a slice's call prices are convex in strike (a non-negative risk-neutral density)
iff Durrleman's function (Gatheral and Jacquier 2014, Lemma 2.2)::

    g(k) = (1 - k w'(k) / (2 w(k)))**2 - w'(k)**2 / 4 * (1 / w(k) + 1 / 4) + w''(k) / 2

is ``>= 0`` for every ``k``, with ``w`` the slice's total variance and ``k = ln(K / F)``.

Calendar: call prices at fixed forward moneyness do not decrease with maturity iff total
variance ``w(k, T)`` is non-decreasing in ``T`` at every ``k``.

Both are checked on a grid of ``k`` (default :data:`CHECK_GRID`, 1201 points on ``[-3, 3]``);
the results say where and by how much a check fails, never only yes or no.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pmargin._typing import FloatArray
from pmargin.market._svi import RawSVI

__all__ = [
    "CHECK_GRID",
    "ButterflyCheck",
    "CalendarCheck",
    "butterfly_check",
    "calendar_check",
    "durrleman_g",
]

CHECK_GRID: FloatArray = np.linspace(-3.0, 3.0, 1201)
"""Default log forward moneyness grid of the checks, shape ``(1201,)``."""


def durrleman_g(svi: RawSVI, k: npt.ArrayLike) -> FloatArray:
    """Durrleman's density function ``g(k)`` of one raw SVI slice.

    Parameters
    ----------
    svi
        The slice's raw SVI parameters.
    k
        Log forward moneyness ``ln(K / F)``, any shape.

    Returns
    -------
    ndarray
        ``g(k)``, float64 of the shape of ``k``; ``g >= 0`` everywhere means no butterfly
        arbitrage. Where ``w(k) = 0`` the value is ``-inf`` or NaN (no density there).
    """
    x = np.asarray(k, dtype=np.float64)
    d = x - svi.m
    root = np.sqrt(d * d + svi.sigma**2)
    w = svi.a + svi.b * (svi.rho * d + root)
    w1 = svi.b * (svi.rho + d / root)
    w2 = svi.b * svi.sigma**2 / root**3
    with np.errstate(divide="ignore", invalid="ignore"):
        g: FloatArray = (1.0 - x * w1 / (2.0 * w)) ** 2 - w1**2 / 4.0 * (1.0 / w + 0.25) + w2 / 2.0
    return g


@dataclass(frozen=True, slots=True)
class ButterflyCheck:
    """Butterfly check of one slice on a grid.

    Attributes
    ----------
    min_g
        Smallest Durrleman ``g`` on the grid (dimensionless).
    worst_k
        Log moneyness where ``g`` is smallest.
    """

    min_g: float
    worst_k: float

    @property
    def ok(self) -> bool:
        """Whether ``g >= 0`` on the whole grid (no butterfly arbitrage there)."""
        return self.min_g >= 0.0


@dataclass(frozen=True, slots=True)
class CalendarCheck:
    """Calendar check of consecutive slices on a grid.

    Attributes
    ----------
    min_gaps
        Per consecutive pair ``(i, i + 1)`` of slices sorted by maturity, the smallest
        ``w_{i+1}(k) - w_i(k)`` on the grid (years x vol**2), shape ``(n_slices - 1,)``.
    worst_k
        Per pair, the log moneyness of that smallest gap, shape ``(n_slices - 1,)``.
    """

    min_gaps: tuple[float, ...]
    worst_k: tuple[float, ...] = ()

    @property
    def violations(self) -> tuple[int, ...]:
        """Indices ``i`` of the pairs ``(i, i + 1)`` whose total variance decreases."""
        return tuple(i for i, gap in enumerate(self.min_gaps) if gap < 0.0)

    @property
    def ok(self) -> bool:
        """Whether total variance is non-decreasing in maturity at every grid ``k``."""
        return not self.violations


def butterfly_check(svi: RawSVI, k: npt.ArrayLike | None = None) -> ButterflyCheck:
    """Check one slice for butterfly arbitrage on ``k`` (default :data:`CHECK_GRID`).

    Returns
    -------
    ButterflyCheck
        The smallest ``g`` and where it is.
    """
    grid = CHECK_GRID if k is None else np.asarray(k, dtype=np.float64).ravel()
    g = durrleman_g(svi, grid)
    g = np.where(np.isnan(g), -np.inf, g)
    at = int(np.argmin(g))
    return ButterflyCheck(float(g[at]), float(grid[at]))


def calendar_check(slices: Sequence[RawSVI], k: npt.ArrayLike | None = None) -> CalendarCheck:
    """Check slices, given in increasing maturity, for calendar arbitrage on ``k``.

    Parameters
    ----------
    slices
        Raw SVI slices sorted by maturity (earliest first).
    k
        Log forward moneyness grid (default :data:`CHECK_GRID`).

    Returns
    -------
    CalendarCheck
        The smallest total-variance increase of each consecutive pair.
    """
    grid = CHECK_GRID if k is None else np.asarray(k, dtype=np.float64).ravel()
    w = [s.total_variance(grid) for s in slices]
    gaps = [b - a for a, b in itertools.pairwise(w)]
    return CalendarCheck(
        tuple(float(g.min()) for g in gaps), tuple(float(grid[int(np.argmin(g))]) for g in gaps)
    )

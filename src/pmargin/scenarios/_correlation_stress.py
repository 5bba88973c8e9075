"""Stressed correlation matrices and the Monte Carlo scenario sets built with them.

Two stresses (CPMI-IOSCO PFMI 6: sensitivity to extreme correlation changes):

* **blend** toward all-ones: ``C_s = C + factor * (1 - C)`` elementwise, ``factor`` in [0, 1]
  (0: unchanged, 1: every pair perfectly correlated). A convex combination of two PSD matrices
  is PSD; if rounding leaves an eigenvalue below ``-1e-12`` it is raised to
  ``eigenvalue_floor`` and the matrix rescaled to a unit diagonal.
* **worst window**: the correlation of per-step log returns over the ``window_days`` window
  (ending by the as-of date) with the highest mean pairwise correlation among windows in which
  the equally weighted basket fell (all windows if none fell): the crash in which the
  underlyings moved most together.

:func:`correlation_stressed_scenarios` redraws a :class:`MonteCarloModel` with the stressed
matrix, same vols, same seed (the same normal draws): only the dependence changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pmargin._typing import ArrayLike, FloatArray
from pmargin._validation import as_float
from pmargin.errors import InputError
from pmargin.history import PriceHistory, log_returns
from pmargin.scenarios._historical import _steps, _window_starts
from pmargin.scenarios._monte_carlo import (
    MonteCarloModel,
    MonteCarloScenarios,
    check_correlation,
)

__all__ = [
    "StressedCorrelation",
    "blend_correlation",
    "correlation_stressed_scenarios",
    "worst_window_correlation",
]

_REPAIR_TOL = 1e-12


@dataclass(frozen=True, slots=True)
class StressedCorrelation:
    """A stressed correlation matrix and where it came from.

    Attributes
    ----------
    names
        Underlyings, length ``k``.
    matrix
        Stressed correlation, shape ``(k, k)``, PSD, unit diagonal.
    base
        Matrix it was derived from (``None`` for a historical window).
    source
        ``"blend factor=0.5"`` or ``"window 2022-05-05T00:00:00 -> 2022-06-04T00:00:00"``.
    factor
        Blend factor in [0, 1], or ``None``.
    window
        ``(start, end)`` close instants of the window (``datetime64[s]``), or ``None``.
    eigenvalue_floor
        Floor applied to eigenvalues when the matrix needed repair.
    min_eigenvalue
        Smallest eigenvalue of ``matrix``.
    repaired
        Whether the eigenvalue floor was applied.
    """

    names: tuple[str, ...]
    matrix: FloatArray
    base: FloatArray | None
    source: str
    factor: float | None
    window: tuple[np.datetime64, np.datetime64] | None
    eigenvalue_floor: float
    min_eigenvalue: float
    repaired: bool

    def report(self) -> dict[str, Any]:
        """Plain summary for reports: names, matrix, source, eigenvalue floor and minimum."""
        return {
            "names": list(self.names),
            "matrix": self.matrix.tolist(),
            "source": self.source,
            "factor": self.factor,
            "window": None if self.window is None else [str(t) for t in self.window],
            "eigenvalue_floor": self.eigenvalue_floor,
            "min_eigenvalue": self.min_eigenvalue,
            "repaired": self.repaired,
        }


def blend_correlation(
    correlation: ArrayLike,
    factor: float,
    names: Sequence[str] | None = None,
    *,
    eigenvalue_floor: float = 0.0,
) -> StressedCorrelation:
    """Blend ``correlation`` toward all-ones by ``factor`` in [0, 1], keeping it PSD.

    Parameters
    ----------
    correlation
        Base correlation, shape ``(k, k)``.
    factor
        0 keeps the base, 1 gives all ones.
    names
        Underlying names (default ``"0"``, ``"1"``, ...).
    eigenvalue_floor
        Floor (>= 0) for eigenvalues if the blend needs repair.
    """
    base = np.asarray(correlation, dtype=np.float64)
    k = base.shape[0] if base.ndim == 2 else 0
    base = check_correlation(base, k)
    factor = as_float(factor, "factor", low=0.0, high=1.0)
    floor = as_float(eigenvalue_floor, "eigenvalue_floor", low=0.0, high=1.0, high_open=True)
    matrix, repaired = _psd(base + factor * (1.0 - base), floor)
    return StressedCorrelation(
        names=_names(names, k),
        matrix=matrix,
        base=base,
        source=f"blend factor={factor:g}",
        factor=factor,
        window=None,
        eigenvalue_floor=floor,
        min_eigenvalue=float(np.linalg.eigvalsh(matrix).min()),
        repaired=repaired,
    )


def worst_window_correlation(
    history: PriceHistory,
    *,
    window_days: float = 30.0,
    as_of: object = None,
    underlyings: Sequence[str] | None = None,
) -> StressedCorrelation:
    """Correlation of the falling window in which the underlyings moved most together.

    Parameters
    ----------
    history
        Aligned closes; only those at or before ``as_of`` are searched.
    window_days
        Window length in days (a whole number of data steps, >= 2 returns).
    as_of
        Last usable instant (None: last close).
    underlyings
        Names to use (default all; at least two).

    Raises
    ------
    InputError
        ``window_days`` not a multiple of the step or longer than the history; fewer than two
        underlyings.
    """
    hist = history.as_of(history.times[-1] if as_of is None else as_of)
    if underlyings is not None:
        hist = hist.select(underlyings)
    if len(hist.names) < 2:
        raise InputError("underlyings", hist.names, "needs at least two underlyings")
    window_days = as_float(window_days, "window_days", low=0.0, low_open=True)
    span = _steps(window_days * 24.0, hist.step, "window_days")
    starts = _window_starts(hist.times, span, hist.step)
    if span < 2 or starts.size == 0:
        raise InputError("window_days", window_days, "needs >= 2 returns within the history")
    r = log_returns(hist.closes)
    # Rolling sums over windows of `span` returns r[t : t + span] (closes t .. t + span).
    csum = np.vstack([np.zeros((1, r.shape[1])), np.cumsum(r, axis=0)])
    cross = np.einsum("ti,tj->tij", r, r)
    ccross = np.concatenate([np.zeros((1, *cross.shape[1:])), np.cumsum(cross, axis=0)])
    sums = csum[starts + span] - csum[starts]
    mean = sums / span
    second = (ccross[starts + span] - ccross[starts]) / span
    cov = second - np.einsum("wi,wj->wij", mean, mean)
    sd = np.sqrt(np.maximum(np.einsum("wii->wi", cov), 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.einsum("wi,wj->wij", sd, sd)
    k = len(hist.names)
    off = ~np.eye(k, dtype=bool)
    mean_corr = corr[:, off].mean(axis=1)
    fell = sums.mean(axis=1) < 0.0
    candidates = np.isfinite(mean_corr) & (fell if fell.any() else True)
    best = int(np.argmax(np.where(candidates, mean_corr, -np.inf)))
    s = int(starts[best])
    matrix = np.clip(corr[best], -1.0, 1.0)
    np.fill_diagonal(matrix, 1.0)
    matrix, repaired = _psd(matrix, 0.0)
    window = (hist.times[s], hist.times[s + span])
    return StressedCorrelation(
        names=hist.names,
        matrix=matrix,
        base=None,
        source=f"window {window[0]} -> {window[1]}",
        factor=None,
        window=window,
        eigenvalue_floor=0.0,
        min_eigenvalue=float(np.linalg.eigvalsh(matrix).min()),
        repaired=repaired,
    )


def correlation_stressed_scenarios(
    model: MonteCarloModel, stressed: StressedCorrelation, n_scenarios: int, seed: int
) -> MonteCarloScenarios:
    """Monte Carlo scenarios of ``model`` with the stressed correlation, same vols and seed.

    Raises
    ------
    InputError
        (field ``stressed.names``) if the stressed matrix is for other underlyings.
    """
    if stressed.names != model.names:
        raise InputError(
            "stressed.names", stressed.names, f"must match the model's underlyings {model.names}"
        )
    return model.with_correlation(stressed.matrix).generate(n_scenarios, seed)


def _psd(matrix: FloatArray, floor: float) -> tuple[FloatArray, bool]:
    """Return ``matrix`` unchanged if PSD (to 1e-12), else eigen-floored with unit diagonal."""
    sym = (matrix + matrix.T) / 2.0
    values, vectors = np.linalg.eigh(sym)
    if values.min() >= -_REPAIR_TOL:
        return matrix, False
    fixed = (vectors * np.maximum(values, floor)) @ vectors.T
    d = np.sqrt(np.diag(fixed))
    out: FloatArray = fixed / np.outer(d, d)
    np.fill_diagonal(out, 1.0)
    return out, True


def _names(names: Sequence[str] | None, k: int) -> tuple[str, ...]:
    if names is None:
        return tuple(str(i) for i in range(k))
    result = tuple(names)
    if len(result) != k:
        raise InputError("names", result, f"must name the {k} rows of the correlation matrix")
    return result

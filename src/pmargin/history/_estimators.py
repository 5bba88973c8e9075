"""Return and volatility estimators on a close matrix (pure functions on arrays).

Conventions: returns are LOG returns per sampling step, ``r[i] = ln(c[i+1] / c[i])``; vols
are annualised with 365 days a year (crypto trades every day), so a per-step variance ``v``
of a ``step_hours`` series is ``v * 365 * 24 / step_hours`` per year.

EWMA (RiskMetrics) variance, with ``lam`` the PER-STEP decay::

    v[0]   = mean(r[:seed_count] ** 2)            # seed: first seed_count returns
    v[i+1] = lam * v[i] + (1 - lam) * r[i] ** 2   # i = 0 .. m-1

``v[i]`` is the forecast of ``r[i]`` made before it is seen; ``v[m]`` is today's forecast of
the next return. A daily decay ``lam_d`` (0.94) becomes ``lam_d ** (step_hours / 24)`` per
step (:func:`per_step_lambda`: 0.94 ** (1/6) = 0.98974 on 4-hour data), the same half-life in
calendar time.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from pmargin._typing import FloatArray
from pmargin._validation import as_float
from pmargin.timeutil import HOURS_PER_YEAR

__all__ = [
    "annualise",
    "ewma_covariance",
    "ewma_variance",
    "log_returns",
    "per_step_lambda",
    "realised_vol",
]


def check_lambda(lam: float, field: str = "ewma_lambda") -> float:
    """Return ``lam`` if it lies in the open interval (0, 1), else raise naming ``field``."""
    return as_float(lam, field, low=0.0, high=1.0, low_open=True, high_open=True)


def per_step_lambda(daily_lambda: float, step_hours: float) -> float:
    """Per-step decay with the same calendar half-life as ``daily_lambda`` per day.

    ``daily_lambda ** (step_hours / 24)``; ``daily_lambda`` in (0, 1).
    """
    return float(check_lambda(daily_lambda) ** (step_hours / 24.0))


def annualise(variance: FloatArray, step_hours: float) -> FloatArray:
    """Annualised vol (decimal) from a per-step variance: ``sqrt(v * 8760 / step_hours)``."""
    result: FloatArray = np.sqrt(variance * (HOURS_PER_YEAR / step_hours))
    return result


def log_returns(closes: FloatArray) -> FloatArray:
    """Log returns per step, shape ``(n_times - 1, n_underlyings)`` from ``(n_times, k)``."""
    result: FloatArray = np.diff(np.log(closes), axis=0)
    return result


def ewma_variance(returns: FloatArray, lam: float, seed_count: int = 30) -> FloatArray:
    """EWMA variance forecasts (see the module docstring), per step.

    Parameters
    ----------
    returns
        Log returns, shape ``(m, k)`` (m >= 1).
    lam
        Per-step decay in (0, 1).
    seed_count
        Number of first returns whose mean square seeds ``v[0]``.

    Returns
    -------
    FloatArray
        Shape ``(m + 1, k)``: ``v[i]`` forecasts ``r[i]``; ``v[m]`` is today's.
    """
    lam = check_lambda(lam)
    r2 = np.asarray(returns, dtype=np.float64) ** 2
    seed = r2[: max(1, seed_count)].mean(axis=0)
    out = np.empty((r2.shape[0] + 1, r2.shape[1]))
    out[0] = seed
    filtered, _ = lfilter([1.0 - lam], [1.0, -lam], r2, axis=0, zi=(lam * seed)[np.newaxis, :])
    out[1:] = filtered
    return out


def ewma_covariance(returns: FloatArray, lam: float, seed_count: int = 30) -> FloatArray:
    """Today's EWMA covariance forecast, shape ``(k, k)``, per step (same recursion, on r r')."""
    lam = check_lambda(lam)
    r = np.asarray(returns, dtype=np.float64)
    cov: FloatArray = np.einsum("ti,tj->ij", r[:seed_count], r[:seed_count]) / max(
        1, min(seed_count, r.shape[0])
    )
    weights = (1.0 - lam) * lam ** np.arange(r.shape[0] - 1, -1, -1, dtype=np.float64)
    result: FloatArray = lam ** r.shape[0] * cov + np.einsum("t,ti,tj->ij", weights, r, r)
    return result


def realised_vol(returns: FloatArray, window: int, step_hours: float) -> FloatArray:
    """Trailing realised vol (annualised, zero-mean) at each close.

    Parameters
    ----------
    returns
        Log returns, shape ``(m, k)``; ``returns[i]`` ends at close ``i + 1``.
    window
        Number of returns in the trailing window (30 days = 30 daily or 180 4-hour returns).
    step_hours
        Sampling step of the returns.

    Returns
    -------
    FloatArray
        Shape ``(m + 1, k)``: at close ``i``, ``sqrt(mean(r[i-window:i] ** 2) * 8760 /
        step_hours)``; NaN for ``i < window``.
    """
    r2 = np.asarray(returns, dtype=np.float64) ** 2
    csum = np.vstack([np.zeros((1, r2.shape[1])), np.cumsum(r2, axis=0)])
    out = np.full(csum.shape, np.nan)
    if window <= r2.shape[0]:
        mean = (csum[window:] - csum[:-window]) / window
        out[window:] = annualise(np.maximum(mean, 0.0), step_hours)
    return out

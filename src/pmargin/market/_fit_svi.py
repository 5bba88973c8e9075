"""Fit raw SVI slices to an option chain's implied vols, with arbitrage checks and fit errors.

:func:`fit_svi` takes one :class:`~pmargin.market.SmileQuotes` per expiry (implied vols
against log forward moneyness ``k = ln(K / F)``) and returns an :class:`SviFit`: the raw SVI
parameters of every expiry, the fit error in vol points, Durrleman's butterfly check per slice
and the calendar check across slices (:mod:`pmargin.market._svi_checks`).

Two methods:

* ``"raw"`` (default): each expiry on its own, five parameters by least squares on implied
  vol (weighted by the quotes' ``weights``), started from the quasi-explicit solution
  (Zeliade 2009: for fixed ``m, sigma`` the total variance is linear in the other three) on a
  small grid of ``m, sigma``, with a penalty on negative Durrleman ``g`` over
  ``k in [-3, 3]`` so that slices come out free of butterfly arbitrage where the quotes allow.
  (A further pass penalising model vols outside the bid and ask vols was tried and left
  out: it put more options outside their bid-ask on the 2026 chain, not fewer.)
  Calendar arbitrage is reported, not removed: independent slices can cross in the
  extrapolated wings (a short expiry's steep wing above a longer one's far from the money),
  and a penalty there costs the fit near the money (tried: RMSE x3 on the 2026 chain).
* ``"ssvi"``: one power-law SSVI shape for all expiries (:func:`~pmargin.market.fit_ssvi`),
  each slice keeping its ATM total variance (made non-decreasing in maturity), converted to raw
  SVI: free of static arbitrage by construction, a looser fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from scipy.optimize import least_squares

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.market._surface import SurfaceSlice, VolSurface
from pmargin.market._svi import RawSVI
from pmargin.market._svi_checks import (
    CHECK_GRID,
    ButterflyCheck,
    CalendarCheck,
    butterfly_check,
    calendar_check,
    durrleman_g,
)
from pmargin.market._svi_ssvi import SmileQuotes, fit_ssvi, ssvi_slice_to_raw

__all__ = ["FIT_METHODS", "SliceFit", "SviFit", "fit_svi", "fit_svi_slice"]

FIT_METHODS = ("raw", "ssvi")
"""Names of the fitting methods of :func:`fit_svi`."""

_PENALTY_GRID: FloatArray = CHECK_GRID[::2]
_PENALTY = 100.0
"""Weight of ``min(g, 0)`` on :data:`_PENALTY_GRID`, times the largest quote weight."""
_G_MARGIN = 1e-4
"""The penalty aims at ``g >= _G_MARGIN`` so that the fitted ``g`` lands at or above 0."""
_MIN_QUOTES = 5


@dataclass(frozen=True, slots=True)
class SliceFit:
    """The fit of one expiry.

    Attributes
    ----------
    expiry
        Expiry instant (UTC).
    t
        ACT/365 years to expiry from the quotes' instant.
    forward
        Forward the moneyness was measured against (quote currency per unit), or ``None``.
    svi
        Fitted raw SVI parameters (total variance, years x vol**2).
    n_quotes
        Quotes fitted.
    rmse_vol_points
        Root mean square of model minus quoted implied vol, vol points (1 = 0.01 vol).
    max_error_vol_points
        Largest absolute implied-vol error, vol points.
    butterfly
        Durrleman's check of the fitted slice on ``k in [-3, 3]``.
    """

    expiry: datetime
    t: float
    forward: float | None
    svi: RawSVI
    n_quotes: int
    rmse_vol_points: float
    max_error_vol_points: float
    butterfly: ButterflyCheck


@dataclass(frozen=True, slots=True)
class SviFit:
    """Raw SVI slices fitted to a chain, with their errors and arbitrage checks.

    Attributes
    ----------
    underlying
        Underlying code (``"BTC"``).
    method
        ``"raw"`` or ``"ssvi"`` (see the module docstring).
    slices
        One :class:`SliceFit` per expiry, by increasing expiry.
    calendar
        Calendar check of consecutive slices on ``k in [-3, 3]``.
    """

    underlying: str
    method: str
    slices: tuple[SliceFit, ...]
    calendar: CalendarCheck

    @property
    def rmse_vol_points(self) -> float:
        """Root mean square implied-vol error over every quote of every slice, vol points."""
        n = sum(s.n_quotes for s in self.slices)
        total = sum(s.rmse_vol_points**2 * s.n_quotes for s in self.slices)
        return math.sqrt(total / n)

    @property
    def butterfly_ok(self) -> bool:
        """Whether every slice passes the butterfly check."""
        return all(s.butterfly.ok for s in self.slices)

    @property
    def ok(self) -> bool:
        """Whether the surface passes both the butterfly and the calendar checks."""
        return self.butterfly_ok and self.calendar.ok

    def surface(self, asof: datetime) -> VolSurface:
        """Return the fitted slices as a :class:`~pmargin.market.VolSurface` at ``asof``."""
        return VolSurface(
            self.underlying,
            tuple(SurfaceSlice(s.expiry, s.svi, s.forward) for s in self.slices),
            asof,
        )

    def summary(self) -> list[str]:
        """One line per slice and one for the calendar check, for reports and logs."""
        lines = [
            f"{self.underlying} {s.expiry:%Y-%m-%d} T={s.t:.4f}: {s.n_quotes} quotes, RMSE "
            f"{s.rmse_vol_points:.2f} vp, max {s.max_error_vol_points:.2f} vp, butterfly "
            + (
                "ok"
                if s.butterfly.ok
                else f"FAILS (g={s.butterfly.min_g:.3g} at k={s.butterfly.worst_k:.2f})"
            )
            for s in self.slices
        ]
        bad = [
            f"{self.slices[i].expiry:%Y-%m-%d}/{self.slices[i + 1].expiry:%Y-%m-%d} "
            f"(by {-self.calendar.min_gaps[i]:.3g} at k={self.calendar.worst_k[i]:.2f})"
            for i in self.calendar.violations
        ]
        lines.append(
            f"{self.underlying} calendar: "
            + ("ok" if not bad else "total variance decreases between " + ", ".join(bad))
        )
        return lines


def fit_svi(
    smiles: Mapping[datetime, SmileQuotes],
    *,
    underlying: str,
    forwards: Mapping[datetime, float] | None = None,
    method: Literal["raw", "ssvi"] = "raw",
) -> SviFit:
    """Fit raw SVI slices to the implied vols of each expiry and check them for arbitrage.

    Parameters
    ----------
    smiles
        Quotes per expiry instant (UTC): implied vols (decimal) against ``k = ln(K / F)``, and
        optional weights (``SmileQuotes.weights``, default 1). At least 5 quotes per expiry
        for ``"raw"``.
    underlying
        Underlying code of the surface.
    forwards
        Forward of each expiry (kept on the slices; optional).
    method
        ``"raw"`` or ``"ssvi"`` (see the module docstring).

    Returns
    -------
    SviFit
        Parameters, fit errors and checks, slices by increasing expiry.

    Raises
    ------
    InputError
        For an unknown method, no expiries, or too few quotes on an expiry.
    """
    if method not in FIT_METHODS:
        raise InputError("method", method, f"is not one of {', '.join(FIT_METHODS)}")
    if not smiles:
        raise InputError("smiles", {}, "needs at least one expiry")
    expiries = sorted(smiles)
    if method == "ssvi":
        params = fit_ssvi([smiles[e] for e in expiries])
        thetas = np.maximum.accumulate([smiles[e].theta for e in expiries])
        fitted = [
            ssvi_slice_to_raw(float(theta), params.rho, params.phi(float(theta)))
            for theta in thetas
        ]
    else:
        fitted = [fit_svi_slice(smiles[e], f"smiles[{e:%Y-%m-%d}]") for e in expiries]
    slices = tuple(
        _slice_fit(e, smiles[e], svi, None if forwards is None else forwards.get(e))
        for e, svi in zip(expiries, fitted, strict=True)
    )
    return SviFit(underlying, method, slices, calendar_check([s.svi for s in slices]))


def fit_svi_slice(quotes: SmileQuotes, field: str = "smile") -> RawSVI:
    """Least-squares raw SVI fit of one expiry's implied vols (the ``"raw"`` method).

    Parameters
    ----------
    quotes
        Implied vols against log moneyness, ``t > 0``, at least 5 finite quotes.
    field
        Name used in errors.

    Returns
    -------
    RawSVI
        Parameters minimising the weighted implied-vol error plus the butterfly penalty.

    Raises
    ------
    InputError
        For fewer than 5 usable quotes or a non-positive ``t``.
    """
    k, vols, weights, t = _usable(quotes, field)
    w_mkt = vols * vols * t
    lower = np.array([0.0, 0.0, -0.999, float(k.min()) - 1.0, 1e-4])
    upper = np.array([4.0 * float(w_mkt.max()) + 1e-8, 1.0, 0.999, float(k.max()) + 1.0, 5.0])

    scale = _PENALTY * float(weights.max())

    def residuals(x: FloatArray) -> FloatArray:
        svi = _from_free(x)
        model = np.sqrt(np.maximum(svi.total_variance(k), 1e-16) / t)
        g = durrleman_g(svi, _PENALTY_GRID)
        penalty = scale * np.minimum(np.nan_to_num(g, nan=-1.0, neginf=-1.0) - _G_MARGIN, 0.0)
        return np.concatenate([weights * (model - vols), penalty])

    best: tuple[float, FloatArray] | None = None
    for x0 in _starts(k, w_mkt, lower, upper):
        result = least_squares(residuals, x0, bounds=(lower, upper), method="trf", x_scale="jac")
        cost = float(result.cost)
        if best is None or cost < best[0]:
            best = (cost, result.x)
    assert best is not None
    return _from_free(best[1])


def _usable(quotes: SmileQuotes, field: str) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """Finite quotes with positive vols and weights: ``k``, vols, weights and ``t``."""
    t = float(quotes.t)
    if not t > 0.0:
        raise InputError(f"{field}.t", t, "must be > 0 years")
    k = np.asarray(quotes.k, dtype=np.float64)
    vols = np.asarray(quotes.vols, dtype=np.float64)
    weights = np.ones_like(k) if quotes.weights is None else np.asarray(quotes.weights, np.float64)
    keep = np.isfinite(k) & np.isfinite(vols) & (vols > 0.0) & np.isfinite(weights)
    keep &= weights > 0.0
    if int(keep.sum()) < _MIN_QUOTES:
        raise InputError(
            field, int(keep.sum()), f"has too few usable quotes; need {_MIN_QUOTES} for raw SVI"
        )
    return k[keep], vols[keep], weights[keep], t


def _from_free(x: FloatArray) -> RawSVI:
    """Raw SVI from ``(min total variance, b, rho, m, sigma)``, so ``a`` always satisfies it."""
    vmin, b, rho, m, sigma = (float(v) for v in x)
    return RawSVI(vmin - b * sigma * math.sqrt(1.0 - rho * rho), b, rho, m, sigma)


def _starts(k: FloatArray, w: FloatArray, lower: FloatArray, upper: FloatArray) -> list[FloatArray]:
    """Quasi-explicit starting points on a grid of ``m`` and ``sigma``, clipped to the bounds."""
    starts = []
    k_low = float(k[np.argmin(w)])
    width = float(k.max() - k.min())
    for m in (k_low, 0.0, 0.5 * k_low):
        for sigma in (0.03 * width, 0.1 * width, 0.3 * width, 1.0 * width):
            y = (k - m) / sigma
            design = np.column_stack([np.ones_like(y), y, np.sqrt(y * y + 1.0)])
            (a, d, c), *_ = np.linalg.lstsq(design, w, rcond=None)
            b = max(float(c) / sigma, 1e-4)
            rho = float(np.clip(float(d) / max(float(c), 1e-12), -0.9, 0.9))
            vmin = max(float(a) + b * sigma * math.sqrt(1.0 - rho * rho), 1e-6)
            x0 = np.array([vmin, b, rho, m, sigma])
            starts.append(np.clip(x0, lower + 1e-9, upper - 1e-9))
    return starts


def _slice_fit(
    expiry: datetime, quotes: SmileQuotes, svi: RawSVI, forward: float | None
) -> SliceFit:
    """Fit errors (all finite quotes, vol points) and the butterfly check of one slice."""
    k = np.asarray(quotes.k, dtype=np.float64)
    vols = np.asarray(quotes.vols, dtype=np.float64)
    keep = np.isfinite(k) & np.isfinite(vols) & (vols > 0.0)
    model = np.sqrt(svi.total_variance(k[keep]) / quotes.t)
    errors = 100.0 * (model - vols[keep])
    return SliceFit(
        expiry=expiry,
        t=float(quotes.t),
        forward=forward,
        svi=svi,
        n_quotes=int(keep.sum()),
        rmse_vol_points=float(np.sqrt(np.mean(errors**2))),
        max_error_vol_points=float(np.abs(errors).max()),
        butterfly=butterfly_check(svi, CHECK_GRID),
    )

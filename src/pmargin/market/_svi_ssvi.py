"""Power-law SSVI: one smile shape for every expiry, fitted jointly, free of static arbitrage.

Gatheral and Jacquier (2014)::

    w(k, theta) = theta / 2 * (1 + rho phi k + sqrt((phi k + rho)**2 + 1 - rho**2))
    phi(theta)  = eta / (theta**gamma * (1 + theta)**(1 - gamma))

with ``theta`` the ATM total variance of the expiry. With ``eta (1 + |rho|) <= 2`` and
``0 < gamma <= 1/2`` the surface has no butterfly arbitrage (their Remark 4.4), and with
``theta`` non-decreasing in maturity no calendar arbitrage. Each SSVI slice is exactly a raw
SVI slice (:func:`ssvi_slice_to_raw`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.market._svi import RawSVI

__all__ = [
    "SSVIParams",
    "SmileQuotes",
    "fit_ssvi",
    "significant",
    "ssvi_phi",
    "ssvi_slice_to_raw",
    "ssvi_total_variance",
]


@dataclass(frozen=True)
class SmileQuotes:
    """Implied vols of one expiry against log forward moneyness.

    Parameters
    ----------
    t
        ACT/365 years from the quotes' instant to expiry, ``> 0``.
    k
        Log forward moneyness ``ln(K / F)`` of each quote, increasing, shape ``(n,)``.
    vols
        Implied vols (annualised decimals) at ``k``, shape ``(n,)``.
    weights
        Optional weight of each quote in a least-squares fit, shape ``(n,)`` (default 1;
        :func:`~pmargin.market.fit_svi` uses them, :func:`fit_ssvi` does not).
    """

    t: float
    k: FloatArray
    vols: FloatArray
    weights: FloatArray | None = None

    @property
    def atm_vol(self) -> float:
        """At-the-forward vol: linear in ``k`` between the nearest quotes (decimal)."""
        return float(np.interp(0.0, self.k, self.vols))

    @property
    def theta(self) -> float:
        """ATM total variance ``atm_vol**2 * t`` (years x vol**2)."""
        return self.atm_vol**2 * self.t


@dataclass(frozen=True, slots=True)
class SSVIParams:
    """Power-law SSVI shape parameters (the same for every expiry).

    Attributes
    ----------
    rho
        Skew, ``-1 < rho < 1``.
    eta
        Curvature level, ``> 0``.
    gamma
        Curvature decay with ATM total variance, ``0 < gamma <= 1/2``.
    """

    rho: float
    eta: float
    gamma: float

    def phi(self, theta: float) -> float:
        """Curvature ``phi(theta)`` at ATM total variance ``theta``."""
        return float(ssvi_phi(theta, self.eta, self.gamma))

    @property
    def arbitrage_free(self) -> bool:
        """Whether ``eta (1 + |rho|) <= 2`` and ``0 < gamma <= 1/2`` (no static arbitrage)."""
        return self.eta * (1.0 + abs(self.rho)) <= 2.0 + 1e-12 and 0.0 < self.gamma <= 0.5


def ssvi_phi(theta: FloatArray | float, eta: float, gamma: float) -> FloatArray | float:
    """Power-law curvature ``phi(theta) = eta / (theta**gamma (1 + theta)**(1 - gamma))``."""
    result: FloatArray | float = eta / (np.power(theta, gamma) * np.power(1.0 + theta, 1.0 - gamma))
    return result


def ssvi_total_variance(k: FloatArray, theta: float, rho: float, phi: float) -> FloatArray:
    """SSVI total variance ``theta/2 (1 + rho phi k + sqrt((phi k + rho)**2 + 1 - rho**2))``.

    Parameters
    ----------
    k
        Log forward moneyness, any shape.
    theta, rho, phi
        ATM total variance, skew and curvature of the slice.

    Returns
    -------
    ndarray
        Total variance (years x vol**2), the shape of ``k``.
    """
    w: FloatArray = (
        0.5 * theta * (1.0 + rho * phi * k + np.sqrt((phi * k + rho) ** 2 + 1.0 - rho**2))
    )
    return w


def fit_ssvi(
    smiles: Sequence[SmileQuotes], *, min_t: float = 0.0, max_atm_std: float = 3.0
) -> SSVIParams:
    """Fit power-law SSVI ``(rho, eta, gamma)`` to the implied vols of several expiries.

    Each expiry keeps its own ATM total variance ``theta`` (:attr:`SmileQuotes.theta`); the
    loss is the sum of squared implied-vol errors over quotes within ``max_atm_std`` ATM
    standard deviations (``|k| < max_atm_std * sqrt(theta)``). SLSQP from ``(-0.2, 1, 0.4)``
    within ``rho in [-0.9, 0.9]``, ``eta in [0.01, 2]``, ``gamma in [0.01, 0.5]`` and under
    ``eta (1 + |rho|) <= 2``, so the result is free of static arbitrage.

    Parameters
    ----------
    smiles
        One :class:`SmileQuotes` per expiry.
    min_t
        Expiries shorter than this (years) are left out of the fit.
    max_atm_std
        Quote cut-off in ATM standard deviations.

    Returns
    -------
    SSVIParams
        The fitted shape.

    Raises
    ------
    InputError
        (field ``smiles``) when no expiry is long enough, or the optimiser fails.
    """
    used = [s for s in smiles if s.t >= min_t]
    if not used:
        raise InputError("smiles", len(smiles), f"has no expiry of at least {min_t} years")

    def loss(p: FloatArray) -> float:
        rho, eta, gamma = (float(x) for x in p)
        total = 0.0
        for s in used:
            mask = np.abs(s.k) < max_atm_std * math.sqrt(s.theta)
            phi = float(ssvi_phi(s.theta, eta, gamma))
            model = np.sqrt(ssvi_total_variance(s.k[mask], s.theta, rho, phi) / s.t)
            total += float(np.sum((model - s.vols[mask]) ** 2))
        return total

    result = minimize(
        loss,
        np.array([-0.2, 1.0, 0.4]),
        method="SLSQP",
        bounds=[(-0.9, 0.9), (0.01, 2.0), (0.01, 0.5)],
        constraints=[{"type": "ineq", "fun": lambda p: 2.0 - p[1] * (1.0 + abs(p[0]))}],
    )
    if not result.success:
        raise InputError("smiles", len(used), f"SSVI fit failed: {result.message}")
    rho, eta, gamma = (float(x) for x in result.x)
    return SSVIParams(rho, eta, gamma)


def significant(x: float, digits: int = 8) -> float:
    """Return ``x`` rounded to ``digits`` significant digits."""
    return float(f"{x:.{digits - 1}e}")


def ssvi_slice_to_raw(theta: float, rho: float, phi: float, digits: int = 8) -> RawSVI:
    """Raw SVI parameters of one SSVI slice, rounded; ``a`` re-solved so that ``w(0) = theta``.

    ``b = theta phi / 2``, ``m = -rho / phi``, ``sigma = sqrt(1 - rho**2) / phi``, each rounded
    to ``digits`` significant digits (so the file is short), then
    ``a = theta - b (-rho m + sqrt(m**2 + sigma**2))`` (rounded likewise) keeps the ATM total
    variance.

    Returns
    -------
    RawSVI
        The slice in raw form.
    """
    b = significant(0.5 * theta * phi, digits)
    m = significant(-rho / phi, digits)
    sigma = significant(math.sqrt(1.0 - rho**2) / phi, digits)
    rho_r = significant(rho, digits)
    a = significant(theta - b * (-rho_r * m + math.sqrt(m * m + sigma * sigma)), digits)
    return RawSVI(a, b, rho_r, m, sigma)

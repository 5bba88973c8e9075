"""Raw SVI: one expiry's total implied variance as a function of log forward moneyness.

Gatheral's raw parametrisation (2004)::

    w(k) = a + b * (rho * (k - m) + sqrt((k - m)**2 + sigma**2)),    k = ln(K / F_T)

gives the total implied variance ``w = sigma_BS**2 * T`` at strike ``K`` for the expiry whose
forward is ``F_T``. Its minimum over ``k`` is ``a + b * sigma * sqrt(1 - rho**2)``; the
constraints checked here (``b >= 0``, ``|rho| < 1``, ``sigma > 0``, that minimum ``>= 0``) make
``w`` finite, convex and non-negative everywhere. The wings are asymptotically linear in ``k``
with slopes ``b * (1 + rho)`` (right) and ``-b * (1 - rho)`` (left); no other extrapolation rule
applies. Butterfly (density) arbitrage beyond these constraints is not checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pmargin.errors import InputError
from pmargin.market._checks import abbreviate, as_number

__all__ = ["SVI_FIELDS", "RawSVI", "raw_svi_total_variance", "svi_from_mapping"]

SVI_FIELDS = ("a", "b", "rho", "m", "sigma")
"""Names of the raw SVI parameters, in order."""


@dataclass(frozen=True, slots=True)
class RawSVI:
    """Validated raw SVI parameters of one expiry.

    Parameters
    ----------
    a
        Level of total variance (years x vol**2); may be negative if the minimum stays >= 0.
    b
        Wing slope, ``>= 0``.
    rho
        Skew (rotation), ``-1 < rho < 1``.
    m
        Horizontal shift of the smile in log moneyness.
    sigma
        Smoothness of the smile's vertex, ``> 0``.

    Raises
    ------
    InputError
        Naming ``svi.<parameter>`` when a parameter is not finite or breaks a constraint.
    """

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def __post_init__(self) -> None:
        """Coerce parameters to float and check the no-negative-variance constraints."""
        values = _checked(tuple(getattr(self, name) for name in SVI_FIELDS), "svi")
        for name, value in zip(SVI_FIELDS, values, strict=True):
            object.__setattr__(self, name, value)

    @property
    def min_total_variance(self) -> float:
        """Smallest total variance over all ``k``: ``a + b * sigma * sqrt(1 - rho**2)``."""
        return self.a + self.b * self.sigma * math.sqrt(1.0 - self.rho * self.rho)

    def total_variance(self, k: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Total implied variance ``w(k)`` (years x vol**2).

        Parameters
        ----------
        k
            Log forward moneyness ``ln(K / F_T)``, any shape.

        Returns
        -------
        ndarray
            Float64 array of the shape of ``k``, ``>= 0``. Rounding that would take ``w``
            below zero at a vertex of exactly zero variance is floored at 0.
        """
        return raw_svi_total_variance(k, self.a, self.b, self.rho, self.m, self.sigma)

    def to_dict(self) -> dict[str, float]:
        """Return the parameters as the market file writes them."""
        return {name: float(getattr(self, name)) for name in SVI_FIELDS}


def raw_svi_total_variance(
    k: npt.ArrayLike,
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    rho: npt.ArrayLike,
    m: npt.ArrayLike,
    sigma: npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """Raw SVI total variance for arrays of moneyness and parameters (broadcast together).

    Parameters
    ----------
    k
        Log forward moneyness ``ln(K / F_T)``.
    a, b, rho, m, sigma
        Raw SVI parameters, already validated (see :class:`RawSVI`); scalars or arrays that
        broadcast against ``k``.

    Returns
    -------
    ndarray
        Float64 total variance of the broadcast shape, floored at 0 (rounding only).
    """
    d = np.asarray(k, dtype=np.float64) - np.asarray(m, dtype=np.float64)
    w = np.asarray(a, dtype=np.float64) + np.asarray(b, dtype=np.float64) * (
        np.asarray(rho, dtype=np.float64) * d + np.hypot(d, np.asarray(sigma, dtype=np.float64))
    )
    return np.maximum(w, 0.0)


def svi_from_mapping(data: object, field: str = "svi") -> RawSVI:
    """Build a :class:`RawSVI` from ``{"a", "b", "rho", "m", "sigma"}``.

    Parameters
    ----------
    data
        The mapping read from a market file.
    field
        Dotted path of the mapping, e.g. ``"surfaces.BTC[0].svi"``; errors name
        ``<field>.<parameter>``.

    Raises
    ------
    InputError
        For a non-mapping, unknown or missing parameters, and constraint violations.
    """
    if not isinstance(data, Mapping):
        raise InputError(field, abbreviate(data), "must be a mapping with keys a, b, rho, m, sigma")
    unknown = sorted(str(key) for key in data if key not in SVI_FIELDS)
    if unknown:
        raise InputError(field, unknown[0], "is not a raw SVI parameter (a, b, rho, m, sigma)")
    missing = [name for name in SVI_FIELDS if name not in data]
    if missing:
        raise InputError(
            f"{field}.{missing[0]}", None, "is required (raw SVI: a, b, rho, m, sigma)"
        )
    a, b, rho, m, sigma = _checked(tuple(data[name] for name in SVI_FIELDS), field)
    return RawSVI(a, b, rho, m, sigma)


def _checked(raw: tuple[object, ...], field: str) -> tuple[float, float, float, float, float]:
    """Return ``(a, b, rho, m, sigma)`` as floats after checking the raw SVI constraints."""
    values = []
    for name, value in zip(SVI_FIELDS, raw, strict=True):
        number = as_number(value, f"{field}.{name}", "a finite number")
        if not math.isfinite(number):
            raise InputError(f"{field}.{name}", number, "must be a finite number")
        values.append(number)
    a, b, rho, m, sigma = values
    if b < 0.0:
        raise InputError(f"{field}.b", b, "must be >= 0 (wing slope)")
    if not -1.0 < rho < 1.0:
        raise InputError(f"{field}.rho", rho, "must be strictly between -1 and 1")
    if sigma <= 0.0:
        raise InputError(f"{field}.sigma", sigma, "must be > 0")
    lowest_a = -b * sigma * math.sqrt(1.0 - rho * rho)
    if a < lowest_a:
        raise InputError(
            f"{field}.a",
            a,
            f"makes the total variance negative: a + b sigma sqrt(1 - rho^2) = {a - lowest_a:.6g};"
            f" a must be >= {lowest_a:.6g} for these b, rho, sigma",
        )
    return a, b, rho, m, sigma

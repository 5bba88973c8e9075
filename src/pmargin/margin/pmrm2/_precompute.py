"""Per-expiry and per-option quantities of PMRM_2 that do not depend on the scenario.

Each function is a closed form on arrays; time ``year`` is the ACT/365 year fraction
``seconds / (365 * 86400)`` as Derive's ``Black76.annualise`` computes it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.margin.pmrm2._parameters import (
    SECONDS_PER_DAY,
    MarginParameters,
    SkewShockParameters,
    VolShockParameters,
)

__all__ = [
    "SkewMultipliers",
    "naked_shorts",
    "skew_multipliers",
    "static_discounts",
    "vol_shock_multipliers",
]

_THIRTY_DAYS = 30.0 * SECONDS_PER_DAY


def vol_shock_multipliers(
    seconds_to_expiry: FloatArray, params: VolShockParameters
) -> tuple[FloatArray, FloatArray]:
    """Vol multipliers of the up and down scenarios per expiry.

    ``m = (30 d / max(T, floor)) ** p`` with ``p`` the short-term power when ``T <= 30 d``, else
    the long-term power; up is ``1 + range_up * m``, down ``max(0, 1 - range_down * m)``.

    Parameters
    ----------
    seconds_to_expiry
        Shape ``(n,)``, seconds.
    params
        Vol shock parameters.

    Returns
    -------
    tuple of FloatArray
        ``(up, down)``, each shape ``(n,)``, dimensionless.
    """
    floor = params.dte_floor_days * SECONDS_PER_DAY
    t = np.maximum(seconds_to_expiry, floor)
    if np.any(t <= 0):
        raise InputError(
            "vol_shock.dte_floor_days",
            params.dte_floor_days,
            "must be > 0 when an expiry has 0 seconds left",
        )
    power = np.where(
        seconds_to_expiry <= _THIRTY_DAYS, params.short_term_power, params.long_term_power
    )
    mult = (_THIRTY_DAYS / t) ** power
    up = 1.0 + params.vol_range_up * mult
    down = np.maximum(0.0, 1.0 - params.vol_range_down * mult)
    return up, down


def static_discounts(
    year: FloatArray, rate: FloatArray, discount: FloatArray, params: MarginParameters
) -> tuple[FloatArray, FloatArray]:
    """Compute the static discount factors applied to shocked expiry values, per expiry.

    Positive values: ``long_base * exp(-T (r long_mult + long_add))``. Negative values:
    ``min(1 / discount, short_base / exp(-T (r short_mult + short_add)))``.

    Parameters
    ----------
    year
        Shape ``(n,)``, time to expiry in years.
    rate
        Shape ``(n,)``, rate floored at 0, decimal per year.
    discount
        Shape ``(n,)``, discount factor ``exp(-rate * year)``.
    params
        Margin parameters.

    Returns
    -------
    tuple of FloatArray
        ``(positive, negative)``, each shape ``(n,)``.
    """
    pos = params.long_base_static_discount * np.exp(
        -year * (rate * params.long_rate_mult_scale + params.long_rate_add_scale)
    )
    neg = params.short_base_static_discount / np.exp(
        -year * (rate * params.short_rate_mult_scale + params.short_rate_add_scale)
    )
    neg = np.minimum(1.0 / discount, neg)
    # an expired expiry is worth its intrinsic value: no static discount
    expired = year <= 0
    return np.where(expired, 1.0, pos), np.where(expired, 1.0, neg)


class SkewMultipliers(NamedTuple):
    """Per-option skew scenario quantities, each shape ``(n_options,)``."""

    k: FloatArray
    """Log-moneyness ``ln(K / F)`` at the unshocked forward."""
    linear_cap: FloatArray
    """Cap of the linear multiplier: ``linear_c_base * sqrt(T) + linear_base_cap``."""
    abs_cap: FloatArray
    """Cap of the abs multiplier: ``abs_c_base * sqrt(T) + abs_base_cap``."""
    k_star: FloatArray
    """Moneyness where the multiplier reaches its cap."""
    linear: FloatArray
    """Vol multiplier of the linear skew scenario (may be negative; vols floor it at 0)."""
    abs: FloatArray
    """Vol multiplier of the abs skew scenario."""


def _capped(k: FloatArray, cap: FloatArray, k_star: FloatArray) -> FloatArray:
    """``1 + min(cap, k cap / k*)`` for ``k >= 0``, ``1 + max(-cap, k cap / k*)`` below."""
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(k_star > 0, k * cap / np.where(k_star > 0, k_star, 1.0), 0.0)
    return 1.0 + np.where(k >= 0, np.minimum(cap, slope), np.maximum(-cap, slope))


def skew_multipliers(
    strike: FloatArray, forward: FloatArray, year: FloatArray, params: SkewShockParameters
) -> SkewMultipliers:
    """Vol multipliers of the linear and abs skew scenarios.

    With ``s = sqrt(T)``: ``k* = max(min_k_star, s width (static + s scale))``, and the
    multiplier is ``1 + clamp(k cap / k*, +-cap)`` with ``k = ln(K/F)`` (linear) or ``|k|``
    (abs).

    Parameters
    ----------
    strike, forward, year
        Shape ``(n_options,)``: strike and forward (USD), time to expiry (years).
    params
        Skew shock parameters.

    Returns
    -------
    SkewMultipliers
        Every intermediate, shape ``(n_options,)``.
    """
    sqrt_t = np.sqrt(year)
    k = np.log(strike / forward)
    linear_cap = params.linear_c_base * sqrt_t + params.linear_base_cap
    abs_cap = params.abs_c_base * sqrt_t + params.abs_base_cap
    k_star = np.maximum(
        params.min_k_star,
        sqrt_t * params.width_scale * (params.vol_param_static + sqrt_t * params.vol_param_scale),
    )
    live = year > 0  # expired options have no smile: every skew quantity but k is 0
    return SkewMultipliers(
        k,
        np.where(live, linear_cap, 0.0),
        np.where(live, abs_cap, 0.0),
        np.where(live, k_star, 0.0),
        np.where(live, _capped(k, linear_cap, k_star), 0.0),
        np.where(live, _capped(np.abs(k), abs_cap, k_star), 0.0),
    )


def naked_shorts(strike: FloatArray, amount: FloatArray) -> float:
    """Short quantity of one expiry not offset by a long at the same strike.

    Options at the same strike (call or put) net against each other pairwise, in the order
    given, exactly as Derive's option contingency filter does.

    Parameters
    ----------
    strike, amount
        Shape ``(n,)``: the expiry's strikes and signed amounts.

    Returns
    -------
    float
        Naked short quantity, underlying units, >= 0.
    """
    n = strike.shape[0]
    seen = np.zeros(n, dtype=bool)
    total = 0.0
    for i in range(n):
        if seen[i]:
            continue
        a = float(amount[i])
        found = False
        for j in range(i + 1, n):
            if strike[j] != strike[i]:
                continue
            seen[j] = True
            found = True
            b = float(amount[j])
            if a * b < 0:
                short, long_ = (a, b) if a < 0 else (b, a)
                total += -short - min(-short, long_)
            elif a < 0:
                total += abs(a) + abs(b)
        if not found and a < 0:
            total += -a
    return total

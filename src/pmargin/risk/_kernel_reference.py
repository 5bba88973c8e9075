"""Slow, obvious reference twin of :mod:`pmargin.risk._kernel`, used only by tests.

Plain loops over accounts, positions and scenarios, with a scalar Black-76 written here from
``math.erfc``, so that the vectorised kernel can be checked against code that shares nothing
with it but the formulas (see :mod:`pmargin.risk._kernel` for units).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pmargin.book import Portfolio, base_quantity
from pmargin.valuation import ResolvedInstruments

__all__ = [
    "account_pnl_by_currency_reference",
    "black76_value_reference",
    "instrument_pnl_reference",
    "unit_pnl_reference",
]

_TOTAL_VOL_MIN = 1e-12  # the vectorised kernel's SIGMA_SQRT_T_MIN


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def black76_value_reference(
    forward: float, strike: float, time: float, vol: float, is_call: bool, rate: float
) -> float:
    """Scalar Black-76 value (premium currency per unit of underlying); intrinsic at expiry."""
    df = math.exp(-rate * max(time, 0.0))
    total_vol = vol * math.sqrt(max(time, 0.0))
    if total_vol <= _TOTAL_VOL_MIN:
        payoff = forward - strike if is_call else strike - forward
        return df * max(payoff, 0.0)
    d1 = math.log(forward / strike) / total_vol + 0.5 * total_vol
    d2 = d1 - total_vol
    if is_call:
        return df * (forward * _norm_cdf(d1) - strike * _norm_cdf(d2))
    return df * (strike * _norm_cdf(-d2) - forward * _norm_cdf(-d1))


def unit_pnl_reference(
    resolved: ResolvedInstruments, i: int, multiplier: float, vol: float, time_shift: float
) -> float:
    """Settlement-currency P&L of one base unit of instrument ``i`` in one scenario."""
    f = float(resolved.underlying_price[i])
    inverse = bool(resolved.is_inverse[i])
    if not resolved.is_option[i]:
        return 1.0 - 1.0 / multiplier if inverse else f * (multiplier - 1.0)
    k = float(resolved.strike[i])
    t = float(resolved.time[i])
    call = bool(resolved.is_call[i])
    r = float(resolved.rate[i])
    before = black76_value_reference(f, k, t, float(resolved.vol[i]), call, r)
    f_after = f * multiplier
    after = black76_value_reference(f_after, k, max(t - time_shift, 0.0), vol, call, r)
    if inverse:
        return after / f_after - before / f
    return after - before


def instrument_pnl_reference(
    resolved: ResolvedInstruments,
    multiplier: Sequence[Sequence[float]],
    vol: Sequence[Sequence[float]],
    time_shift: float,
) -> list[list[float]]:
    """``(n_instruments, n_scenarios)`` P&L, one scalar revaluation at a time."""
    return [
        [
            unit_pnl_reference(resolved, i, float(multiplier[i][s]), float(vol[i][s]), time_shift)
            for s in range(len(multiplier[i]))
        ]
        for i in range(len(resolved))
    ]


def account_pnl_by_currency_reference(
    portfolio: Portfolio,
    resolved: ResolvedInstruments,
    multiplier: Sequence[Sequence[float]],
    vol: Sequence[Sequence[float]],
    time_shift: float,
) -> dict[str, list[list[float]]]:
    """Per settlement currency, ``(n_accounts, n_scenarios)`` P&L, position by position.

    ``resolved`` must hold every instrument of the portfolio; ``multiplier`` and ``vol`` are
    indexed by its rows. Each position is converted to base units and revalued per scenario.
    """
    row = {inst.symbol: i for i, inst in enumerate(resolved.instruments)}
    n_s = len(multiplier[0]) if len(multiplier) else 0
    result: dict[str, list[list[float]]] = {}
    for a, account in enumerate(portfolio.accounts):
        for position in account.positions:
            i = row[position.instrument.symbol]
            currency = position.instrument.settlement_currency
            table = result.setdefault(
                currency, [[0.0] * n_s for _ in range(len(portfolio.accounts))]
            )
            q = base_quantity(position, float(resolved.underlying_price[i]))
            for s in range(n_s):
                m, v = float(multiplier[i][s]), float(vol[i][s])
                table[a][s] += q * unit_pnl_reference(resolved, i, m, v, time_shift)
    return result

"""Slow, obvious reference twin of the PMRM_2 scenario stages (:mod:`._stages`), for tests.

The engine (:func:`~pmargin.margin.pmrm2.compute_pmrm2`) and the batched model now run the
same vectorised stages, so neither checks the other's revaluation. This twin does, for one
portfolio: plain loops over scenarios, expiries and options, with a scalar Black-76 written
here from ``math.erfc``, and the worst loss found by walking the scenarios in tie-break order.
It shares nothing with the stages but the formulas and the scenario-independent closed forms
of :mod:`._precompute` (vol shocks, static discounts, skew multipliers), which are tested
against hand formulas and the peer cases' stored per-option values on their own.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from pmargin.margin.pmrm2._parameters import Pmrm2Parameters, Scenario, VolShockDirection
from pmargin.margin.pmrm2._portfolio import Pmrm2Portfolio
from pmargin.margin.pmrm2._precompute import (
    skew_multipliers,
    static_discounts,
    vol_shock_multipliers,
)
from pmargin.timeutil import SECONDS_PER_YEAR

__all__ = ["ScenarioReference", "scenario_pnl_reference"]

_TOTAL_VOL_MIN = 1e-12  # pricing.SIGMA_SQRT_T_MIN: at or below, the option is intrinsic


class ScenarioReference(NamedTuple):
    """One portfolio's scenario stage, in plain floats (USD)."""

    scenario_pnl: list[float]
    """P&L of each scenario, in the parameters' order."""
    expiry_mtm: list[float]
    """Option value of each expiry at the unshocked forward."""
    forward_contingency: list[float]
    """Forward (basis) contingency of each expiry, <= 0."""
    worst_loss: float
    """``min(summed forward contingency, every scenario P&L)``."""
    worst_scenario: int
    """The scenario setting it, -1 for the forward contingency."""


def _black76(
    forward: float, strike: float, year: float, vol: float, call: bool, rate: float
) -> float:
    """Scalar Black-76 value per unit of underlying (USD); discounted intrinsic at expiry."""
    df = math.exp(-rate * year)
    total_vol = vol * math.sqrt(year)
    if total_vol <= _TOTAL_VOL_MIN:
        return df * max(forward - strike if call else strike - forward, 0.0)
    d1 = math.log(forward / strike) / total_vol + 0.5 * total_vol
    d2 = d1 - total_vol

    def cdf(x: float) -> float:
        return 0.5 * math.erfc(-x / math.sqrt(2.0))

    if call:
        return df * (forward * cdf(d1) - strike * cdf(d2))
    return df * (strike * cdf(-d2) - forward * cdf(-d1))


def _tie_break_order(params: Pmrm2Parameters) -> list[int]:
    """Scenario indices: regular (``|shock - 1| <= regular_max_spot_move``), tail, skew."""

    def group(s: Scenario) -> int:
        if s.vol_shock.is_skew:
            return 2
        return 0 if abs(s.spot_shock - 1.0) <= params.regular_max_spot_move + 1e-12 else 1

    return sorted(range(len(params.scenarios)), key=lambda i: group(params.scenarios[i]))


def scenario_pnl_reference(portfolio: Pmrm2Portfolio, params: Pmrm2Parameters) -> ScenarioReference:
    """Scenario P&L, forward contingency and worst loss of one portfolio, by loops.

    Parameters
    ----------
    portfolio
        One account's holdings and market data in one underlying.
    params
        PMRM_2 parameters.

    Returns
    -------
    ScenarioReference
        Per scenario and per expiry, in plain floats.
    """
    exp, opt, coll = portfolio.expiries, portfolio.options, portfolio.collaterals
    vs, basis = params.vol_shock, params.basis_contingency
    years = [float(s) / SECONDS_PER_YEAR for s in exp.seconds_to_expiry]
    rates = [max(float(r), 0.0) for r in exp.rate]
    year_a, rate_a = np.array(years), np.array(rates)
    up, down = vol_shock_multipliers(exp.seconds_to_expiry, vs)
    disc_pos, disc_neg = static_discounts(year_a, rate_a, np.exp(-rate_a * year_a), params.margin)
    e = [int(j) for j in opt.expiry_index]
    skew = skew_multipliers(
        opt.strike, exp.forward[opt.expiry_index], year_a[opt.expiry_index], params.skew_shock
    )

    def scenario_vol(i: int, direction: VolShockDirection) -> float:
        vol, j = float(opt.vol[i]), e[i]
        if direction is VolShockDirection.UP:
            return max(vs.min_vol_up_shock, vol * float(up[j]))
        if direction is VolShockDirection.DOWN:
            return vol * float(down[j])
        if direction is VolShockDirection.LINEAR:
            return vol * max(float(skew.linear[i]), 0.0)
        if direction is VolShockDirection.ABS:
            return vol * max(float(skew.abs[i]), 0.0)
        return vol

    def expiry_value(j: int, shock: float, direction: VolShockDirection) -> float:
        forward = float(exp.forward_fixed[j]) + float(exp.forward_variable[j]) * shock
        total = 0.0
        for i in range(opt.size):
            if e[i] == j:
                price = _black76(
                    forward,
                    float(opt.strike[i]),
                    years[j],
                    scenario_vol(i, direction),
                    bool(opt.is_call[i]),
                    rates[j],
                )
                total += float(opt.amount[i]) * price
        return total

    none = VolShockDirection.NONE
    mtm = [expiry_value(j, 1.0, none) for j in range(exp.size)]
    forward_cont = []
    for j in range(exp.size):
        up_loss = expiry_value(j, basis.scenario_spot_up, none) - mtm[j]
        down_loss = expiry_value(j, basis.scenario_spot_down, none) - mtm[j]
        factor = basis.add_factor + basis.mult_factor * years[j]
        forward_cont.append(min(up_loss, down_loss, 0.0) * factor)

    delta_one = float(portfolio.perp_position) * float(portfolio.perp_price)
    for k in range(len(coll.names)):
        if coll.risk_cancelling[k]:
            delta_one += float(coll.amount[k]) * float(coll.price[k]) / portfolio.stable_price
    pnl = []
    for s in params.scenarios:
        skewed = s.vol_shock.is_skew
        total = 0.0
        for j in range(exp.size):
            value = expiry_value(j, 1.0 if skewed else s.spot_shock, s.vol_shock)
            discount = float(disc_pos[j] if value >= 0.0 else disc_neg[j])
            change = (value * discount - mtm[j]) * s.dampening
            total += -abs(change) if skewed else change
        pnl.append(total + delta_one * (s.spot_shock - 1.0) * s.dampening)

    worst, worst_index = math.inf, -1
    for i in _tie_break_order(params):
        if pnl[i] < worst:
            worst, worst_index = pnl[i], i
    if sum(forward_cont) < worst:
        worst, worst_index = sum(forward_cont), -1
    return ScenarioReference(pnl, mtm, forward_cont, worst, worst_index)

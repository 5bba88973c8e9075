"""The PMRM_2 engine: scenario P&L, contingencies and IM/MM of one market.

Stages (Derive's ``PMRMLib_2``): precompute what does not depend on the scenario (expiry MtM,
forward contingency, vol shocks, static discounts, contingencies), revalue every option under
every scenario in one vectorised Black-76 call, reduce per expiry, then

- ``MM = worst * mm_factor - MM contingencies + MtM + cash``,
- ``IM = worst * im_factor' - MM contingencies - IM contingencies + MtM + cash``,

where ``worst = min(forward contingency, every scenario P&L) <= 0`` and ``im_factor'`` is the
IM factor raised by the stablecoin peg loss. All amounts are USD (stablecoin units for cash).
"""

from __future__ import annotations

import numpy as np

from pmargin._typing import FloatArray
from pmargin.margin.pmrm2._parameters import Pmrm2Parameters, VolShockDirection
from pmargin.margin.pmrm2._portfolio import Pmrm2Portfolio
from pmargin.margin.pmrm2._precompute import (
    naked_shorts,
    skew_multipliers,
    static_discounts,
    vol_shock_multipliers,
)
from pmargin.margin.pmrm2._result import Pmrm2Result, ScenarioKind
from pmargin.pricing import black76_value
from pmargin.timeutil import SECONDS_PER_YEAR

__all__ = ["compute_pmrm2"]


def _confidence_charge(
    confidence: FloatArray | float, notional: FloatArray | float, threshold: float, margin: float
) -> FloatArray:
    """``(1 - conf) * margin * notional`` where ``conf < threshold``, else 0."""
    conf = np.asarray(confidence, dtype=np.float64)
    charge = (1.0 - conf) * margin * np.asarray(notional, dtype=np.float64)
    return np.where(conf < threshold, charge, 0.0)


def _classify(params: Pmrm2Parameters) -> tuple[ScenarioKind, ...]:
    """Regular, tail or skew for each scenario (a reporting split only)."""
    kinds = []
    for s in params.scenarios:
        if s.vol_shock.is_skew:
            kinds.append(ScenarioKind.SKEW)
        elif abs(s.spot_shock - 1.0) <= params.regular_max_spot_move + 1e-12:
            kinds.append(ScenarioKind.REGULAR)
        else:
            kinds.append(ScenarioKind.TAIL)
    return tuple(kinds)


def compute_pmrm2(portfolio: Pmrm2Portfolio, params: Pmrm2Parameters) -> Pmrm2Result:
    """Margin one PMRM_2 market.

    Parameters
    ----------
    portfolio
        The account's holdings and market data in one underlying.
    params
        Model parameters and scenario list.

    Returns
    -------
    Pmrm2Result
        IM, MM and every intermediate.
    """
    exp = portfolio.expiries
    opt = portfolio.options
    other = params.other_contingency
    n_exp, n_opt = exp.size, opt.size
    e = opt.expiry_index

    # --- per expiry, scenario independent
    year = exp.seconds_to_expiry / SECONDS_PER_YEAR
    rate = np.maximum(exp.rate, 0.0)
    discount = np.exp(-rate * year)
    one_hot = np.zeros((n_opt, n_exp))
    one_hot[np.arange(n_opt), e] = 1.0
    vol_up, vol_down = vol_shock_multipliers(exp.seconds_to_expiry, params.vol_shock)
    disc_pos, disc_neg = static_discounts(year, rate, discount, params.margin)
    skew = skew_multipliers(opt.strike, exp.forward[e], year[e], params.skew_shock)

    def expiry_values(shock: FloatArray, vol: FloatArray) -> FloatArray:
        """Value each expiry ``(m, n_exp)`` at spot shocks ``(m, n_exp)``, vols ``(m, n_opt)``."""
        forward = exp.forward_fixed + exp.forward_variable * shock
        values = black76_value(forward[:, e], opt.strike, year[e], vol, opt.is_call, rate[e])
        result: FloatArray = (values * opt.amount) @ one_hot
        return result

    # --- current and basis MtM: spot 1, up, down with unchanged vols
    basis = params.basis_contingency
    base_shocks = np.array([1.0, basis.scenario_spot_up, basis.scenario_spot_down])
    base = expiry_values(
        np.repeat(base_shocks[:, None], n_exp, axis=1), np.broadcast_to(opt.vol, (3, n_opt))
    )
    mtm, up_mtm, down_mtm = base
    worst_basis = np.minimum(np.minimum(up_mtm - mtm, down_mtm - mtm), 0.0)
    forward_cont = worst_basis * (basis.add_factor + basis.mult_factor * year)

    # --- scenarios
    scen = params.scenarios
    n_s = len(scen)
    shocks = np.array([s.spot_shock for s in scen])
    damp = np.array([s.dampening for s in scen])
    vols = np.empty((n_s, n_opt))
    vol_up_eval = np.maximum(params.vol_shock.min_vol_up_shock, opt.vol * vol_up[e])
    vol_down_eval = opt.vol * vol_down[e]
    for i, s in enumerate(scen):
        d = s.vol_shock
        if d is VolShockDirection.UP:
            vols[i] = vol_up_eval
        elif d is VolShockDirection.DOWN:
            vols[i] = vol_down_eval
        elif d is VolShockDirection.LINEAR:
            vols[i] = opt.vol * np.maximum(skew.linear, 0.0)
        elif d is VolShockDirection.ABS:
            vols[i] = opt.vol * np.maximum(skew.abs, 0.0)
        else:
            vols[i] = opt.vol
    is_skew = np.array([s.vol_shock.is_skew for s in scen], dtype=bool)
    # Derive prices skew scenarios at the unshocked forward (only perps and collateral move)
    option_shocks = np.where(is_skew, 1.0, shocks)
    shocked = expiry_values(np.repeat(option_shocks[:, None], n_exp, axis=1), vols)
    shocked = shocked * np.where(shocked >= 0, disc_pos, disc_neg)
    expiry_pnl = (shocked - mtm) * damp[:, None]
    expiry_pnl = np.where(is_skew[:, None], -np.abs(expiry_pnl), expiry_pnl)

    # --- collateral, perp
    coll = portfolio.collaterals
    coll_value = coll.amount * coll.price / portfolio.stable_price
    rc_value = float(np.sum(coll_value[coll.risk_cancelling]))
    perp_pnl = portfolio.perp_position * (shocks - 1.0) * portfolio.perp_price * damp
    scenario_pnl = expiry_pnl.sum(axis=1) + perp_pnl + rc_value * (shocks - 1.0) * damp

    # --- worst loss: forward contingency competes with the scenarios
    kinds = _classify(params)
    # (ties go to the first scenario in the order regular, tail, skew; the forward
    # contingency is the worst only when strictly below every scenario)
    worst, worst_index = np.inf, -1
    for i in (i for kind in ScenarioKind for i in range(n_s) if kinds[i] is kind):
        if scenario_pnl[i] < worst:
            worst, worst_index = float(scenario_pnl[i]), i
    if forward_cont.sum() < worst:
        worst, worst_index = float(forward_cont.sum()), -1

    # --- contingencies (positive charges)
    min_conf = portfolio.spot_confidence
    if portfolio.perp_position != 0:
        min_conf = min(min_conf, portfolio.perp_confidence)
    perp_notional = abs(portfolio.perp_position) * portfolio.spot
    shorts = np.array([naked_shorts(opt.strike[e == j], opt.amount[e == j]) for j in range(n_exp)])
    short_notional = float(shorts.sum()) * portfolio.spot
    expiry_conf = np.minimum(exp.confidence, min_conf)
    expiry_notional = np.abs(opt.amount) @ one_hot * portfolio.spot
    coll_conf = np.minimum(coll.confidence, portfolio.spot_confidence)
    oracle = (
        float(_confidence_charge(min_conf, perp_notional, other.conf_threshold, other.conf_margin))
        + float(
            np.sum(
                _confidence_charge(
                    expiry_conf, expiry_notional, other.conf_threshold, other.conf_margin
                )
            )
        )
        + float(
            np.sum(
                _confidence_charge(coll_conf, coll_value, other.conf_threshold, other.conf_margin)
            )
        )
    )

    im_factor = params.margin.im_factor
    if portfolio.stable_price < other.peg_loss_threshold:
        im_factor += (other.peg_loss_threshold - portfolio.stable_price) * other.peg_loss_factor

    perp_value = portfolio.perp_unrealised_pnl + portfolio.perp_unrealised_funding
    mark_to_market = float(mtm.sum()) + float(coll_value.sum()) + perp_value + portfolio.cash

    result = Pmrm2Result(
        scenarios=scen,
        scenario_kinds=kinds,
        scenario_pnl=scenario_pnl,
        worst_loss=worst,
        worst_scenario=worst_index,
        forward_contingency_per_expiry=forward_cont,
        expiry_mtm=mtm,
        expiry_mtm_discounted=mtm * np.where(mtm >= 0, disc_pos, disc_neg),
        expiry_basis_up_mtm=up_mtm,
        expiry_basis_down_mtm=down_mtm,
        discount=discount,
        static_discount_pos=disc_pos,
        static_discount_neg=disc_neg,
        vol_shock_up=vol_up,
        vol_shock_down=vol_down,
        option_vol_up=vol_up_eval,
        option_vol_down=vol_down_eval,
        option_expiry_index=e,
        skew=skew,
        collateral_value=coll_value,
        cash=portfolio.cash,
        perp_unrealised_pnl=portfolio.perp_unrealised_pnl,
        perp_unrealised_funding=portfolio.perp_unrealised_funding,
        mark_to_market=mark_to_market,
        mm_factor=params.margin.mm_factor,
        im_factor=im_factor,
        mm_perp_contingency=perp_notional * other.mm_perp_percent,
        im_perp_contingency=perp_notional * other.im_perp_percent,
        mm_option_contingency=short_notional * other.mm_option_percent,
        im_option_contingency=short_notional * other.im_option_percent,
        mm_collateral_haircut=float(np.sum(coll_value * coll.mm_haircut)),
        im_collateral_haircut=float(np.sum(coll_value * coll.im_haircut)),
        oracle_contingency=oracle,
    )
    return result

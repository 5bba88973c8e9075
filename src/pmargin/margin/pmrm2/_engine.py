"""The PMRM_2 engine of one market and one account: the stages, with every intermediate.

It runs the stages of :mod:`._stages` (Derive's ``PMRMLib_2``) with the portfolio's expiries
as the holders: precompute (expiry discounts, vol shocks, static discounts, skew multipliers,
every option's value in every scenario), scenario P&L per expiry (plus perp and risk-
cancelling collateral), then aggregate:

- ``MM = worst * mm_factor - MM contingencies + MtM + cash``,
- ``IM = worst * im_factor' - MM contingencies - IM contingencies + MtM + cash``,

where ``worst = min(forward contingency, every scenario P&L) <= 0`` and ``im_factor'`` is the
IM factor raised by the stablecoin peg loss. All amounts are USD (stablecoin units for cash).
The batched model (:class:`~pmargin.margin.pmrm2.DerivePmrm2Model`) calls the same stages
over accounts; this engine keeps Derive's per-feed confidences and its pairwise naked-short
filter (:func:`~pmargin.margin.pmrm2.naked_shorts`), and is what the peer cases check.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from pmargin.margin.pmrm2._parameters import Pmrm2Parameters
from pmargin.margin.pmrm2._portfolio import Pmrm2Portfolio
from pmargin.margin.pmrm2._precompute import naked_shorts
from pmargin.margin.pmrm2._result import Pmrm2Result
from pmargin.margin.pmrm2._stages import (
    ScenarioArrays,
    confidence_charge,
    contingencies,
    delta_one_pnl,
    expiry_pnl,
    im_loss_factor,
    precompute_options,
    worst_loss,
)

__all__ = ["compute_pmrm2"]


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
    exp, opt, coll = portfolio.expiries, portfolio.options, portfolio.collaterals
    other = params.other_contingency
    scen = ScenarioArrays.of(params)
    n_exp, e = exp.size, opt.expiry_index

    # precompute, then one holder per expiry: its options' quantity-weighted values
    pre = precompute_options(
        exp.seconds_to_expiry,
        exp.forward_fixed,
        exp.forward_variable,
        exp.rate,
        e,
        opt.strike,
        opt.is_call,
        opt.vol,
        params,
        scen,
    )
    holdings = sparse.csr_array((opt.amount, (e, np.arange(opt.size))), shape=(n_exp, opt.size))
    values = np.asarray(holdings @ pre.values, dtype=np.float64).reshape(n_exp, scen.size + 3)
    expiries = expiry_pnl(
        values, pre.disc_pos[:, None], pre.disc_neg[:, None], pre.forward_factor, scen
    )

    # scenario P&L: expiries, then perp and risk-cancelling collateral moving with spot
    coll_value = coll.amount * coll.price / portfolio.stable_price
    rc_value = float(np.sum(coll_value[coll.risk_cancelling]))
    scenario_pnl = np.zeros(scen.size)
    for row in expiries.pnl:
        scenario_pnl += row
    for usd_value in (portfolio.perp_position * portfolio.perp_price, rc_value):
        scenario_pnl += delta_one_pnl(np.array([usd_value]), scen)[0]
    worst, binding = worst_loss(
        scenario_pnl[None, :], np.array([expiries.forward_contingency.sum()]), scen.order
    )
    worst_index = int(binding[0]) if binding[0] < scen.size else -1

    # contingencies (positive charges), oracle per feed
    min_conf = portfolio.spot_confidence
    if portfolio.perp_position != 0:
        min_conf = min(min_conf, portfolio.perp_confidence)
    perp_notional = abs(portfolio.perp_position) * portfolio.spot
    shorts = [naked_shorts(opt.strike[e == j], opt.amount[e == j]) for j in range(n_exp)]
    short_notional = float(np.sum(shorts)) * portfolio.spot
    expiry_notional = np.asarray(
        np.bincount(e, np.abs(opt.amount), minlength=n_exp) * portfolio.spot, dtype=np.float64
    )
    coll_conf = np.minimum(coll.confidence, portfolio.spot_confidence)
    threshold, margin = other.conf_threshold, other.conf_margin
    oracle = (
        float(confidence_charge(min_conf, perp_notional, threshold, margin))
        + float(
            np.sum(
                confidence_charge(
                    np.minimum(exp.confidence, min_conf), expiry_notional, threshold, margin
                )
            )
        )
        + float(np.sum(confidence_charge(coll_conf, coll_value, threshold, margin)))
    )
    charges = contingencies(
        perp_notional,
        short_notional,
        float(np.sum(coll_value * coll.mm_haircut)),
        float(np.sum(coll_value * coll.im_haircut)),
        oracle,
        other,
    )

    # report
    mtm = expiries.mtm
    perp_value = portfolio.perp_unrealised_pnl + portfolio.perp_unrealised_funding
    mark_to_market = float(mtm.sum()) + float(coll_value.sum()) + perp_value + portfolio.cash
    return Pmrm2Result(
        scenarios=params.scenarios,
        scenario_kinds=scen.kinds,
        scenario_pnl=scenario_pnl,
        worst_loss=float(worst[0]),
        worst_scenario=worst_index,
        forward_contingency_per_expiry=expiries.forward_contingency,
        expiry_mtm=mtm,
        expiry_mtm_discounted=mtm * np.where(mtm >= 0, pre.disc_pos, pre.disc_neg),
        expiry_basis_up_mtm=expiries.up_mtm,
        expiry_basis_down_mtm=expiries.down_mtm,
        discount=pre.discount,
        static_discount_pos=pre.disc_pos,
        static_discount_neg=pre.disc_neg,
        vol_shock_up=pre.vol_up,
        vol_shock_down=pre.vol_down,
        option_vol_up=pre.option_vol_up,
        option_vol_down=pre.option_vol_down,
        option_expiry_index=e,
        skew=pre.skew,
        collateral_value=coll_value,
        cash=portfolio.cash,
        perp_unrealised_pnl=portfolio.perp_unrealised_pnl,
        perp_unrealised_funding=portfolio.perp_unrealised_funding,
        mark_to_market=mark_to_market,
        mm_factor=params.margin.mm_factor,
        im_factor=im_loss_factor(params, portfolio.stable_price),
        mm_perp_contingency=float(charges.mm_perp),
        im_perp_contingency=float(charges.im_perp),
        mm_option_contingency=float(charges.mm_option),
        im_option_contingency=float(charges.im_option),
        mm_collateral_haircut=float(charges.mm_haircut),
        im_collateral_haircut=float(charges.im_haircut),
        oracle_contingency=oracle,
    )

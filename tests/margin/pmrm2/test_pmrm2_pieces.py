"""PMRM_2 pieces against hand formulas written here, and the engine on tiny books."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pmargin.margin.pmrm2 import (
    Collaterals,
    ExpiryArrays,
    OptionArrays,
    Pmrm2Portfolio,
    Scenario,
    VolShockDirection,
    compute_pmrm2,
    default_parameters,
    naked_shorts,
    skew_multipliers,
    static_discounts,
    vol_shock_multipliers,
)
from pmargin.pricing import black76_value

DAY = 86_400.0
YEAR = 365 * DAY
PARAMS = default_parameters()


@pytest.mark.parametrize("days", [0.25, 1.0, 7.0, 30.0, 31.0, 90.0, 365.0])
def test_vol_shock_multiplier(days: float) -> None:
    vs = PARAMS.vol_shock
    up, down = vol_shock_multipliers(np.array([days * DAY]), vs)
    power = vs.short_term_power if days <= 30 else vs.long_term_power
    m = (30.0 / max(days, vs.dte_floor_days)) ** power
    assert up[0] == pytest.approx(1 + vs.vol_range_up * m, rel=1e-14)
    assert down[0] == pytest.approx(max(0.0, 1 - vs.vol_range_down * m), rel=1e-14)


def test_vol_shock_down_floored_at_zero() -> None:
    vs = PARAMS.vol_shock
    big = type(vs)(vs.vol_range_up, 5.0, vs.short_term_power, vs.long_term_power, 1.0, 0.4)
    _, down = vol_shock_multipliers(np.array([DAY]), big)
    assert down[0] == 0.0


def test_static_discount() -> None:
    mp = PARAMS.margin
    t, r = 0.5, 0.07
    disc = math.exp(-r * t)
    pos, neg = static_discounts(np.array([t]), np.array([r]), np.array([disc]), mp)
    want_pos = mp.long_base_static_discount * math.exp(
        -t * (r * mp.long_rate_mult_scale + mp.long_rate_add_scale)
    )
    want_neg = min(
        1 / disc,
        mp.short_base_static_discount
        / math.exp(-t * (r * mp.short_rate_mult_scale + mp.short_rate_add_scale)),
    )
    assert pos[0] == pytest.approx(want_pos, rel=1e-14)
    assert neg[0] == pytest.approx(want_neg, rel=1e-14)


def test_static_discount_expired_is_one() -> None:
    pos, neg = static_discounts(np.zeros(1), np.zeros(1), np.ones(1), PARAMS.margin)
    assert (pos[0], neg[0]) == (1.0, 1.0)


@pytest.mark.parametrize("strike", [500.0, 1800.0, 2000.0, 2300.0, 9000.0])
def test_skew_multiplier(strike: float) -> None:
    sp = PARAMS.skew_shock
    fwd, t = 2000.0, 40 / 365
    out = skew_multipliers(np.array([strike]), np.array([fwd]), np.array([t]), sp)
    s = math.sqrt(t)
    k = math.log(strike / fwd)
    k_star = max(sp.min_k_star, s * sp.width_scale * (sp.vol_param_static + s * sp.vol_param_scale))
    lin_cap = sp.linear_c_base * s + sp.linear_base_cap
    abs_cap = sp.abs_c_base * s + sp.abs_base_cap
    assert out.k[0] == pytest.approx(k, abs=1e-15)
    assert out.k_star[0] == pytest.approx(k_star, rel=1e-14)
    assert out.linear[0] == pytest.approx(1 + max(-lin_cap, min(lin_cap, k * lin_cap / k_star)))
    assert out.abs[0] == pytest.approx(1 + min(abs_cap, abs(k) * abs_cap / k_star))


def test_naked_shorts_pairs_same_strike() -> None:
    strikes = np.array([100.0, 100.0, 110.0, 120.0, 120.0])
    amounts = np.array([-3.0, 1.0, -2.0, 4.0, 5.0])
    # 100: 3 short vs 1 long -> 2 naked; 110: 2 naked; 120: both long -> 0
    assert naked_shorts(strikes, amounts) == 4.0


def _one_option_book(amount: float, days: float = 30.0, rate: float = 0.05) -> Pmrm2Portfolio:
    return Pmrm2Portfolio(
        spot=2000.0,
        spot_confidence=1.0,
        stable_price=1.0,
        cash=10_000.0,
        expiries=ExpiryArrays(
            np.array([days * DAY]), np.zeros(1), np.array([2010.0]), np.array([rate]), np.ones(1)
        ),
        options=OptionArrays(
            np.zeros(1, dtype=np.int64),
            np.array([2100.0]),
            np.array([True]),
            np.array([amount]),
            np.array([0.6]),
        ),
    )


def test_basis_contingency_by_hand() -> None:
    book = _one_option_book(-2.0)
    res = compute_pmrm2(book, PARAMS)
    b = PARAMS.basis_contingency
    t = 30 / 365

    def value(shock: float) -> float:
        return -2.0 * float(black76_value(2010.0 * shock, 2100.0, t, 0.6, True, 0.05))

    mtm = value(1.0)
    worst = min(value(b.scenario_spot_up) - mtm, value(b.scenario_spot_down) - mtm, 0.0)
    assert res.forward_contingency == pytest.approx(
        worst * (b.add_factor + b.mult_factor * t), rel=1e-12
    )
    assert res.expiry_mtm[0] == pytest.approx(mtm, rel=1e-14)


def test_margin_identity_and_perp_collateral() -> None:
    book = _one_option_book(-1.0)
    book = Pmrm2Portfolio(
        **{
            **{f: getattr(book, f) for f in book.__dataclass_fields__},
            "perp_position": 0.5,
            "perp_price": 2001.0,
            "perp_confidence": 0.5,
            "collaterals": Collaterals(
                ("ETH",),
                np.array([1.0]),
                np.array([2000.0]),
                np.array([1.0]),
                np.array([0.02]),
                np.array([0.01]),
                np.array([True]),
            ),
        }
    )
    res = compute_pmrm2(book, PARAMS)
    oc = PARAMS.other_contingency
    i = next(
        j
        for j, s in enumerate(PARAMS.scenarios)
        if s.spot_shock == 0.91 and s.vol_shock is VolShockDirection.NONE
    )
    # perp and risk-cancelling collateral move with spot
    options_only = compute_pmrm2(_one_option_book(-1.0), PARAMS).scenario_pnl[i]
    assert res.scenario_pnl[i] == pytest.approx(
        options_only + 0.5 * (0.91 - 1) * 2001.0 + 2000.0 * (0.91 - 1), rel=1e-12
    )
    assert res.mm_perp_contingency == pytest.approx(0.5 * 2000.0 * oc.mm_perp_percent)
    # the perp's low confidence also lowers the expiry's: perp 0.5 x 2000, option 1 x 2000
    assert res.oracle_contingency == pytest.approx((1 - 0.5) * oc.conf_margin * (1000.0 + 2000.0))
    mm = res.worst_loss * PARAMS.margin.mm_factor - res.mm_contingency + res.mark_to_market
    assert res.maintenance_margin == pytest.approx(mm)
    assert res.initial_margin <= res.maintenance_margin


def test_skew_scenario_loss_is_never_a_gain() -> None:
    params = PARAMS
    res = compute_pmrm2(_one_option_book(3.0), params)
    for i, s in enumerate(params.scenarios):
        if s.vol_shock.is_skew:
            assert res.scenario_pnl[i] <= 0.0


def test_scenario_label() -> None:
    assert Scenario(1.0, VolShockDirection.LINEAR, 1.0).label == "linear"

"""The shared PMRM_2 stages against their slow reference twin (``_stages_reference``).

The engine and the batched model run the same vectorised stages, so these tests check the
stages themselves against loops with a scalar Black-76: on every Derive peer case (when the
cases are present) and on random portfolios (hypothesis). The model's batching is checked
against the engine in ``test_model.py``.

Tolerance: the twins add the same terms in different orders and price with ``erfc`` instead
of ``ndtr``, so they agree to round-off of the largest term: ``1e-12`` relative plus ``1e-12``
USD per USD of the portfolio's gross option and delta-one value (measured: at most ``7.4e-16``
of that size on the peer cases, ``2.6e-16`` on 500 random portfolios).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmargin.margin.pmrm2 import (
    Collaterals,
    ExpiryArrays,
    OptionArrays,
    Pmrm2Parameters,
    Pmrm2Portfolio,
    compute_pmrm2,
    default_parameters,
    parameters_from_case,
    portfolio_from_case,
    read_case,
)
from pmargin.margin.pmrm2._stages_reference import ScenarioReference, scenario_pnl_reference

REPO = Path(__file__).resolve().parents[3]
CASES = Path(
    os.environ.get("PMARGIN_DERIVE_CASES", REPO.parent / "shared" / "testvectors" / "derive-pmrm2")
)
CASE_FILES = sorted(CASES.glob("*.json")) if CASES.is_dir() else []
DAY = 86_400.0
RTOL = 1e-12


def _scale(portfolio: Pmrm2Portfolio) -> float:
    """Gross USD size the round-off is relative to: options, perp and collateral."""
    opt, coll = portfolio.options, portfolio.collaterals
    forward = portfolio.expiries.forward[opt.expiry_index]
    return float(
        1.0
        + np.sum(np.abs(opt.amount) * np.maximum(forward, opt.strike))
        + abs(portfolio.perp_position * portfolio.perp_price)
        + np.sum(coll.amount * coll.price)
    )


def _assert_agree(portfolio: Pmrm2Portfolio, params: Pmrm2Parameters) -> ScenarioReference:
    staged = compute_pmrm2(portfolio, params)
    ref = scenario_pnl_reference(portfolio, params)
    atol = 1e-12 * _scale(portfolio)
    np.testing.assert_allclose(staged.scenario_pnl, ref.scenario_pnl, rtol=RTOL, atol=atol)
    np.testing.assert_allclose(staged.expiry_mtm, ref.expiry_mtm, rtol=RTOL, atol=atol)
    np.testing.assert_allclose(
        staged.forward_contingency_per_expiry, ref.forward_contingency, rtol=RTOL, atol=atol
    )
    assert staged.worst_loss == pytest.approx(ref.worst_loss, rel=RTOL, abs=atol)
    # the labels may differ only on ties within the tolerance
    chosen = (
        staged.forward_contingency
        if ref.worst_scenario < 0
        else float(staged.scenario_pnl[ref.worst_scenario])
    )
    assert chosen == pytest.approx(staged.worst_loss, rel=RTOL, abs=atol)
    return ref


@pytest.mark.skipif(not CASE_FILES, reason=f"Derive PMRM_2 cases not found at {CASES}")
@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_stages_equal_the_reference_on_every_peer_case(path: Path) -> None:
    case = read_case(path)
    _assert_agree(portfolio_from_case(case), parameters_from_case(case))


@st.composite
def portfolios(draw: st.DrawFn) -> Pmrm2Portfolio:
    """One underlying at spot 3000: 1-4 expiries (one may be expired), up to 10 options."""
    n_exp = draw(st.integers(1, 4))
    days = [draw(st.sampled_from([0.0, 0.01, 1.0, 7.0, 30.0, 45.0, 180.0])) for _ in range(n_exp)]
    fixed = [0.0 if d > 0.02 else draw(st.floats(0.0, 1500.0)) for d in days]
    forward = [draw(st.floats(2500.0, 3500.0)) for _ in range(n_exp)]
    expiries = ExpiryArrays(
        np.array(days) * DAY,
        np.array(fixed),
        np.array(forward) - np.array(fixed),
        np.array([draw(st.floats(-0.02, 0.1)) for _ in range(n_exp)]),
        np.ones(n_exp),
    )
    n_opt = draw(st.integers(0, 10))
    strikes = st.sampled_from([2000.0, 2600.0, 2900.0, 3000.0, 3100.0, 3500.0, 4500.0])
    options = OptionArrays(
        np.array([draw(st.integers(0, n_exp - 1)) for _ in range(n_opt)], dtype=np.int64),
        np.array([draw(strikes) for _ in range(n_opt)]),
        np.array([draw(st.booleans()) for _ in range(n_opt)], dtype=bool),
        np.array([draw(st.floats(-50.0, 50.0)) for _ in range(n_opt)]),
        np.array([draw(st.sampled_from([0.0, 0.2, 0.6, 1.5])) for _ in range(n_opt)]),
    )
    n_coll = draw(st.integers(0, 2))
    collaterals = Collaterals(
        tuple(f"C{k}" for k in range(n_coll)),
        np.array([draw(st.floats(0.0, 20.0)) for _ in range(n_coll)]),
        np.full(n_coll, 3000.0),
        np.ones(n_coll),
        np.full(n_coll, 0.02),
        np.full(n_coll, 0.01),
        np.array([draw(st.booleans()) for _ in range(n_coll)], dtype=bool),
    )
    return Pmrm2Portfolio(
        spot=3000.0,
        spot_confidence=1.0,
        stable_price=draw(st.sampled_from([1.0, 0.97])),
        cash=0.0,
        expiries=expiries,
        options=options,
        perp_position=draw(st.floats(-30.0, 30.0)),
        perp_price=draw(st.floats(2900.0, 3100.0)),
        collaterals=collaterals,
    )


PARAMS = default_parameters()


@settings(max_examples=60, deadline=None)
@given(portfolios())
def test_stages_equal_the_reference_on_random_portfolios(portfolio: Pmrm2Portfolio) -> None:
    _assert_agree(portfolio, PARAMS)


def test_reference_worst_is_the_hand_computed_perp_loss() -> None:
    # a lone long perp: the worst scenario is the largest dampened down move, (s - 1) d q F
    portfolio = Pmrm2Portfolio(
        spot=3000.0,
        spot_confidence=1.0,
        stable_price=1.0,
        cash=0.0,
        expiries=ExpiryArrays(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)),
        options=OptionArrays.empty(),
        perp_position=2.0,
        perp_price=3000.0,
    )
    ref = _assert_agree(portfolio, PARAMS)
    moves = [(s.spot_shock - 1.0) * s.dampening for s in PARAMS.scenarios]
    assert ref.worst_loss == pytest.approx(2.0 * 3000.0 * min(moves), rel=1e-15)

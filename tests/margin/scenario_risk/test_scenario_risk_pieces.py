"""Per-account tails against :mod:`pmargin.risk`, and the rank re-pairing of joint sets."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
from scipy import sparse

from pmargin.margin._scenario_margin import UnitPositions
from pmargin.margin.scenario_risk import AccountTail, account_tail, recorrelate
from pmargin.margin.scenario_risk._sources import set_correlation
from pmargin.margin.scenario_risk._tail import tail_measure
from pmargin.risk import euler_contributions, expected_shortfall, var
from pmargin.scenarios import HistoricalScenarios


@pytest.mark.parametrize("level", [0.99, 0.975, 0.9, 0.75])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("boundary", ["whole", "split"])
def test_account_tail_matches_the_risk_measures(
    level: float, weighted: bool, boundary: Literal["whole", "split"]
) -> None:
    rng = np.random.default_rng(5)
    n_acc, n_scen, n_inst = 7, 250, 5
    unit = rng.normal(size=(n_inst, n_scen))
    quantity = rng.normal(size=(n_acc, n_inst)) * (rng.random((n_acc, n_inst)) < 0.6)
    pnl = quantity @ unit
    weights = rng.random(n_scen) + 0.1 if weighted else np.full(n_scen, 1.0 / n_scen)
    w = weights if weighted else None
    es = account_tail(pnl, level, weights, "es", boundary)
    vr = account_tail(pnl, level, weights, "var", boundary)
    for a in range(n_acc):
        assert es.measure[a] == pytest.approx(
            expected_shortfall(pnl[a], level, w, boundary), rel=1e-12, abs=1e-12
        )
        assert vr.measure[a] == pytest.approx(var(pnl[a], level, w), rel=1e-12, abs=1e-12)
    for kind, tail in (("es", es), ("var", vr)):
        np.testing.assert_allclose(
            tail_measure(pnl, level, weights, kind, boundary), tail.measure, rtol=1e-12, atol=1e-12
        )
    positions = UnitPositions.whole(sparse.csr_array(quantity))
    rows, cols = positions.account, positions.local
    measures: tuple[tuple[AccountTail, Literal["es", "var"]], ...] = ((es, "es"), (vr, "var"))
    for tail, measure in measures:
        values = positions.tail_loss(unit, tail.index, tail.weight)
        for a in range(n_acc):
            mine = values[rows == a]
            assert mine.sum() == pytest.approx(tail.measure[a], rel=1e-9, abs=1e-9)
            held = cols[rows == a]
            if held.size:
                reference = euler_contributions(
                    (quantity[a, held][:, None] * unit[held]).T, level, measure, w, boundary
                )
                np.testing.assert_allclose(mine, reference, rtol=1e-9, atol=1e-9)
        dense = tail.dense(n_scen)
        np.testing.assert_allclose(dense.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(-(dense * pnl).sum(axis=1), tail.measure, rtol=1e-9, atol=1e-9)


def test_ties_rank_like_a_stable_sort() -> None:
    pnl = np.array([[0.0, -1.0, -1.0, 0.0, -1.0, 2.0], [0.0] * 6, [-3.0, 1.0, -3.0, -3.0, 0, 0]])
    tail = account_tail(pnl, 0.5, np.full(6, 1 / 6), "es")
    np.testing.assert_array_equal(tail.index, [[1, 2, 4], [0, 1, 2], [0, 2, 3]])
    np.testing.assert_allclose(tail.measure, [1.0, 0.0, 3.0])


def _set(correlation: float, n: int = 2000) -> HistoricalScenarios:
    rng = np.random.default_rng(2)
    z = rng.multivariate_normal([0, 0], [[1, correlation], [correlation, 1]], n).T
    y = z * np.array([[0.03], [0.04]])
    times = np.datetime64("2024-01-01T00:00:00") + np.arange(n) * np.timedelta64(1, "D")
    return HistoricalScenarios(
        names=("BTC", "ETH"),
        spot_multiplier=np.exp(y),
        vol_change=rng.normal(0, 0.05, (2, n)),
        vol_source=np.full((2, n), "dvol"),
        weights=np.full(n, 1.0 / n),
        start=times,
        end=times + np.timedelta64(1, "D"),
        stressed=np.zeros(n, dtype=bool),
        as_of=times[-1],
        mpor_hours=24.0,
    )


def test_re_pairing_keeps_every_marginal_and_moves_the_correlation() -> None:
    base = _set(0.3)
    before = set_correlation(base)[0, 1]
    for target in (0.9, 0.0):
        stressed = recorrelate(base, np.array([[1.0, target], [target, 1.0]]))
        for u in range(2):
            np.testing.assert_array_equal(
                np.sort(stressed.spot_multiplier[u]), np.sort(base.spot_multiplier[u])
            )
            # each multiplier keeps its own date's implied-vol move
            order_b = np.argsort(base.spot_multiplier[u], kind="stable")
            order_s = np.argsort(stressed.spot_multiplier[u], kind="stable")
            np.testing.assert_array_equal(
                stressed.vol_change[u, order_s], base.vol_change[u, order_b]
            )
        after = set_correlation(stressed)[0, 1]
        assert abs(after - target) < abs(before - target)
        assert after == pytest.approx(target, abs=0.05)

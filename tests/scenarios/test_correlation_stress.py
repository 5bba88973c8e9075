"""Correlation stress: blended and worst-window matrices, PSD, the corr = 1 fixed point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.history import PriceHistory, load_price_history
from pmargin.scenarios import (
    MonteCarloModel,
    blend_correlation,
    correlation_stressed_scenarios,
    worst_window_correlation,
)
from pmargin.scenarios._correlation_stress import _psd

DAY = np.timedelta64(86_400, "s")


def _random_correlation(rng: np.random.Generator, k: int) -> np.ndarray:
    a = rng.standard_normal((k, k + 2))
    cov = a @ a.T
    d = np.sqrt(np.diag(cov))
    c = cov / np.outer(d, d)
    np.fill_diagonal(c, 1.0)
    return c


@pytest.mark.parametrize("factor", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_blend_is_psd_with_unit_diagonal(factor: float) -> None:
    rng = np.random.default_rng(int(factor * 100))
    for k in (2, 3, 6):
        base = _random_correlation(rng, k)
        stressed = blend_correlation(base, factor)
        m = stressed.matrix
        assert np.linalg.eigvalsh(m).min() >= -1e-12
        assert stressed.min_eigenvalue == pytest.approx(np.linalg.eigvalsh(m).min())
        np.testing.assert_allclose(np.diag(m), 1.0)
        np.testing.assert_allclose(m, base + factor * (1.0 - base), atol=1e-12)
        # Blending only raises correlations.
        assert np.all(m >= base - 1e-15)
    ones = blend_correlation(np.eye(3), 1.0).matrix
    np.testing.assert_allclose(ones, 1.0)


def test_repair_floors_eigenvalues() -> None:
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    fixed, repaired = _psd(bad, 0.01)
    assert repaired
    assert np.linalg.eigvalsh(fixed).min() >= -1e-12
    np.testing.assert_allclose(np.diag(fixed), 1.0)
    same, repaired = _psd(np.eye(2), 0.0)
    assert not repaired
    np.testing.assert_array_equal(same, np.eye(2))


def test_report_names_the_source_and_floor() -> None:
    s = blend_correlation([[1.0, 0.3], [0.3, 1.0]], 0.5, ["BTC", "ETH"], eigenvalue_floor=0.01)
    report = s.report()
    assert report["source"] == "blend factor=0.5"
    assert report["eigenvalue_floor"] == 0.01
    assert report["matrix"][0][1] == pytest.approx(0.65)
    assert report["min_eigenvalue"] == pytest.approx(0.35)
    assert report["window"] is None
    with pytest.raises(InputError, match="factor"):
        blend_correlation(np.eye(2), 1.5)
    with pytest.raises(InputError, match="names"):
        blend_correlation(np.eye(2), 0.5, ["BTC"])


@pytest.mark.parametrize("marginal", ["normal", "student_t"])
def test_corr_one_base_equals_stressed(marginal: str) -> None:
    model = MonteCarloModel(
        ("BTC", "ETH"), [0.6, 0.8], np.ones((2, 2)), marginal=marginal, vol_beta=[-0.1, -0.2]
    )
    base = model.generate(2000, seed=5)
    for factor in (0.0, 0.3, 1.0):
        stressed = correlation_stressed_scenarios(
            model, blend_correlation(model.correlation, factor, model.names), 2000, seed=5
        )
        np.testing.assert_array_equal(stressed.spot_multiplier, base.spot_multiplier)
        np.testing.assert_array_equal(stressed.vol_change, base.vol_change)
    # Perfectly correlated: both standardised moves are the same draw.
    np.testing.assert_allclose(base.standardised[0], base.standardised[1], atol=1e-12)


def test_stressed_set_keeps_vols_and_seed() -> None:
    model = MonteCarloModel(("BTC", "ETH"), [0.6, 0.8], [[1.0, 0.2], [0.2, 1.0]])
    stressed = blend_correlation(model.correlation, 0.8, model.names)
    s = correlation_stressed_scenarios(model, stressed, 100_000, seed=1)
    # Same marginals (std error 1/sqrt(2N) = 0.2%), stressed correlation 0.84 (SE 0.001).
    np.testing.assert_allclose(s.standardised.std(axis=1), 1.0, rtol=0.01)
    assert np.corrcoef(s.standardised)[0, 1] == pytest.approx(0.84, abs=0.005)
    np.testing.assert_array_equal(s.model.vols, model.vols)
    assert s.seed == 1
    with pytest.raises(InputError, match=r"stressed\.names"):
        correlation_stressed_scenarios(model, blend_correlation(np.eye(2), 0.5), 10, seed=1)


def test_worst_window_is_the_joint_crash() -> None:
    rng = np.random.default_rng(4)
    r = rng.standard_normal((399, 2)) * 0.02
    common = -np.abs(rng.standard_normal(20)) * 0.05
    r[200:220] = np.column_stack([common, 1.5 * common + 0.001 * rng.standard_normal(20)])
    closes = np.exp(np.vstack([np.zeros((1, 2)), np.cumsum(r, axis=0)]))
    times = np.datetime64("2021-01-01T00:00:00", "s") + DAY * np.arange(400)
    history = PriceHistory(("BTC", "ETH"), times, closes)
    s = worst_window_correlation(history, window_days=20)
    assert s.window == (times[200], times[220])
    assert s.matrix[0, 1] > 0.99
    assert s.source == f"window {times[200]} -> {times[220]}"
    assert s.min_eigenvalue >= -1e-12
    # No look-ahead: as of before the crash, it cannot be found.
    before = worst_window_correlation(history, window_days=20, as_of=times[199])
    assert before.window is not None
    assert before.window[1] <= times[199]
    with pytest.raises(InputError, match="window_days"):
        worst_window_correlation(history, window_days=1000)
    with pytest.raises(InputError, match="window_days"):
        worst_window_correlation(history, window_days=1.5)
    with pytest.raises(InputError, match="underlyings"):
        worst_window_correlation(history, underlyings=["BTC"])


def test_real_data_worst_window(shared_data: Path) -> None:
    history = load_price_history(shared_data)
    s = worst_window_correlation(history, window_days=30, as_of="2024-06-01")
    assert s.window is not None
    assert s.window[1] <= np.datetime64("2024-06-01")
    assert s.matrix[0, 1] > 0.9
    model = MonteCarloModel.from_history(history, as_of="2024-06-01")
    stressed = correlation_stressed_scenarios(model, s, 1000, seed=0)
    assert stressed.spot_multiplier.shape == (2, 1000)

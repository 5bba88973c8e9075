"""Monte Carlo joint moves: target moments and correlation, Student-t tails, seeds, apply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _books import UNIVERSE, market

from pmargin.engine import instruments_for
from pmargin.errors import InputError
from pmargin.history import (
    PriceHistory,
    annualise,
    ewma_covariance,
    load_price_history,
    log_returns,
)
from pmargin.scenarios import MonteCarloModel, ScenarioSource, estimate_correlation
from pmargin.valuation import resolve_instruments

N = 200_000
CORR = np.array([[1.0, 0.7], [0.7, 1.0]])


def _kurtosis(x: np.ndarray) -> float:
    d = x - x.mean()
    return float(np.mean(d**4) / np.mean(d**2) ** 2)


def test_normal_moments_and_correlation_match_the_target() -> None:
    model = MonteCarloModel(("BTC", "ETH"), np.array([0.6, 0.8]), CORR, mpor_hours=48.0)
    s = model.generate(N, seed=11)
    x = s.standardised
    # Standard errors at N = 200k: mean 1/sqrt(N) = 0.0022, relative std 1/sqrt(2N) = 0.0016,
    # correlation (1 - rho^2)/sqrt(N) = 0.0011, kurtosis sqrt(24/N) = 0.011; about 5 SE each.
    np.testing.assert_allclose(x.mean(axis=1), 0.0, atol=0.011)
    np.testing.assert_allclose(x.std(axis=1), 1.0, rtol=0.008)
    assert np.corrcoef(x)[0, 1] == pytest.approx(0.7, abs=0.006)
    assert _kurtosis(x[0]) == pytest.approx(3.0, abs=0.06)
    # Log moves: vol * sqrt(48 h / 8760 h) per unit x, exactly.
    scale = np.array([0.6, 0.8]) * np.sqrt(48.0 / 8760.0)
    np.testing.assert_allclose(np.log(s.spot_multiplier), scale[:, None] * x, rtol=0, atol=1e-15)
    np.testing.assert_allclose(s.weights, 1.0 / N)
    assert isinstance(s, ScenarioSource)


def test_student_t_unit_variance_and_kurtosis() -> None:
    model = MonteCarloModel(("BTC", "ETH"), [0.6, 0.8], CORR, marginal="student_t", dof=10.0)
    x = model.generate(N, seed=3).standardised
    # t(10) scaled to unit variance: kurtosis 3 + 6/(10 - 4) = 4. The sample kurtosis of t(10)
    # has a standard error near sqrt(1100 / N) = 0.074 (its 8th moment is finite); tolerance 0.3.
    np.testing.assert_allclose(x.var(axis=1), 1.0, rtol=0.02)
    for k in range(2):
        assert _kurtosis(x[k]) == pytest.approx(4.0, abs=0.3)
    assert np.corrcoef(x)[0, 1] == pytest.approx(0.7, abs=0.01)


def test_reproducible_for_a_seed() -> None:
    model = MonteCarloModel(("BTC", "ETH"), [0.6, 0.8], CORR, marginal="student_t", dof=4.0)
    a, b = model.generate(1000, seed=42), model.generate(1000, seed=42)
    np.testing.assert_array_equal(a.spot_multiplier, b.spot_multiplier)
    np.testing.assert_array_equal(a.vol_change, b.vol_change)
    assert a.labels == b.labels
    c = model.generate(1000, seed=43)
    assert not np.array_equal(a.spot_multiplier, c.spot_multiplier)


def test_vol_shock_rule_and_apply() -> None:
    model = MonteCarloModel(
        ("BTC", "ETH"),
        [0.6, 0.8],
        CORR,
        vol_beta=np.array([-0.1, 0.0]),
        vol_multiplier=np.array([1.0, 1.2]),
        min_vol=0.05,
    )
    s = model.generate(500, seed=1)
    np.testing.assert_allclose(s.vol_change[0], -0.1 * s.standardised[0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(s.vol_change[1], 0.2, rtol=1e-12)
    resolved = resolve_instruments(instruments_for(UNIVERSE), market())
    arrays = s.apply(resolved)
    rows = np.array([model.names.index(i.underlying) for i in resolved.instruments])
    assert arrays.spot_multiplier.shape == arrays.vol.shape == (len(resolved), 500)
    np.testing.assert_array_equal(arrays.spot_multiplier, s.spot_multiplier[rows])
    opt = resolved.is_option
    expected = np.maximum(0.05, resolved.vol[opt, None] * (1.0 + s.vol_change[rows[opt]]))
    np.testing.assert_allclose(arrays.vol[opt], expected)
    assert np.all(np.isnan(arrays.vol[~opt]))
    btc = MonteCarloModel(("BTC",), [0.6], [[1.0]]).generate(10, seed=1)
    with pytest.raises(InputError, match="underlying: 'ETH'"):
        btc.apply(resolved)


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(InputError, match="dof"):
        MonteCarloModel(("BTC",), [0.6], [[1.0]], marginal="student_t", dof=2.0)
    with pytest.raises(InputError, match="marginal"):
        MonteCarloModel(("BTC",), [0.6], [[1.0]], marginal="cauchy")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="correlation"):
        MonteCarloModel(("A", "B", "C"), [0.5] * 3, [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]])
    with pytest.raises(InputError, match="vols"):
        MonteCarloModel(("BTC",), [-0.6], [[1.0]])
    with pytest.raises(InputError, match="n_scenarios"):
        MonteCarloModel(("BTC",), [0.6], [[1.0]]).generate(0, seed=1)


def _synthetic_history() -> PriceHistory:
    rng = np.random.default_rng(9)
    r = rng.standard_normal((999, 2)) @ np.linalg.cholesky(CORR).T * [0.02, 0.03]
    closes = np.exp(np.vstack([np.zeros((1, 2)), np.cumsum(r, axis=0)]))
    times = np.datetime64("2020-01-01T00:00:00", "s") + np.timedelta64(86_400, "s") * np.arange(
        1000
    )
    return PriceHistory(("BTC", "ETH"), times, closes)


def test_from_history_estimates() -> None:
    history = _synthetic_history()
    model = MonteCarloModel.from_history(history, lookback_days=300, correlation="ewma")
    window = history.as_of(history.times[-1])
    r = log_returns(window.closes[-301:])
    np.testing.assert_allclose(model.vols, annualise(np.diag(ewma_covariance(r, 0.94)), 24.0))
    sample = MonteCarloModel.from_history(history, lookback_days=300, vols="sample")
    np.testing.assert_allclose(sample.vols, np.sqrt(np.mean(r**2, axis=0) * 365.0))
    np.testing.assert_allclose(sample.correlation, np.corrcoef(r, rowvar=False))
    assert sample.correlation[0, 1] == pytest.approx(0.7, abs=0.1)
    with pytest.raises(InputError, match="lookback_days"):
        MonteCarloModel.from_history(history, lookback_days=5000)
    with pytest.raises(InputError, match="ewma_lambda"):
        MonteCarloModel.from_history(history, ewma_lambda=0.0)
    with pytest.raises(InputError, match="correlation"):
        estimate_correlation(history, "kendall")


def test_real_data_model(shared_data: Path) -> None:
    history = load_price_history(shared_data)
    model = MonteCarloModel.from_history(
        history, as_of="2024-06-01", mpor="1d", marginal="student_t", dof=4.0
    )
    assert 0.5 < model.correlation[0, 1] < 0.95
    assert np.all((model.vols > 0.2) & (model.vols < 1.5))
    s = model.generate(10_000, seed=0)
    assert s.spot_multiplier.shape == (2, 10_000)

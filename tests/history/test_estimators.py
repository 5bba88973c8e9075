"""EWMA variance and covariance, realised vol, lambda scaling."""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.history import (
    annualise,
    ewma_covariance,
    ewma_variance,
    per_step_lambda,
    realised_vol,
)


def _loop_ewma(r: np.ndarray, lam: float, seed_count: int = 30) -> np.ndarray:
    v = [float(np.mean(r[:seed_count] ** 2))]
    for x in r:
        v.append(lam * v[-1] + (1.0 - lam) * x * x)
    return np.array(v)


def test_ewma_variance_matches_plain_loop() -> None:
    rng = np.random.default_rng(1)
    r = rng.standard_normal((500, 2)) * [0.02, 0.04]
    v = ewma_variance(r, 0.94)
    assert v.shape == (501, 2)
    for k in range(2):
        np.testing.assert_allclose(v[:, k], _loop_ewma(r[:, k], 0.94), rtol=1e-12)


def test_ewma_covariance_diagonal_and_cross_match_loop() -> None:
    rng = np.random.default_rng(2)
    r = rng.standard_normal((300, 2)) * 0.03
    cov = ewma_covariance(r, 0.97)
    np.testing.assert_allclose(cov[0, 0], ewma_variance(r, 0.97)[-1, 0], rtol=1e-12)
    c = float(np.mean(r[:30, 0] * r[:30, 1]))
    for t in range(300):
        c = 0.97 * c + 0.03 * r[t, 0] * r[t, 1]
    np.testing.assert_allclose(cov[0, 1], c, rtol=1e-12)
    np.testing.assert_allclose(cov, cov.T)


def test_lambda_scaling_keeps_the_calendar_half_life() -> None:
    lam4 = per_step_lambda(0.94, 4.0)
    assert lam4 == pytest.approx(0.94 ** (1 / 6))
    assert lam4**6 == pytest.approx(0.94)
    assert per_step_lambda(0.94, 24.0) == pytest.approx(0.94)


@pytest.mark.parametrize("lam", [0.0, 1.0, -0.5, 1.5])
def test_lambda_outside_unit_interval(lam: float) -> None:
    with pytest.raises(InputError, match="ewma_lambda"):
        per_step_lambda(lam, 24.0)
    with pytest.raises(InputError, match="ewma_lambda"):
        ewma_variance(np.zeros((3, 1)), lam)


def test_realised_vol_window_and_annualisation() -> None:
    r = np.tile([[0.01], [-0.01]], (20, 1))  # |r| = 1% every step
    rv = realised_vol(r, 30, 24.0)
    assert rv.shape == (41, 1)
    assert np.all(np.isnan(rv[:30]))
    np.testing.assert_allclose(rv[30:], 0.01 * np.sqrt(365.0))
    np.testing.assert_allclose(annualise(np.array([1e-4]), 4.0), [0.01 * np.sqrt(365 * 6)])

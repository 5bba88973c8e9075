"""fit_svi: recovery of known slices, the arbitrage checks, fit errors and refusals."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.market import (
    RawSVI,
    SmileQuotes,
    butterfly_check,
    calendar_check,
    durrleman_g,
    fit_ssvi,
    fit_svi,
    fit_svi_slice,
    ssvi_phi,
    ssvi_slice_to_raw,
    ssvi_total_variance,
)

MAR = datetime(2025, 3, 28, 8, tzinfo=UTC)
JUN = datetime(2025, 6, 27, 8, tzinfo=UTC)
SEP = datetime(2025, 9, 26, 8, tzinfo=UTC)
KNOWN = {
    MAR: (0.07, RawSVI(0.004, 0.030, -0.25, 0.02, 0.10)),
    JUN: (0.32, RawSVI(0.020, 0.060, -0.20, 0.03, 0.15)),
    SEP: (0.57, RawSVI(0.040, 0.080, -0.15, 0.04, 0.20)),
}
"""Expiry: (years to expiry, the slice the quotes come from)."""
K = np.linspace(-0.6, 0.5, 23)

# Axel Vogt's raw SVI slice, the standard example of butterfly arbitrage (Gatheral and
# Jacquier 2014, Example 3.1): g(k) < 0 near k = 0.5.
VOGT = RawSVI(-0.0410, 0.1331, 0.3060, 0.3586, 0.4153)


def _quotes(t: float, svi: RawSVI, k: np.ndarray = K) -> SmileQuotes:
    return SmileQuotes(t, k, np.sqrt(svi.total_variance(k) / t))


def test_raw_fit_recovers_known_slices_to_a_hundredth_of_a_vol_point() -> None:
    smiles = {e: _quotes(t, svi) for e, (t, svi) in KNOWN.items()}
    fit = fit_svi(smiles, underlying="BTC", forwards={MAR: 86000.0})
    assert [s.expiry for s in fit.slices] == [MAR, JUN, SEP]
    for piece in fit.slices:
        t, svi = KNOWN[piece.expiry]
        grid = np.linspace(-0.6, 0.5, 111)
        model = np.sqrt(piece.svi.total_variance(grid) / t)
        true = np.sqrt(svi.total_variance(grid) / t)
        assert float(np.abs(model - true).max()) < 1e-4  # 0.01 vol points
        assert piece.rmse_vol_points < 0.01
        assert piece.n_quotes == K.size
        assert piece.butterfly.ok
    assert fit.slices[0].forward == 86000.0
    assert fit.slices[1].forward is None
    assert fit.ok
    assert fit.calendar.ok
    assert fit.rmse_vol_points < 0.01


def test_fit_errors_are_reported_in_vol_points() -> None:
    t, svi = KNOWN[JUN]
    vols = np.sqrt(svi.total_variance(K) / t)
    bumped = vols.copy()
    bumped[11] += 0.05  # one quote 5 vol points off the smile
    fit = fit_svi({JUN: SmileQuotes(t, K, bumped)}, underlying="BTC")
    piece = fit.slices[0]
    model = np.sqrt(piece.svi.total_variance(K) / t)
    errors = 100.0 * (model - bumped)
    assert piece.rmse_vol_points == pytest.approx(math.sqrt(float(np.mean(errors**2))))
    assert piece.max_error_vol_points == pytest.approx(float(np.abs(errors).max()))
    assert 0.5 < piece.max_error_vol_points <= 5.0


def test_weights_pull_the_fit_towards_heavy_quotes() -> None:
    t, svi = KNOWN[JUN]
    vols = np.sqrt(svi.total_variance(K) / t)
    noisy = vols + 0.01 * np.sin(7.0 * K)  # a 1 vol point wiggle SVI cannot follow
    weights = np.ones_like(K)
    weights[11] = 1000.0
    light = fit_svi_slice(SmileQuotes(t, K, noisy))
    heavy = fit_svi_slice(SmileQuotes(t, K, noisy, weights))
    at = K[11:12]
    light_error = abs(float(np.sqrt(light.total_variance(at) / t)[0]) - noisy[11])
    heavy_error = abs(float(np.sqrt(heavy.total_variance(at) / t)[0]) - noisy[11])
    assert heavy_error < 0.2 * light_error


def test_random_arbitrage_free_slices_are_recovered() -> None:
    rng = np.random.default_rng(20251207)
    for _ in range(5):
        t = float(rng.uniform(0.02, 1.0))
        level = float(rng.uniform(0.3, 1.0)) ** 2 * t
        theta_phi = ssvi_phi(level, float(rng.uniform(0.3, 1.0)), 0.5)
        svi = ssvi_slice_to_raw(level, float(rng.uniform(-0.5, 0.3)), float(theta_phi))
        k = np.linspace(-3.0, 2.0, 31) * math.sqrt(level)
        piece = fit_svi({MAR: _quotes(t, svi, k)}, underlying="ETH").slices[0]
        assert piece.rmse_vol_points < 0.05
        assert piece.butterfly.ok


def test_durrleman_g_matches_finite_differences() -> None:
    svi = KNOWN[JUN][1]
    k = np.linspace(-1.0, 1.0, 41)
    h = 1e-4
    w = svi.total_variance(k)
    w1 = (svi.total_variance(k + h) - svi.total_variance(k - h)) / (2 * h)
    w2 = (svi.total_variance(k + h) - 2 * w + svi.total_variance(k - h)) / h**2
    expected = (1 - k * w1 / (2 * w)) ** 2 - w1**2 / 4 * (1 / w + 0.25) + w2 / 2
    np.testing.assert_allclose(durrleman_g(svi, k), expected, rtol=1e-5, atol=1e-7)


def test_butterfly_check_finds_vogts_arbitrage() -> None:
    check = butterfly_check(VOGT)
    assert not check.ok
    assert check.min_g < 0.0
    assert 0.0 < check.worst_k < 1.5
    assert butterfly_check(KNOWN[MAR][1]).ok


def test_calendar_check_names_the_crossing_pair() -> None:
    short, long_ = KNOWN[MAR][1], KNOWN[JUN][1]
    lower = RawSVI(0.001, 0.030, -0.25, 0.02, 0.10)  # below the March slice everywhere
    check = calendar_check([short, long_, lower])
    assert check.violations == (1,)
    assert check.min_gaps[0] > 0.0
    assert check.min_gaps[1] < 0.0
    assert len(check.worst_k) == 2
    assert not check.ok


def test_fit_reports_calendar_arbitrage_in_the_quotes() -> None:
    t_mar, svi_mar = KNOWN[MAR]
    t_jun = KNOWN[JUN][0]
    # June quoted with March's total variance scaled down: variance falls with maturity.
    smiles = {
        MAR: _quotes(t_mar, svi_mar),
        JUN: SmileQuotes(t_jun, K, np.sqrt(0.5 * svi_mar.total_variance(K) / t_jun)),
    }
    fit = fit_svi(smiles, underlying="BTC")
    assert fit.calendar.violations == (0,)
    assert not fit.ok
    assert any("calendar: total variance decreases" in line for line in fit.summary())


def test_ssvi_method_is_arbitrage_free_and_recovers_an_ssvi_surface() -> None:
    rho, eta, gamma = -0.2, 0.8, 0.45
    smiles = {}
    for e, t, atm in ((MAR, 0.07, 0.55), (JUN, 0.32, 0.58), (SEP, 0.57, 0.60)):
        theta = atm * atm * t
        phi = float(ssvi_phi(theta, eta, gamma))
        smiles[e] = SmileQuotes(t, K, np.sqrt(ssvi_total_variance(K, theta, rho, phi) / t))
    shape = fit_ssvi(list(smiles.values()))
    assert shape.rho == pytest.approx(rho, abs=2e-3)
    assert shape.eta == pytest.approx(eta, abs=2e-2)
    assert shape.arbitrage_free
    fit = fit_svi(smiles, underlying="BTC", method="ssvi")
    assert fit.method == "ssvi"
    assert fit.ok
    assert fit.rmse_vol_points < 0.1


def test_surface_of_a_fit_reprices_its_quotes() -> None:
    asof = datetime(2025, 3, 3, 8, tzinfo=UTC)
    smiles = {}
    for e, (_, svi) in KNOWN.items():
        t = (e - asof).total_seconds() / (365 * 86400)
        smiles[e] = _quotes(t, svi)
    surface = fit_svi(smiles, underlying="BTC").surface(asof)
    t = surface.times[1]
    np.testing.assert_allclose(
        surface.implied_vol(100.0 * np.exp(K), 100.0, t), smiles[JUN].vols, atol=1e-4
    )


def test_refusals_name_the_field() -> None:
    t, svi = KNOWN[MAR]
    with pytest.raises(InputError, match="method"):
        fit_svi({MAR: _quotes(t, svi)}, underlying="BTC", method="cubic")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="smiles"):
        fit_svi({}, underlying="BTC")
    with pytest.raises(InputError, match="too few usable quotes"):
        fit_svi({MAR: _quotes(t, svi, K[:4])}, underlying="BTC")
    with pytest.raises(InputError, match=r"\.t"):
        fit_svi_slice(SmileQuotes(0.0, K, np.full(K.size, 0.5)))
    with pytest.raises(InputError, match="smiles"):
        fit_ssvi([_quotes(t, svi)], min_t=1.0)

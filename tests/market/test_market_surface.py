"""Volatility surface: interpolation in time, extrapolation, implied vols and validation."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta

import numpy as np
import pytest
from _market_cases import DEC27, MAR28, NOV29, NOW, SVI_DEC, SVI_MAR, SVI_NOV, svi_w, years
from hypothesis import given
from hypothesis import strategies as st

from pmargin.errors import InputError
from pmargin.market import RawSVI, SurfaceSlice, VolSurface

T_NOV, T_DEC, T_MAR = years(NOW, NOV29), years(NOW, DEC27), years(NOW, MAR28)
K = np.linspace(-1.5, 1.5, 31)


@pytest.fixture
def surface() -> VolSurface:
    # Given out of order on purpose: the surface sorts by expiry.
    return VolSurface(
        "btc",
        (
            SurfaceSlice(DEC27, RawSVI(**SVI_DEC), 69900.0),
            SurfaceSlice(MAR28, RawSVI(**SVI_MAR)),
            SurfaceSlice(NOV29, RawSVI(**SVI_NOV)),
        ),
        NOW,
    )


def w_ref(params: dict[str, float], k: np.ndarray) -> np.ndarray:
    return np.array([svi_w(params, float(x)) for x in k])


def test_slices_sorted_and_times_are_act365(surface: VolSurface) -> None:
    assert surface.underlying == "BTC"
    assert surface.expiries == (NOV29, DEC27, MAR28)
    np.testing.assert_allclose(surface.times, [T_NOV, T_DEC, T_MAR], rtol=1e-15)
    assert surface.slice_at(DEC27) is not None
    assert surface.slice_at(DEC27).forward == 69900.0  # type: ignore[union-attr]
    assert surface.slice_at(DEC27 + timedelta(hours=1)) is None


@pytest.mark.parametrize(("params", "t"), [(SVI_NOV, T_NOV), (SVI_DEC, T_DEC), (SVI_MAR, T_MAR)])
def test_exact_at_slice_expiries(surface: VolSurface, params: dict[str, float], t: float) -> None:
    np.testing.assert_allclose(surface.total_variance(K, t), w_ref(params, K), rtol=1e-14)
    np.testing.assert_allclose(
        surface.total_variance(K, t) / t, surface.implied_vol(np.exp(K), 1.0, t) ** 2, rtol=1e-12
    )


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_linear_total_variance_between_slices(surface: VolSurface, fraction: float) -> None:
    t = T_NOV + fraction * (T_DEC - T_NOV)
    expected = (1 - fraction) * w_ref(SVI_NOV, K) + fraction * w_ref(SVI_DEC, K)
    np.testing.assert_allclose(surface.total_variance(K, t), expected, rtol=1e-12)
    t2 = T_DEC + fraction * (T_MAR - T_DEC)
    expected2 = (1 - fraction) * w_ref(SVI_DEC, K) + fraction * w_ref(SVI_MAR, K)
    np.testing.assert_allclose(surface.total_variance(K, t2), expected2, rtol=1e-12)


def test_linear_in_t_numerically(surface: VolSurface) -> None:
    # Second differences of w in t vanish inside a segment (linear), not across a slice.
    ts = np.linspace(T_NOV + 1e-3, T_DEC - 1e-3, 9)
    w = surface.total_variance(0.2, ts)
    np.testing.assert_allclose(np.diff(w, 2), 0.0, atol=1e-15)


def test_flat_vol_before_first_and_after_last(surface: VolSurface) -> None:
    vol_first = np.sqrt(w_ref(SVI_NOV, K) / T_NOV)
    vol_last = np.sqrt(w_ref(SVI_MAR, K) / T_MAR)
    for t in (1e-6, 0.25 * T_NOV, 0.99 * T_NOV):
        np.testing.assert_allclose(surface.total_variance(K, t), vol_first**2 * t, rtol=1e-12)
        k_grid, t_grid = K, np.full_like(K, t)
        np.testing.assert_allclose(
            surface.implied_vol(np.exp(k_grid), 1.0, t_grid), vol_first, rtol=1e-12
        )
    for t in (1.0001 * T_MAR, 2.0, 10.0):
        np.testing.assert_allclose(surface.total_variance(K, t), vol_last**2 * t, rtol=1e-12)
        np.testing.assert_allclose(surface.implied_vol(np.exp(K), 1.0, t), vol_last, rtol=1e-12)


def test_zero_time_gives_zero_variance_and_the_limit_vol(surface: VolSurface) -> None:
    assert np.all(surface.total_variance(K, 0.0) == 0.0)
    np.testing.assert_allclose(
        surface.implied_vol(np.exp(K), 1.0, 0.0), np.sqrt(w_ref(SVI_NOV, K) / T_NOV), rtol=1e-12
    )


def test_implied_vol_uses_log_forward_moneyness(surface: VolSurface) -> None:
    strikes = np.array([50000.0, 69900.0, 90000.0])
    forward = 69900.0
    k = np.log(strikes / forward)
    expected = np.sqrt(w_ref(SVI_DEC, k) / T_DEC)
    np.testing.assert_allclose(surface.implied_vol(strikes, forward, T_DEC), expected, rtol=1e-13)
    # Scaling strike and forward together leaves the vol unchanged (it depends on K/F only).
    np.testing.assert_allclose(
        surface.implied_vol(strikes * 3, forward * 3, T_DEC), expected, rtol=1e-13
    )


def test_vectorised_broadcasting(surface: VolSurface) -> None:
    strikes = np.array([[60000.0], [70000.0], [80000.0]])
    times = np.array([0.0, T_NOV, 0.1, T_DEC, 0.3])
    vols = surface.implied_vol(strikes, 70000.0, times)
    assert vols.shape == (3, 5)
    for i in range(3):
        for j in range(5):
            one = surface.implied_vol(float(strikes[i, 0]), 70000.0, float(times[j]))
            assert vols[i, j] == pytest.approx(float(one), rel=1e-15)


def test_single_slice_surface_is_flat_in_time_at_fixed_k() -> None:
    one = VolSurface("ETH", [SurfaceSlice(DEC27, RawSVI(**SVI_DEC))], NOW)
    vols = one.implied_vol(np.exp(K)[:, None], 1.0, np.array([0.01, T_DEC, 1.0]))
    np.testing.assert_allclose(vols, np.repeat(vols[:, :1], 3, axis=1), rtol=1e-12)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.total_variance(0.0, -0.01), "t"),
        (lambda s: s.total_variance(0.0, math.nan), "t"),
        (lambda s: s.total_variance(math.inf, 0.1), "k"),
        (lambda s: s.implied_vol(0.0, 1.0, 0.1), "strike"),
        (lambda s: s.implied_vol(1.0, -1.0, 0.1), "forward"),
        (lambda s: s.implied_vol([1.0, math.nan], 1.0, 0.1), "strike"),
        (lambda s: s.implied_vol(1.0, 1.0, [0.1, -1.0]), "t"),
        (lambda s: s.implied_vol("x", 1.0, 0.1), "strike"),
    ],
)
def test_bad_arguments_name_the_argument(surface: VolSurface, call: object, field: str) -> None:
    with pytest.raises(InputError) as err:
        call(surface)  # type: ignore[operator]
    assert err.value.field == field


def test_duplicate_expiries_rejected_with_position() -> None:
    with pytest.raises(InputError, match=r"duplicates the expiry of surfaces\.BTC\[0\]") as err:
        VolSurface(
            "BTC",
            [SurfaceSlice(DEC27, RawSVI(**SVI_DEC)), SurfaceSlice(DEC27, RawSVI(**SVI_MAR))],
            NOW,
        )
    assert err.value.field == "surfaces.BTC[1].expiry"


def test_expired_and_empty_surfaces_rejected() -> None:
    with pytest.raises(InputError, match="must be after the market timestamp") as err:
        VolSurface("BTC", [SurfaceSlice(NOW, RawSVI(**SVI_DEC))], NOW)
    assert err.value.field == "surfaces.BTC[0].expiry"
    with pytest.raises(InputError, match="at least one slice"):
        VolSurface("BTC", [], NOW)
    with pytest.raises(InputError, match=r"must be a finite price in \[1e-09, 1e\+09\]"):
        SurfaceSlice(DEC27, RawSVI(**SVI_DEC), forward=0.0)
    with pytest.raises(InputError, match="must be a RawSVI"):
        SurfaceSlice(DEC27, SVI_DEC)  # type: ignore[arg-type]


def test_slice_expiry_text_means_0800_utc() -> None:
    piece = SurfaceSlice("2024-12-27", RawSVI(**SVI_DEC))  # type: ignore[arg-type]
    assert piece.expiry == DEC27


def test_is_immutable(surface: VolSurface) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        surface.underlying = "ETH"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        surface.times[0] = 1.0
    assert isinstance(surface.slices, tuple)


def test_calendar_violations_reported_on_request() -> None:
    grid = np.linspace(-2, 2, 401)
    ok = VolSurface(
        "BTC", [SurfaceSlice(NOV29, RawSVI(**SVI_NOV)), SurfaceSlice(DEC27, RawSVI(**SVI_DEC))], NOW
    )
    assert np.all(w_ref(SVI_DEC, grid) >= w_ref(SVI_NOV, grid))  # premise of the test
    assert ok.calendar_violations(grid) == []
    bad = VolSurface(
        "BTC", [SurfaceSlice(NOV29, RawSVI(**SVI_DEC)), SurfaceSlice(DEC27, RawSVI(**SVI_NOV))], NOW
    )
    assert bad.calendar_violations(grid) == [(NOV29, DEC27)]


def test_rolled_to_drops_expired_slices_and_keeps_parameters(surface: VolSurface) -> None:
    later = NOW + timedelta(days=40)  # after NOV29, before DEC27
    rolled = surface.rolled_to(later)
    assert rolled is not None
    assert rolled.asof == later
    assert rolled.expiries == (DEC27, MAR28)
    np.testing.assert_allclose(rolled.times, [years(later, DEC27), years(later, MAR28)])
    np.testing.assert_allclose(
        rolled.total_variance(K, years(later, DEC27)), w_ref(SVI_DEC, K), rtol=1e-14
    )
    assert surface.rolled_to(MAR28) is None


slice_params = st.fixed_dictionaries(
    {
        "b": st.floats(0.0, 1.0),
        "rho": st.floats(-0.95, 0.95),
        "m": st.floats(-0.5, 0.5),
        "sigma": st.floats(0.01, 1.0),
        "excess": st.floats(0.0, 0.5),
    }
)


def _svi(p: dict[str, float]) -> RawSVI:
    a = -p["b"] * p["sigma"] * math.sqrt(1 - p["rho"] ** 2) + p["excess"]
    return RawSVI(a, p["b"], p["rho"], p["m"], p["sigma"])


@given(
    first=slice_params,
    second=slice_params,
    days=st.tuples(st.integers(1, 400), st.integers(1, 400)),
    fraction=st.floats(0.0, 1.0),
    k=st.floats(-3.0, 3.0),
)
def test_interpolated_variance_lies_between_neighbours(
    first: dict[str, float],
    second: dict[str, float],
    days: tuple[int, int],
    fraction: float,
    k: float,
) -> None:
    e1 = NOW + timedelta(days=days[0])
    e2 = e1 + timedelta(days=days[1])
    s1, s2 = _svi(first), _svi(second)
    surface = VolSurface("BTC", [SurfaceSlice(e1, s1), SurfaceSlice(e2, s2)], NOW)
    t1, t2 = years(NOW, e1), years(NOW, e2)
    t = t1 + fraction * (t2 - t1)
    w = float(surface.total_variance(k, t))
    w1, w2 = float(s1.total_variance(k)), float(s2.total_variance(k))
    tol = 1e-12 * max(1.0, abs(w1), abs(w2))
    assert min(w1, w2) - tol <= w <= max(w1, w2) + tol
    assert w >= 0.0


def test_at_times_equals_implied_vol_bit_for_bit(surface: VolSurface) -> None:
    """The surface read at fixed times: the same vols as implied_vol, before, between, after."""
    rng = np.random.default_rng(11)
    t = np.concatenate([[0.0, T_NOV, T_DEC, T_MAR], rng.uniform(0.0, 1.0, 60)])
    strike = rng.uniform(40_000.0, 120_000.0, t.size)
    grid = surface.at_times(t)
    for _ in range(3):  # the same grid, forwards moving
        forward = rng.uniform(60_000.0, 80_000.0, t.size)
        mine = grid.implied_vol(strike, forward)
        assert mine.tobytes() == surface.implied_vol(strike, forward, t).tobytes()
        w, _ = grid.interpolate(np.log(strike / forward))
        assert w.tobytes() == surface.total_variance(np.log(strike / forward), t).tobytes()


def test_at_times_rejects_what_implied_vol_rejects(surface: VolSurface) -> None:
    with pytest.raises(InputError) as err:
        surface.at_times([0.1, -0.01])
    assert err.value.field == "t"
    grid = surface.at_times([0.1, 0.2])
    with pytest.raises(InputError) as err:
        grid.implied_vol([60_000.0, 0.0], [70_000.0, 70_000.0])
    assert err.value.field == "strike"
    with pytest.raises(InputError) as err:
        grid.implied_vol([60_000.0, 61_000.0], [70_000.0, math.nan])
    assert err.value.field == "forward"

"""Raw SVI: the formula, its closed-form properties and the parameter constraints."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from _market_cases import SVI_DEC, SVI_MAR, SVI_NOV, svi_w
from hypothesis import given
from hypothesis import strategies as st

from pmargin.errors import InputError
from pmargin.market import RawSVI
from pmargin.market._svi import svi_from_mapping


@pytest.mark.parametrize("params", [SVI_NOV, SVI_DEC, SVI_MAR])
def test_total_variance_matches_the_formula(params: dict[str, float]) -> None:
    svi = RawSVI(**params)
    k = np.linspace(-2.5, 2.5, 101)
    expected = np.array([svi_w(params, float(x)) for x in k])
    np.testing.assert_allclose(svi.total_variance(k), expected, rtol=1e-14, atol=0)


def test_total_variance_keeps_the_shape_of_k() -> None:
    svi = RawSVI(**SVI_DEC)
    k = np.linspace(-1, 1, 12).reshape(3, 4)
    assert svi.total_variance(k).shape == (3, 4)
    assert svi.total_variance(0.1).shape == ()
    assert float(svi.total_variance(0.1)) == pytest.approx(svi_w(SVI_DEC, 0.1), rel=1e-15)


def test_minimum_is_at_the_closed_form_vertex() -> None:
    a, b, rho, m, sigma = 0.01, 0.2, -0.4, 0.05, 0.15
    svi = RawSVI(a, b, rho, m, sigma)
    k_star = m - rho * sigma / math.sqrt(1 - rho**2)
    w_star = a + b * sigma * math.sqrt(1 - rho**2)
    assert svi.min_total_variance == pytest.approx(w_star, rel=1e-14)
    assert float(svi.total_variance(k_star)) == pytest.approx(w_star, rel=1e-12)
    grid = np.linspace(k_star - 1, k_star + 1, 2001)
    assert np.all(svi.total_variance(grid) >= w_star - 1e-15)


def test_wings_are_linear_with_slopes_b_one_plus_minus_rho() -> None:
    params = {"a": 0.02, "b": 0.1, "rho": -0.3, "m": 0.0, "sigma": 0.2}
    svi = RawSVI(**params)
    far = np.array([200.0, 201.0, -201.0, -200.0])
    w = svi.total_variance(far)
    assert w[1] - w[0] == pytest.approx(params["b"] * (1 + params["rho"]), rel=1e-6)
    assert w[3] - w[2] == pytest.approx(-params["b"] * (1 - params["rho"]), rel=1e-6)


def test_zero_minimum_variance_is_allowed_and_never_negative() -> None:
    b, rho, sigma = 0.3, 0.6, 0.2
    a = -b * sigma * math.sqrt(1 - rho**2)
    svi = RawSVI(a, b, rho, 0.0, sigma)
    k = np.linspace(-1, 1, 10_001)
    assert np.all(svi.total_variance(k) >= 0.0)


def test_is_frozen_and_stores_floats() -> None:
    svi = RawSVI(0, 1, 0, 0, 1)
    assert all(type(getattr(svi, f.name)) is float for f in dataclasses.fields(svi))
    with pytest.raises(dataclasses.FrozenInstanceError):
        svi.a = 1.0  # type: ignore[misc]
    assert svi.to_dict() == {"a": 0.0, "b": 1.0, "rho": 0.0, "m": 0.0, "sigma": 1.0}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"b": -0.01}, "svi.b", "must be >= 0"),
        ({"rho": 1.0}, "svi.rho", "strictly between -1 and 1"),
        ({"rho": -1.5}, "svi.rho", "strictly between -1 and 1"),
        ({"sigma": 0.0}, "svi.sigma", "must be > 0"),
        ({"sigma": -0.1}, "svi.sigma", "must be > 0"),
        ({"a": -0.5}, "svi.a", "makes the total variance negative"),
        ({"a": math.nan}, "svi.a", "must be a finite number"),
        ({"m": math.inf}, "svi.m", "must be a finite number"),
        ({"b": "0.1"}, "svi.b", "must be a finite number"),
        ({"rho": True}, "svi.rho", "must be a finite number"),
    ],
)
def test_invalid_parameters_are_rejected(change: dict[str, object], field: str, words: str) -> None:
    params: dict[str, object] = {**SVI_DEC, **change}
    with pytest.raises(InputError, match=words) as err:
        RawSVI(**params)  # type: ignore[arg-type]
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


def test_negative_variance_message_says_the_bound_on_a() -> None:
    b, rho, sigma = 0.1, 0.0, 0.2
    with pytest.raises(InputError) as err:
        RawSVI(-0.05, b, rho, 0.0, sigma)
    assert f"a must be >= {-b * sigma:.6g}" in str(err.value)


def test_from_mapping_names_the_path() -> None:
    with pytest.raises(InputError) as err:
        svi_from_mapping({**SVI_DEC, "rho": 2.0}, "surfaces.BTC[1].svi")
    assert err.value.field == "surfaces.BTC[1].svi.rho"
    with pytest.raises(InputError, match="is required") as err:
        svi_from_mapping({"a": 0.1, "b": 0.1, "rho": 0.0, "m": 0.0}, "s")
    assert err.value.field == "s.sigma"
    with pytest.raises(InputError, match="not a raw SVI parameter"):
        svi_from_mapping({**SVI_DEC, "nu": 1.0}, "s")
    with pytest.raises(InputError, match="must be a mapping"):
        svi_from_mapping([0.1, 0.1, 0.0, 0.0, 0.1], "s")
    assert svi_from_mapping(SVI_DEC) == RawSVI(**SVI_DEC)


valid_svi = st.builds(
    lambda b, rho, m, sigma, excess: (
        -b * sigma * math.sqrt(1 - rho * rho) + excess,
        b,
        rho,
        m,
        sigma,
    ),
    b=st.floats(0.0, 5.0),
    rho=st.floats(-0.999, 0.999),
    m=st.floats(-1.0, 1.0),
    sigma=st.floats(1e-4, 2.0),
    excess=st.floats(0.0, 1.0),
)


@given(params=valid_svi, k=st.lists(st.floats(-10.0, 10.0), min_size=1, max_size=50))
def test_valid_parameters_never_give_negative_variance(
    params: tuple[float, float, float, float, float], k: list[float]
) -> None:
    svi = RawSVI(*params)
    w = svi.total_variance(np.array(k))
    assert np.all(w >= 0.0)
    assert np.all(np.isfinite(w))

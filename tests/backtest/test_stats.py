"""Coverage statistics against the formulas written out here, textbook values and edge cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pmargin.backtest import christoffersen, kupiec_pof, traffic_light
from pmargin.errors import InputError

# --- independent formulas (backtesting.md), plain numpy, 0 ln 0 = 0 by skipping empty terms -----


def _log_term(count: float, probability: float) -> float:
    return 0.0 if count == 0 else count * float(np.log(probability))


def _kupiec(t: int, x: int, p: float) -> float:
    p_hat = x / t
    null = _log_term(t - x, 1 - p) + _log_term(x, p)
    fitted = _log_term(t - x, 1 - p_hat) + _log_term(x, p_hat)
    return -2 * null + 2 * fitted


def _counts(hits: list[int]) -> tuple[int, int, int, int]:
    n = {(0, 0): 0, (0, 1): 0, (1, 0): 0, (1, 1): 0}
    for before, after in itertools.pairwise(hits):
        n[(before, after)] += 1
    return n[(0, 0)], n[(0, 1)], n[(1, 0)], n[(1, 1)]


def _independence(hits: list[int]) -> float:
    n00, n01, n10, n11 = _counts(hits)
    if n10 + n11 == 0:
        return 0.0
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11)
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    restricted = _log_term(n00 + n10, 1 - pi) + _log_term(n01 + n11, pi)
    unrestricted = (
        _log_term(n00, 1 - pi0)
        + _log_term(n01, pi0)
        + _log_term(n10, 1 - pi1)
        + _log_term(n11, pi1)
    )
    return -2 * restricted + 2 * unrestricted


# --- Kupiec -------------------------------------------------------------------------------------


def test_kupiec_250_days_8_exceptions_at_99() -> None:
    # -2 [242 ln 0.99 + 8 ln 0.01] + 2 [242 ln 0.968 + 8 ln 0.032] = 7.7336: rejected at 95%.
    result = kupiec_pof(250, 8, 0.01)
    assert result.statistic == pytest.approx(7.733550724494, rel=1e-10)
    assert result.p_value == pytest.approx(0.00542040519, rel=1e-8)
    assert result.critical_value == pytest.approx(3.8415, abs=1e-4)
    assert result.reject
    assert result.exception_rate == 0.032


@pytest.mark.parametrize("t", [1, 10, 250, 500, 1000])
@pytest.mark.parametrize("p", [0.001, 0.01, 0.025, 0.05])
def test_kupiec_matches_formula(t: int, p: float) -> None:
    for x in range(t + 1):
        result = kupiec_pof(t, x, p)
        expected = _kupiec(t, x, p)
        assert result.statistic == pytest.approx(expected, rel=1e-10, abs=1e-9)
        # (at p_hat = p the statistic is 0 up to rounding, where the chi-square(1) tail is steep)
        assert result.p_value == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-8, abs=1e-6)
        assert result.reject == (expected > 3.841458820694124)


def test_kupiec_edge_cases() -> None:
    assert kupiec_pof(250, 0, 0.01).statistic == pytest.approx(-2 * 250 * math.log(0.99))
    assert kupiec_pof(250, 250, 0.01).statistic == pytest.approx(-2 * 250 * math.log(0.01))
    exact = kupiec_pof(200, 2, 0.01)  # p_hat = p
    assert exact.statistic == 0.0
    assert exact.p_value == 1.0
    assert not exact.reject
    assert kupiec_pof(250, 0, 0.01).reject  # 0 exceptions in 250 days: too conservative
    assert not kupiec_pof(250, 1, 0.01).reject
    assert not kupiec_pof(250.0, 6, 0.01).reject  # type: ignore[arg-type]


# --- Christoffersen -----------------------------------------------------------------------------


def test_christoffersen_by_hand() -> None:
    hits = [0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0]
    result = christoffersen(hits, 0.05)
    assert (result.n00, result.n01, result.n10, result.n11) == (6, 3, 3, 3)
    assert result.pi0 == pytest.approx(3 / 9)
    assert result.pi1 == pytest.approx(3 / 6)
    assert result.pi == pytest.approx(6 / 15)
    assert result.lr_ind == pytest.approx(_independence(hits), rel=1e-12)
    assert result.lr_pof == pytest.approx(_kupiec(16, 6, 0.05), rel=1e-12)
    assert result.lr_cc == pytest.approx(result.lr_pof + result.lr_ind, rel=1e-15)
    assert result.p_value_ind == pytest.approx(stats.chi2.sf(result.lr_ind, 1))
    assert result.p_value_cc == pytest.approx(stats.chi2.sf(result.lr_cc, 2))
    assert result.critical_value_cc == pytest.approx(5.9915, abs=1e-4)
    assert not result.no_exception_transitions
    assert result.note == ""


def test_christoffersen_random_sequences_match_formula() -> None:
    rng = np.random.default_rng(42)
    for _ in range(50):
        t = int(rng.integers(2, 400))
        hits = (rng.uniform(size=t) < rng.uniform(0.005, 0.3)).astype(int).tolist()
        result = christoffersen(hits, 0.01)
        assert result.lr_ind == pytest.approx(_independence(hits), rel=1e-10, abs=1e-10)
        assert result.lr_pof == pytest.approx(_kupiec(t, sum(hits), 0.01), rel=1e-10, abs=1e-10)
        assert (result.n00, result.n01, result.n10, result.n11) == _counts(hits)


def test_christoffersen_detects_clustering() -> None:
    clustered = [0] * 245 + [1] * 5  # 5 exceptions in a row: fine coverage, not independent
    result = christoffersen(clustered, 0.02)
    assert result.reject_ind
    assert result.reject_cc
    assert not kupiec_pof(250, 5, 0.02).reject
    spread = [1 if i % 50 == 25 else 0 for i in range(250)]
    assert not christoffersen(spread, 0.02).reject_ind


def test_christoffersen_no_exceptions() -> None:
    result = christoffersen(np.zeros(250, dtype=bool), 0.01)
    assert result.no_exception_transitions
    assert "LR_ind set to 0" in result.note
    assert result.lr_ind == 0.0
    assert result.p_value_ind == 1.0
    assert result.lr_cc == pytest.approx(-2 * 250 * math.log(0.99))
    assert (result.n00, result.n01, result.n10, result.n11) == (249, 0, 0, 0)


def test_christoffersen_single_exception_on_last_day() -> None:
    result = christoffersen([0] * 9 + [1], 0.01)
    assert result.no_exception_transitions
    assert result.lr_ind == 0.0
    assert result.n01 == 1


def test_christoffersen_no_exception_after_an_exception() -> None:
    hits = [0, 1, 0, 0, 1, 0, 1, 0, 0, 0]  # n11 = 0, n10 = 3: pi1 = 0, 0 ln 0 = 0
    result = christoffersen(hits, 0.05)
    assert (result.n10, result.n11) == (3, 0)
    assert result.pi1 == 0.0
    assert not result.no_exception_transitions
    assert result.lr_ind == pytest.approx(_independence(hits), rel=1e-12)
    assert result.lr_ind > 0


def test_christoffersen_all_exceptions() -> None:
    result = christoffersen([1] * 20, 0.01)
    assert (result.n00, result.n01, result.n10, result.n11) == (0, 0, 0, 19)
    assert result.lr_ind == 0.0
    assert not result.no_exception_transitions
    assert result.lr_pof == pytest.approx(-2 * 20 * math.log(0.01))


@settings(max_examples=60, deadline=None)
@given(
    hits=st.lists(st.booleans(), min_size=2, max_size=300),
    p=st.floats(0.001, 0.2),
)
def test_christoffersen_properties(hits: list[bool], p: float) -> None:
    result = christoffersen(hits, p)
    assert result.lr_ind >= 0.0
    assert result.lr_cc == pytest.approx(result.lr_pof + result.lr_ind, rel=1e-15)
    assert result.n00 + result.n01 + result.n10 + result.n11 == len(hits) - 1
    assert result.lr_pof == pytest.approx(kupiec_pof(len(hits), sum(hits), p).statistic)
    assert 0.0 <= result.p_value_cc <= 1.0


# --- traffic light ------------------------------------------------------------------------------


def test_basel_zones_250_days_at_99() -> None:
    zones = [traffic_light(x, 250, 0.01).zone for x in range(251)]
    assert zones[:5] == ["green"] * 5
    assert zones[5:10] == ["yellow"] * 5
    assert zones[10:] == ["red"] * 241
    first = traffic_light(0)
    assert (first.yellow_from, first.red_from) == (5, 10)
    # the Basel Committee's table (1996): cumulative probability 89.22% at 4, 95.88% at 5,
    # 99.97% at 9, 99.99% at 10
    for x, percent in ((4, 89.22), (5, 95.88), (9, 99.97), (10, 99.99)):
        assert round(100 * traffic_light(x).cumulative_probability, 2) == percent


@pytest.mark.parametrize(("t", "p"), [(500, 0.01), (250, 0.025), (1000, 0.005), (20, 0.05)])
def test_zones_follow_the_cumulative_binomial(t: int, p: float) -> None:
    for x in range(t + 1):
        cumulative = stats.binom.cdf(x, t, p)
        expected = "green" if cumulative < 0.95 else "yellow" if cumulative < 0.9999 else "red"
        result = traffic_light(x, t, p)
        assert result.zone == expected, x
        assert result.cumulative_probability == pytest.approx(cumulative, rel=1e-12)


# --- input errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: kupiec_pof(0, 0, 0.01), "n_obs"),
        (lambda: kupiec_pof(250, 251, 0.01), "n_exceptions"),
        (lambda: kupiec_pof(250, -1, 0.01), "n_exceptions"),
        (lambda: kupiec_pof(250, 2.5, 0.01), "n_exceptions"),  # type: ignore[arg-type]
        (lambda: kupiec_pof(250, True, 0.01), "n_exceptions"),
        (lambda: kupiec_pof(250, 2, 0.0), "p"),
        (lambda: kupiec_pof(250, 2, 1.0), "p"),
        (lambda: christoffersen([1], 0.01), "hits.shape"),
        (lambda: christoffersen([[0, 1], [1, 0]], 0.01), "hits.shape"),
        (lambda: christoffersen([0, 2, 1], 0.01), "hits[1]"),
        (lambda: christoffersen([0, np.nan, 1], 0.01), "hits[1]"),
        (lambda: christoffersen(["a", "b"], 0.01), "hits"),
        (lambda: christoffersen([0, 1], 1.5), "p"),
        (lambda: traffic_light(11, 10, 0.01), "n_exceptions"),
        (lambda: traffic_light(1, 0, 0.01), "n_obs"),
        (lambda: traffic_light(1, 250, -0.01), "p"),
    ],
)
def test_input_errors_name_the_field(call: object, field: str) -> None:
    with pytest.raises(InputError) as info:
        call()  # type: ignore[operator]
    assert info.value.field == field

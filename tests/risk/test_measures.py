"""Historical VaR, ES and Euler contributions: closed forms, hand counts, properties, ORE."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from pmargin.errors import InputError
from pmargin.risk import euler_contributions, expected_shortfall, var

REPO = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=60, deadline=None)


# --- hand counts --------------------------------------------------------------------------------

# sorted: -9, -5, -1.5, -1, 2, 3, 3, 4, 5, 6
TEN = np.array([3.0, -1.0, 4.0, -1.5, 5.0, -9.0, 2.0, 6.0, -5.0, 3.0])


@pytest.mark.parametrize(
    ("level", "expected_var", "expected_es"),
    [
        (0.9, 9.0, 9.0),  # ceil(0.1 * 10) = 1: the worst value
        (0.8, 5.0, (9 + 5) / 2),  # ceil(0.2 * 10) = 2
        (0.75, 1.5, (9 + 5 + 1.5) / 3),  # ceil(2.5) = 3
        (0.5, -2.0, (9 + 5 + 1.5 + 1 - 2) / 5),  # ceil(5) = 5: the 5th worst is a gain of 2
        (0.01, -6.0, -np.mean(TEN)),  # ceil(9.9) = 10: every value
    ],
)
def test_ten_values_by_hand(level: float, expected_var: float, expected_es: float) -> None:
    assert var(TEN, level) == expected_var
    assert expected_shortfall(TEN, level) == pytest.approx(expected_es, rel=1e-15)


def test_split_boundary_by_hand() -> None:
    # a = 0.75: (1 - a) n = 2.5, the two worst whole and half of the third.
    expected = (9 + 5 + 0.5 * 1.5) / 2.5
    assert expected_shortfall(TEN, 0.75, boundary="split") == pytest.approx(expected, rel=1e-15)
    # (1 - a) n integer: both rules take two whole observations.
    assert expected_shortfall(TEN, 0.8, boundary="split") == pytest.approx(7.0, rel=1e-15)


def test_level_noise_does_not_move_the_index() -> None:
    # (1 - 0.99) * 100 = 1.0000000000000009 in floating point: still the single worst value.
    pnl = -np.arange(100.0)
    assert var(pnl, 0.99) == 99.0
    assert expected_shortfall(pnl, 0.99) == 99.0
    assert var(-np.arange(40.0), 0.975) == 39.0
    assert var(-np.arange(1000.0), 0.975) == 975.0  # k = 25 -> 25th worst is -975


def test_matches_numpy_inverted_cdf() -> None:
    rng = np.random.default_rng(7)
    for n in (1, 2, 17, 250, 1001):
        pnl = rng.standard_t(4, size=n)
        for level in (0.5, 0.9, 0.95, 0.975, 0.99, 0.999):
            quantile = np.quantile(pnl, 1 - level, method="inverted_cdf")
            k = math.ceil(round((1 - level) * n, 9))
            assert var(pnl, level) == -quantile == -np.sort(pnl)[k - 1]
            assert expected_shortfall(pnl, level) == pytest.approx(
                -np.sort(pnl)[:k].mean(), rel=1e-14, abs=1e-15
            )


def test_two_dimensional_reduces_each_column() -> None:
    rng = np.random.default_rng(3)
    pnl = rng.normal(size=(300, 4))
    weights = rng.uniform(0.5, 2.0, size=300)
    for w in (None, weights):
        v = var(pnl, 0.97, w)
        es = expected_shortfall(pnl, 0.97, w)
        assert isinstance(v, np.ndarray)
        assert isinstance(es, np.ndarray)
        assert v.shape == es.shape == (4,)
        for j in range(4):
            assert v[j] == var(pnl[:, j], 0.97, w)
            assert es[j] == pytest.approx(expected_shortfall(pnl[:, j], 0.97, w))
    assert isinstance(var(pnl[:, 0], 0.97), float)


# --- weights ------------------------------------------------------------------------------------


def test_weighted_by_hand() -> None:
    pnl = [5.0, -10.0, 0.0, -5.0]
    weights = [0.4, 0.1, 0.3, 0.2]  # sorted: -10 (0.1), -5 (0.2), 0 (0.3), 5 (0.4)
    # 1 - a = 0.2: cumulative 0.1, 0.3 -> the VaR observation is -5.
    assert var(pnl, 0.8, weights) == 5.0
    assert expected_shortfall(pnl, 0.8, weights) == pytest.approx((0.1 * 10 + 0.2 * 5) / 0.3)
    assert expected_shortfall(pnl, 0.8, weights, boundary="split") == pytest.approx(
        (0.1 * 10 + 0.1 * 5) / 0.2
    )
    # weights need not sum to one
    assert var(pnl, 0.8, [4.0, 1.0, 3.0, 2.0]) == 5.0
    # 1 - a = 0.1 is reached exactly by the worst observation's weight
    assert var(pnl, 0.9, weights) == 10.0
    assert expected_shortfall(pnl, 0.9, weights, boundary="split") == pytest.approx(10.0)


def test_zero_weight_observations_are_ignored() -> None:
    pnl = np.array([-100.0, -3.0, -2.0, 1.0, 4.0])
    weights = np.array([0.0, 1.0, 1.0, 1.0, 1.0])
    for level in (0.6, 0.75, 0.9, 0.999):
        assert var(pnl, level, weights) == var(pnl[1:], level)
        for boundary in ("whole", "split"):
            assert expected_shortfall(pnl, level, weights, boundary) == pytest.approx(
                expected_shortfall(pnl[1:], level, boundary=boundary)
            )


@pytest.mark.parametrize("n", [1, 7, 10, 100, 250, 715, 1000])
def test_equal_weights_reproduce_unweighted(n: int) -> None:
    pnl = np.random.default_rng(n).normal(size=n)
    for constant in (1.0, 0.37, 1.0 / n, 1e6):
        weights = np.full(n, constant)
        for level in (0.01, 0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995):
            assert var(pnl, level, weights) == var(pnl, level)
            for boundary in ("whole", "split"):
                assert expected_shortfall(pnl, level, weights, boundary) == pytest.approx(
                    expected_shortfall(pnl, level, boundary=boundary),
                    rel=1e-13,
                    abs=1e-15,
                )


def test_split_equals_whole_when_tail_count_is_integral() -> None:
    pnl = np.random.default_rng(11).normal(size=200)
    for level in (0.5, 0.9, 0.95, 0.975, 0.99, 0.995):  # (1 - a) 200 is an integer
        assert expected_shortfall(pnl, level, boundary="split") == pytest.approx(
            expected_shortfall(pnl, level), rel=1e-14
        )


def test_stressed_weighting_moves_the_measure() -> None:
    # Twice the weight on a stressed half of the sample is like repeating it twice.
    rng = np.random.default_rng(5)
    calm, stressed = rng.normal(0, 1, 400), rng.normal(0, 3, 400)
    pnl = np.concatenate([calm, stressed])
    weights = np.concatenate([np.ones(400), 2 * np.ones(400)])
    repeated = np.concatenate([calm, stressed, stressed])
    for level in (0.95, 0.99):
        assert var(pnl, level, weights) == var(repeated, level)
        assert expected_shortfall(pnl, level, weights, "split") == pytest.approx(
            expected_shortfall(repeated, level, boundary="split"), rel=1e-12
        )


# --- closed forms on large samples --------------------------------------------------------------

N_SAMPLE = 400_000
LEVELS = (0.95, 0.975, 0.99)


def _standard_errors(
    losses: np.ndarray, level: float, density_at_var: float, value_at_risk: float
) -> tuple[float, float]:
    """Asymptotic standard errors of the historical VaR and ES estimators.

    VaR: sqrt(a (1 - a) / n) / f(VaR) (the sample quantile). ES: sqrt((Var(L | L >= VaR) +
    a (ES - VaR)^2) / ((1 - a) n)) (the tail mean plus the moving boundary).
    """
    n = losses.shape[0]
    se_var = math.sqrt(level * (1 - level) / n) / density_at_var
    tail = losses[losses >= value_at_risk]
    es = tail.mean()
    se_es = math.sqrt((tail.var() + level * (es - value_at_risk) ** 2) / ((1 - level) * n))
    return se_var, se_es


@pytest.mark.parametrize("level", LEVELS)
def test_normal_closed_form(level: float) -> None:
    sigma = 2.5
    pnl = np.random.default_rng(2024).normal(0.0, sigma, N_SAMPLE)
    z = stats.norm.ppf(level)
    exact_var = sigma * z
    exact_es = sigma * stats.norm.pdf(z) / (1 - level)
    se_var, se_es = _standard_errors(-pnl, level, stats.norm.pdf(z) / sigma, exact_var)
    # 4 standard errors: a seeded draw, so a fixed outcome, well inside the sampling noise.
    assert var(pnl, level) == pytest.approx(exact_var, abs=4 * se_var)
    assert expected_shortfall(pnl, level) == pytest.approx(exact_es, abs=4 * se_es)
    assert se_var / exact_var < 0.005  # the tolerance is tight: under 2% relative
    assert se_es / exact_es < 0.005


@pytest.mark.parametrize("level", LEVELS)
def test_student_t_closed_form(level: float) -> None:
    nu, scale = 5.0, 0.8
    pnl = scale * np.random.default_rng(99).standard_t(nu, N_SAMPLE)
    q = stats.t.ppf(level, nu)
    exact_var = scale * q
    exact_es = scale * (nu + q**2) / (nu - 1) * stats.t.pdf(q, nu) / (1 - level)
    se_var, se_es = _standard_errors(-pnl, level, stats.t.pdf(q, nu) / scale, exact_var)
    assert var(pnl, level) == pytest.approx(exact_var, abs=4 * se_var)
    assert expected_shortfall(pnl, level) == pytest.approx(exact_es, abs=4 * se_es)
    assert expected_shortfall(pnl, level, boundary="split") == pytest.approx(
        exact_es, abs=4 * se_es
    )


# --- properties ---------------------------------------------------------------------------------

values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(values, min_size=1, max_size=60).map(np.array)
levels = st.floats(0.005, 0.995)
boundaries = st.sampled_from(["whole", "split"])


def _tolerance(*arrays: np.ndarray) -> float:
    """Rounding of a measure of these P&L vectors (shape ``(n,)``), in their P&L unit.

    Shifting, scaling or adding vectors rounds each element by half an ulp of the largest
    magnitude involved, which may also reorder near-ties; ES then sums up to ``n`` of them.
    So ``4 n eps`` times the sum of the largest magnitudes bounds the difference of two ways to
    the same measure, whatever their size; the only absolute floor is the smallest normal float
    (``tiny``), below which intermediates (a tail mean divided by its probability) lose bits.
    """
    n = max(a.size for a in arrays)
    largest = sum(float(np.max(np.abs(a))) for a in arrays)
    info = np.finfo(np.float64)
    return 4.0 * n * float(info.eps) * largest + float(info.tiny)


@SETTINGS
@given(pnl=samples, level=levels, boundary=boundaries)
def test_es_is_at_least_var(pnl: np.ndarray, level: float, boundary: str) -> None:
    es = expected_shortfall(pnl, level, boundary=boundary)  # type: ignore[arg-type]
    assert es >= var(pnl, level) - _tolerance(pnl)


@SETTINGS
@given(
    pnl=samples,
    level=levels,
    shift=values,
    scale=st.floats(1e-3, 1e3),
    boundary=boundaries,
)
# Found by a stress run: a P&L at the edge of the normal range, whose split-boundary tail mean
# divided by its probability goes subnormal (the tolerance's tiny floor).
@example(
    pnl=np.array([1.11253693e-308]),
    level=0.8633780873815106,
    shift=0.0,
    scale=6.0,
    boundary="split",
)
def test_translation_and_positive_homogeneity(
    pnl: np.ndarray, level: float, shift: float, scale: float, boundary: str
) -> None:
    shift_tol = _tolerance(pnl, np.array([shift]))
    assert var(pnl + shift, level) == pytest.approx(var(pnl, level) - shift, abs=shift_tol)
    es = expected_shortfall(pnl, level, boundary=boundary)  # type: ignore[arg-type]
    shifted = expected_shortfall(pnl + shift, level, boundary=boundary)  # type: ignore[arg-type]
    assert shifted == pytest.approx(es - shift, abs=shift_tol)
    scale_tol = (1.0 + scale) * _tolerance(pnl)
    assert var(scale * pnl, level) == pytest.approx(scale * var(pnl, level), abs=scale_tol)
    scaled = expected_shortfall(scale * pnl, level, boundary=boundary)  # type: ignore[arg-type]
    assert scaled == pytest.approx(scale * es, abs=scale_tol)


pairs = st.integers(1, 60).flatmap(
    lambda n: st.tuples(
        st.lists(values, min_size=n, max_size=n).map(np.array),
        st.lists(values, min_size=n, max_size=n).map(np.array),
        st.lists(st.floats(0.0, 10.0), min_size=n, max_size=n)
        .map(np.array)
        .filter(lambda w: w.sum() > 1e-3),
    )
)


@SETTINGS
@given(pair=pairs, level=levels)
def test_es_is_subadditive(pair: tuple[np.ndarray, np.ndarray, np.ndarray], level: float) -> None:
    x, y, weights = pair
    tolerance = _tolerance(x, y)
    assert expected_shortfall(x + y, level) <= (
        expected_shortfall(x, level) + expected_shortfall(y, level) + tolerance
    )
    # weighted ES with the split boundary is the ES of a discrete distribution: coherent
    assert expected_shortfall(x + y, level, weights, "split") <= (
        expected_shortfall(x, level, weights, "split")
        + expected_shortfall(y, level, weights, "split")
        + tolerance
    )


# --- Euler contributions ------------------------------------------------------------------------


def _components(n: int = 2000, seed: int = 17) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, 0.6, -0.2], [0.6, 2.0, 0.3], [-0.2, 0.3, 0.5]])
    return rng.multivariate_normal(np.zeros(3), cov, size=n)


@pytest.mark.parametrize("measure", ["es", "var"])
@pytest.mark.parametrize("boundary", ["whole", "split"])
@pytest.mark.parametrize("weighted", [False, True])
def test_euler_contributions_add_up(measure: str, boundary: str, weighted: bool) -> None:
    components = _components()
    weights = np.random.default_rng(1).uniform(0, 3, components.shape[0]) if weighted else None
    level = 0.9875  # (1 - a) n = 25: the boundary rule matters only with weights
    contributions = euler_contributions(components, level, measure, weights, boundary)  # type: ignore[arg-type]
    portfolio = components.sum(axis=1)
    total = (
        expected_shortfall(portfolio, level, weights, boundary)  # type: ignore[arg-type]
        if measure == "es"
        else var(portfolio, level, weights)
    )
    assert contributions.shape == (3,)
    assert contributions.sum() == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize("measure", ["es", "var"])
def test_euler_contributions_match_finite_differences(measure: str) -> None:
    # rho(x) = measure(component_pnl @ x); contribution_i = x_i d rho / d x_i at x = 1.
    components = _components()
    level = 0.99

    def rho(x: np.ndarray) -> float:
        pnl = components @ x
        value = expected_shortfall(pnl, level) if measure == "es" else var(pnl, level)
        return float(value)

    contributions = euler_contributions(components, level, measure)  # type: ignore[arg-type]
    h = 1e-6
    for i in range(3):
        bump = np.zeros(3)
        bump[i] = h
        derivative = (rho(1 + bump) - rho(1 - bump)) / (2 * h)
        assert contributions[i] == pytest.approx(derivative, rel=1e-6, abs=1e-8)


def test_euler_es_contributions_match_normal_closed_form() -> None:
    # Gaussian components: ES_i = (Sigma 1)_i / sigma_p * phi(z) / (1 - a).
    cov = np.array([[1.0, 0.6, -0.2], [0.6, 2.0, 0.3], [-0.2, 0.3, 0.5]])
    components = np.random.default_rng(8).multivariate_normal(np.zeros(3), cov, 200_000)
    level = 0.99
    sigma_p = math.sqrt(cov.sum())
    exact = cov.sum(axis=1) / sigma_p * stats.norm.pdf(stats.norm.ppf(level)) / (1 - level)
    # 2,000 tail scenarios: the tail mean of each component has a standard error near
    # sigma_i / sqrt(2000) < 0.035; 0.15 is over 4 of them.
    np.testing.assert_allclose(euler_contributions(components, level), exact, atol=0.15)


def test_euler_var_is_the_var_scenario() -> None:
    components = np.array([[1.0, -4.0], [-2.0, -1.0], [3.0, 1.0], [-1.0, 0.0]])
    # portfolio: -3, -3, 4, -1; the tie at -3 is broken by input order: row 0 ranks worse.
    np.testing.assert_array_equal(euler_contributions(components, 0.75, "var"), [-1.0, 4.0])
    np.testing.assert_array_equal(euler_contributions(components, 0.5, "var"), [2.0, 1.0])
    np.testing.assert_allclose(euler_contributions(components, 0.5), [0.5, 2.5])


# --- input errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: var([1.0, np.nan, 2.0]), "pnl[1]"),
        (lambda: var([1.0, np.inf]), "pnl[1]"),
        (lambda: var([]), "pnl.shape"),
        (lambda: var(np.zeros((0, 3))), "pnl.shape"),
        (lambda: var(np.zeros((2, 2, 2))), "pnl.shape"),
        (lambda: var(["a", "b"]), "pnl"),
        (lambda: var([1.0, 2.0], 0.0), "level"),
        (lambda: var([1.0, 2.0], 1.0), "level"),
        (lambda: var([1.0, 2.0], 1.5), "level"),
        (lambda: var([1.0, 2.0], float("nan")), "level"),
        (lambda: var([1.0, 2.0], 0.9, [1.0]), "weights.shape"),
        (lambda: var([1.0, 2.0], 0.9, [1.0, -1.0]), "weights[1]"),
        (lambda: var([1.0, 2.0], 0.9, [np.nan, 1.0]), "weights[0]"),
        (lambda: var([1.0, 2.0], 0.9, [0.0, 0.0]), "weights"),
        (lambda: expected_shortfall([1.0, np.nan]), "pnl[1]"),
        (lambda: expected_shortfall([1.0, 2.0], 2.0), "level"),
        (lambda: expected_shortfall([1.0, 2.0], 0.9, [1.0, 2.0, 3.0]), "weights.shape"),
        (lambda: expected_shortfall([1.0, 2.0], boundary="half"), "boundary"),  # type: ignore[arg-type]
        (lambda: euler_contributions([1.0, 2.0]), "component_pnl.shape"),
        (lambda: euler_contributions([[1.0], [np.nan]]), "component_pnl[1, 0]"),
        (lambda: euler_contributions([[1.0], [2.0]], measure="sd"), "measure"),  # type: ignore[arg-type]
        (lambda: euler_contributions([[1.0], [2.0]], level=-0.1), "level"),
    ],
)
def test_input_errors_name_the_field(call: object, field: str) -> None:
    with pytest.raises(InputError) as info:
        call()  # type: ignore[operator]
    assert info.value.field == field


# --- ORE HistSimVar -----------------------------------------------------------------------------

# Expected output of ORE's historicalSimulationVar analytic for Examples/MarketRisk (the P&L
# vectors in historical_PnL.csv), from OpenSourceRisk/Engine
# Examples/MarketRisk/ExpectedOutput/HistSimVar/var.csv at commit
# addc7fa9c345b75c9cc1fabc2375b133a25610fc: per RiskClass, the P&L quantile and ES at the
# quantiles 0.01, 0.05, 0.95, 0.99 (EUR; RiskType "All" and "DeltaGamma" carry the same numbers).
ORE_QUANTILES = (0.01, 0.05, 0.95, 0.99)
ORE_EXPECTED = {
    "All": (
        (-874503.346996, -629899.117052, 552878.307798, 846747.819325),
        (-949845.987415, -777808.702398, -46660.238115, -19301.225679),
    ),
    "InterestRate": (
        (-63274.845054, -47022.474291, 75704.158273, 103062.448727),
        (-68496.179457, -56659.032043, 2840.589295, 6221.911416),
    ),
    "FX": (
        (-884244.095663, -636898.798448, 534980.406779, 806008.993809),
        (-955311.193585, -776950.293297, -53409.959864, -26518.158997),
    ),
}


def _ore_pnl() -> dict[tuple[str, str], np.ndarray]:
    default = REPO.parent / "shared" / "testvectors" / "ore-histsimvar"
    folder = Path(os.environ.get("PMARGIN_ORE_CASES", default))
    path = folder / "historical_PnL.csv"
    if not path.is_file():
        pytest.skip(f"ORE P&L vectors not found at {path} (set PMARGIN_ORE_CASES)")
    groups: dict[tuple[str, str], list[float]] = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        _, risk_class, risk_type, _, _, amount = line.split(",")
        groups.setdefault((risk_class, risk_type), []).append(float(amount))
    return {key: np.array(amounts) for key, amounts in groups.items()}


def test_ore_histsimvar_reproduced() -> None:
    # ORE's "Quantile_q" is the inverted-cdf quantile of P&L at q, sorted[ceil(q n) - 1], and its
    # "ExpectedShortfall_q" the mean of the ceil(q n) lowest P&L values, for every q (both
    # tails). That is backtesting.md's convention at level a = 1 - q with the sign flipped:
    # Quantile_q = -var(pnl, 1 - q), ExpectedShortfall_q = -expected_shortfall(pnl, 1 - q).
    groups = _ore_pnl()
    assert len(groups) == 6
    for (risk_class, _), pnl in groups.items():
        assert pnl.shape == (715,)
        quantiles, shortfalls = ORE_EXPECTED[risk_class]
        for q, expected_quantile, expected_es in zip(
            ORE_QUANTILES, quantiles, shortfalls, strict=True
        ):
            # published with 6 decimals
            assert -var(pnl, 1 - q) == pytest.approx(expected_quantile, abs=1e-6)
            assert -expected_shortfall(pnl, 1 - q) == pytest.approx(expected_es, abs=1e-6)
            # independently: sort and index
            k = math.ceil(q * pnl.shape[0])
            ordered = np.sort(pnl)
            assert ordered[k - 1] == pytest.approx(expected_quantile, abs=1e-6)
            assert ordered[:k].mean() == pytest.approx(expected_es, abs=1e-6)
        # The upper quantiles are the VaR of the opposite (short) position, since q n = 679.25
        # and 707.85 are not integers; ORE's upper "ES" is NOT the short's ES (it averages the
        # lowest 95% / 99% of P&L).
        assert var(-pnl, 0.95) == pytest.approx(quantiles[2], abs=1e-6)
        assert var(-pnl, 0.99) == pytest.approx(quantiles[3], abs=1e-6)
        assert expected_shortfall(-pnl, 0.95) > quantiles[2]

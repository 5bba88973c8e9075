"""Properties every margin model should have, on random books (hypothesis).

Random books are drawn from the kernel tests' market and universe (``tests/risk/_books.py``):
BTC and ETH options, futures, perpetuals and spot, coin-settled (inverse) and USDC-settled
(linear). Which model each property covers, and why (``COVERAGE`` below is checked against
:data:`pmargin.margin.MODELS`, so a new model cannot be left out silently):

* every model (``standard``, ``deribit`` S:PM, ``deribit-cross`` X:PM, ``okx``, ``tims``,
  ``derive-pmrm2``):
  zero margin for an account without positions and for an empty book; near zero for a
  position plus its exact offset; ``IM >= MM >= 0``; per-position contributions plus
  ``im_other`` add up to IM.
* subadditivity and positive homogeneity, per model on the parts without a size-dependent
  add-on:

  - ``deribit`` (S:PM and X:PM) with ``extended_dampener = 0``: the dampener is a deductible
    on extended-cell losses (``min(0, x + d)``), so two accounts each below it can lose more
    together; with it at 0 every part of IM (worst case after the pnl offset, roll shock,
    delta shock "off") is subadditive. Homogeneity also needs ``max_offsetable_pnl`` out of
    reach (a USD cap on the counted profit); both properties then hold for the whole IM.
  - ``okx``: the worst loss over the scenario matrix ``max(MR1, MR2, MR6)`` and MR4 (basis),
    MR5 (rates), raw MR7 are subadditive and homogeneous. MR3 (volatility span,
    ``sum|v_e| - |sum v_e|``) is homogeneous but not subadditive (two single-expiry books of
    opposite vega make a spread); scaled MR7 is progressive in size (neither), so IM is
    checked on neither.
  - ``tims``: BTC and ETH are in no product group, so IM = max(largest loss, per-contract
    minimum) per class group: subadditive and homogeneous as a whole.
  - ``derive-pmrm2``: books drawn from the USDC-settled options and perpetuals of the universe
    only (Derive lists nothing else; the model rejects the rest by design). Homogeneous as a
    whole; NOT subadditive: PMRM_2's static discount depends on the sign of each expiry's
    shocked value (``staticDiscountPos`` vs ``staticDiscountNeg``), so two books together can
    cost about 1% more than apart. Checked on every property but subadditivity.

* ``pmargin-es`` (filtered historical ES), ``pmargin-mc`` (Monte Carlo ES) and ``pmargin-var``
  (historical VaR), on the shared price history as of the test market (2024-11-27; skipped when
  the shared data folder is absent): zero, offset, ``IM >= MM``, contributions; the whole IM is
  positively homogeneous (the measure, the correlation-stress add-on ``max(0, m_s - m)`` and the
  APC floor ``max(0, m_floor - m - corr)`` all scale with the book, the scenario sets do not
  depend on it). Subadditivity is checked on the ES component only: ES with equal weights (the
  mean of the ``k`` worst outcomes) is subadditive, but the add-ons are differences of measures
  and are not. VaR is not subadditive (a quantile: two books each losing beyond the quantile in
  different scenarios can together have a VaR above the sum), so ``pmargin-var`` is not checked
  on it.

* a covered call (long perpetual + short call, or coin balance + short call under X:PM) costing
  no more under ``deribit`` portfolio margin than under ``standard`` (Deribit's own standard
  margin; other venues' models are not compared with Deribit's standard regime). Under the
  shipped reading it holds for X:PM with an inverse perpetual or a coin balance at every size
  drawn (to 5,000 BTC); with S:PM inverse and with USDC perpetual hedges it fails at small sizes
  in the standard table (-16% cell on the hedge, a published parameter), and those cases are
  ``xfail(strict=True)`` with the reason.

The fast kernel is checked against its reference twin in ``tests/risk/test_kernel.py``
(``test_fast_kernel_matches_reference_on_random_books``), so it is not repeated here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import _books
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.margin import MODELS, MarginModel, MarginResult, get_model
from pmargin.margin.deribit import DeribitModel
from pmargin.margin.scenario_risk import ScenarioRiskModel
from shared_paths import shared_data_dir

MARKET = _books.market()
UNIVERSE: tuple[str, ...] = _books.UNIVERSE
SETTINGS = settings(max_examples=25, deadline=None)

# ----------------------------------------------------------------------------- models

COVERAGE: dict[str, tuple[str, ...]] = {
    "standard": ("zero", "offset", "im_mm", "contributions"),
    "deribit": (
        "zero", "offset", "im_mm", "contributions", "subadditive", "homogeneous", "covered_call",
    ),
    "deribit-cross": (
        "zero", "offset", "im_mm", "contributions", "subadditive", "homogeneous",
    ),
    "okx": ("zero", "offset", "im_mm", "contributions", "subadditive", "homogeneous"),
    "tims": ("zero", "offset", "im_mm", "contributions", "subadditive", "homogeneous"),
    "derive-pmrm2": ("zero", "offset", "im_mm", "contributions", "homogeneous"),
    "pmargin-es": ("zero", "offset", "im_mm", "contributions", "subadditive", "homogeneous"),
    "pmargin-var": ("zero", "offset", "im_mm", "contributions", "homogeneous"),
    "pmargin-mc": ("zero", "offset", "im_mm", "contributions", "subadditive", "homogeneous"),
}  # fmt: skip
"""Registered model -> the properties this file checks on it (see the module docstring)."""


def _build(name: str) -> MarginModel:
    """The model, or an explicit skip naming why it cannot be built yet."""
    try:
        return get_model(name)
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"model {name!r} cannot be built yet: {type(exc).__name__}: {exc}")


def _deribit(mode: str, *, no_dampener: bool = False, no_cap: bool = False) -> MarginModel:
    model = _build("deribit")
    assert isinstance(model, DeribitModel)
    model = model.with_mode(mode)
    currencies = {
        k: replace(
            v,
            extended_dampener=0.0 if no_dampener else v.extended_dampener,
            max_offsetable_pnl=1e300 if no_cap else v.max_offsetable_pnl,
        )
        for k, v in model.params.currencies.items()
    }
    params = replace(model.params, currencies=MappingProxyType(currencies))
    return DeribitModel(params, model.name)


def _with_history(name: str) -> MarginModel:
    """A VaR/ES model, skipped when the shared price history is absent."""
    if not shared_data_dir().is_dir():
        pytest.skip(f"{name} needs the shared price history (set PMARGIN_SHARED_DATA)")
    model = _build(name)
    assert isinstance(model, ScenarioRiskModel)
    return model.with_params(history_path=str(shared_data_dir()))


# Every registered model, with Deribit's two regimes apart.
VARIANTS: dict[str, tuple[str, Callable[[], MarginModel]]] = {
    "standard": ("standard", lambda: _build("standard")),
    "deribit-spm": ("deribit", lambda: _deribit("segregated")),
    "deribit-xpm": ("deribit-cross", lambda: _deribit("cross")),
    "okx": ("okx", lambda: _build("okx")),
    "tims": ("tims", lambda: _build("tims")),
    "derive-pmrm2": ("derive-pmrm2", lambda: _build("derive-pmrm2")),
    "pmargin-es": ("pmargin-es", lambda: _with_history("pmargin-es")),
    "pmargin-var": ("pmargin-var", lambda: _with_history("pmargin-var")),
    "pmargin-mc": ("pmargin-mc", lambda: _with_history("pmargin-mc")),
}


def _variants(prop: str) -> list[str]:
    return [v for v, (name, _) in VARIANTS.items() if prop in COVERAGE[name]]


def test_every_registered_model_has_its_properties_listed() -> None:
    assert set(COVERAGE) == set(MODELS)
    assert {name for name, _ in VARIANTS.values()} == set(MODELS)


# ----------------------------------------------------------------------------- books

_LEG = st.tuples(
    st.integers(0, len(UNIVERSE) - 1),
    st.floats(-20.0, 20.0, allow_nan=False).filter(lambda q: abs(q) > 1e-3),
)
_LEGS = st.lists(_LEG, min_size=1, max_size=6)


_DERIVE_LISTS = tuple(
    s for s in UNIVERSE if s.startswith("BTC_USDC-") and (s.endswith(("-C", "-P", "PERPETUAL")))
)
"""The universe's USDC-settled options and perpetuals: all that ``derive-pmrm2`` margins."""
_UNIVERSES = {"derive-pmrm2": _DERIVE_LISTS}


def _account(
    name: str, legs: list[tuple[int, float]], scale: float = 1.0, variant: str = ""
) -> dict[str, Any]:
    """An account of ``legs`` (universe index, base quantity); indices wrap into the variant's
    own universe where it margins only part of the shared one."""
    universe = _UNIVERSES.get(variant, UNIVERSE)
    positions = [
        {"instrument": universe[j % len(universe)], "quantity": scale * q, "unit": "base"}
        for j, q in legs
    ]
    return {"id": name, "positions": positions}


def _book(*accounts: dict[str, Any]) -> BookArrangement:
    return arrange(portfolio_from_dict({"accounts": list(accounts)}), MARKET)


def _gross(legs: list[tuple[int, float]]) -> float:
    """USD size of a book, for tolerances: sum of |q| x 100,000."""
    return sum(abs(q) for _, q in legs) * 1e5


def _unit_sum(result: MarginResult, names: tuple[str, ...]) -> np.ndarray:
    """Sum over risk units of the named components, in USD (``max`` of several names)."""
    total = np.zeros(result.n_accounts)
    for unit in result.risk_units:
        values = np.max([unit.components[n] for n in names], axis=0)
        total += values * unit.usd_rate
    return total


# Which measure is subadditive / homogeneous, per variant (see the module docstring).
Measure = Callable[[MarginResult], np.ndarray]


def _im(result: MarginResult) -> np.ndarray:
    return result.initial_margin


def _okx(*names: str) -> Measure:
    return lambda result: _unit_sum(result, names)


_OKX_SUBADDITIVE = {
    "worst(mr1,mr2,mr6)": _okx("mr1", "mr2", "mr6"),
    "mr4": _okx("mr4"),
    "mr5": _okx("mr5"),
    "mr7_raw": _okx("mr7_raw"),
}
_OKX_HOMOGENEOUS = {**_OKX_SUBADDITIVE, "mr3": _okx("mr3")}

SUBADDITIVE: dict[str, tuple[Callable[[], MarginModel], dict[str, Measure]]] = {
    "deribit-spm": (lambda: _deribit("segregated", no_dampener=True), {"im": _im}),
    "deribit-xpm": (lambda: _deribit("cross", no_dampener=True), {"im": _im}),
    "okx": (lambda: _build("okx"), _OKX_SUBADDITIVE),
    "tims": (lambda: _build("tims"), {"im": _im}),
    "pmargin-es": (lambda: _with_history("pmargin-es"), {"es": lambda r: _unit_sum(r, ("es",))}),
    "pmargin-mc": (lambda: _with_history("pmargin-mc"), {"es": lambda r: _unit_sum(r, ("es",))}),
}
HOMOGENEOUS: dict[str, tuple[Callable[[], MarginModel], dict[str, Measure]]] = {
    "deribit-spm": (
        lambda: _deribit("segregated", no_dampener=True, no_cap=True),
        {"im": _im, "mm": lambda r: r.maintenance_margin},
    ),
    "deribit-xpm": (
        lambda: _deribit("cross", no_dampener=True, no_cap=True),
        {"im": _im, "mm": lambda r: r.maintenance_margin},
    ),
    "okx": (lambda: _build("okx"), _OKX_HOMOGENEOUS),
    "tims": (lambda: _build("tims"), {"im": _im}),
    "derive-pmrm2": (lambda: _build("derive-pmrm2"), {"im": _im}),
    "pmargin-es": (lambda: _with_history("pmargin-es"), {"im": _im}),
    "pmargin-var": (lambda: _with_history("pmargin-var"), {"im": _im}),
    "pmargin-mc": (lambda: _with_history("pmargin-mc"), {"im": _im}),
}


def test_property_tables_follow_the_coverage_list() -> None:
    assert {VARIANTS[v][0] for v in SUBADDITIVE} == {
        n for n, props in COVERAGE.items() if "subadditive" in props
    }
    assert {VARIANTS[v][0] for v in HOMOGENEOUS} == {
        n for n, props in COVERAGE.items() if "homogeneous" in props
    }


# ----------------------------------------------------------------------------- properties


@pytest.mark.parametrize("variant", list(SUBADDITIVE))
@SETTINGS
@given(a=_LEGS, b=_LEGS)
def test_margin_of_two_books_together_is_at_most_the_sum(
    variant: str, a: list[tuple[int, float]], b: list[tuple[int, float]]
) -> None:
    factory, measures = SUBADDITIVE[variant]
    model = factory()
    result = model.compute(_book(_account("a", a), _account("b", b), _account("ab", a + b)))
    tol = 1e-9 * (_gross(a) + _gross(b))
    for name, measure in measures.items():
        m_a, m_b, m_ab = measure(result)
        assert m_ab <= m_a + m_b + tol, f"{variant} {name}: {m_ab} > {m_a} + {m_b}"


@pytest.mark.parametrize("variant", list(HOMOGENEOUS))
@SETTINGS
@given(legs=_LEGS, k=st.floats(0.05, 20.0))
def test_margin_scales_with_the_book(variant: str, legs: list[tuple[int, float]], k: float) -> None:
    factory, measures = HOMOGENEOUS[variant]
    model = factory()
    result = model.compute(
        _book(_account("x", legs, variant=variant), _account("kx", legs, k, variant))
    )
    for name, measure in measures.items():
        m_x, m_kx = measure(result)
        assert m_kx == pytest.approx(k * m_x, rel=1e-9, abs=1e-9 * k * _gross(legs)), name


def test_okx_volatility_span_is_not_subadditive() -> None:
    """Why MR3 is left out above: two one-expiry books of opposite vega make a spread."""
    model = _build("okx")
    near, far = UNIVERSE.index("BTC-29NOV24-95000-C"), UNIVERSE.index("BTC-27DEC24-100000-C")
    a, b = [(near, 10.0)], [(far, -10.0)]
    result = model.compute(_book(_account("a", a), _account("b", b), _account("ab", a + b)))
    m_a, m_b, m_ab = _unit_sum(result, ("mr3",))
    assert m_a == m_b == 0.0
    assert m_ab > 0.0


@pytest.mark.parametrize("variant", _variants("zero"))
@SETTINGS
@given(legs=_LEGS)
def test_account_without_positions_has_zero_margin(
    variant: str, legs: list[tuple[int, float]]
) -> None:
    model = VARIANTS[variant][1]()
    result = model.compute(
        _book(_account("x", legs, variant=variant), {"id": "empty", "positions": []})
    )
    row = result.row("empty")
    assert result.initial_margin[row] == 0.0
    assert result.maintenance_margin[row] == 0.0
    assert result.contributions(row) == {} or not any(result.contributions(row).values())
    assert result.im_other[row] == 0.0


@pytest.mark.parametrize(
    "variant",
    _variants("zero"),
)
def test_empty_book_has_zero_margin(variant: str) -> None:
    model = VARIANTS[variant][1]()
    book = _book({"id": "a", "positions": []}, {"id": "b", "positions": []})
    result = model.compute(book)
    np.testing.assert_array_equal(result.initial_margin, [0.0, 0.0])
    np.testing.assert_array_equal(result.maintenance_margin, [0.0, 0.0])
    assert result.im_contribution.shape == (2, 0)


@pytest.mark.parametrize("variant", _variants("offset"))
@SETTINGS
@given(legs=_LEGS)
def test_position_and_its_exact_offset_need_no_margin(
    variant: str, legs: list[tuple[int, float]]
) -> None:
    model = VARIANTS[variant][1]()
    offset = [(j, -q) for j, q in legs]
    result = model.compute(_book(_account("x", legs + offset, variant=variant)))
    tol = 1e-9 * _gross(legs)
    assert abs(result.initial_margin[0]) <= tol
    assert abs(result.maintenance_margin[0]) <= tol


@pytest.mark.parametrize("variant", _variants("im_mm"))
@SETTINGS
@given(books=st.lists(_LEGS, min_size=1, max_size=4))
def test_initial_margin_covers_maintenance_and_contributions_add_up(
    variant: str, books: list[list[tuple[int, float]]]
) -> None:
    model = VARIANTS[variant][1]()
    accounts = (_account(f"a{i}", b, variant=variant) for i, b in enumerate(books))
    result = model.compute(_book(*accounts))
    im, mm = result.initial_margin, result.maintenance_margin
    assert np.all(mm >= 0.0)
    assert np.all(im >= mm - 1e-12 * np.abs(im))
    total = np.asarray(result.im_contribution.sum(axis=1)).ravel() + result.im_other
    np.testing.assert_allclose(total, im, rtol=1e-9, atol=1e-9)
    for unit in result.risk_units:
        assert np.all(unit.maintenance_margin >= 0.0)
        assert np.all(unit.initial_margin >= unit.maintenance_margin - 1e-12)


# ----------------------------------------------------------------------------- covered call

_CALLS = {
    "BTC-PERPETUAL": ("BTC-27DEC24-100000-C", "BTC-29NOV24-95000-C"),
    "BTC_USDC-PERPETUAL": ("BTC_USDC-27DEC24-110000-C",),
}

_STANDARD_TABLE_FINDING = (
    "FINDING (deribit, published price_range, not an unpublished reading): long perpetual + "
    "short OTM call is a synthetic short put with delta near 1 below the strike; PM charges "
    "it the -16% standard cell plus the 1% roll shock of the perpetual, while standard margin "
    "charges the perpetual 2% and the short call max(15% - OTM, 10%) + mark, so PM exceeds "
    "SM at small sizes whatever the extended-table reading"
)
_INVERSE_FINDING = pytest.mark.xfail(
    strict=True,
    reason=(
        f"{_STANDARD_TABLE_FINDING}: an inverse covered call is margined in coin, where the "
        "perpetual's -16% loss is q (1/0.84 - 1) = 0.19 coin per coin: PM/SM = 1.01-1.04 "
        "below ~150 BTC on this market (it holds from ~200 BTC as standard margin grows)"
    ),
)
_LINEAR_FINDING = pytest.mark.xfail(
    strict=True,
    reason=(
        f"{_STANDARD_TABLE_FINDING}: a USDC covered call: PM/SM = 1.08-1.15 below 200 BTC on "
        "this market (it holds from ~500 BTC)"
    ),
)
_COVERED_CASES = [
    pytest.param("cross", "BTC-PERPETUAL", 5000.0, id="xpm-inverse-perp"),
    pytest.param(
        "segregated", "BTC-PERPETUAL", 100.0, id="spm-inverse-perp", marks=_INVERSE_FINDING
    ),
    pytest.param(
        "segregated", "BTC_USDC-PERPETUAL", 200.0, id="spm-usdc-perp", marks=_LINEAR_FINDING
    ),
    pytest.param("cross", "BTC_USDC-PERPETUAL", 200.0, id="xpm-usdc-perp", marks=_LINEAR_FINDING),
]
"""(mode, hedge, largest size drawn in BTC). Under the shipped reading (extended cells weighted
``price_range / |m|``, the dampener growing with ``|m|``) the extended table never makes a
covered call dearer than standard margin on this market: for 100k and 95k calls it binds from
~200-300 BTC, where standard margin's size add-ons already outgrow it (PM/SM falls with size:
0.06 at 50,000 BTC). The cases that fail do so in the standard table, at small sizes."""


def _covered(hedge: str, call: str, size: float, balance: bool = False) -> BookArrangement:
    legs = [{"instrument": call, "quantity": -size, "unit": "base"}]
    if not balance:
        legs.insert(0, {"instrument": hedge, "quantity": size, "unit": "base"})
    account: dict[str, Any] = {"id": "covered", "positions": legs}
    if balance:
        account["balances"] = {"BTC": size}
    return _book(account)


@pytest.mark.parametrize(("mode", "hedge", "largest"), _COVERED_CASES)
@settings(max_examples=10, deadline=None)
@given(pick=st.integers(0, 1), fraction=st.floats(1e-4, 1.0))
def test_covered_call_portfolio_margin_is_at_most_standard(
    mode: str, hedge: str, largest: float, pick: int, fraction: float
) -> None:
    size = largest * fraction
    book = _covered(hedge, _CALLS[hedge][pick % len(_CALLS[hedge])], size)
    portfolio = _deribit(mode).compute(book).initial_margin[0]
    standard = _build("standard").compute(book).initial_margin[0]
    assert portfolio <= standard * (1 + 1e-12)


@settings(max_examples=10, deadline=None)
@given(pick=st.integers(0, 1), size=st.floats(0.01, 5000.0))
def test_coin_covered_call_under_cross_margin_is_at_most_standard(pick: int, size: float) -> None:
    # PM/SM 0.88-0.98 on this market (100k and 95k calls at BTC 95,000); for calls far out of
    # the money X:PM charges the coin balance's own -16% move, which coin-settled standard
    # margin never charges (tests/margin/deribit/test_deribit_hand_books.py).
    book = _covered("BTC", _CALLS["BTC-PERPETUAL"][pick], size, balance=True)
    portfolio = _deribit("cross").compute(book).initial_margin[0]
    standard = _build("standard").compute(book).initial_margin[0]
    assert portfolio <= standard * (1 + 1e-12)

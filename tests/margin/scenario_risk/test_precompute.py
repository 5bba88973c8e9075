"""The precompute stage of the VaR / ES models: cached per market, same bits as a fresh build.

The cached path (``compute(book)``) must give exactly the margins of the uncached
twin (``compute(book, model.precompute_reference(book.market.timestamp))``), which builds
every scenario set anew as each call did before the stage existed. Synthetic histories keep
these tests independent of the shared data folder.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import _books
import numpy as np
import pytest

from _synthetic_history import synthetic_history
from pmargin.book import arrange
from pmargin.errors import InputError
from pmargin.margin import MarginResult, get_model
from pmargin.margin.scenario_risk import (
    CACHE_SIZE,
    MarketScenarios,
    RevaluedRows,
    ScenarioMethod,
    ScenarioRiskModel,
    clear_market_scenarios,
    market_scenarios,
)
from pmargin.scenarios import instrument_rows
from pmargin.scenarios._source import carry_factor

MARKET = _books.market()
BOOK = arrange(_books.random_portfolio(np.random.default_rng(3), 6), MARKET)


HISTORY = synthetic_history()


def _model(name: str, **changes: Any) -> ScenarioRiskModel:
    shipped = get_model(name)
    assert isinstance(shipped, ScenarioRiskModel)
    defaults: dict[str, Any] = {"lookback_days": 365.0, "carry": False}
    if shipped.params.method is ScenarioMethod.MONTE_CARLO:
        defaults["n_scenarios"] = 1500
    return shipped.with_params(**{**defaults, **changes}).with_history(HISTORY)


def _arrays(result: MarginResult) -> list[Any]:
    out: list[Any] = [result.initial_margin, result.maintenance_margin, result.im_other]
    out.append(result.im_contribution.toarray())
    for unit in result.risk_units:
        out += [unit.scenario_pnl, unit.worst_scenario, *unit.components.values()]
    return out


def _assert_same_bits(a: MarginResult, b: MarginResult) -> None:
    assert a.risk_units[0].scenario_labels == b.risk_units[0].scenario_labels
    for x, y in zip(_arrays(a), _arrays(b), strict=True):
        assert isinstance(x, np.ndarray)
        assert isinstance(y, np.ndarray)
        assert x.dtype == y.dtype
        assert x.shape == y.shape
        assert x.tobytes() == y.tobytes()


@pytest.mark.parametrize("name", ["pmargin-es", "pmargin-var", "pmargin-mc"])
def test_cached_margins_are_the_fresh_build_bit_for_bit(name: str) -> None:
    clear_market_scenarios()
    model = _model(name)
    one = arrange(_books.random_portfolio(np.random.default_rng(8), 1), MARKET)
    for book in (BOOK, one, BOOK):  # the second and third calls hit the cache
        cached = model.compute(book)
        fresh = model.compute(book, model.precompute_reference(MARKET.timestamp))
        _assert_same_bits(cached, fresh)


def test_the_stage_is_built_once_per_market_and_parameters() -> None:
    clear_market_scenarios()
    model = _model("pmargin-es")
    first = model.precompute(MARKET.timestamp)
    assert isinstance(first, MarketScenarios)
    assert model.precompute(MARKET.timestamp) is first
    # get_model builds a new object each call: equal parameters share the entry
    assert _model("pmargin-es").precompute(MARKET.timestamp) is first
    # a later tick before the next close: the same sets (the history is daily, closes at 00:00)
    assert first.last_close == np.datetime64("2024-11-27T00:00:00", "s")
    assert model.precompute(np.datetime64("2024-11-27T23:59:59", "s")) is first
    # after the next close, other parameters, another history object: other entries
    later = np.datetime64("2024-11-28T08:00:00", "s")
    assert model.precompute(later) is not first
    assert model.precompute(later).last_close == np.datetime64("2024-11-28T00:00:00", "s")
    assert _model("pmargin-es", lookback_days=300.0).precompute(MARKET.timestamp) is not first
    assert model.with_history(synthetic_history()).precompute(MARKET.timestamp) is not first
    assert model.precompute(MARKET.timestamp) is first


def test_the_cache_keeps_the_last_few_markets() -> None:
    clear_market_scenarios()
    model = _model("pmargin-var", apc_method="none", stress_method="none")
    start = np.datetime64("2024-06-01T08:00:00", "s")
    days = [start + np.timedelta64(86_400 * k, "s") for k in range(CACHE_SIZE + 1)]
    built = [model.precompute(day) for day in days]
    assert model.precompute(days[-1]) is built[-1]
    assert model.precompute(days[1]) is built[1]
    assert model.precompute(days[0]) is not built[0]  # the least recently used was dropped


def test_the_cached_sets_are_read_only() -> None:
    clear_market_scenarios()
    stage = _model("pmargin-es").precompute(MARKET.timestamp)
    assert stage.sets.stressed
    assert stage.sets.floor is not None
    for source in (stage.sets.base, stage.sets.floor, *(s for _, s in stage.sets.stressed)):
        with pytest.raises(ValueError, match="read-only"):
            source.spot_multiplier[0, 0] = 2.0
        with pytest.raises(ValueError, match="read-only"):
            source.weights[0] = 0.0
    assert stage.labels == stage.sets.base.labels


def test_a_failed_build_is_not_cached_and_still_names_the_field() -> None:
    clear_market_scenarios()
    model = _model("pmargin-es", max_age_days=1.0)
    late = np.datetime64("2025-03-01T08:00:00", "s")
    for _ in range(2):
        with pytest.raises(InputError, match=r"market\.timestamp"):
            market_scenarios(model.params, model.history, late)


def test_a_tick_between_closes_shares_the_sets_and_keeps_the_bits_and_the_age_check() -> None:
    clear_market_scenarios()
    model = _model("pmargin-mc", max_age_days=1.0)
    model.compute(BOOK)
    tick = MARKET.replace(timestamp=MARKET.timestamp + timedelta(hours=12))
    book = arrange(_books.random_portfolio(np.random.default_rng(3), 6), tick)
    assert model.precompute(tick.timestamp) is model.precompute(MARKET.timestamp)
    cached = model.compute(book)
    fresh = model.compute(book, model.precompute_reference(tick.timestamp))
    _assert_same_bits(cached, fresh)
    # the last close of this history is 2024-12-31T00:00: a hit still checks the age
    model.precompute("2024-12-31T12:00:00Z")
    with pytest.raises(InputError, match=r"market\.timestamp"):
        model.precompute("2025-01-01T01:00:00Z")


def test_carry_factor_once_per_expiry_is_the_per_instrument_formula() -> None:
    resolved = BOOK.resolved
    names = ("BTC", "ETH")
    rows = instrument_rows(names, resolved)
    dc = np.random.default_rng(4).normal(0.0, 0.3, size=(2, 257))
    factor = carry_factor(dc, rows, resolved)
    assert np.isfinite(resolved.time).sum() > len(set(resolved.time[np.isfinite(resolved.time)]))
    for i in range(len(resolved)):
        t = resolved.time[i]
        expected = np.exp(dc[rows[i]] * max(t, 0.0)) if np.isfinite(t) else np.ones(257)
        assert factor[i].tobytes() == expected.tobytes()


def test_rows_kept_from_one_book_serve_the_next_with_the_same_bits() -> None:
    clear_market_scenarios()
    model = _model("pmargin-es")
    first = arrange(_books.random_portfolio(np.random.default_rng(21), 4), MARKET)
    second = arrange(_books.random_portfolio(np.random.default_rng(22), 4), MARKET)
    held = {i.symbol for i in first.instruments}
    assert held & {i.symbol for i in second.instruments}  # some rows kept, others new
    assert {i.symbol for i in second.instruments} - held
    model.compute(first)
    store = model.precompute(MARKET.timestamp).rows
    assert store is not None
    kept = len(store)
    assert kept > 0
    cached = model.compute(second)
    fresh = model.compute(second, model.precompute_reference(MARKET.timestamp))
    _assert_same_bits(cached, fresh)
    assert len(store) > kept
    assert model.precompute_reference(MARKET.timestamp).rows is None


def test_the_row_store_revalues_only_missing_rows_and_stays_bounded() -> None:
    resolved = BOOK.resolved
    n = len(resolved)
    calls: list[int] = []

    def revalue(subset: Any) -> np.ndarray:
        calls.append(len(subset))
        return np.outer(subset.underlying_price + subset.strike.clip(0.0), np.arange(1.0, 4.0))

    store = RevaluedRows(max_cells=3 * n)
    keys = store.signatures(resolved)
    full = revalue(resolved)
    calls.clear()
    head = resolved.take(np.arange(n // 2))
    store.unit_pnl(0, keys[: n // 2], head, revalue)
    out = store.unit_pnl(0, keys, resolved, revalue)
    assert out.tobytes() == full.tobytes()
    assert len(set(keys)) == n  # one row per instrument of the book
    assert calls == [n // 2, n - n // 2]  # the second call revalued the other half only
    assert len(store) == n
    store.unit_pnl(1, keys, resolved, revalue)  # another set: its own rows, older ones dropped
    assert len(store) == n
    assert store.unit_pnl(1, keys, resolved, revalue).tobytes() == full.tobytes()
    assert calls == [n // 2, n - n // 2, n]


def test_parameters_that_cannot_be_hashed_are_built_uncached() -> None:
    clear_market_scenarios()
    model = _model("pmargin-var", apc_method="none", stress_method="none")
    listed = model.with_params(stablecoins=["USDC", "USDT"])
    first = listed.precompute(MARKET.timestamp)
    assert first.rows is None
    assert listed.precompute(MARKET.timestamp) is not first
    _assert_same_bits(listed.compute(BOOK), model.compute(BOOK))

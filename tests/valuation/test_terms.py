"""Instrument terms as arrays: equal to asking each instrument, carried by take and concat.

``InstrumentTerms`` is the vectorised form of four instrument properties; ``columns_by`` the
loop-free form of ``group_columns`` (its reference here): both must give exactly what the
per-instrument Python reads give.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmargin.book import arrange, example_portfolio
from pmargin.errors import InputError
from pmargin.margin._scenario_margin import group_columns
from pmargin.market import MarketSnapshot, load_market
from pmargin.valuation import InstrumentTerms, ResolvedInstruments, columns_by

_MARKET = Path(__file__).parents[2] / "src" / "pmargin" / "data" / "example_market.json"


@pytest.fixture(scope="module")
def resolved() -> ResolvedInstruments:
    market: MarketSnapshot = load_market(_MARKET)
    return arrange(example_portfolio(market, 60, seed=3), market).resolved


def _expected(resolved: ResolvedInstruments) -> dict[str, list[object]]:
    instruments = resolved.instruments
    return {
        "underlying": [i.underlying for i in instruments],
        "quote": [i.quote for i in instruments],
        "settlement_currency": [i.settlement_currency for i in instruments],
        "is_futures_style": [i.is_futures_style for i in instruments],
    }


def test_terms_are_the_instruments_own(resolved: ResolvedInstruments) -> None:
    assert len(resolved.terms) == len(resolved) > 20
    for name, values in _expected(resolved).items():
        assert getattr(resolved.terms, name).tolist() == values, name
    cash = [i.cash_asset for i in resolved.instruments]
    assert resolved.terms.settlement_currency.tolist() == cash


def test_take_and_concat_carry_the_terms(resolved: ResolvedInstruments) -> None:
    rng = np.random.default_rng(2)
    columns = rng.integers(0, len(resolved), 40)
    taken = resolved.take(columns).concat(resolved.take(columns[:7]))
    for name, values in _expected(taken).items():
        assert getattr(taken.terms, name).tolist() == values, name
    assert taken.instruments == tuple(resolved.instruments[j] for j in [*columns, *columns[:7]])
    assert taken.vol_source == tuple(resolved.vol_source[j] for j in [*columns, *columns[:7]])
    assert len(resolved.take(np.zeros(0, dtype=np.int64)).terms) == 0


def test_terms_of_other_instruments_are_refused(resolved: ResolvedInstruments) -> None:
    names = ("is_option", "is_call", "is_inverse", "underlying_price", "strike", "time")
    arrays = {
        name: getattr(resolved, name)[:2]
        for name in (*names, "vol", "rate", "quote_usd", "settlement_usd")
    }
    with pytest.raises(InputError, match="terms"):
        ResolvedInstruments(
            instruments=resolved.instruments[:2],
            vol_source=resolved.vol_source[:2],
            terms=InstrumentTerms.of(resolved.instruments[:3]),
            **arrays,
        )


@pytest.mark.parametrize("key", ["underlying", "settlement_currency", "quote"])
def test_columns_by_equals_group_columns(resolved: ResolvedInstruments, key: str) -> None:
    fast = columns_by(getattr(resolved.terms, key))
    slow = group_columns(resolved.instruments, lambda i: getattr(i, key))
    assert list(fast) == list(slow)  # keys in order of first appearance
    for k in slow:
        np.testing.assert_array_equal(fast[k], slow[k])
        assert fast[k].dtype == np.int64
    assert columns_by(np.zeros(0, dtype=np.str_)) == {}

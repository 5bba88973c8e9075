"""OKX's per-instrument inputs read once per underlying equal a look-up per instrument.

``OkxModel.matrices`` fills its parameter columns (MR1/MR6 moves, MR4 annual and perpetual
moves, MR7 rates) with one table look-up per underlying and numbers option expiry buckets over
the option rows only; both twins (``compute``, ``compute_reference``) share ``matrices``, so
this compares those pieces with the obvious per-instrument loop, exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.book import BookArrangement, arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.instruments import Kind
from pmargin.margin import get_model
from pmargin.margin.okx import _model as okx_model
from pmargin.market import load_market
from pmargin.valuation import columns_by


@pytest.fixture(scope="module")
def book() -> BookArrangement:
    market = load_market(example_path("example_market.json"))
    return arrange(example_portfolio(market, 300, seed=7), market)


def test_tables_looked_up_per_underlying_equal_per_instrument(book: BookArrangement) -> None:
    """Every coin table, filled per underlying, equals ``lookup`` of each instrument's coin."""
    model = get_model("okx")
    assert isinstance(model, okx_model.OkxModel)
    p = model.params
    resolved = book.resolved.take(np.random.default_rng(2).permutation(len(book.resolved)))
    instruments = resolved.instruments
    n = len(resolved)
    groups = columns_by(resolved.terms.underlying)
    assert len(groups) > 1
    moves = okx_model._per_coin(p.mr1_moves, groups, (n, len(p.mr1_moves.default)))
    expected = np.array([p.mr1_moves.lookup(i.underlying) for i in instruments], dtype=np.float64)
    np.testing.assert_array_equal(moves, expected.reshape(n, -1))
    for table in (p.mr6_moves, p.mr4_annual_move, p.mr4_perpetual_move, *p.mr7_rates.values()):
        expected = np.array([table.lookup(i.underlying) for i in instruments], dtype=np.float64)
        np.testing.assert_array_equal(okx_model._per_coin(table, groups, (n,)), expected)
    buckets: dict[tuple[str, object], int] = {}
    expected_buckets = [
        buckets.setdefault((i.underlying, i.expiry), len(buckets)) if i.is_option else -1
        for i in instruments
    ]
    got = okx_model.OkxModel._expiry_buckets(resolved)
    np.testing.assert_array_equal(got, np.array(expected_buckets, dtype=np.int64))
    assert any(i.kind is Kind.PERPETUAL for i in instruments)


def test_instrument_columns_are_computed_once_per_tuple(book: BookArrangement) -> None:
    """Kinds and expiry buckets are kept per instrument tuple and equal a fresh computation."""
    from pmargin.margin.okx._static import instrument_columns

    resolved = book.resolved.take(np.arange(len(book.resolved))[::-1])
    calls = []

    def buckets() -> np.ndarray:
        calls.append(1)
        return okx_model.OkxModel._expiry_buckets(resolved)

    kinds, index = instrument_columns(resolved.instruments, buckets)
    again_kinds, again_index = instrument_columns(resolved.instruments, buckets)
    assert len(calls) == 1
    assert again_kinds is kinds
    assert again_index is index
    np.testing.assert_array_equal(kinds, [i.kind.value for i in resolved.instruments])
    np.testing.assert_array_equal(index, okx_model.OkxModel._expiry_buckets(resolved))
    assert not index.flags.writeable

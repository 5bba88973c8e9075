"""``StandardModel.compute`` (blocks of accounts, units summed by one count) against its twin.

:meth:`~pmargin.margin.standard.StandardModel.compute_reference` sums each unit's charges with
a sparse product; the fast path must give the same values on every array of the result.
"""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.book import BookArrangement, arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.margin import get_model
from pmargin.margin._scenario_margin import group_columns
from pmargin.margin.standard import StandardModel
from pmargin.margin.standard import _model as standard_model
from pmargin.market import load_market


@pytest.fixture(scope="module")
def book() -> BookArrangement:
    market = load_market(example_path("example_market.json"))
    return arrange(example_portfolio(market, 400, seed=5), market)


@pytest.mark.parametrize(("block_rows", "compiled"), [(7, False), (65_536, False), (65_536, True)])
def test_units_summed_by_count_equal_the_sparse_products(
    book: BookArrangement, block_rows: int, compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The NumPy blocks (two sizes) and the compiled pass (numba) give the twin's values."""
    if compiled and standard_model._jit() is None:
        pytest.skip("numba not installed (or PMARGIN_JIT=0)")
    monkeypatch.setattr(standard_model, "_BLOCK_ROWS", block_rows)
    if not compiled:
        monkeypatch.setattr(standard_model, "_jit", lambda: None)
    model = get_model("standard")
    assert isinstance(model, StandardModel)
    fast, reference = model.compute(book), model.compute_reference(book)
    np.testing.assert_array_equal(fast.initial_margin, reference.initial_margin)
    np.testing.assert_array_equal(fast.maintenance_margin, reference.maintenance_margin)
    np.testing.assert_array_equal(
        fast.im_contribution.toarray(), reference.im_contribution.toarray()
    )
    assert len(fast.risk_units) == len(reference.risk_units)
    for u, v in zip(fast.risk_units, reference.risk_units, strict=True):
        assert (u.underlying, u.currency) == (v.underlying, v.currency)
        np.testing.assert_array_equal(u.initial_margin, v.initial_margin)
        np.testing.assert_array_equal(u.maintenance_margin, v.maintenance_margin)
        np.testing.assert_array_equal(u.holds, v.holds)
        for key in u.components:
            np.testing.assert_array_equal(u.components[key], v.components[key], key)


def test_an_empty_book_gives_empty_units(book: BookArrangement) -> None:
    model = get_model("standard")
    assert isinstance(model, StandardModel)
    result = model.compute(book.take_accounts([]))
    assert result.initial_margin.shape == (0,)


def test_unit_columns_are_group_columns_in_any_column_order(book: BookArrangement) -> None:
    """``_unit_columns`` (read from the terms' arrays) equals ``group_columns`` per instrument.

    Also on the columns reversed and shuffled (seeded): units in order of first appearance,
    each unit's columns ascending.
    """
    n = len(book.resolved)
    orders = [np.arange(n), np.arange(n)[::-1], np.random.default_rng(3).permutation(n)]
    for order in orders:
        resolved = book.resolved.take(order)
        expected = group_columns(
            resolved.instruments, lambda i: (i.underlying, i.settlement_currency)
        )
        got = standard_model._unit_columns(resolved)
        assert list(got) == list(expected)
        for key, columns in expected.items():
            np.testing.assert_array_equal(got[key], columns)

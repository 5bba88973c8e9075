"""``model.margin_totals(book)`` (a tick's lean path) equals ``model.compute(book)``'s totals.

``deribit`` (S:PM by its compiled pass without contributions; X:PM by ``compute``) and ``okx``
(its passes without the attribution pass) give IM and MM bit for bit equal to the full
result's, on the example book, on one underlying's block of it (what the monitor margins) and
on a book with moved prices; the monitor's helper falls back to ``compute`` for a model without
the method.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from pmargin._compiled import numpy_kernels
from pmargin.book import BookArrangement, arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.margin import get_model
from pmargin.market import load_market
from pmargin.monitor import Monitor, margin_totals, totals_plan


@pytest.fixture(scope="module")
def book() -> BookArrangement:
    market = load_market(example_path("example_market.json"))
    return arrange(example_portfolio(market, 400, seed=3), market)


def _books(book: BookArrangement, name: str) -> list[BookArrangement]:
    monitor = Monitor(get_model(name), book)
    moved = book.market.with_updates(index={"BTC": book.market.index["BTC"] * 0.97})
    return [book, monitor.block_book("BTC"), monitor.block_book("ETH"), book.rebased(moved)]


@pytest.mark.parametrize("name", ["deribit", "deribit-cross", "okx"])
def test_totals_equal_compute_bit_for_bit(book: BookArrangement, name: str) -> None:
    model = get_model(name)
    for each in _books(book, name):
        im, mm = model.margin_totals(each)  # type: ignore[attr-defined]
        full = model.compute(each)
        np.testing.assert_array_equal(im, full.initial_margin)
        np.testing.assert_array_equal(mm, full.maintenance_margin)


def test_monitor_helper_runs_compute_for_other_models(book: BookArrangement) -> None:
    model = get_model("standard")
    assert not hasattr(model, "margin_totals")
    im, mm = margin_totals(model, book)
    full = model.compute(book)
    np.testing.assert_array_equal(im, full.initial_margin)
    np.testing.assert_array_equal(mm, full.maintenance_margin)


def _moved_books(book: BookArrangement) -> list[BookArrangement]:
    """``book`` at markets a tick apart (each resolved afresh) and at a moved time."""
    market = book.market
    books = [
        book.rebased(market.with_updates(index={"BTC": market.index["BTC"] * f, "ETH": e}))
        for f, e in ((0.97, market.index["ETH"]), (1.01, market.index["ETH"] * 1.02), (1.2, 3e3))
    ]
    later = market.replace(timestamp=market.timestamp + timedelta(hours=6))
    return [*books, book.rebased(later), books[0]]


@pytest.mark.parametrize("name", ["deribit", "deribit-cross", "okx"])
def test_totals_plan_equals_compute_bit_for_bit(book: BookArrangement, name: str) -> None:
    """A plan kept across books of one structure gives compute's totals at every market.

    The moved time (a new expiry layout) and the block books (other structures) rebuild the
    kept state; a book back at the first structure rebuilds it again.
    """
    model = get_model(name)
    blocks = _books(book, name)[1:3]
    plan = totals_plan(model, book)
    for each in [*_moved_books(book), *blocks, *_moved_books(blocks[0]), book]:
        im, mm = plan(each)
        full = model.compute(each)
        np.testing.assert_array_equal(im, full.initial_margin)
        np.testing.assert_array_equal(mm, full.maintenance_margin)


@pytest.mark.parametrize("name", ["deribit", "okx"])
def test_plan_keeps_its_state_while_prices_move(book: BookArrangement, name: str) -> None:
    """Books of one structure reuse the kept state (built once); another structure rebuilds."""
    model = get_model(name)
    plan = model.totals_plan(book)  # type: ignore[attr-defined]
    moved = _moved_books(book)
    for each in moved[:3]:
        plan(each)
    assert plan.builds == 1
    plan(moved[3])  # six hours later: other times to expiry
    assert plan.builds == 2


def test_deribit_plan_without_numba_runs_compute(book: BookArrangement) -> None:
    """With the compiled kernels off (PMARGIN_JIT=0's path) the plan is the model's own."""
    model = get_model("deribit")
    plan = model.totals_plan(book)  # type: ignore[attr-defined]
    each = _moved_books(book)[0]
    with numpy_kernels():
        im, mm = plan(each)
        full = model.compute(each)
    np.testing.assert_array_equal(im, full.initial_margin)
    np.testing.assert_array_equal(mm, full.maintenance_margin)

"""``model.margin_totals(book)`` (a tick's lean path) equals ``model.compute(book)``'s totals.

``deribit`` (S:PM by its compiled pass without contributions; X:PM by ``compute``) and ``okx``
(its passes without the attribution pass) give IM and MM bit for bit equal to the full
result's, on the example book, on one underlying's block of it (what the monitor margins) and
on a book with moved prices; the monitor's helper falls back to ``compute`` for a model without
the method.
"""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.book import BookArrangement, arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.margin import get_model
from pmargin.market import load_market
from pmargin.monitor import Monitor, margin_totals


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

"""``OkxModel.compute`` (one fused product per unit) against ``compute_reference``.

The fast path takes each unit's columns out once and sums the scenario, basis, rate and
expiry-bucket P&L as the columns of one matrix; each column is summed exactly as alone, so
every array of the result must carry the same bits (IM, MM, components, scenario P&L, worst
cells, held flags, contributions and their pattern, ``im_other``), the borrowing charge on or
off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmargin.book import BookArrangement, arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.margin import MarginResult, get_model
from pmargin.margin.okx import OkxModel
from pmargin.market import load_market

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def book() -> BookArrangement:
    market = load_market(example_path("example_market.json"))
    return arrange(example_portfolio(market, 400, seed=13), market)


def _assert_same(fast: MarginResult, reference: MarginResult) -> None:
    for name in ("initial_margin", "maintenance_margin", "im_other"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(reference, name), name)
    a, b = fast.im_contribution, reference.im_contribution
    for part in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part), part)
    assert len(fast.risk_units) == len(reference.risk_units)
    for u, v in zip(fast.risk_units, reference.risk_units, strict=True):
        assert (u.underlying, u.scenario_labels) == (v.underlying, v.scenario_labels)
        np.testing.assert_array_equal(u.pnl, v.pnl)
        np.testing.assert_array_equal(u.worst, v.worst)
        np.testing.assert_array_equal(u.holds, v.holds)
        assert u.components.keys() == v.components.keys()
        for key in u.components:
            np.testing.assert_array_equal(u.components[key], v.components[key], key)


@pytest.mark.parametrize("params", [None, HERE / "okx-borrowing.toml"])
def test_the_fused_product_gives_the_reference_bits(
    book: BookArrangement, params: Path | None
) -> None:
    model = get_model("okx", params=params)
    assert isinstance(model, OkxModel)
    _assert_same(model.compute(book), model.compute_reference(book))

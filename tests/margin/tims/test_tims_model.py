"""The TIMS model on small books: hand values as formulas, hedges, offsets, attribution."""

from __future__ import annotations

import numpy as np
import pytest
from _tims_cases import INDEX, market, portfolio, shipped, table

from pmargin.book import arrange
from pmargin.margin import MarginResult, get_model
from pmargin.margin.tims import COMPONENTS, TimsModel

SPX, NDX, RUT = INDEX["SPX"], INDEX["NDX"], INDEX["RUT"]


def _run(*accounts: dict[str, float]) -> MarginResult:
    m = market()
    return get_model("tims").compute(arrange(portfolio(*accounts), m))


def _components(result: MarginResult, underlying: str, row: int = 0) -> dict[str, float]:
    unit = next(u for u in result.risk_units if u.underlying == underlying)
    return {k: float(v[row]) for k, v in unit.components.items()}


def test_long_index_future_largest_loss() -> None:
    result = _run({"ES": 1.0})
    c = _components(result, "SPX")
    assert c["largest_loss"] == pytest.approx(50 * SPX * 0.08)
    assert c["minimum"] == pytest.approx(0.375 * 50 * 1)
    assert result.initial_margin[0] == pytest.approx(50 * SPX * 0.08)
    assert result.maintenance_margin[0] == result.initial_margin[0]
    unit = result.risk_units[0]
    assert unit.scenario_labels == (
        "SPX -8%", "SPX -6.4%", "SPX -4.8%", "SPX -3.2%", "SPX -1.6%",
        "SPX +1.2%", "SPX +2.4%", "SPX +3.6%", "SPX +4.8%", "SPX +6%",
    )  # fmt: skip
    assert unit.scenario_labels[int(unit.worst[0])] == "SPX -8%"
    assert unit.pnl[0] == pytest.approx(
        [
            50 * SPX * m
            for m in (-0.08, -0.064, -0.048, -0.032, -0.016, 0.012, 0.024, 0.036, 0.048, 0.06)
        ]
    )


def test_hedged_conversion_pays_the_per_contract_minimum() -> None:
    # 100 shares + long put + short call at the same strike: flat at every point (parity)
    result = _run({"AAPL": 100.0, "AAPL-200-P": 1.0, "AAPL-200-C": -1.0})
    c = _components(result, "AAPL")
    assert c["largest_loss"] == pytest.approx(0.0, abs=1e-6)
    assert c["minimum"] == pytest.approx(0.375 * 100 * (1 + 1))  # shares are not contracts
    assert result.initial_margin[0] == pytest.approx(0.375 * 100 * 2)
    assert result.contributions(0)["AAPL"] == 0.0


def test_covered_call_cheaper_than_its_legs() -> None:
    result = _run(
        {"AAPL": 100.0, "AAPL-220-C": -1.0},
        {"AAPL": 100.0},
        {"AAPL-220-C": -1.0},
    )
    covered, shares, call = result.initial_margin
    assert covered < shares + call
    assert covered < shares
    assert shares == pytest.approx(100 * 200.0 * 0.15)


def test_product_group_offset_90_percent() -> None:
    result = _run({"ES": 1.0, "NQ": -1.0})
    spx, ndx = _components(result, "SPX"), _components(result, "NDX")
    assert spx["standalone"] == pytest.approx(50 * SPX * 0.08)
    assert ndx["standalone"] == pytest.approx(20 * NDX * 0.06)
    # worst point +6%: SPX gains 50 x 5000 x 6% (offset at 90%), NDX loses 20 x 20000 x 6%
    group = 20 * NDX * 0.06 - 0.9 * 50 * SPX * 0.06
    assert result.initial_margin[0] == pytest.approx(group)
    total = spx["standalone"] + ndx["standalone"]
    assert spx["requirement"] == pytest.approx(spx["standalone"] * group / total)
    assert ndx["requirement"] == pytest.approx(ndx["standalone"] * group / total)
    assert spx["offset_credit"] == pytest.approx(spx["standalone"] - spx["requirement"])


def test_no_offset_across_product_groups() -> None:
    result = _run({"ES": 1.0, "RTY": -1.0})
    assert result.initial_margin[0] == pytest.approx(50 * SPX * 0.08 + 50 * RUT * 0.10)


def test_offset_is_configurable() -> None:
    data = shipped()
    data["product_groups"][0]["offset"] = 0.5
    model = TimsModel.from_params(table(data))
    m = market()
    result = model.compute(arrange(portfolio({"ES": 1.0, "NQ": -1.0}), m))
    assert result.initial_margin[0] == pytest.approx(20 * NDX * 0.06 - 0.5 * 50 * SPX * 0.06)


BOOKS = [
    {"ES": 1.0, "NQ": -1.0, "SPX-5000-P": 2.0},
    {"AAPL": 100.0, "AAPL-220-C": -1.0, "AAPL-200-P": 3.0},
    {"AAPL": 100.0, "AAPL-200-P": 1.0, "AAPL-200-C": -1.0, "RTY": 1.0},
    {"SPX-5000-P": -1.0, "NQ": 2.0},
    {},
]


def test_batch_invariants() -> None:
    result = _run(*BOOKS)
    assert result.model == "tims"
    assert np.allclose(result.initial_margin, result.maintenance_margin)
    units_total = sum(u.initial_margin for u in result.risk_units)
    assert np.allclose(result.initial_margin, units_total)
    for unit in result.risk_units:
        assert set(unit.components) == set(COMPONENTS)
        c = unit.components
        assert np.allclose(c["standalone"], np.maximum(c["largest_loss"], c["minimum"]))
        assert np.all(c["offset_credit"] >= -1e-9)
        assert np.all(unit.initial_margin >= 0.0)
    total = np.asarray(result.im_contribution.sum(axis=1)) + result.im_other
    assert np.allclose(total, result.initial_margin)
    assert result.initial_margin[-1] == 0.0
    for k, positions in enumerate(BOOKS[:-1]):
        assert _run(positions).initial_margin[0] == pytest.approx(result.initial_margin[k])


def test_contributions_add_up_to_each_product_group_requirement() -> None:
    """Per product group (its members' IM) and account, to 1e-9 relative, both branches."""
    rng = np.random.default_rng(11)
    symbols = ["AAPL", "AAPL-200-C", "AAPL-200-P", "AAPL-220-C", "SPX-5000-P", "ES", "NQ", "RTY"]
    books: list[dict[str, float]] = []
    for k in range(120):
        if k % 4 == 3:  # a conversion: the per-contract minimum binds
            n = float(rng.integers(1, 20))
            books.append({"AAPL": 100.0 * n, "AAPL-200-P": n, "AAPL-200-C": -n})
            continue
        books.append(
            {
                s: float(rng.normal() * (300.0 if s == "AAPL" else 3.0))
                for s in symbols
                if rng.random() < 0.5
            }
        )
    m = market()
    book = arrange(portfolio(*books), m)
    model = get_model("tims")
    assert isinstance(model, TimsModel)
    result = model.compute(book)
    contribution = result.im_contribution.toarray()
    groups: dict[str, list[str]] = {}
    for unit in result.risk_units:
        product = model.params.product_group(unit.underlying)
        groups.setdefault(unit.underlying if product is None else product.name, []).append(
            unit.underlying
        )
    branches = set()
    by_name = {u.underlying: u for u in result.risk_units}
    for members in groups.values():
        columns = [j for j, i in enumerate(book.instruments) if i.underlying in members]
        attributed = contribution[:, columns].sum(axis=1)
        required = np.sum([by_name[u].initial_margin for u in members], axis=0)
        assert np.all(np.abs(attributed - required) <= 1e-9 * np.maximum(required, 1.0))
        for u in members:
            c = by_name[u].components
            binds = c["largest_loss"] >= c["minimum"]
            branches |= set(np.where(binds, "loss", "minimum")[by_name[u].holds].tolist())
    assert branches == {"loss", "minimum"}
    total = contribution.sum(axis=1) + result.im_other
    bound = 1e-9 * np.maximum(result.initial_margin, 1.0)
    assert np.all(np.abs(total - result.initial_margin) <= bound)

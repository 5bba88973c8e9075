"""Deribit's published ``private/pme/simulate`` responses, reproduced (per risk unit, in coin).

Sources and inputs: see ``_deribit_cases``. Each published number is compared as written in the
response; numbers the response does not show are derived by formula in the test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _deribit_cases import (
    DOC_AGGREGATED_EXTENDED,
    DOC_AGGREGATED_STANDARD,
    DOC_FUTURE_EXTENDED,
    DOC_FUTURE_STANDARD,
    DOC_IM,
    DOC_INDEX,
    DOC_MARKS,
    DOC_MM,
    DOC_MMP_MARGIN,
    DOC_OPEN_ORDERS_MARGIN,
    DOC_PERP_EXTENDED,
    DOC_PERP_STANDARD,
    DOC_POSITIONS,
    DOC_RISK_MATRIX_MARGIN,
    DOC_ROLL_SHOCK,
    DOC_TIMESTAMP,
    DOC_WORST_CASE,
    DOC_WORST_INDEX,
    ETH_AGGREGATED_EXTENDED,
    ETH_AGGREGATED_STANDARD,
    ETH_IM,
    ETH_INDEX,
    ETH_MARKS,
    ETH_MM,
    ETH_PERP_EXTENDED,
    ETH_PERP_STANDARD,
    ETH_POSITIONS,
    ETH_RISK_MATRIX_MARGIN,
    ETH_ROLL_SHOCK,
    ETH_TIMESTAMP,
    ETH_WORST_CASE,
    ETH_WORST_INDEX,
    book,
    model_from,
    shipped,
)

from pmargin.margin import get_model
from pmargin.margin.deribit import DeribitModel

# The responses print 15-17 significant digits; our P&L formulas are the same algebra in a
# different order, so vectors agree to ~1e-16 coin.
VECTOR_ATOL = 1e-15
# Deribit rounds worst_case to 9 decimals before adding the roll shock (BTC: 0.05968587238 ->
# 0.059685872, giving risk_matrix_margin 0.06284313098; ETH: 0.15246412673 -> 0.152464127,
# giving 0.157461562265). pmargin does not round: margins agree to 5e-10 coin.
MARGIN_ATOL = 5e-10


def _doc_model() -> DeribitModel:
    """The shipped file: its btc/btc_usd tables are the 2024 doc's (usd is not used here)."""
    return model_from(shipped())


def _eth_model() -> DeribitModel:
    """The shipped file: its eth/eth_usd tables are the Feb 2026 capture's."""
    return model_from(shipped())


def _run(model: DeribitModel, case: str) -> tuple[Any, Any, Any]:
    if case == "doc":
        b, _ = book(DOC_TIMESTAMP, {"BTC": DOC_INDEX}, DOC_MARKS, DOC_POSITIONS)
    else:
        b, _ = book(ETH_TIMESTAMP, {"ETH": ETH_INDEX}, ETH_MARKS, ETH_POSITIONS)
    (vectors,) = model.risk_vectors(b)
    result = model.compute(b)
    return b, vectors, result


def test_doc_2024_initial_risk_vectors() -> None:
    b, v, _ = _run(_doc_model(), "doc")
    symbols = [i.symbol for i in b.instruments]
    expected = {
        "BTC-PERPETUAL": DOC_PERP_STANDARD + DOC_PERP_EXTENDED,
        "BTC-28JUN24": DOC_FUTURE_STANDARD + DOC_FUTURE_EXTENDED,
    }
    for symbol, vector in expected.items():
        row = symbols.index(symbol)
        initial = DOC_POSITIONS[symbol] * v.instrument_pnl[row]
        np.testing.assert_allclose(initial, vector, rtol=0, atol=VECTOR_ATOL)
    # The formula behind them: q (1 - 1/m), edge moves in the extended table.
    q = DOC_POSITIONS["BTC-PERPETUAL"]
    assert v.instrument_pnl[symbols.index("BTC-PERPETUAL"), 0] * q == pytest.approx(
        q * (1 - 1 / 0.84), abs=1e-16
    )


def test_doc_2024_aggregated_vectors_and_margins() -> None:
    _, v, result = _run(_doc_model(), "doc")
    pre_standard = np.add(DOC_PERP_STANDARD, DOC_FUTURE_STANDARD)
    np.testing.assert_allclose(v.pre_aggregated[0, :27], pre_standard, atol=VECTOR_ATOL)
    np.testing.assert_allclose(
        v.aggregated[0], DOC_AGGREGATED_STANDARD + DOC_AGGREGATED_EXTENDED, atol=VECTOR_ATOL
    )
    (unit,) = result.risk_units
    assert (unit.underlying, unit.currency) == ("BTC", "BTC")
    c = {k: float(a[0]) for k, a in unit.components.items()}
    assert c["worst_case"] == pytest.approx(DOC_WORST_CASE, abs=VECTOR_ATOL)
    assert int(unit.worst[0]) == DOC_WORST_INDEX
    assert c["roll_shock"] == pytest.approx(DOC_ROLL_SHOCK, abs=1e-15)
    # roll_shock = (|q_perp| + |q_future|) x min_annualised_move (0.01): the future is 11 days
    # out, 0.075 x 11/365 = 0.0023 < 0.01.
    assert pytest.approx((0.314538364 + 0.001187534) * 0.01, abs=1e-15) == DOC_ROLL_SHOCK
    assert c["delta_shock"] == 0.0
    assert c["risk_matrix_margin"] == pytest.approx(DOC_RISK_MATRIX_MARGIN, abs=MARGIN_ATOL)
    assert pytest.approx(round(DOC_WORST_CASE, 9) + DOC_ROLL_SHOCK) == DOC_RISK_MATRIX_MARGIN
    assert float(unit.initial_margin[0]) == pytest.approx(DOC_RISK_MATRIX_MARGIN, abs=MARGIN_ATOL)
    assert float(unit.initial_margin[0]) + DOC_MMP_MARGIN + DOC_OPEN_ORDERS_MARGIN == (
        pytest.approx(DOC_IM, abs=1e-9)
    )
    assert float(unit.maintenance_margin[0]) == pytest.approx(DOC_MM, abs=0.8 * MARGIN_ATOL)
    # Account totals in USD: the unit's coin margin at the BTC index.
    assert float(result.initial_margin[0]) == pytest.approx(
        float(unit.initial_margin[0]) * DOC_INDEX, rel=1e-12
    )


def test_eth_2026_vectors_offset_and_margins() -> None:
    _, v, result = _run(_eth_model(), "eth")
    q = ETH_POSITIONS["ETH-PERPETUAL"]
    np.testing.assert_allclose(
        q * v.instrument_pnl[0], ETH_PERP_STANDARD + ETH_PERP_EXTENDED, atol=VECTOR_ATOL
    )
    # pre_aggregated_risk_vectors equal the one position's vectors
    np.testing.assert_allclose(
        v.pre_aggregated[0], ETH_PERP_STANDARD + ETH_PERP_EXTENDED, atol=VECTOR_ATOL
    )
    np.testing.assert_allclose(
        v.aggregated[0], ETH_AGGREGATED_STANDARD + ETH_AGGREGATED_EXTENDED, atol=VECTOR_ATOL
    )
    # pnl_offset 0.6 on positive cells: 0.6 x 0.219399597 = 0.1316397582
    assert ETH_AGGREGATED_STANDARD[0] == pytest.approx(0.6 * ETH_PERP_STANDARD[0], rel=1e-15)
    (unit,) = result.risk_units
    assert (unit.underlying, unit.currency) == ("ETH", "ETH")
    c = {k: float(a[0]) for k, a in unit.components.items()}
    assert c["worst_case"] == pytest.approx(ETH_WORST_CASE, abs=VECTOR_ATOL)
    assert int(unit.worst[0]) == ETH_WORST_INDEX
    assert unit.scenario_labels[ETH_WORST_INDEX] == "ETH +18% vol none"
    # roll_shock = |q| x min_annualised_move (0.005): a perpetual has T = 0.
    assert pytest.approx(abs(q) * 0.005, abs=1e-15) == ETH_ROLL_SHOCK
    assert c["roll_shock"] == pytest.approx(ETH_ROLL_SHOCK, abs=1e-15)
    assert c["risk_matrix_margin"] == pytest.approx(ETH_RISK_MATRIX_MARGIN, abs=MARGIN_ATOL)
    assert pytest.approx(round(ETH_WORST_CASE, 9) + ETH_ROLL_SHOCK) == ETH_RISK_MATRIX_MARGIN
    assert float(unit.initial_margin[0]) == pytest.approx(ETH_IM, abs=1e-9)
    assert float(unit.maintenance_margin[0]) == pytest.approx(ETH_MM, abs=0.8 * MARGIN_ATOL)


def test_registry_builds_the_shipped_model() -> None:
    model = get_model("deribit")
    assert isinstance(model, DeribitModel)
    b, _ = book(DOC_TIMESTAMP, {"BTC": DOC_INDEX}, DOC_MARKS, DOC_POSITIONS)
    unit = model.compute(b).risk_units[0]
    assert float(unit.initial_margin[0]) == pytest.approx(DOC_RISK_MATRIX_MARGIN, abs=MARGIN_ATOL)


def test_doc_2024_im_contributions_add_up() -> None:
    _, _, result = _run(_doc_model(), "doc")
    total = result.im_contribution.sum(axis=1) + result.im_other
    np.testing.assert_allclose(total, result.initial_margin, rtol=1e-12)
    # the perpetual's share: its loss at -16% plus its roll, in USD at the index
    perp = result.contributions(0)["BTC-PERPETUAL"]
    q = DOC_POSITIONS["BTC-PERPETUAL"]
    assert perp == pytest.approx((-q * (1 - 1 / 0.84) + abs(q) * 0.01) * DOC_INDEX, rel=1e-12)


READINGS = [
    {"extended_weighting": w, "extended_dampener_mode": d, "roll_shock_basis": r}
    for w in ("distance", "full")
    for d in ("distance", "subtract", "threshold")
    for r in ("net_delta_per_expiry", "abs_size")
]


@pytest.mark.parametrize("reading", READINGS, ids=lambda r: "-".join(r.values()))
@pytest.mark.parametrize("case", ["doc", "eth"])
def test_every_reading_reproduces_both_captures(case: str, reading: dict[str, str]) -> None:
    # Both captures hold delta-one legs only: every reading of the unpublished parts must give
    # the published vectors and margins.
    data = shipped()
    data["assumptions"].update(reading)
    b, v, result = _run(model_from(data), case)
    if case == "doc":
        symbols = [i.symbol for i in b.instruments]
        perp = symbols.index("BTC-PERPETUAL")
        expected = np.asarray(DOC_PERP_STANDARD + DOC_PERP_EXTENDED)
        q, aggregated = DOC_POSITIONS["BTC-PERPETUAL"], DOC_AGGREGATED_STANDARD
        extended, rmm = DOC_AGGREGATED_EXTENDED, DOC_RISK_MATRIX_MARGIN
        roll = DOC_ROLL_SHOCK
    else:
        perp, expected = 0, np.asarray(ETH_PERP_STANDARD + ETH_PERP_EXTENDED)
        q, aggregated = ETH_POSITIONS["ETH-PERPETUAL"], ETH_AGGREGATED_STANDARD
        extended, rmm = ETH_AGGREGATED_EXTENDED, ETH_RISK_MATRIX_MARGIN
        roll = ETH_ROLL_SHOCK
    np.testing.assert_allclose(q * v.instrument_pnl[perp], expected, rtol=0, atol=VECTOR_ATOL)
    np.testing.assert_allclose(v.aggregated[0], aggregated + extended, rtol=0, atol=VECTOR_ATOL)
    (unit,) = result.risk_units
    assert float(unit.components["roll_shock"][0]) == pytest.approx(roll, abs=1e-15)
    assert float(unit.initial_margin[0]) == pytest.approx(rmm, abs=MARGIN_ATOL)

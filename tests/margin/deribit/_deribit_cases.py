"""Published Deribit ``private/pme/simulate`` cases, their inputs and the shipped parameters.

DOC_2024: the example response of the API reference (docs.deribit.com, "private/pme/simulate",
also in the Coinbase-Deribit docs), model_params timestamp 1718619740501 (17 Jun 2024).
ETH_2026: a real response captured on 15 Feb 2026 23:20:09 GMT (model_params timestamp
1771197609587), found in a public GitHub file (simulated position ETH-PERPETUAL -1).
Positions in both are "size in base currency", i.e. coins.
"""

from __future__ import annotations

import copy
import tomllib
from typing import Any

from pmargin.book import portfolio_from_dict
from pmargin.margin import ParamTable, methodology_path
from pmargin.margin.deribit import DeribitModel
from pmargin.market import market_from_dict
from pmargin.risk import BookArrangement, arrange


def shipped() -> dict[str, Any]:
    """The shipped deribit.toml, parsed (a fresh copy to edit)."""
    with open(methodology_path("deribit"), "rb") as f:
        return copy.deepcopy(tomllib.load(f))


def model_from(data: dict[str, Any]) -> DeribitModel:
    return DeribitModel.from_params(ParamTable(data, "deribit.toml"))


def book(
    timestamp: Any,
    index: dict[str, float],
    marks: dict[str, dict[str, float]],
    positions: dict[str, float],
    balances: dict[str, float] | None = None,
    **extra: Any,
) -> tuple[BookArrangement, Any]:
    market = market_from_dict({"timestamp": timestamp, "index": index, "marks": marks, **extra})
    portfolio = portfolio_from_dict(
        {
            "id": "a",
            "balances": balances or {},
            "positions": [
                {"instrument": s, "quantity": q, "unit": "base"} for s, q in positions.items()
            ],
        }
    )
    return arrange(portfolio, market), market


# --- DOC_2024 ------------------------------------------------------------------------------
DOC_TIMESTAMP = 1718619740501
DOC_INDEX = 65666.19
DOC_MARKS = {"BTC-PERPETUAL": {"price": 65910.57}, "BTC-28JUN24": {"price": 67371.75}}
DOC_POSITIONS = {"BTC-PERPETUAL": 0.314538364, "BTC-28JUN24": -0.001187534}
DOC_PERP_STANDARD = (
    [-0.05991206933333334] * 3
    + [-0.04289159509090909] * 3
    + [-0.027351162086956524] * 3
    + [-0.013105765166666668] * 3
    + [0.0] * 3
    + [0.012097629384615385] * 3
    + [0.023299138074074074] * 3
    + [0.033700538999999995] * 3
    + [0.043384601931034494] * 3
)
DOC_PERP_EXTENDED = [-0.05991206933333334] * 2 + [0.04338460193103449] * 6
DOC_FUTURE_STANDARD = (
    [0.0002261969523809524] * 3
    + [0.00016193645454545456] * 3
    + [0.00010326382608695652] * 3
    + [0.00004948058333333334] * 3
    + [0.0] * 3
    + [-0.00004567438461538462] * 3
    + [-0.00008796548148148148] * 3
    + [-0.0001272357857142857] * 3
    + [-0.00016379779310344832] * 3
)
DOC_FUTURE_EXTENDED = [0.0002261969523809524] * 2 + [-0.0001637977931034483] * 6
DOC_AGGREGATED_STANDARD = (
    [-0.05968587238095239] * 3
    + [-0.04272965863636364] * 3
    + [-0.02724789826086957] * 3
    + [-0.013056284583333334] * 3
    + [0.0] * 15
)
DOC_AGGREGATED_EXTENDED = [0.0] * 8
DOC_WORST_CASE = 0.05968587238095239
DOC_WORST_INDEX = 1  # worst_case_bucket: bucket 1, side left, source standard, index 1
DOC_ROLL_SHOCK = 0.00315725898
DOC_RISK_MATRIX_MARGIN = 0.06284313098
DOC_MM = 0.050274504784
# initial_margin 0.122861343 also holds mmp_margin 0.06 and open_orders_margin 0.000018212,
# which a book of positions has not: IM of the positions = risk_matrix_margin.
DOC_IM = 0.122861343
DOC_MMP_MARGIN = 0.06
DOC_OPEN_ORDERS_MARGIN = 0.000018212

# --- ETH_2026 ------------------------------------------------------------------------------
ETH_TIMESTAMP = 1771197609587
ETH_INDEX = 1949.34
ETH_MARKS = {"ETH-PERPETUAL": {"price": 1949.49}}
ETH_POSITIONS = {"ETH-PERPETUAL": -0.999487053}
ETH_PERP_STANDARD = (
    [0.21939959699999997] * 3
    + [0.155989308849711] * 3
    + [0.09885036787912087] * 3
    + [0.04709624857068063] * 3
    + [0.0] * 3
    + [-0.04304011233014354] * 3
    + [-0.08252645391743119] * 3
    + [-0.11888171996035243] * 3
    + [-0.15246412672881357] * 3
)
ETH_PERP_EXTENDED = [0.21939959699999997] * 2 + [-0.15246412672881357] * 6
ETH_AGGREGATED_STANDARD = (
    [0.13163975819999998] * 3
    + [0.09359358530982659] * 3
    + [0.05931022072747252] * 3
    + [0.028257749142408375] * 3
    + [0.0] * 3
    + [-0.04304011233014354] * 3
    + [-0.08252645391743119] * 3
    + [-0.11888171996035243] * 3
    + [-0.15246412672881357] * 3
)
ETH_AGGREGATED_EXTENDED = [0.0] * 8
ETH_WORST_CASE = 0.15246412672881357
ETH_WORST_INDEX = 25  # worst_case_bucket: bucket 9, side right, source standard, index 25
ETH_ROLL_SHOCK = 0.004997435265
ETH_RISK_MATRIX_MARGIN = 0.157461562265
ETH_IM = 0.157461562
ETH_MM = 0.125969249812

"""Published Deribit ``private/pme/simulate`` cases, their inputs and the shipped parameters.

The replies are stored, as published, in ``captures/`` (their only home):

- ``doc-2024.json``: the example response of the API reference (docs.deribit.com,
  "private/pme/simulate", also in the Coinbase-Deribit docs), JSON-RPC ``{"result": ...}``,
  model_params timestamp 1718619740501 (17 Jun 2024).
- ``eth-2026.json``: a real response captured on 15 Feb 2026 23:20:09 GMT (model_params
  timestamp 1771197609587), found in a public GitHub file (simulated position ETH-PERPETUAL
  -1); the bare result, without the JSON-RPC envelope.

Every constant below is one field of a reply, read with :func:`json.loads` and plain indexing
(no normalisation, nothing derived by pmargin), so the expected numbers stay the published
ones; the comment names the field (``result.`` is the reply's result object). Positions are
"size in base currency", i.e. coins. Vectors are lists of the unit's currency (coin): 27
standard cells (9 price moves x 3 vol scenarios), 8 extended cells.
"""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.margin import ParamTable, methodology_path
from pmargin.margin.deribit import DeribitModel
from pmargin.market import market_from_dict

CAPTURES = Path(__file__).resolve().parent / "captures"
"""The stored replies (``<name>.json``)."""


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


def reply(name: str) -> dict[str, Any]:
    """The result object of ``captures/<name>.json``, as :func:`json.loads` reads it.

    The JSON-RPC envelope (``{"result": ...}``) is taken off where the file has one.
    """
    data: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text(encoding="utf-8"))
    result: dict[str, Any] = data.get("result", data)
    return result


def _marks(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``result.ticker.<symbol>.mark_price`` as the market file's ``marks`` (USD)."""
    return {s: {"price": t["mark_price"]} for s, t in result["ticker"].items()}


def _cell(details: dict[str, Any]) -> int:
    """pmargin's cell of ``risk_matrix_margin_details.worst_case_bucket``.

    Deribit counts ``index`` within its ``source`` (0-26 standard, 0-7 extended); pmargin
    numbers the standard cells 0-26, then the extended ones 27-34.
    """
    bucket = details["worst_case_bucket"]
    offset = {"standard": 0, "extended": 27}[bucket["source"]]
    return int(bucket["index"]) + offset


# --- DOC_2024 ------------------------------------------------------------------------------
DOC = reply("doc-2024")
_DOC_IM_DETAILS = DOC["margins"]["btc"]["initial_margin_details"]
_DOC_RMM_DETAILS = _DOC_IM_DETAILS["risk_matrix_margin_details"]

# result.model_params.general.timestamp (epoch ms)
DOC_TIMESTAMP = DOC["model_params"]["general"]["timestamp"]
DOC_INDEX = DOC["index_price"]["btc_usd"]  # result.index_price.btc_usd (USD)
DOC_MARKS = _marks(DOC)  # result.ticker["BTC-PERPETUAL" / "BTC-28JUN24"].mark_price (USD)
DOC_POSITIONS = dict(DOC["portfolio"]["position"])  # result.portfolio.position (BTC)
# result.initial_risk_vectors["BTC-PERPETUAL"].standard / .extended (BTC, the position's)
DOC_PERP_STANDARD = list(DOC["initial_risk_vectors"]["BTC-PERPETUAL"]["standard"])
DOC_PERP_EXTENDED = list(DOC["initial_risk_vectors"]["BTC-PERPETUAL"]["extended"])
# result.initial_risk_vectors["BTC-28JUN24"].standard / .extended (BTC, the position's)
DOC_FUTURE_STANDARD = list(DOC["initial_risk_vectors"]["BTC-28JUN24"]["standard"])
DOC_FUTURE_EXTENDED = list(DOC["initial_risk_vectors"]["BTC-28JUN24"]["extended"])
# result.aggregated_risk_vectors.btc_btc.standard / .extended (BTC); this 2024 reply has no
# pre_aggregated_risk_vectors.
DOC_AGGREGATED_STANDARD = list(DOC["aggregated_risk_vectors"]["btc_btc"]["standard"])
DOC_AGGREGATED_EXTENDED = list(DOC["aggregated_risk_vectors"]["btc_btc"]["extended"])
# result.margins.btc.initial_margin_details.risk_matrix_margin_details.worst_case (BTC)
DOC_WORST_CASE = _DOC_RMM_DETAILS["worst_case"]
# ...risk_matrix_margin_details.worst_case_bucket: bucket 1, side left, source standard,
# index 1, i.e. pmargin's cell 1 ("BTC -16% vol none" in the 2024 price_range 0.16).
DOC_WORST_INDEX = _cell(_DOC_RMM_DETAILS)
DOC_ROLL_SHOCK = _DOC_RMM_DETAILS["roll_shock"]  # ...risk_matrix_margin_details.roll_shock (BTC)
# result.margins.btc.initial_margin_details.risk_matrix_margin (BTC): worst_case rounded to 9
# decimals (0.059685872) plus roll_shock = 0.06284313098.
DOC_RISK_MATRIX_MARGIN = _DOC_IM_DETAILS["risk_matrix_margin"]
# result.margins.btc.maintenance_margin (BTC): mm_factor 0.8 x risk_matrix_margin.
DOC_MM = DOC["margins"]["btc"]["maintenance_margin"]
# result.margins.btc.initial_margin (BTC) 0.122861343 also holds mmp_margin 0.06 and
# open_orders_margin 0.000018212 (result.margins.btc.initial_margin_details.*), which a book of
# positions has not: IM of the positions = risk_matrix_margin. The sum 0.12286134298 is
# published rounded to 9 decimals.
DOC_IM = DOC["margins"]["btc"]["initial_margin"]
DOC_MMP_MARGIN = _DOC_IM_DETAILS["mmp_margin"]
DOC_OPEN_ORDERS_MARGIN = _DOC_IM_DETAILS["open_orders_margin"]

# --- ETH_2026 ------------------------------------------------------------------------------
ETH = reply("eth-2026")
_ETH_IM_DETAILS = ETH["margins"]["eth"]["initial_margin_details"]
_ETH_RMM_DETAILS = _ETH_IM_DETAILS["risk_matrix_margin_details"]

# result.model_params.general.timestamp (epoch ms)
ETH_TIMESTAMP = ETH["model_params"]["general"]["timestamp"]
ETH_INDEX = ETH["index_price"]["eth_usd"]  # result.index_price.eth_usd (USD)
ETH_MARKS = _marks(ETH)  # result.ticker["ETH-PERPETUAL"].mark_price (USD)
ETH_POSITIONS = dict(ETH["portfolio"]["position"])  # result.portfolio.position (ETH)
# result.initial_risk_vectors["ETH-PERPETUAL"].standard / .extended (ETH, the position's); the
# only position, so result.pre_aggregated_risk_vectors.eth_eth holds the same cells.
ETH_PERP_STANDARD = list(ETH["initial_risk_vectors"]["ETH-PERPETUAL"]["standard"])
ETH_PERP_EXTENDED = list(ETH["initial_risk_vectors"]["ETH-PERPETUAL"]["extended"])
# result.aggregated_risk_vectors.eth_eth.standard / .extended (ETH): pnl_offset 0.6 applied to
# the gains.
ETH_AGGREGATED_STANDARD = list(ETH["aggregated_risk_vectors"]["eth_eth"]["standard"])
ETH_AGGREGATED_EXTENDED = list(ETH["aggregated_risk_vectors"]["eth_eth"]["extended"])
# result.margins.eth.initial_margin_details.risk_matrix_margin_details.worst_case (ETH)
ETH_WORST_CASE = _ETH_RMM_DETAILS["worst_case"]
# ...risk_matrix_margin_details.worst_case_bucket: bucket 9, side right, source standard,
# index 25, i.e. pmargin's cell 25 ("ETH +18% vol none").
ETH_WORST_INDEX = _cell(_ETH_RMM_DETAILS)
ETH_ROLL_SHOCK = _ETH_RMM_DETAILS["roll_shock"]  # ...risk_matrix_margin_details.roll_shock (ETH)
# result.margins.eth.initial_margin_details.risk_matrix_margin (ETH): worst_case rounded to 9
# decimals (0.152464127) plus roll_shock = 0.157461562265.
ETH_RISK_MATRIX_MARGIN = _ETH_IM_DETAILS["risk_matrix_margin"]
# result.margins.eth.initial_margin (ETH): risk_matrix_margin rounded to 9 decimals (no mmp,
# open-orders or spot margin).
ETH_IM = ETH["margins"]["eth"]["initial_margin"]
# result.margins.eth.maintenance_margin (ETH): mm_factor 0.8 x risk_matrix_margin.
ETH_MM = ETH["margins"]["eth"]["maintenance_margin"]

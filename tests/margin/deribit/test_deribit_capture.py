"""Reading and verifying the stored replies (``captures/*.json``).

``_deribit_cases`` reads each published number straight from the JSON fields; here
:func:`read_capture`, the parser behind ``pmargin verify``, must read the same ones.
"""

from __future__ import annotations

import pytest
from _deribit_cases import (
    CAPTURES,
    DOC,
    DOC_AGGREGATED_EXTENDED,
    DOC_AGGREGATED_STANDARD,
    DOC_FUTURE_EXTENDED,
    DOC_FUTURE_STANDARD,
    DOC_INDEX,
    DOC_MARKS,
    DOC_PERP_EXTENDED,
    DOC_PERP_STANDARD,
    DOC_POSITIONS,
    DOC_TIMESTAMP,
    ETH,
    ETH_AGGREGATED_EXTENDED,
    ETH_AGGREGATED_STANDARD,
    ETH_INDEX,
    ETH_MARKS,
    ETH_PERP_EXTENDED,
    ETH_PERP_STANDARD,
    ETH_POSITIONS,
    ETH_TIMESTAMP,
)

from pmargin.errors import InputError
from pmargin.margin.deribit import DeribitCapture, read_capture, verify_capture


def test_read_capture_reads_the_doc_2024_fields() -> None:
    c = read_capture(CAPTURES / "doc-2024.json")
    assert c.timestamp_ms == DOC_TIMESTAMP
    assert dict(c.index) == {"BTC": DOC_INDEX}
    assert dict(c.marks) == {s: m["price"] for s, m in DOC_MARKS.items()}
    assert dict(c.positions) == DOC_POSITIONS
    assert dict(c.balances) == {}
    assert list(c.initial["BTC-PERPETUAL"]) == DOC_PERP_STANDARD + DOC_PERP_EXTENDED
    assert list(c.initial["BTC-28JUN24"]) == DOC_FUTURE_STANDARD + DOC_FUTURE_EXTENDED
    assert list(c.aggregated["btc_btc"]) == DOC_AGGREGATED_STANDARD + DOC_AGGREGATED_EXTENDED
    assert c.pre_aggregated == {}  # the 2024 reply predates pre_aggregated_risk_vectors
    assert dict(c.margins) == DOC["margins"]
    assert dict(c.model_params) == DOC["model_params"]


def test_read_capture_reads_the_eth_2026_fields() -> None:
    c = read_capture(CAPTURES / "eth-2026.json")  # a bare result, no JSON-RPC envelope
    assert c.timestamp_ms == ETH_TIMESTAMP
    assert dict(c.index) == {"ETH": ETH_INDEX}
    assert dict(c.marks) == {s: m["price"] for s, m in ETH_MARKS.items()}
    assert dict(c.positions) == ETH_POSITIONS
    assert list(c.initial["ETH-PERPETUAL"]) == ETH_PERP_STANDARD + ETH_PERP_EXTENDED
    pre = ETH["pre_aggregated_risk_vectors"]["eth_eth"]
    assert list(c.pre_aggregated["eth_eth"]) == pre["standard"] + pre["extended"]
    assert list(c.aggregated["eth_eth"]) == ETH_AGGREGATED_STANDARD + ETH_AGGREGATED_EXTENDED
    assert dict(c.margins) == ETH["margins"]
    assert dict(c.model_params) == ETH["model_params"]


@pytest.mark.parametrize("name", ["doc-2024", "eth-2026"])
def test_both_captures_verify_in_s_pm(name: str) -> None:
    check = verify_capture(read_capture(CAPTURES / f"{name}.json"))
    assert check.ok, [(r.unit, r.quantity, r.difference) for r in check.mismatches]
    assert check.notes == ()  # delta-one books: no reading line


def test_an_error_reply_is_named() -> None:
    with pytest.raises(InputError, match="is an error reply") as err:
        DeribitCapture.from_dict({"jsonrpc": "2.0", "error": {"code": 13009}}, "x.json")
    assert err.value.field == "x.json: error"

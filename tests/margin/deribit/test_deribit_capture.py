"""The stored replies (``captures/*.json``) hold the published numbers of ``_deribit_cases``."""

from __future__ import annotations

from pathlib import Path

import pytest
from _deribit_cases import (
    DOC_AGGREGATED_EXTENDED,
    DOC_AGGREGATED_STANDARD,
    DOC_INDEX,
    DOC_MARKS,
    DOC_POSITIONS,
    DOC_RISK_MATRIX_MARGIN,
    DOC_TIMESTAMP,
    ETH_AGGREGATED_EXTENDED,
    ETH_AGGREGATED_STANDARD,
    ETH_INDEX,
    ETH_MARKS,
    ETH_PERP_EXTENDED,
    ETH_PERP_STANDARD,
    ETH_POSITIONS,
    ETH_RISK_MATRIX_MARGIN,
    ETH_TIMESTAMP,
)

from pmargin.errors import InputError
from pmargin.margin.deribit import DeribitCapture, read_capture, verify_capture

CAPTURES = Path(__file__).resolve().parent / "captures"


def test_doc_2024_capture_holds_the_published_numbers() -> None:
    c = read_capture(CAPTURES / "doc-2024.json")
    assert c.timestamp_ms == DOC_TIMESTAMP
    assert dict(c.index) == {"BTC": DOC_INDEX}
    assert dict(c.marks) == {s: m["price"] for s, m in DOC_MARKS.items()}
    assert dict(c.positions) == DOC_POSITIONS
    assert list(c.aggregated["btc_btc"]) == DOC_AGGREGATED_STANDARD + DOC_AGGREGATED_EXTENDED
    assert c.pre_aggregated == {}  # the 2024 reply predates pre_aggregated_risk_vectors
    details = c.margins["btc"]["initial_margin_details"]
    assert details["risk_matrix_margin"] == DOC_RISK_MATRIX_MARGIN


def test_eth_2026_capture_holds_the_published_numbers() -> None:
    c = read_capture(CAPTURES / "eth-2026.json")
    assert c.timestamp_ms == ETH_TIMESTAMP
    assert dict(c.index) == {"ETH": ETH_INDEX}
    assert dict(c.marks) == {s: m["price"] for s, m in ETH_MARKS.items()}
    assert dict(c.positions) == ETH_POSITIONS
    assert list(c.pre_aggregated["eth_eth"]) == ETH_PERP_STANDARD + ETH_PERP_EXTENDED
    assert list(c.aggregated["eth_eth"]) == ETH_AGGREGATED_STANDARD + ETH_AGGREGATED_EXTENDED
    details = c.margins["eth"]["initial_margin_details"]
    assert details["risk_matrix_margin"] == ETH_RISK_MATRIX_MARGIN


@pytest.mark.parametrize("name", ["doc-2024", "eth-2026"])
def test_both_captures_verify_in_s_pm(name: str) -> None:
    check = verify_capture(read_capture(CAPTURES / f"{name}.json"))
    assert check.ok, [(r.unit, r.quantity, r.difference) for r in check.mismatches]
    assert check.notes == ()  # delta-one books: no reading line


def test_an_error_reply_is_named() -> None:
    with pytest.raises(InputError, match="is an error reply") as err:
        DeribitCapture.from_dict({"jsonrpc": "2.0", "error": {"code": 13009}}, "x.json")
    assert err.value.field == "x.json: error"

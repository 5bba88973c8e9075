"""The published JSON Schema of the market file agrees with the loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _market_cases import base

from pmargin.market import MARKET_FIELDS, market_from_dict
from pmargin.market._checks import MAX_ABS_RATE, MAX_VOL, price_range
from pmargin.market._codec import SLICE_FIELDS
from pmargin.market._mark import MARK_FIELDS
from pmargin.market._svi import SVI_FIELDS

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "docs" / "schema" / "market.schema.json"
EXAMPLE = REPO / "src" / "pmargin" / "data" / "example_market.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    if not SCHEMA_FILE.is_file():
        pytest.skip(f"schema not found at {SCHEMA_FILE}")
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return loaded


def test_schema_fields_match_the_loader(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == set(MARKET_FIELDS)
    assert schema["required"] == ["timestamp"]
    assert schema["additionalProperties"] is False
    defs = schema["$defs"]
    assert set(defs["slice"]["properties"]) == set(SLICE_FIELDS)
    assert defs["slice"]["required"] == ["expiry", "svi"]
    assert tuple(defs["svi"]["required"]) == SVI_FIELDS
    assert set(defs["svi"]["properties"]) == set(SVI_FIELDS)
    assert set(defs["mark"]["properties"]) == set(MARK_FIELDS)
    assert defs["mark"]["properties"]["iv"]["maximum"] == MAX_VOL
    rates = schema["properties"]["rates"]["oneOf"][1]["additionalProperties"]
    assert (rates["minimum"], rates["maximum"]) == (-MAX_ABS_RATE, MAX_ABS_RATE)
    low, high = price_range()
    assert (defs["price"]["minimum"], defs["price"]["maximum"]) == (low, high)
    assert defs["mark"]["properties"]["price"]["maximum"] == high


# Files the loader rejects for reasons the schema can also express (JSON values only).
INVALID = {
    "negative index": lambda d: d["index"].update(BTC=-1.0),
    "mark with both": lambda d: d["marks"].update(X={"price": 1.0, "iv": 0.5}),
    "mark with neither": lambda d: d["marks"].update(X={}),
    "mark extra field": lambda d: d["marks"].update(X={"iv": 0.5, "underlying_price": 1.0}),
    "unknown section": lambda d: d.update(indx={}),
    "no timestamp": lambda d: d.pop("timestamp"),
    "svi b < 0": lambda d: d["surfaces"]["BTC"][0]["svi"].update(b=-0.1),
    "svi rho = -1": lambda d: d["surfaces"]["BTC"][0]["svi"].update(rho=-1.0),
    "svi sigma = 0": lambda d: d["surfaces"]["BTC"][0]["svi"].update(sigma=0.0),
    "slice extra": lambda d: d["surfaces"]["BTC"][0].update(t=0.1),
    "forward <= 0": lambda d: d["forwards"]["BTC"].update({"2025-01-31": 0.0}),
    "iv in points": lambda d: d["marks"].update(X={"iv": 55.0}),
    "rate in percent": lambda d: d["rates"].update(USD=5.0),
}


def test_schema_accepts_what_the_loader_accepts(schema: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    data = base()
    market_from_dict(data)
    validator.validate(data)
    validator.validate({"timestamp": "2024-11-01T08:00:00Z"})
    if EXAMPLE.is_file():
        validator.validate(json.loads(EXAMPLE.read_text()))


@pytest.mark.parametrize("name", sorted(INVALID))
def test_schema_and_loader_both_reject(schema: dict[str, Any], name: str) -> None:
    data = base()
    INVALID[name](data)
    with pytest.raises(ValueError, match=r"\S"):
        market_from_dict(data)  # InputError is a ValueError
    jsonschema = pytest.importorskip("jsonschema")
    assert not jsonschema.Draft202012Validator(schema).is_valid(data)

"""The Instrument dataclass and explicit specs: validation, defaults, immutability."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from pmargin.errors import InputError
from pmargin.instruments import (
    Instrument,
    Kind,
    QuantityUnit,
    Right,
    Settlement,
    instrument_from_spec,
)

EXPIRY = datetime(2024, 12, 27, 8, tzinfo=UTC)


def _option(**changes: Any) -> Instrument:
    fields: dict[str, Any] = {
        "symbol": "BTC-27DEC24-60000-C",
        "kind": Kind.OPTION,
        "underlying": "BTC",
        "settlement": Settlement.INVERSE,
        "expiry": EXPIRY,
        "strike": 60_000.0,
        "right": Right.CALL,
    }
    fields.update(changes)
    return Instrument(**fields)


def test_valid_option_and_derived_properties() -> None:
    option = _option()
    assert option.is_option
    assert option.is_call
    assert option.is_inverse
    assert option.settlement_currency == "BTC"
    assert option.contract_currency == "BTC"  # options count coins by default
    assert option.quantity_unit is QuantityUnit.BASE
    linear = _option(settlement="linear", quote="USDC", right="put")
    assert linear.settlement_currency == "USDC"
    assert linear.right is Right.PUT
    assert not linear.is_call


def test_strings_are_coerced_to_enums() -> None:
    loose: dict[str, Any] = {"kind": "FUTURE", "settlement": "Inverse"}
    future = Instrument(symbol="f", underlying="BTC", expiry=EXPIRY, **loose)
    assert future.kind is Kind.FUTURE
    assert future.settlement is Settlement.INVERSE
    assert future.contract_currency == "USD"  # inverse futures count USD by default


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"kind": "swap"}, ".kind", "is not one of spot|future|perpetual|option"),
        ({"settlement": "quanto"}, ".settlement", "is not one of linear|inverse"),
        ({"quantity_unit": "lots"}, ".quantity_unit", "is not one of base|quote|contracts"),
        ({"expiry": None}, ".expiry", "is required"),
        ({"expiry": datetime(2024, 12, 27, 8)}, ".expiry", "timezone-aware"),
        ({"right": None}, ".right", "is required for an option"),
        ({"right": "straddle"}, ".right", "is not one of call|put"),
        ({"strike": -1.0}, ".strike", "> 0"),
        ({"strike": 0.0}, ".strike", "> 0"),
        ({"strike": math.nan}, ".strike", "finite"),
        ({"strike": None}, ".strike", "> 0"),
        ({"contract_size": math.nan}, ".contract_size", "finite"),
        ({"contract_size": 0}, ".contract_size", "> 0"),
        ({"contract_size": True}, ".contract_size", "number"),
        ({"contract_size": "10"}, ".contract_size", "number"),
        ({"underlying": ""}, ".underlying", "non-empty"),
        ({"quote": "BTC"}, ".quote", "must differ from the underlying"),
        ({"contract_currency": "ETH"}, ".contract_currency", "must be the underlying"),
        ({"symbol": ""}, "symbol", "non-empty"),
    ],
)
def test_invalid_option_fields(changes: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        _option(**changes)
    assert caught.value.field.endswith(field)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("kind", "changes", "field", "reason"),
    [
        (Kind.FUTURE, {"expiry": EXPIRY, "strike": 100.0}, ".strike", "only valid for options"),
        (Kind.FUTURE, {"expiry": EXPIRY, "right": "call"}, ".right", "only valid for options"),
        (Kind.FUTURE, {}, ".expiry", "is required for a future"),
        (Kind.PERPETUAL, {"expiry": EXPIRY}, ".expiry", "must be empty for perpetual"),
        (Kind.SPOT, {"settlement": "inverse"}, ".settlement", "not valid for spot"),
    ],
)
def test_invalid_non_option_fields(
    kind: Kind, changes: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(InputError) as caught:
        Instrument(symbol="x", kind=kind, underlying="BTC", **changes)
    assert caught.value.field.endswith(field)
    assert reason in caught.value.reason


def test_instrument_is_frozen() -> None:
    option = _option()
    with pytest.raises(dataclasses.FrozenInstanceError):
        option.strike = 1.0  # type: ignore[misc]
    assert option.strike == 60_000.0
    assert hash(option) == hash(_option())


def test_spec_date_only_expiry_means_0800_utc() -> None:
    spec = {
        "symbol": "SPX-20241220-5000-C",
        "kind": "option",
        "underlying": "spx",
        "expiry": "2024-12-20",
        "strike": "5000",
        "right": "call",
        "settlement": "linear",
        "quote": "usd",
        "contract_size": 100,
    }
    instrument = instrument_from_spec(spec)
    assert instrument.expiry == datetime(2024, 12, 20, 8, 0, tzinfo=UTC)
    assert instrument.underlying == "SPX"
    assert instrument.quote == "USD"
    assert instrument.strike == 5000.0
    assert instrument.contract_size == 100.0
    assert instrument.quantity_unit is QuantityUnit.CONTRACTS
    assert instrument.venue is None


def test_spec_full_timestamp_is_kept() -> None:
    spec = {
        "symbol": "SPX-20241220-5000-C",
        "kind": "option",
        "underlying": "SPX",
        "expiry": "2024-12-20T21:00:00Z",
        "strike": 5000,
        "right": "put",
    }
    assert instrument_from_spec(spec).expiry == datetime(2024, 12, 20, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "field", "reason"),
    [
        ({"symbol": "x", "kind": "spot", "underlying": "BTC", "hue": 1}, ".hue", "spec field"),
        ({"kind": "spot", "underlying": "BTC"}, ".symbol", "is required"),
        ({"symbol": "x", "underlying": "BTC"}, ".kind", "is required"),
        ({"symbol": "x", "kind": "spot"}, ".underlying", "is required"),
        ({"symbol": "x", "kind": "bond", "underlying": "BTC"}, ".kind", "is not one of"),
        (
            {"symbol": "x", "kind": "option", "underlying": "BTC", "right": "call",
             "expiry": "2024-12-27", "strike": "abc"},
            ".strike", "must be a number",
        ),
        (
            {"symbol": "x", "kind": "option", "underlying": "BTC", "right": "call",
             "expiry": "2024-12-27", "strike": "inf"},
            ".strike", "finite",
        ),
        (
            {"symbol": "x", "kind": "option", "underlying": "BTC", "right": "call",
             "expiry": "2024-12-27", "strike": True},
            ".strike", "must be a number",
        ),
        (
            {"symbol": "x", "kind": "option", "underlying": "BTC", "right": "call",
             "expiry": "2024-13-27", "strike": 1},
            ".expiry", "is not a date",
        ),
        (
            {"symbol": "x", "kind": "option", "underlying": "BTC", "strike": 1, "right": "call"},
            ".expiry", "is required for a option",
        ),
        (
            {"symbol": "x", "kind": "future", "underlying": "BTC", "expiry": "2024-12-27",
             "strike": 10},
            ".strike", "only valid for options",
        ),
        (
            {"symbol": "x", "kind": "perpetual", "underlying": "BTC",
             "contract_size": float("nan")},
            ".contract_size", "finite",
        ),
    ],
)  # fmt: skip
def test_invalid_specs_name_the_field(spec: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        instrument_from_spec(spec, "instruments[2]")
    assert caught.value.field.endswith(field), caught.value.field
    assert reason in caught.value.reason


def test_spec_must_be_a_mapping() -> None:
    with pytest.raises(InputError, match="must be a mapping"):
        instrument_from_spec(["BTC"])  # type: ignore[arg-type]

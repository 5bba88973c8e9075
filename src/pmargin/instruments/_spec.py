"""Explicit instrument specs: any contract the venue symbol parsers do not cover.

A spec is a mapping with the fields of DESIGN.md::

    {"symbol": "SPX-20241220-5000-C", "kind": "option", "underlying": "SPX",
     "expiry": "2024-12-20T21:00:00Z", "strike": 5000, "right": "call",
     "settlement": "linear", "quote": "USD", "contract_size": 100}

Optional fields: ``contract_currency`` (default: the underlying, or the quote for inverse
futures and perpetuals), ``quantity_unit`` (``base`` | ``quote`` | ``contracts``, default
``contracts`` for explicit specs) and ``venue``. An expiry given as a date alone means 08:00 UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pmargin.errors import InputError
from pmargin.instruments._instrument import Instrument, QuantityUnit
from pmargin.timeutil import parse_expiry

__all__ = ["SPEC_FIELDS", "instrument_from_spec"]

SPEC_FIELDS = frozenset(
    {
        "symbol",
        "kind",
        "underlying",
        "expiry",
        "strike",
        "right",
        "settlement",
        "quote",
        "contract_size",
        "contract_currency",
        "quantity_unit",
        "venue",
    }
)


def instrument_from_spec(spec: Mapping[str, Any], field: str = "instruments[]") -> Instrument:
    """Build an :class:`Instrument` from an explicit spec mapping.

    Raises
    ------
    InputError
        Naming the field, for unknown or missing fields and invalid values.
    """
    if not isinstance(spec, Mapping):
        raise InputError(field, spec, "must be a mapping of instrument fields")
    unknown = sorted(set(spec) - SPEC_FIELDS)
    if unknown:
        raise InputError(
            f"{field}.{unknown[0]}",
            spec[unknown[0]],
            f"is not a spec field ({sorted(SPEC_FIELDS)})",
        )
    for required in ("symbol", "kind", "underlying"):
        if spec.get(required) in (None, ""):
            raise InputError(f"{field}.{required}", spec.get(required), "is required")
    expiry = spec.get("expiry")
    strike = spec.get("strike")
    if strike is not None:
        if isinstance(strike, bool) or not isinstance(strike, int | float | str):
            raise InputError(f"{field}.strike", strike, "must be a number > 0")
        try:
            strike = float(strike)
        except ValueError:
            raise InputError(f"{field}.strike", spec["strike"], "must be a number > 0") from None
        if not math.isfinite(strike):
            raise InputError(f"{field}.strike", spec["strike"], "must be a finite number > 0")
    return Instrument(
        symbol=str(spec["symbol"]),
        kind=spec["kind"],
        underlying=str(spec["underlying"]).upper(),
        quote=str(spec.get("quote", "USD")).upper(),
        settlement=spec.get("settlement", "linear"),
        expiry=None if expiry is None else parse_expiry(expiry, f"{field}.expiry"),
        strike=strike,
        right=spec.get("right"),
        contract_size=spec.get("contract_size", 1.0),
        contract_currency=str(spec.get("contract_currency", "")).upper(),
        quantity_unit=spec.get("quantity_unit", QuantityUnit.CONTRACTS),
        venue=spec.get("venue"),
    )

"""Validation helpers shared by the market objects and the market file reader.

Every helper takes the dotted ``field`` path of the value it checks (``"index.BTC"``,
``"surfaces.ETH[2].svi.rho"``) and raises :class:`~pmargin.errors.InputError` naming that path,
the rejected value and what would be valid.
"""

from __future__ import annotations

import math
import numbers
from datetime import UTC, datetime

from pmargin._validation import Abbreviated, abbreviate, input_limits
from pmargin.errors import InputError
from pmargin.timeutil import DEFAULT_EXPIRY_HOUR, format_timestamp

__all__ = [
    "MAX_ABS_RATE",
    "MAX_VOL",
    "Abbreviated",
    "abbreviate",
    "as_number",
    "check_mark_price",
    "check_price",
    "check_rate",
    "check_vol",
    "format_expiry",
    "price_range",
]

MAX_VOL = input_limits().number("numbers", "max_vol")
"""Largest accepted implied vol (``numbers.max_vol`` of ``input_limits.toml``, 10 = 1000 % a
year): larger values are taken as vol points."""

MAX_ABS_RATE = input_limits().number("numbers", "max_abs_rate")
"""Largest accepted absolute interest rate (``numbers.max_abs_rate``, 2 = 200 % a year): larger
values are taken as percent."""


def as_number(value: object, field: str, expected: str = "a number") -> float:
    """Return ``value`` as a float; reject booleans, text and other non-numbers.

    Parameters
    ----------
    value
        The raw value (int, float or numpy real).
    field
        Dotted path of the value, for the error message.
    expected
        What a valid value is, e.g. ``"a finite price > 0"``.

    Raises
    ------
    InputError
        When ``value`` is not a real number.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(field, abbreviate(value), f"must be {expected}")
    try:
        return float(value)
    except OverflowError:  # an int beyond float range (10**400)
        return math.inf


def price_range() -> tuple[float, float]:
    """``(min_price, max_price)`` of ``input_limits.toml`` (quote currency per unit).

    Read once per limits object (every price of a feed tick is checked against it).
    """
    limits = input_limits()
    kept = _PRICE_RANGE.get(id(limits))
    if kept is None or kept[0] is not limits:
        found = limits.number("numbers", "min_price"), limits.number("numbers", "max_price")
        _PRICE_RANGE.clear()
        kept = _PRICE_RANGE[id(limits)] = (limits, found)
    return kept[1]


_PRICE_RANGE: dict[int, tuple[object, tuple[float, float]]] = {}
"""``id(limits) -> (limits, (min_price, max_price))`` for the limits object last read."""


def check_price(value: object, field: str) -> float:
    """Return a finite price in ``[min_price, max_price]`` (``input_limits.toml``) as a float.

    Prices are USD or quote currency per unit: index, asset prices, forwards.
    """
    low, high = price_range()
    if type(value) is float and low <= value <= high and math.isfinite(value):
        return value  # a feed's float in range: nothing to convert, no message to build
    price = as_number(value, field, f"a finite price in [{low:g}, {high:g}]")
    if not math.isfinite(price) or not low <= price <= high:
        raise InputError(field, abbreviate(value), f"must be a finite price in [{low:g}, {high:g}]")
    return price


def check_mark_price(value: object, field: str) -> float:
    """Return a finite mark price, 0 or in ``[min_price, max_price]``, as a float.

    Zero is allowed because venues mark worthless far out-of-the-money options at 0; the
    valuation layer still requires futures and perpetual marks to be > 0.
    """
    low, high = price_range()
    if type(value) is float and (value == 0.0 or low <= value <= high) and math.isfinite(value):
        return value  # a feed's float, 0 or in range: nothing to convert, no message to build
    expected = f"a finite price, 0 or in [{low:g}, {high:g}]"
    price = as_number(value, field, expected)
    if not math.isfinite(price) or not (price == 0.0 or low <= price <= high):
        raise InputError(field, abbreviate(value), f"must be {expected}")
    return price


def check_rate(value: object, field: str) -> float:
    """Return a continuously compounded rate per year (decimal) as a float.

    Rates must be finite and at most :data:`MAX_ABS_RATE` in absolute value; a larger number is
    almost always a percentage (``5`` for 5 %) and is rejected with that hint.
    """
    rate = as_number(value, field, "a finite decimal rate per year (0.05 for 5 %)")
    if not math.isfinite(rate):
        raise InputError(
            field, abbreviate(value), "must be a finite decimal rate per year (0.05 for 5 %)"
        )
    if abs(rate) > MAX_ABS_RATE:
        raise InputError(
            field,
            rate,
            f"is outside [-{MAX_ABS_RATE:g}, {MAX_ABS_RATE:g}]; rates are decimals per year "
            "(0.05 for 5 %), not percent",
        )
    return rate


def check_vol(value: object, field: str) -> float:
    """Return an annualised implied vol (decimal, ``0.55`` for 55 %) as a float.

    Vols must be finite, > 0 and at most :data:`MAX_VOL`; a larger number is almost always given
    in vol points (``55`` for 55 %) and is rejected with that hint.
    """
    vol = as_number(value, field, "a finite implied vol > 0 (decimal, 0.55 for 55 %)")
    if not math.isfinite(vol) or vol <= 0.0:
        raise InputError(
            field, abbreviate(value), "must be a finite implied vol > 0 (decimal, 0.55 for 55 %)"
        )
    if vol > MAX_VOL:
        raise InputError(
            field,
            vol,
            f"is above {MAX_VOL:g}; implied vols are annualised decimals (0.55 for 55 %), "
            "not vol points",
        )
    return vol


def format_expiry(expiry: datetime) -> str:
    """Format an expiry compactly, as the market file writes it.

    A default crypto expiry (08:00:00 UTC) prints as its date alone (``"2024-12-27"``, which
    :func:`~pmargin.timeutil.parse_expiry` reads back as 08:00 UTC); any other instant as
    :func:`format_timestamp` does.
    """
    utc = expiry.astimezone(UTC)
    if (utc.hour, utc.minute, utc.second, utc.microsecond) == (DEFAULT_EXPIRY_HOUR, 0, 0, 0):
        return utc.date().isoformat()
    return format_timestamp(utc)

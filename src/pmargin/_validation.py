"""Small validation helpers shared by every layer (failures are :class:`InputError`)."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import TypeVar

from pmargin.errors import InputError

__all__ = ["as_enum", "as_float"]

_E = TypeVar("_E", bound=StrEnum)


def as_enum(enum: type[_E], value: object, field: str) -> _E:
    """Coerce ``value`` (a member or its string value) to ``enum`` or raise naming the choices."""
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).lower())
    except ValueError:
        choices = "|".join(member.value for member in enum)
        raise InputError(field, value, f"is not one of {choices}") from None


def as_float(
    value: object,
    field: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float inside the given interval, else raise naming it.

    ``low_open`` / ``high_open`` exclude the bound itself.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(field, value, "must be a number")
    number = float(value)
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if not math.isfinite(number) or below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise InputError(field, value, f"must be a finite number in {left}{low:g}, {high:g}{right}")
    return number

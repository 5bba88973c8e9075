"""Field validation shared by the scenario types (each failure is an :class:`InputError`)."""

from __future__ import annotations

import math

from pmargin._validation import as_enum
from pmargin.errors import InputError

__all__ = ["as_enum", "as_float"]


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

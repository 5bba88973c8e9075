"""Small validation helpers shared by every layer (failures are :class:`InputError`).

The limits every input number is checked against (price and quantity ranges, file sizes,
nesting depth, timestamp years) are data: ``pmargin/input_limits.toml``, read once by
:func:`input_limits`.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from pmargin.errors import InputError

__all__ = [
    "DECIMAL_TEXT",
    "Abbreviated",
    "InputLimits",
    "abbreviate",
    "as_decimal",
    "as_enum",
    "as_float",
    "check_currency",
    "input_limits",
    "short_reason",
]

_E = TypeVar("_E", bound=StrEnum)

DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
"""Text accepted as a number: plain decimal with an optional exponent (no ``_``, ``nan``,
``inf``, hex or sexagesimal forms)."""


class InputLimits:
    """The tables of ``input_limits.toml`` with typed accessors.

    Parameters
    ----------
    data
        The parsed file: tables ``files``, ``numbers``, ``time``, ``market``, ``history``.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def number(self, section: str, key: str) -> float:
        """Return the finite number ``[section] key`` (a missing or bad one is an InputError)."""
        table = self._data.get(section)
        value = table.get(key) if isinstance(table, Mapping) else None
        return as_float(value, f"input_limits.toml: {section}.{key}")

    def integer(self, section: str, key: str) -> int:
        """Return the integer ``[section] key`` (a number with no fractional part)."""
        number = self.number(section, key)
        if number != int(number):
            raise InputError(f"input_limits.toml: {section}.{key}", number, "must be an integer")
        return int(number)


@cache
def input_limits() -> InputLimits:
    """Read the packaged ``input_limits.toml`` (once per process)."""
    text = (resources.files("pmargin") / "input_limits.toml").read_text(encoding="utf-8")
    return InputLimits(tomllib.loads(text))


class Abbreviated:
    """A stand-in whose ``repr`` is a shortened ``repr`` of a long value (for error messages)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


def abbreviate(value: object) -> object:
    """Return ``value``, or a stand-in whose repr is the first characters of its repr + ``...``.

    The length is ``files.max_quoted_chars`` of ``input_limits.toml``; containers are not
    rendered in full first (a huge list's repr would cost as much as the list).
    """
    limit = input_limits().integer("files", "max_quoted_chars")
    if isinstance(value, list | tuple | dict | set) and len(value) > limit:
        return Abbreviated(f"<{type(value).__name__} of {len(value)} items>")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return Abbreviated(f"<integer of about {int(value.bit_length() * 0.30103)} digits>")
    cut = isinstance(value, str | bytes) and len(value) > limit
    text = repr(value[:limit]) if isinstance(value, str | bytes) and cut else repr(value)
    if not cut and len(text) <= limit:
        return value
    return Abbreviated(text[: limit - 3] + "...")


def as_enum(enum: type[_E], value: object, field: str) -> _E:
    """Coerce ``value`` (a member or its string value) to ``enum`` or raise naming the choices."""
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).lower())
    except ValueError:
        choices = "|".join(member.value for member in enum)
        raise InputError(field, abbreviate(value), f"is not one of {choices}") from None


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

    ``low_open`` / ``high_open`` exclude the bound itself. An integer too large for a float
    (``10**400``) is out of range, not an ``OverflowError``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(field, abbreviate(value), "must be a number")
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    reason = f"must be a finite number in {left}{low:g}, {high:g}{right}"
    try:
        number = float(value)
    except OverflowError:
        raise InputError(field, abbreviate(value), reason) from None
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if not math.isfinite(number) or below or above:
        raise InputError(field, abbreviate(value), reason)
    return number


def as_decimal(value: object, field: str, *, low: float, high: float) -> float:
    """Return a number given as a JSON/YAML number or as decimal text, checked in ``[low, high]``.

    Parameters
    ----------
    value
        An int or float, or text matching :data:`DECIMAL_TEXT` (CSV cells, quoted numbers).
    field
        Dotted path of the value, for the error message.
    low, high
        Inclusive bounds.

    Raises
    ------
    InputError
        For booleans, other text (``"1:30"``, ``"1_000"``, ``"nan"``), non-finite values and
        values outside the bounds (``10**400`` included).
    """
    if isinstance(value, str):
        text = value.strip()
        if not DECIMAL_TEXT.fullmatch(text):
            raise InputError(field, abbreviate(value), "must be a decimal number such as 1.5")
        value = float(text)
    return as_float(value, field, low=low, high=high)


_DID_YOU_MEAN = re.compile(r"did you mean [^?]*\?")


def short_reason(reason: str, max_chars: int = 120) -> str:
    """Shorten a long error reason to its first clause, keeping any ``did you mean ...?``.

    Parameters
    ----------
    reason
        A reason such as a symbol parser's (first clause, then the venue's valid forms).
    max_chars
        Longest result before the first clause itself is cut.
    """
    first = reason.split("; ")[0]
    if len(first) > max_chars:
        first = first[: max_chars - 3] + "..."
    hint = _DID_YOU_MEAN.search(reason)
    if hint is not None and hint.group(0) not in first:
        first += f" ({hint.group(0)})"
    return first


def check_currency(value: object, field: str) -> str:
    """Return a currency or underlying code in upper case (``"btc"`` -> ``"BTC"``).

    Raises
    ------
    InputError
        When ``value`` is not a non-empty string without spaces.
    """
    if not isinstance(value, str) or not value or value != value.strip() or " " in value:
        raise InputError(
            field, abbreviate(value), "must be a currency code such as 'BTC', 'USDC' or 'USD'"
        )
    return value.upper()

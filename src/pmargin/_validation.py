"""Small validation helpers shared by every layer (failures are :class:`InputError`)."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from pmargin.errors import InputError

__all__ = ["as_enum"]

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

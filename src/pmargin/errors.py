"""Exceptions raised by pmargin.

Every error that bad input can cause is a :class:`PmarginError` whose message names the field,
the offending value and what would have been valid. Adapters (CLI, service) print the message
on one line and never a traceback.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "InputError",
    "MarketDataError",
    "PmarginError",
    "SymbolError",
]


class PmarginError(Exception):
    """Base class of every error pmargin raises on purpose.

    Errors pickle with their fields, whatever their constructor takes, so an error raised on
    a Dask worker (``--cluster``) reaches the caller as the same error.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        """Rebuild as this class with the same message (``args``) and fields."""
        return (_restore, (type(self), self.args, dict(self.__dict__)))


def _restore(cls: type[PmarginError], args: tuple[Any, ...], state: dict[str, Any]) -> PmarginError:
    """Unpickle a :class:`PmarginError` without calling its constructor."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class InputError(PmarginError, ValueError):
    """A value supplied by the user is invalid.

    Parameters
    ----------
    field
        Dotted path of the offending field, e.g. ``"positions[3].quantity"``.
    value
        The value that was rejected (shown with ``repr``).
    reason
        What is wrong and, where possible, what would be valid.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {value!r} {reason}")


class SymbolError(InputError):
    """A venue symbol could not be parsed."""

    def __init__(self, symbol: str, reason: str, field: str = "symbol") -> None:
        super().__init__(field, symbol, reason)
        self.symbol = symbol


class MarketDataError(PmarginError, LookupError):
    """Market data needed to value an instrument is missing or unusable."""

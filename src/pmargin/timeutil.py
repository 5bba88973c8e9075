"""Time conventions: UTC timestamps and ACT/365 year fractions.

All of pmargin measures time to expiry with :func:`year_fraction`: actual seconds between two UTC
instants divided by 365 x 86,400 (ACT/365 Fixed, as Deribit does). Crypto expiries without a time
of day settle at 08:00 UTC (:data:`DEFAULT_EXPIRY_HOUR`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import numpy.typing as npt

from pmargin._validation import abbreviate, input_limits
from pmargin.errors import InputError

__all__ = [
    "DAYS_PER_YEAR",
    "DEFAULT_EXPIRY_HOUR",
    "HOURS_PER_YEAR",
    "SECONDS_PER_YEAR",
    "expiry_on",
    "format_timestamp",
    "parse_expiry",
    "parse_timestamp",
    "year_fraction",
    "year_fractions",
]

DAYS_PER_YEAR = 365.0
"""Days in one ACT/365 year: ``year_fraction * DAYS_PER_YEAR`` is a time in days."""

HOURS_PER_YEAR = DAYS_PER_YEAR * 24.0
"""Hours in one ACT/365 year (crypto trades every hour of every day)."""

SECONDS_PER_YEAR = DAYS_PER_YEAR * 86_400.0
"""Seconds in one ACT/365 year."""

MIN_EPOCH_MS = 1e11
"""Smallest epoch-milliseconds value taken as a timestamp (1973-03-03); a smaller number is
almost surely epoch seconds (today ~1.7e9) and is refused rather than read as 1970."""

DEFAULT_EXPIRY_HOUR = 8
"""Hour (UTC) at which crypto options and futures expire when no time is given."""


def _year_bounds() -> tuple[int, int]:
    """``[min_year, max_year)`` of the ``time`` table of ``input_limits.toml``."""
    limits = input_limits()
    return limits.integer("time", "min_year"), limits.integer("time", "max_year")


def parse_timestamp(value: object, field: str = "timestamp") -> datetime:
    """Parse an ISO-8601 string, a ``datetime``, or Unix epoch milliseconds into aware UTC.

    Naive datetimes and strings without an offset are taken as UTC. Every instant must fall
    in ``[min_year-01-01, max_year-01-01)`` (``input_limits.toml``, table ``time``: 1970 to
    2200); an epoch number above that range in milliseconds is taken as micro- or nanoseconds
    and refused with that hint, one below 1e11 (1973) as seconds.

    Raises
    ------
    InputError
        Naming ``field``, never an ``OverflowError``.
    """
    dt = _parse_instant(value, field)
    first, last = _year_bounds()
    if not first <= dt.year < last:
        raise InputError(
            field, abbreviate(value), f"is outside the years {first} to {last - 1} (UTC)"
        )
    return dt


def _parse_instant(value: object, field: str) -> datetime:
    """Parse without the year check (see :func:`parse_timestamp`)."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time(0), tzinfo=UTC)
    elif isinstance(value, bool):
        raise InputError(field, value, "is not a timestamp; expected ISO-8601 text or epoch ms")
    elif isinstance(value, int | float):
        _, last = _year_bounds()
        max_ms = (datetime(last, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) / (
            timedelta(milliseconds=1)
        )
        if isinstance(value, float) and not np.isfinite(value):
            raise InputError(field, value, "is not a finite epoch-milliseconds value")
        if abs(value) >= max_ms:
            raise InputError(
                field,
                abbreviate(value),
                f"is after {last} as epoch milliseconds; micro- or nanoseconds? give ms or "
                "ISO text",
            )
        if abs(value) < MIN_EPOCH_MS:
            # Epoch seconds read as milliseconds would land in January 1970 without a word.
            raise InputError(
                field,
                value,
                "is before 1973 as epoch milliseconds; epoch seconds? give ms or ISO text",
            )
        dt = datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(
                field,
                abbreviate(value),
                "is not an ISO-8601 timestamp (e.g. 2024-12-27T08:00:00Z)",
            ) from None
    else:
        raise InputError(
            field, abbreviate(value), "is not a timestamp; expected ISO-8601 text or epoch ms"
        )
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        raise InputError(
            field, abbreviate(value), "is outside the years datetime can hold"
        ) from None


def parse_expiry(value: object, field: str = "expiry") -> datetime:
    """Parse an expiry: a date alone means 08:00 UTC that day; a full timestamp is kept."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise InputError(field, value, "is not a date (YYYY-MM-DD) or timestamp") from None
        return parse_timestamp(expiry_on(day), field)
    if isinstance(value, date) and not isinstance(value, datetime):
        return parse_timestamp(expiry_on(value), field)
    return parse_timestamp(value, field)


def format_timestamp(instant: datetime) -> str:
    """Format an instant as ISO-8601 UTC with a ``Z`` suffix (``"2024-12-27T08:00:00Z"``)."""
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def expiry_on(day: date) -> datetime:
    """Return the default crypto expiry instant on ``day``: 08:00 UTC."""
    return datetime.combine(day, time(DEFAULT_EXPIRY_HOUR), tzinfo=UTC)


def year_fraction(start: datetime, end: datetime) -> float:
    """ACT/365 year fraction from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    return (end - start) / timedelta(seconds=SECONDS_PER_YEAR)


def year_fractions(start: datetime, ends: list[datetime | None]) -> npt.NDArray[np.float64]:
    """Vector of ACT/365 year fractions; ``None`` (no expiry) gives ``nan``."""
    return np.array(
        [np.nan if end is None else year_fraction(start, end) for end in ends], dtype=np.float64
    )

"""Pieces every venue's symbol syntax shares: currency codes, dates, strikes and rights.

Each venue module turns a symbol into a :class:`Contract` (the venue-neutral terms written in
the symbol) and a :class:`Contract` back into a symbol. Contract sizes and quantity units are
not part of a symbol; they come from ``contract_specs.toml`` (see ``_contract_specs.py``).

Every helper here raises :class:`~pmargin.errors.SymbolError` with a reason that names the bad
part and what would be valid; the caller appends the venue's expected forms.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, time
from decimal import Decimal, InvalidOperation

from pmargin.errors import SymbolError
from pmargin.instruments._instrument import Instrument, Kind, Right, Settlement
from pmargin.timeutil import DEFAULT_EXPIRY_HOUR

__all__ = [
    "MONTHS",
    "Contract",
    "PartError",
    "VenueSyntax",
    "contract_of",
    "format_ddmmmyy",
    "format_strike",
    "format_yymmdd",
    "parse_currency",
    "parse_ddmmmyy",
    "parse_right",
    "parse_strike",
    "parse_yymmdd",
    "right_letter",
]

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
"""Month codes of Deribit dates, in calendar order."""

_CURRENCY = re.compile(r"[A-Z0-9]{1,20}")
_LETTERS = re.compile(r"[A-Z]{1,20}")
_CANONICAL_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")
_DDMMMYY = re.compile(r"([0-9]{1,2})([A-Z]{3})([0-9]{2})")
_YYMMDD = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{2})")


class PartError(ValueError):
    """A part of a symbol is invalid; the venue parser turns it into a :class:`SymbolError`.

    Parameters
    ----------
    reason
        What is wrong with the part and what would be valid, e.g.
        ``"has an invalid month 'DCE' (expected JAN..DEC)"``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Contract:
    """The venue-neutral terms a venue symbol spells out.

    Attributes
    ----------
    kind
        Spot, future, perpetual or option.
    underlying
        Base asset code, e.g. ``"BTC"``, ``"1000PEPE"``.
    quote
        Quote currency code (``"USD"``, ``"USDC"``, ``"USDT"``, ...).
    settlement
        Linear (paid in ``quote``) or inverse (paid in ``underlying``).
    expiry_day
        Expiry date (the contract expires at 08:00 UTC that day); ``None`` for spot and
        perpetuals.
    strike
        Strike in ``quote`` per unit of ``underlying``; options only.
    right
        Call or put; options only.
    """

    kind: Kind
    underlying: str
    quote: str
    settlement: Settlement
    expiry_day: date | None = None
    strike: float | None = None
    right: Right | None = None


@dataclass(frozen=True, slots=True)
class VenueSyntax:
    """How one venue writes symbols.

    Attributes
    ----------
    name
        Venue key as passed to ``parse_symbol(..., venue=name)``: ``"deribit"``.
    display
        Venue name for messages: ``"Deribit"``.
    examples
        Valid symbols of every form, for messages and documentation.
    claims
        Whether a symbol has this venue's shape (loosely: a symbol with a bad date or strike
        is still claimed, so that the venue parser can say what is wrong).
    parse
        Symbol to :class:`Contract`; raises :class:`PartError`.
    format
        :class:`Contract` to symbol; raises :class:`PartError` when the venue has no such
        contract.
    """

    name: str
    display: str
    examples: tuple[str, ...]
    claims: Callable[[str], bool]
    parse: Callable[[str], Contract]
    format: Callable[[Contract], str]


def contract_of(instrument: Instrument) -> Contract:
    """Reduce an instrument to the terms a venue symbol can spell.

    Raises
    ------
    SymbolError
        If the instrument expires at another time than 08:00:00 UTC: venue symbols carry a
        date only.
    """
    expiry_day = None
    if instrument.expiry is not None:
        expiry = instrument.expiry.astimezone(UTC)
        if expiry.time() != time(DEFAULT_EXPIRY_HOUR):
            raise SymbolError(
                instrument.symbol,
                f"expires at {expiry.isoformat()}; venue symbols carry a date only and mean "
                f"{DEFAULT_EXPIRY_HOUR:02d}:00 UTC that day",
            )
        expiry_day = expiry.date()
    return Contract(
        kind=instrument.kind,
        underlying=instrument.underlying,
        quote=instrument.quote,
        settlement=instrument.settlement,
        expiry_day=expiry_day,
        strike=instrument.strike,
        right=instrument.right,
    )


def parse_currency(text: str, role: str) -> str:
    """Check a currency code: a quote is letters; a base (or settle) may hold digits (``1000PEPE``).

    Parameters
    ----------
    text
        The code as written in the symbol (``"BTC"``, ``"1000PEPE"``).
    role
        What the code is in the symbol (``"base"``, ``"quote"``, ``"settle"``), for messages.
    """
    if not text:
        raise PartError(f"has an empty {role} currency")
    if role == "quote" and not _LETTERS.fullmatch(text):
        raise PartError(
            f"has an invalid {role} currency {text!r} (expected upper-case letters, e.g. USDT)"
        )
    if not _CURRENCY.fullmatch(text) or text.isdigit():
        raise PartError(
            f"has an invalid {role} currency {text!r} (expected upper-case letters and digits, "
            "e.g. BTC or 1000PEPE)"
        )
    return text


def parse_right(text: str) -> Right:
    """Parse an option right letter: ``C`` (call) or ``P`` (put)."""
    if text == "C":
        return Right.CALL
    if text == "P":
        return Right.PUT
    raise PartError(f"has an invalid option right {text!r} (expected C or P)")


def right_letter(right: Right | None) -> str:
    """Return the letter venues write for ``right``: ``C`` or ``P``."""
    return "C" if right is Right.CALL else "P"


def parse_strike(text: str, decimal_point: str = ".") -> float:
    """Parse a canonical strike: digits, optional fraction, no sign, no trailing zeros.

    Parameters
    ----------
    text
        The strike as written (``"60000"``, ``"0.625"``; with ``decimal_point="d"``,
        ``"0d625"`` as Deribit writes linear altcoin strikes).
    decimal_point
        The character the venue uses as the decimal point.

    Returns
    -------
    float
        Strike in quote currency per unit of underlying, > 0.
    """
    if not text:
        raise PartError("has an empty strike")
    if decimal_point == "d" and "." in text:
        raise PartError(
            f"strike {text!r} uses '.'; Deribit writes the decimal point as 'd' (e.g. 0d625)"
        )
    plain = text.replace(decimal_point, ".") if decimal_point != "." else text
    not_a_number = (
        f"strike {text!r} is not a number (expected plain decimal digits, e.g. 60000 or "
        f"{'0d625' if decimal_point == 'd' else '0.625'})"
    )
    try:
        value = Decimal(plain)
    except InvalidOperation:
        raise PartError(not_a_number) from None
    if not value.is_finite() or not re.fullmatch(r"[0-9.]+", plain):
        raise PartError(not_a_number)
    if value <= 0:
        raise PartError(f"strike {text!r} must be > 0")
    if not _CANONICAL_DECIMAL.fullmatch(plain):
        canonical = _decimal_text(value).replace(".", decimal_point)
        raise PartError(
            f"strike {text!r} is not written canonically (expected {canonical!r}: "
            "no leading or trailing zeros)"
        )
    strike = float(plain)
    if format_strike(strike, decimal_point) != text:
        raise PartError(f"strike {text!r} has more significant digits than float64 holds")
    return strike


def format_strike(strike: float | None, decimal_point: str = ".") -> str:
    """Write a strike the way venues do: shortest exact decimal, no trailing ``.0``."""
    if strike is None:
        raise PartError("has no strike")
    return _decimal_text(Decimal(repr(float(strike)))).replace(".", decimal_point)


def _decimal_text(value: Decimal) -> str:
    """Positional decimal text without exponent or trailing zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def parse_ddmmmyy(text: str) -> date:
    """Parse a Deribit date ``DMMMYY``: day without zero padding, month code, 2-digit year."""
    match = _DDMMMYY.fullmatch(text)
    if match is None:
        raise PartError(
            f"has an invalid date {text!r} (expected DMMMYY: day without leading zero, month "
            "JAN..DEC, 2-digit year, e.g. 27DEC24 or 5JUN20)"
        )
    day_text, month_text, year_text = match.groups()
    if day_text.startswith("0"):
        raise PartError(
            f"has a zero-padded day {day_text!r} in {text!r} (Deribit writes "
            f"{int(day_text)}{month_text}{year_text})"
        )
    if month_text not in MONTHS:
        raise PartError(f"has an invalid month {month_text!r} (expected JAN..DEC)")
    return _calendar_date(2000 + int(year_text), MONTHS.index(month_text) + 1, int(day_text))


def format_ddmmmyy(day: date | None) -> str:
    """Write ``day`` as a Deribit date, e.g. ``27DEC24``, ``5JUN20``."""
    if day is None:
        raise PartError("has no expiry date")
    _check_two_digit_year(day)
    return f"{day.day}{MONTHS[day.month - 1]}{day.year % 100:02d}"


def parse_yymmdd(text: str) -> date:
    """Parse a ``YYMMDD`` date as OKX, Binance and ccxt write it, e.g. ``241227``."""
    match = _YYMMDD.fullmatch(text)
    if match is None:
        raise PartError(f"has an invalid date {text!r} (expected YYMMDD, e.g. 241227)")
    year_text, month_text, day_text = match.groups()
    month = int(month_text)
    if not 1 <= month <= 12:
        raise PartError(f"has an invalid month {month_text!r} in {text!r} (expected 01..12)")
    return _calendar_date(2000 + int(year_text), month, int(day_text))


def format_yymmdd(day: date | None) -> str:
    """Write ``day`` as ``YYMMDD``."""
    if day is None:
        raise PartError("has no expiry date")
    _check_two_digit_year(day)
    return f"{day.year % 100:02d}{day.month:02d}{day.day:02d}"


def _calendar_date(year: int, month: int, day: int) -> date:
    """Build a date, naming the month when the day does not exist in it."""
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise PartError(
            f"has an invalid date: day {day} is not valid in {MONTHS[month - 1]} {year} "
            f"(expected 1..{last})"
        )
    return date(year, month, day)


def _check_two_digit_year(day: date) -> None:
    """Venue dates carry a 2-digit year read as 20YY."""
    if not 2000 <= day.year <= 2099:
        raise PartError(
            f"expires in {day.year}; venue symbols write 2-digit years read as 2000..2099"
        )

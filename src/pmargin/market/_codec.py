"""Market file content <-> :class:`MarketSnapshot` (plain mappings as read from JSON or YAML).

The file layout (DESIGN.md, "The user-facing contract"; schema in
``docs/schema/market.schema.json``)::

    {"timestamp": "2024-11-01T08:00:00Z",
     "index": {"BTC": 69000.0}, "prices": {"USDC": 0.9998}, "rates": {"USD": 0.05},
     "marks": {"BTC-27DEC24": {"price": 69850.0}, "BTC-27DEC24-70000-C": {"iv": 0.55}},
     "forwards": {"BTC": {"2024-12-27": 69900.0}},
     "surfaces": {"BTC": [{"expiry": "2024-12-27", "forward": 69900.0,
                           "svi": {"a": 0.01, "b": 0.05, "rho": -0.2, "m": 0.0, "sigma": 0.1}}]}}

Only ``timestamp`` is required; an optional section given as ``null`` counts as empty.

Consistency checks (a contradiction is refused, never resolved silently):

* every mark is keyed by a symbol of a known contract: an explicit instrument, or a venue
  symbol that parses as a future, perpetual or option (``BTC-PERPETUL``, which reads as a spot
  pair, and ``btc-perpetual`` are refused by name, so a mark is never ignored for a typo);
* a forward (``forwards`` or a surface slice's ``forward``) must agree with the mark of a dated
  future on the same underlying and expiry, and a slice forward with ``forwards``, within
  ``market.max_forward_future_gap`` of ``pmargin/input_limits.toml`` (relative).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pmargin._validation import check_currency, input_limits, short_reason
from pmargin.errors import InputError, MarketDataError
from pmargin.instruments import Instrument, Kind, parse_symbol
from pmargin.market._checks import (
    abbreviate,
    check_price,
    format_expiry,
)
from pmargin.market._mark import Mark, mark_from_mapping
from pmargin.market._snapshot import MarketSnapshot
from pmargin.market._surface import SurfaceSlice, VolSurface
from pmargin.market._svi import svi_from_mapping
from pmargin.timeutil import format_timestamp, parse_expiry, parse_timestamp

__all__ = [
    "MARKET_FIELDS",
    "SLICE_FIELDS",
    "check_forwards",
    "check_mark_symbols",
    "market_from_dict",
    "market_to_dict",
]

MARKET_FIELDS = ("timestamp", "index", "prices", "rates", "marks", "forwards", "surfaces")
"""Top-level fields of a market file, ``timestamp`` required."""

SLICE_FIELDS = ("expiry", "forward", "svi")
"""Fields of one surface slice, ``forward`` optional."""


def market_from_dict(
    data: Mapping[str, Any], instruments: Mapping[str, Instrument] | None = None
) -> MarketSnapshot:
    """Build a validated :class:`MarketSnapshot` from market file content.

    Parameters
    ----------
    data
        The parsed file: a mapping with the fields of :data:`MARKET_FIELDS`.
    instruments
        Optional ``symbol -> Instrument`` for mark symbols that are not venue symbols
        (explicit specs), used to recognise dated futures among the marks.

    Raises
    ------
    InputError
        Naming the field path of the first problem: ``timestamp``, ``index.BTC``,
        ``marks.BTC-27DEC24``, ``surfaces.ETH[1].svi.rho``, ...
    """
    if not isinstance(data, Mapping):
        raise InputError("market", abbreviate(data), "must be a mapping with at least 'timestamp'")
    for key in data:
        if key not in MARKET_FIELDS:
            raise InputError("market", key, f"is not a market field{_suggestion(key)}")
    if data.get("timestamp") is None:
        raise InputError(
            "timestamp", None, "is required (ISO-8601 UTC, e.g. '2024-12-27T08:00:00Z')"
        )
    timestamp = parse_timestamp(data["timestamp"], "timestamp")
    explicit = {} if instruments is None else instruments
    marks = _marks(_optional(data, "marks"))
    check_mark_symbols(marks, explicit, strict=instruments is not None)
    snapshot = MarketSnapshot(
        timestamp=timestamp,
        index=_optional(data, "index"),
        prices=_optional(data, "prices"),
        rates=_optional(data, "rates"),
        marks=marks,
        forwards=_optional(data, "forwards"),
        surfaces=_surfaces(_optional(data, "surfaces"), timestamp),
        instruments=explicit,
    )
    check_forwards(snapshot)
    return snapshot


def check_mark_symbols(
    marks: Mapping[str, Mark], instruments: Mapping[str, Instrument], *, strict: bool = True
) -> None:
    """Refuse a mark whose symbol names no contract pmargin could value with it.

    A symbol is accepted when it is one of ``instruments`` or parses as a venue future,
    perpetual or option; it need not be held by any book. Not ``strict`` (the caller does not
    know the book's explicit instruments), a symbol that parses as no venue symbol is kept (it
    may be an explicit contract), unless the parser names a spelling (``btc-perpetual``); one
    that reads as a spot pair is always refused, and so is a future or perpetual marked at a
    price of 0 (only an option may be worth nothing).

    Raises
    ------
    InputError
        Naming ``marks.<symbol>``: an unparsable or misspelt symbol (with the parser's reason,
        e.g. the upper-case spelling), or one that reads as a spot pair (spot prices are
        ``index`` and ``prices``; a spot mark would be ignored).
    """
    max_chars = input_limits().integer("files", "max_symbol_chars")
    for symbol, mark in marks.items():
        field = f"marks.{abbreviate(symbol)}"
        contract = instruments.get(symbol)
        if contract is None:
            if len(symbol) > max_chars:
                raise InputError(
                    field, abbreviate(symbol), f"is longer than {max_chars} characters"
                )
            try:
                contract = parse_symbol(symbol)
            except InputError as err:
                if not strict and "did you mean" not in err.reason:
                    continue
                raise InputError(
                    field,
                    abbreviate(symbol),
                    f"is not a known instrument symbol: {short_reason(err.reason)}",
                ) from None
            if contract.kind is Kind.SPOT:
                raise InputError(
                    field,
                    symbol,
                    f"reads as the spot pair {contract.underlying}/{contract.quote}, and spot "
                    f"marks are not used (give index.{contract.underlying} or prices); a "
                    "misspelt future or perpetual?",
                )
        delta_one = contract.is_futures_style
        if delta_one and mark.price is not None and mark.price <= 0.0:
            raise InputError(
                f"{field}.price",
                mark.price,
                f"must be > 0 for a {contract.kind.value} (only options may be marked at 0)",
            )


def check_forwards(snapshot: MarketSnapshot) -> None:
    """Refuse forwards that contradict a same-expiry future's mark or each other.

    Compares, per underlying and expiry, the ``forwards`` entry, the surface slice's
    ``forward`` and the USD value of each dated future's mark (mark x price of its quote
    currency; a future whose quote has no price is skipped). Two of them further apart than
    ``market.max_forward_future_gap`` (relative, ``|a / b - 1|``) are an error.

    Raises
    ------
    InputError
        Naming the forward's field, its value, the other value and where it came from.
    """
    tolerance = input_limits().number("market", "max_forward_future_gap")
    for code in set(snapshot.forwards) | set(snapshot.surfaces):
        given: dict[datetime, list[tuple[str, float]]] = {}
        for expiry, price in snapshot.forwards.get(code, {}).items():
            given.setdefault(expiry, []).append((f"forwards.{code}.{format_expiry(expiry)}", price))
        surface = snapshot.surfaces.get(code)
        for piece in () if surface is None else surface.slices:
            if piece.forward is not None:
                where = f"surfaces.{code}[expiry={format_expiry(piece.expiry)}].forward"
                given.setdefault(piece.expiry, []).append((where, piece.forward))
        for expiry, entries in given.items():
            references = list(entries)
            for symbol, quote in snapshot._futures.get((code, expiry), ()):
                mark = snapshot.marks[symbol].price
                assert mark is not None
                try:
                    usd = mark * snapshot.usd_price(quote)
                except MarketDataError:
                    continue
                references.append((f"marks.{symbol}", usd))
            _check_agree(entries, references, tolerance)


def _check_agree(
    entries: list[tuple[str, float]], references: list[tuple[str, float]], tolerance: float
) -> None:
    """Raise on the first entry further than ``tolerance`` from another reference."""
    for field, value in entries:
        for other, reference in references:
            if other == field:
                continue
            gap = abs(value / reference - 1.0)
            if gap > tolerance:
                raise InputError(
                    field,
                    value,
                    f"is {gap:.1%} away from {other} = {reference:g} USD; at most "
                    f"{tolerance:g} allowed (market.max_forward_future_gap)",
                )


def market_to_dict(snapshot: MarketSnapshot) -> dict[str, Any]:
    """Return the market file content of ``snapshot`` (:func:`market_from_dict` reads it back).

    Empty sections are left out. Expiries at 08:00 UTC are written as dates, other instants
    as ISO-8601 with ``Z``; explicit ``instruments`` are not part of the file and are dropped.
    """
    out: dict[str, Any] = {"timestamp": format_timestamp(snapshot.timestamp)}
    for name in ("index", "prices", "rates"):
        section: Mapping[str, float] = getattr(snapshot, name)
        if section:
            out[name] = dict(section)
    if snapshot.marks:
        out["marks"] = {symbol: mark.to_dict() for symbol, mark in snapshot.marks.items()}
    if snapshot.forwards:
        out["forwards"] = {
            code: {format_expiry(e): curve[e] for e in sorted(curve)}
            for code, curve in snapshot.forwards.items()
        }
    if snapshot.surfaces:
        out["surfaces"] = {
            code: [_slice_to_dict(piece) for piece in surface.slices]
            for code, surface in snapshot.surfaces.items()
        }
    return out


def _slice_to_dict(piece: SurfaceSlice) -> dict[str, Any]:
    """One surface slice as the file writes it."""
    out: dict[str, Any] = {"expiry": format_expiry(piece.expiry)}
    if piece.forward is not None:
        out["forward"] = piece.forward
    out["svi"] = piece.svi.to_dict()
    return out


def _suggestion(key: object) -> str:
    """``"; did you mean 'index'?"`` or the list of valid fields."""
    close = difflib.get_close_matches(str(key), MARKET_FIELDS, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (valid: {', '.join(MARKET_FIELDS)})"


def _optional(data: Mapping[str, Any], name: str) -> Any:
    """Return an optional section: ``{}`` when absent or null, else the value as given."""
    value = data.get(name)
    return {} if value is None else value


def _mapping(value: object, field: str, what: str) -> Mapping[Any, Any]:
    """``value`` as a mapping, or an error naming ``field``."""
    if not isinstance(value, Mapping):
        raise InputError(field, abbreviate(value), f"must be a mapping of {what}")
    return value


def _marks(section: object) -> dict[str, Mark]:
    """``{symbol: {"price" | "iv"}}`` -> ``{symbol: Mark}``."""
    marks: dict[str, Mark] = {}
    for symbol, raw in _mapping(section, "marks", "symbol -> {price | iv}").items():
        if not isinstance(symbol, str) or not symbol.strip():
            raise InputError("marks", abbreviate(symbol), "keys must be instrument symbols")
        marks[symbol] = mark_from_mapping(raw, f"marks.{symbol}")
    return marks


def _surfaces(section: object, timestamp: datetime) -> dict[str, VolSurface]:
    """``{underlying: [slice, ...]}`` -> ``{underlying: VolSurface}`` anchored at ``timestamp``."""
    surfaces: dict[str, VolSurface] = {}
    for key, raw in _mapping(section, "surfaces", "underlying -> [slice, ...]").items():
        code = check_currency(key, "surfaces")
        where = f"surfaces.{code}"
        if code in surfaces:
            raise InputError(f"surfaces.{key}", key, f"duplicates {where} (codes ignore case)")
        if isinstance(raw, str | bytes) or not isinstance(raw, list | tuple):
            raise InputError(where, abbreviate(raw), "must be a list of slices")
        slices = [_slice(item, f"{where}[{i}]") for i, item in enumerate(raw)]
        surfaces[code] = VolSurface(code, tuple(slices), timestamp)
    return surfaces


def _slice(raw: object, where: str) -> SurfaceSlice:
    """One ``{"expiry", "forward"?, "svi"}`` slice."""
    item = _mapping(raw, where, '{"expiry", "forward", "svi"}')
    for key in item:
        if key not in SLICE_FIELDS:
            raise InputError(where, key, "is not a slice field (expiry, forward, svi)")
    for required in ("expiry", "svi"):
        if item.get(required) is None:
            raise InputError(f"{where}.{required}", None, "is required")
    expiry = parse_expiry(item["expiry"], f"{where}.expiry")
    forward = item.get("forward")
    return SurfaceSlice(
        expiry=expiry,
        svi=svi_from_mapping(item["svi"], f"{where}.svi"),
        forward=None if forward is None else check_price(forward, f"{where}.forward"),
    )

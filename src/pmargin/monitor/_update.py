"""One market update of the feed: a timestamp and any of index prices, marks and vol changes.

Structure is checked here and a malformed update is an :class:`~pmargin.errors.InputError`
naming the field (``update.index.BTC``, ``update.marks.BTC-PERPETUAL.price``). Numbers are
NOT range-checked here: a NaN, negative or zero price is what a faulty feed sends, and the
circuit breakers (:mod:`pmargin.monitor._breakers`) handle it by pausing the underlying,
never by raising.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pmargin._validation import abbreviate, check_currency
from pmargin.errors import InputError
from pmargin.market import Mark, VolSurface
from pmargin.timeutil import parse_timestamp

__all__ = ["MarkTick", "MarketUpdate"]


@dataclass(frozen=True, slots=True)
class MarkTick:
    """A raw mark from the feed: exactly one of ``price`` and ``iv``, not yet range-checked.

    ``price``: premium currency per unit of underlying (options) or quote currency per unit
    (futures, perpetuals); ``iv``: annualised decimal vol (options).
    """

    price: float | None = None
    iv: float | None = None


@dataclass(frozen=True, slots=True)
class MarketUpdate:
    """A feed update at ``timestamp``.

    Parameters
    ----------
    timestamp
        Event time (aware UTC; ISO text, naive datetimes and epoch ms are converted). Used for
        staleness, jump intervals and event stamps; the valuation time of the monitor's market
        only moves with :meth:`Monitor.roll_to <pmargin.monitor.Monitor.roll_to>`.
    index
        ``underlying -> USD index price``.
    marks
        ``symbol -> {"price": p}`` or ``{"iv": v}`` (a :class:`~pmargin.market.Mark` or a
        :class:`MarkTick` is accepted too).
    surfaces
        ``underlying -> VolSurface``: replaces the underlying's surface (re-anchored at the
        monitor's valuation time, same SVI parameters).
    vol_shift
        ``underlying -> shift`` of the underlying's vol level, decimal (``0.05`` = +5 vol
        points): each slice of its surface is moved so that its at-the-money vol rises by the
        shift (SVI ``a`` += ``((v_atm + shift)**2 - v_atm**2) * T``), relative to the surface
        in force.

    Raises
    ------
    InputError
        For a malformed timestamp, a non-mapping section, a non-numeric value, a mark without
        exactly one of price/iv, or a surface that is not a VolSurface for its key.
    """

    timestamp: datetime
    index: Mapping[str, float] = field(default_factory=dict)
    marks: Mapping[str, MarkTick] = field(default_factory=dict)
    surfaces: Mapping[str, VolSurface] = field(default_factory=dict)
    vol_shift: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the structure and normalise codes to upper case."""
        set_ = object.__setattr__
        set_(self, "timestamp", parse_timestamp(self.timestamp, "update.timestamp"))
        set_(self, "index", _numbers(self.index, "update.index"))
        set_(self, "vol_shift", _numbers(self.vol_shift, "update.vol_shift"))
        set_(self, "marks", MappingProxyType(_marks(self.marks)))
        surfaces: dict[str, VolSurface] = {}
        for key, surface in _section(self.surfaces, "update.surfaces").items():
            code = check_currency(key, "update.surfaces")
            if not isinstance(surface, VolSurface) or surface.underlying != code:
                raise InputError(
                    f"update.surfaces.{code}",
                    abbreviate(surface),
                    f"must be a VolSurface of {code}",
                )
            surfaces[code] = surface
        set_(self, "surfaces", MappingProxyType(surfaces))

    @property
    def is_empty(self) -> bool:
        """True when the update carries no price or vol (a heartbeat)."""
        return not (self.index or self.marks or self.surfaces or self.vol_shift)


def _section(value: object, name: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise InputError(name, abbreviate(value), "must be a mapping")
    return value


def _number(value: object, name: str) -> float:
    """Return a real number, NaN and infinities included (the breakers judge the range)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(name, abbreviate(value), "must be a number")
    return float(value)


def _numbers(value: object, name: str) -> Mapping[str, float]:
    result: dict[str, float] = {}
    for key, raw in _section(value, name).items():
        code = check_currency(key, name)
        result[code] = _number(raw, f"{name}.{code}")
    return MappingProxyType(result)


def _marks(value: object) -> dict[str, MarkTick]:
    result: dict[str, MarkTick] = {}
    for symbol, raw in _section(value, "update.marks").items():
        if not isinstance(symbol, str) or not symbol.strip():
            raise InputError("update.marks", abbreviate(symbol), "keys must be instrument symbols")
        where = f"update.marks.{symbol}"
        if isinstance(raw, MarkTick | Mark):
            price, iv = raw.price, raw.iv
        elif isinstance(raw, Mapping):
            unknown = sorted(str(k) for k in raw if k not in ("price", "iv"))
            if unknown:
                raise InputError(f"{where}.{unknown[0]}", raw[unknown[0]], "is not price or iv")
            price, iv = raw.get("price"), raw.get("iv")
        else:
            raise InputError(where, abbreviate(raw), 'must be {"price": p} or {"iv": v}')
        if (price is None) == (iv is None):
            raise InputError(where, abbreviate(raw), "needs exactly one of price, iv")
        result[symbol] = MarkTick(
            price=None if price is None else _number(price, f"{where}.price"),
            iv=None if iv is None else _number(iv, f"{where}.iv"),
        )
    return result

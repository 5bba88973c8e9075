"""Parameters of the standard model, read and validated from ``methodologies/standard.toml``.

Every number is a decimal fraction (0.02 for 2 %); position sizes are in base units of the
underlying. A missing, out-of-range or unknown field is an :class:`~pmargin.errors.InputError`
naming its dotted path (``standard.toml: futures.BTC.im_rate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from pmargin._params import ParamTable
from pmargin.errors import InputError

__all__ = ["DEFAULT", "FutureRule", "OptionRule", "StandardParams"]

DEFAULT = "default"
"""Name of the table an underlying without its own table falls back to."""

_R = TypeVar("_R")
_DESCRIPTIVE = ("source", "note")
_LINEAR_FUTURE_PRICES = ("index", "mark")
_OPTION_UNDERLYING_PRICES = ("forward", "index")


@dataclass(frozen=True, slots=True)
class FutureRule:
    """Margin rates of futures and perpetuals on one underlying.

    A net position of ``q`` base units is charged ``|q| * (rate + |q| * rate_per_unit)`` base
    units' worth of margin (Deribit's size-increasing rate).

    Attributes
    ----------
    im_rate, mm_rate
        Initial and maintenance margin as a fraction of notional at zero size.
    im_rate_per_unit, mm_rate_per_unit
        Increase of that fraction per base unit of net position (BTC: 0.00005 = 0.005 %).
    """

    im_rate: float
    im_rate_per_unit: float
    mm_rate: float
    mm_rate_per_unit: float

    @classmethod
    def from_table(cls, table: ParamTable) -> FutureRule:
        """Read and validate one ``[futures.<underlying>]`` table (MM may not exceed IM)."""
        table.reject_unknown(
            (*_DESCRIPTIVE, "im_rate", "im_rate_per_unit", "mm_rate", "mm_rate_per_unit")
        )
        _descriptive(table)
        im_rate = table.number("im_rate", low=0.0, high=1.0)
        im_per_unit = table.number("im_rate_per_unit", low=0.0, high=1.0)
        return cls(
            im_rate=im_rate,
            im_rate_per_unit=im_per_unit,
            mm_rate=table.number("mm_rate", low=0.0, high=im_rate),
            mm_rate_per_unit=table.number("mm_rate_per_unit", low=0.0, high=im_per_unit),
        )


@dataclass(frozen=True, slots=True)
class OptionRule:
    """Margin fractions of short options on one underlying (per unit of underlying).

    Attributes
    ----------
    im_rate
        IM fraction of the underlying before the out-of-the-money reduction (Deribit 0.15).
    im_min_rate
        Floor of the IM fraction after the reduction (Deribit 0.10).
    mm_rate
        MM fraction of the underlying (Deribit 0.075).
    mm_put_mark_rate
        Short puts: the MM fraction is at least this fraction of the option's mark (Deribit
        0.075, i.e. ``max(0.075, 0.075 * mark)``).
    """

    im_rate: float
    im_min_rate: float
    mm_rate: float
    mm_put_mark_rate: float

    @classmethod
    def from_table(cls, table: ParamTable) -> OptionRule:
        """Read and validate one ``[options.<underlying>]`` table (MM may not exceed IM)."""
        table.reject_unknown(
            (*_DESCRIPTIVE, "im_rate", "im_min_rate", "mm_rate", "mm_put_mark_rate")
        )
        _descriptive(table)
        im_rate = table.number("im_rate", low=0.0, high=1.0)
        im_min_rate = table.number("im_min_rate", low=0.0, high=im_rate)
        return cls(
            im_rate=im_rate,
            im_min_rate=im_min_rate,
            mm_rate=table.number("mm_rate", low=0.0, high=im_min_rate),
            mm_put_mark_rate=table.number("mm_put_mark_rate", low=0.0, high=1.0),
        )


@dataclass(frozen=True, slots=True)
class StandardParams:
    """The whole parameter file of the standard model.

    Attributes
    ----------
    futures
        Underlying (or ``"default"``) -> :class:`FutureRule`, for futures and perpetuals.
    options
        Underlying (or ``"default"``) -> :class:`OptionRule`, for short options.
    linear_future_price
        ``"index"`` or ``"mark"``: the price (quote currency per base unit) that turns a linear
        future's coin margin into its settlement currency.
    option_underlying_price
        ``"forward"`` or ``"index"``: the underlying price in an option's out-of-the-money
        fraction and, for linear options, in the charge per unit.
    where
        Name of the file, for error messages.
    """

    futures: Mapping[str, FutureRule]
    options: Mapping[str, OptionRule]
    linear_future_price: str = "index"
    option_underlying_price: str = "forward"
    where: str = "standard.toml"

    @classmethod
    def from_table(cls, table: ParamTable) -> StandardParams:
        """Read and validate a parameter file's top-level table."""
        table.reject_unknown((*_DESCRIPTIVE, "general", "futures", "options"))
        _descriptive(table)
        general = table.table("general", {})
        general.reject_unknown((*_DESCRIPTIVE, "linear_future_price", "option_underlying_price"))
        _descriptive(general)
        futures = table.table("futures")
        options = table.table("options")
        return cls(
            futures=MappingProxyType(
                {key: FutureRule.from_table(futures.table(key)) for key in futures.data}
            ),
            options=MappingProxyType(
                {key: OptionRule.from_table(options.table(key)) for key in options.data}
            ),
            linear_future_price=general.text(
                "linear_future_price", "index", choices=_LINEAR_FUTURE_PRICES
            ),
            option_underlying_price=general.text(
                "option_underlying_price", "forward", choices=_OPTION_UNDERLYING_PRICES
            ),
            where=table.where,
        )

    def future_rule(self, underlying: str, symbol: str) -> FutureRule:
        """Rates of futures on ``underlying``, else the ``default`` table; else an error."""
        return _lookup(self.futures, "futures", underlying, symbol, self.where)

    def option_rule(self, underlying: str, symbol: str) -> OptionRule:
        """Fractions of options on ``underlying``, else the ``default`` table; else an error."""
        return _lookup(self.options, "options", underlying, symbol, self.where)


def _lookup(rules: Mapping[str, _R], section: str, underlying: str, symbol: str, where: str) -> _R:
    """Return the rule of ``underlying`` in ``section``, falling back to ``default``."""
    rule = rules.get(underlying, rules.get(DEFAULT))
    if rule is None:
        raise InputError(
            f"{where}: {section}.{underlying}",
            None,
            f"is required to margin {symbol!r}: add a [{section}.{underlying}] table "
            f"(or a [{section}.{DEFAULT}] table for every underlying without one)",
        )
    return rule


def _descriptive(table: ParamTable) -> None:
    """Check the optional descriptive fields (``source``, ``note``) are strings."""
    for key in _DESCRIPTIVE:
        if key in table:
            table.text(key)

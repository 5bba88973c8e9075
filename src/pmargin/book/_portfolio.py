"""Accounts, balances and positions as users give them (the portfolio file).

A position's ``quantity`` is signed (long > 0) and expressed in ``unit``:

* ``native``: the venue's own unit for that instrument (``Instrument.quantity_unit``), e.g. USD
  for Deribit inverse perpetuals and futures, coins for Deribit options, contracts on OKX;
* ``base``: units of the underlying (coins, shares);
* ``quote``: quote-currency notional (USD for ``BTC-PERPETUAL``);
* ``contracts``: number of contracts of ``Instrument.contract_size``.

:func:`base_quantity` converts any of them to base units, the unit every kernel works in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pmargin._validation import abbreviate
from pmargin.errors import InputError
from pmargin.instruments import Instrument, QuantityUnit
from pmargin.pricing import delta_one_pnl_scalar

__all__ = [
    "NATIVE",
    "Account",
    "Portfolio",
    "Position",
    "base_quantity",
    "unrealised_pnl",
]

NATIVE = "native"
"""Quantity unit meaning "the venue's own unit for this instrument"."""


@dataclass(frozen=True, slots=True)
class Position:
    """A signed holding of one instrument.

    Attributes
    ----------
    instrument
        The contract held.
    quantity
        Signed amount (long > 0) in ``unit``.
    unit
        ``"native"`` or a :class:`~pmargin.instruments.QuantityUnit` value.
    avg_price
        Optional average entry price in the instrument's price currency (premium currency per
        unit of underlying for options, quote currency per unit for futures and perpetuals).
    """

    instrument: Instrument
    quantity: float
    unit: str = NATIVE
    avg_price: float | None = None

    def __post_init__(self) -> None:
        """Validate quantity, unit and price."""
        where = f"position {self.instrument.symbol!r}"
        q = self.quantity
        if isinstance(q, bool) or not isinstance(q, int | float) or not math.isfinite(q):
            raise InputError(f"{where}.quantity", q, "must be a finite number (long > 0)")
        object.__setattr__(self, "quantity", float(q))
        allowed = {NATIVE, *(u.value for u in QuantityUnit)}
        if self.unit not in allowed:
            raise InputError(
                f"{where}.unit", abbreviate(self.unit), f"is not one of {'|'.join(sorted(allowed))}"
            )
        p = self.avg_price
        if p is not None and (
            isinstance(p, bool) or not isinstance(p, int | float) or not math.isfinite(p) or p < 0
        ):
            raise InputError(f"{where}.avg_price", p, "must be a finite number >= 0")

    @property
    def resolved_unit(self) -> QuantityUnit:
        """The unit of ``quantity`` with ``native`` replaced by the instrument's native unit."""
        if self.unit == NATIVE:
            return self.instrument.quantity_unit
        return QuantityUnit(self.unit)


@dataclass(frozen=True, slots=True)
class Account:
    """One margin account: balances per asset (negative = borrowed) and positions."""

    id: str
    balances: Mapping[str, float] = field(default_factory=dict)
    positions: tuple[Position, ...] = ()

    def __post_init__(self) -> None:
        """Validate the id and balances and freeze the balance mapping."""
        if not isinstance(self.id, str) or not self.id:
            raise InputError("accounts[].id", abbreviate(self.id), "must be a non-empty string")
        for asset, amount in self.balances.items():
            if (
                isinstance(amount, bool)
                or not isinstance(amount, int | float)
                or not math.isfinite(amount)
            ):
                raise InputError(
                    f"account {abbreviate(self.id)!r}.balances.{abbreviate(asset)}",
                    amount,
                    "must be a finite number",
                )
        upper: dict[str, float] = {}
        for asset, amount in self.balances.items():
            code = str(asset).upper()
            if code in upper:
                raise InputError(
                    f"account {abbreviate(self.id)!r}.balances.{abbreviate(asset)}",
                    amount,
                    f"repeats the asset {code} (asset codes ignore case)",
                )
            upper[code] = float(amount)
        frozen = MappingProxyType(upper)
        object.__setattr__(self, "balances", frozen)
        object.__setattr__(self, "positions", tuple(self.positions))


@dataclass(frozen=True, slots=True)
class Portfolio:
    """Accounts plus the instruments they reference, keyed by symbol."""

    accounts: tuple[Account, ...]
    instruments: Mapping[str, Instrument] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Reject duplicate account ids and freeze the instrument mapping."""
        seen: set[str] = set()
        for account in self.accounts:
            if account.id in seen:
                raise InputError("accounts[].id", abbreviate(account.id), "appears more than once")
            seen.add(account.id)
        object.__setattr__(self, "accounts", tuple(self.accounts))
        object.__setattr__(self, "instruments", MappingProxyType(dict(self.instruments)))

    @classmethod
    def from_frame(
        cls, frame: Any, instruments: Mapping[str, Instrument] | None = None
    ) -> Portfolio:
        """Read a flat DataFrame: one row per position or balance (``pmargin.book._flat``).

        Parameters
        ----------
        frame
            A pandas DataFrame (or any table :func:`~pmargin.book.portfolio_table` takes)
            with the columns ``instrument``, ``quantity`` and optionally ``account`` (default
            ``"main"``), ``unit`` and ``avg_price``; rows with ``unit`` = ``balance`` are
            balances (``instrument`` the asset, ``quantity`` the amount).
        instruments
            Explicit instruments by symbol, looked up before venue symbols are parsed.

        Raises
        ------
        InputError
            Naming ``positions table row N column C``, as for a portfolio table.
        """
        from pmargin.book import portfolio_from_frame

        return portfolio_from_frame(frame, instruments)

    def to_frame(self) -> Any:
        """Return the portfolio as a flat pandas DataFrame, the inverse of :meth:`from_frame`.

        One row per position (``unit`` as given, ``avg_price`` NaN where none), then one
        balance row per asset (``unit`` = ``balance``), account by account. pandas is the
        optional extra ``frames``; without it an :class:`~pmargin.errors.InputError` says so.
        Explicit instrument specs have no place in flat rows and are refused.
        """
        from pmargin.book import portfolio_frame

        return portfolio_frame(self)

    def unique_instruments(self) -> tuple[Instrument, ...]:
        """Every instrument held by any account, once, in order of first appearance."""
        ordered: dict[str, Instrument] = {}
        for account in self.accounts:
            for position in account.positions:
                ordered.setdefault(position.instrument.symbol, position.instrument)
        return tuple(ordered.values())


def base_quantity(position: Position, price: float) -> float:
    """Convert a position's quantity into units of the underlying (coins, shares).

    Parameters
    ----------
    position
        The position.
    price
        Price of one unit of the underlying in the instrument's quote currency, used only
        where the quantity or the contract is a quote-currency notional (inverse futures and
        perpetuals: ``base = usd_notional / price``).

    Returns
    -------
    float
        Signed quantity in base units.
    """
    return position.instrument.base_units(position.quantity, position.resolved_unit, price)


def unrealised_pnl(position: Position, base: float, price: float) -> float:
    """Settlement-currency P&L of a future or perpetual against its ``avg_price``.

    Parameters
    ----------
    position
        The position; other kinds, and positions without ``avg_price``, give 0 (taken as
        settled to the mark, as venues settle futures P&L into the balance).
    base
        Its signed size in base units at ``price``.
    price
        The mark (quote currency per unit).

    Returns
    -------
    float
        Linear: ``base (price - avg)`` in the quote currency; inverse: ``base (price / avg - 1)``
        coin (the coin P&L of the USD notional ``base x price`` opened at ``avg``).
    """
    instrument = position.instrument
    entry = position.avg_price
    if entry is None or not instrument.is_futures_style:
        return 0.0
    if entry <= 0.0:
        raise InputError(
            f"position {instrument.symbol!r}.avg_price", entry, "must be > 0 for a future"
        )
    return base * delta_one_pnl_scalar(price, entry, instrument.is_inverse, base_price=price)

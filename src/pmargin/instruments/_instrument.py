"""What a contract is: kind, underlying, expiry, strike, right, settlement and contract size.

Conventions
-----------
* ``underlying`` is the base asset whose index drives the contract (``"BTC"``, ``"ETH"``,
  ``"SPX"``); ``quote`` is the currency prices and strikes are quoted in (``"USD"``, ``"USDC"``,
  ``"USDT"``).
* ``settlement`` is :attr:`Settlement.LINEAR` (value, premium and P&L in the quote currency) or
  :attr:`Settlement.INVERSE` (value, premium and P&L in the underlying coin, prices still quoted
  in the quote currency). ``settlement_currency`` is the currency P&L is paid in.
* ``contract_size`` is the amount of ``contract_currency`` one contract stands for: 1 BTC for a
  Deribit BTC option, 10 USD for ``BTC-PERPETUAL``, 100 shares for an equity option.
* ``quantity_unit`` is the unit a position's quantity is given in on the venue (its native
  unit): ``base`` (coins), ``quote`` (USD notional) or ``contracts``.
* Expiries are aware UTC datetimes; perpetuals and spot have none.

Contract arithmetic (the one home of these rules)
-------------------------------------------------
* :attr:`Instrument.is_delta_one`: the value moves one-for-one with the underlying: spot,
  dated futures and perpetuals (not options).
* :attr:`Instrument.is_futures_style`: futures and perpetuals, the delta-one contracts that
  change no premium hands: a position's value is its P&L since entry (variation, settled into
  the balance), whereas options and spot are paid in full and hold their mark value.
* :attr:`Instrument.cash_asset`: the balance a fill's cash, a premium and realised P&L are
  booked in: the settlement currency (the coin for inverse contracts, the quote for linear
  ones and for spot, which is never inverse).
* :meth:`Instrument.base_units` and :meth:`Instrument.usd_notional`: a quantity in any unit
  to signed base units at a price, and the absolute USD notional of base units at a price.
  The P&L of delta-one positions is :func:`pmargin.pricing.delta_one_pnl`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pmargin._validation import as_enum as _enum
from pmargin.errors import InputError

__all__ = [
    "Instrument",
    "Kind",
    "QuantityUnit",
    "Right",
    "Settlement",
]


class Kind(StrEnum):
    """Kind of contract."""

    SPOT = "spot"
    FUTURE = "future"
    PERPETUAL = "perpetual"
    OPTION = "option"


class Right(StrEnum):
    """Option right."""

    CALL = "call"
    PUT = "put"


class Settlement(StrEnum):
    """How a contract settles: in the quote currency (linear) or in the coin (inverse)."""

    LINEAR = "linear"
    INVERSE = "inverse"


class QuantityUnit(StrEnum):
    """Unit of a position quantity."""

    BASE = "base"
    QUOTE = "quote"
    CONTRACTS = "contracts"


@dataclass(frozen=True, slots=True)
class Instrument:
    """An immutable, validated contract description.

    Build one with :func:`pmargin.instruments.parse_symbol` from a venue symbol, with
    :func:`pmargin.instruments.instrument_from_spec` from an explicit spec, or directly.
    """

    symbol: str
    kind: Kind
    underlying: str
    quote: str = "USD"
    settlement: Settlement = Settlement.LINEAR
    expiry: datetime | None = None
    strike: float | None = None
    right: Right | None = None
    contract_size: float = 1.0
    contract_currency: str = ""
    quantity_unit: QuantityUnit = QuantityUnit.BASE
    venue: str | None = None

    def __post_init__(self) -> None:
        """Validate fields and fill derived defaults."""
        where = f"instrument {self.symbol!r}"
        if not self.symbol:
            raise InputError("symbol", self.symbol, "must be a non-empty string")
        object.__setattr__(self, "kind", _enum(Kind, self.kind, f"{where}.kind"))
        object.__setattr__(
            self, "settlement", _enum(Settlement, self.settlement, f"{where}.settlement")
        )
        object.__setattr__(
            self, "quantity_unit", _enum(QuantityUnit, self.quantity_unit, f"{where}.quantity_unit")
        )
        for name in ("underlying", "quote"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise InputError(f"{where}.{name}", value, "must be a non-empty currency code")
        if self.underlying == self.quote:
            raise InputError(f"{where}.quote", self.quote, "must differ from the underlying")
        if self.kind in (Kind.FUTURE, Kind.OPTION):
            if self.expiry is None:
                raise InputError(f"{where}.expiry", None, f"is required for a {self.kind.value}")
            if self.expiry.tzinfo is None:
                raise InputError(f"{where}.expiry", self.expiry, "must be timezone-aware (UTC)")
        elif self.expiry is not None:
            raise InputError(f"{where}.expiry", self.expiry, f"must be empty for {self.kind.value}")
        if self.kind is Kind.OPTION:
            if self.right is None:
                raise InputError(f"{where}.right", None, "is required for an option (call|put)")
            object.__setattr__(self, "right", _enum(Right, self.right, f"{where}.right"))
            if self.strike is None or not math.isfinite(self.strike) or self.strike <= 0:
                raise InputError(f"{where}.strike", self.strike, "must be a finite number > 0")
            object.__setattr__(self, "strike", float(self.strike))
        else:
            if self.strike is not None:
                raise InputError(f"{where}.strike", self.strike, "is only valid for options")
            if self.right is not None:
                raise InputError(f"{where}.right", self.right, "is only valid for options")
        if self.kind is Kind.SPOT and self.settlement is Settlement.INVERSE:
            raise InputError(f"{where}.settlement", "inverse", "is not valid for spot")
        size = self.contract_size
        if isinstance(size, bool) or not isinstance(size, int | float):
            raise InputError(f"{where}.contract_size", size, "must be a number > 0")
        if not math.isfinite(size) or size <= 0:
            raise InputError(f"{where}.contract_size", size, "must be a finite number > 0")
        object.__setattr__(self, "contract_size", float(size))
        if not self.contract_currency:
            default = (
                self.quote
                if self.settlement is Settlement.INVERSE and self.kind is not Kind.OPTION
                else self.underlying
            )
            object.__setattr__(self, "contract_currency", default)
        elif self.contract_currency not in (self.underlying, self.quote):
            raise InputError(
                f"{where}.contract_currency",
                self.contract_currency,
                f"must be the underlying {self.underlying!r} or the quote {self.quote!r}",
            )

    @property
    def is_inverse(self) -> bool:
        """True when value and P&L are paid in the underlying coin."""
        return self.settlement is Settlement.INVERSE

    @property
    def is_option(self) -> bool:
        """True for options."""
        return self.kind is Kind.OPTION

    @property
    def settlement_currency(self) -> str:
        """Currency that premium, value and P&L are paid in."""
        return self.underlying if self.is_inverse else self.quote

    @property
    def is_call(self) -> bool:
        """True for call options."""
        return self.right is Right.CALL

    @property
    def is_delta_one(self) -> bool:
        """True for spot, dated futures and perpetuals: value moves one-for-one with the price."""
        return self.kind is not Kind.OPTION

    @property
    def is_futures_style(self) -> bool:
        """True for dated futures and perpetuals: no premium, value = P&L since entry."""
        return self.kind is Kind.FUTURE or self.kind is Kind.PERPETUAL

    @property
    def cash_asset(self) -> str:
        """Balance asset a fill's cash, a premium and realised P&L are booked in.

        The settlement currency: the coin for inverse contracts, the quote for linear contracts
        and spot (spot is never inverse, so its settlement currency is its quote).
        """
        return self.settlement_currency

    def base_units(self, quantity: float, unit: QuantityUnit, price: float) -> float:
        """Convert a signed ``quantity`` in ``unit`` to units of the underlying (coins, shares).

        Parameters
        ----------
        quantity
            Signed amount in ``unit``: base units, quote-currency notional, or contracts of
            ``contract_size`` ``contract_currency``.
        unit
            The unit of ``quantity``.
        price
            Quote currency per unit of the underlying, ``> 0``; used only where the quantity or
            the contract is a quote-currency notional (``base = notional / price``).

        Returns
        -------
        float
            Signed base units.

        Raises
        ------
        InputError
            Naming the instrument's price, when a conversion needs a price that is not a finite
            number > 0.
        """
        if unit is QuantityUnit.BASE:
            return quantity
        if unit is QuantityUnit.CONTRACTS:
            amount = quantity * self.contract_size
            if self.contract_currency == self.underlying:
                return amount
            return self._quote_to_base(amount, price)
        return self._quote_to_base(quantity, price)

    def _quote_to_base(self, amount: float, price: float) -> float:
        if not math.isfinite(price) or price <= 0:
            raise InputError(
                f"price of {self.symbol!r}", price, "must be a finite number > 0 to convert"
            )
        return amount / price

    def usd_notional(self, base_units: float, price: float, quote_usd: float = 1.0) -> float:
        """Absolute USD notional of ``base_units`` at ``price``.

        Parameters
        ----------
        base_units
            Signed position in units of the underlying.
        price
            Quote currency per unit of the underlying (the underlying price a position is
            valued off: forward, mark or spot price).
        quote_usd
            USD per unit of the quote currency (1 for USD).

        Returns
        -------
        float
            ``|base_units| * price * quote_usd``, USD.
        """
        return abs(base_units) * price * quote_usd

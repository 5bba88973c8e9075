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

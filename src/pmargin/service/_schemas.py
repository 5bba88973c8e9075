"""Request and response bodies as pydantic models: validation and the OpenAPI document.

Amounts are decimal strings or JSON numbers, kept exact (:class:`~decimal.Decimal`; NaN and
infinities refused). The market and portfolio documents are checked field by field by the
same readers as the files (through the facade); here only their top-level shape is fixed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from pmargin.engine import DEFAULT_MODEL

__all__ = [
    "AccountIn",
    "AccountOut",
    "AccountWriteOut",
    "ErrorOut",
    "EventOut",
    "EventsOut",
    "FillIn",
    "LegIn",
    "MarginIn",
    "MarketIn",
    "MarketOut",
    "OrderCheckIn",
    "PositionOut",
    "TickIn",
    "TicksIn",
    "TransferIn",
    "WithdrawalCheckOut",
]

AccountId = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
]
Asset = Annotated[
    str,
    Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$"),
    AfterValidator(str.upper),
]
"""An asset code; case-insensitive, kept upper-case (as the portfolio file's balances)."""
Amount = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=38, decimal_places=18)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountIn(_Body):
    """``POST /v1/accounts``: the new account's id."""

    id: AccountId


class TransferIn(_Body):
    """A deposit or withdrawal: the asset (case-insensitive code) and a positive amount."""

    asset: Asset
    amount: Annotated[Amount, Field(gt=0)]


class FillIn(_Body):
    """``POST /v1/accounts/{id}/fills``: a trade as the venue reports it.

    ``quantity`` is signed (buy > 0) in the portfolio file's native units; ``price`` as the venue
    quotes it (coin for inverse options, USD for inverse futures); ``fee`` in the instrument's
    cash asset (negative for a rebate).
    """

    instrument: Annotated[str, Field(min_length=1, max_length=128)]
    quantity: Amount
    price: Annotated[Amount, Field(ge=0)]
    fee: Amount = Decimal(0)


Quantity = Annotated[float, Field(allow_inf_nan=False)]
Unit = Literal["native", "base", "quote", "contracts"]


class LegIn(_Body):
    """One leg of an order: a venue symbol, a signed quantity (buy > 0) in ``unit``.

    ``price`` is the fill price as the venue quotes it (coin for inverse options); without
    it the leg fills at the mark.
    """

    instrument: Annotated[str, Field(min_length=1, max_length=128)]
    quantity: Quantity
    unit: Unit = "native"
    price: Annotated[float | None, Field(ge=0, allow_inf_nan=False)] = None


class OrderCheckIn(_Body):
    """``POST /v1/accounts/{id}/orders/check``: one order, or ``legs`` placed together.

    Either ``instrument`` and ``quantity`` (and optionally ``unit``, ``price``), or ``legs``
    (1 to 32 of :class:`LegIn`), not both.
    """

    instrument: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    quantity: Quantity | None = None
    unit: Unit = "native"
    price: Annotated[float | None, Field(ge=0, allow_inf_nan=False)] = None
    legs: Annotated[list[LegIn] | None, Field(min_length=1, max_length=32)] = None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        single = self.instrument is not None or self.quantity is not None
        if self.legs is not None and single:
            raise ValueError("give either instrument and quantity, or legs, not both")
        if self.legs is None and (self.instrument is None or self.quantity is None):
            raise ValueError("give instrument and quantity, or legs")
        return self

    def all_legs(self) -> list[LegIn]:
        """Return the legs (the single order as one leg)."""
        if self.legs is not None:
            return self.legs
        assert self.instrument is not None
        assert self.quantity is not None
        return [
            LegIn(
                instrument=self.instrument, quantity=self.quantity, unit=self.unit, price=self.price
            )
        ]


class MarginAfterOut(BaseModel):
    """Equity, initial and maintenance margin after a withdrawal (USD)."""

    equity: float
    initial_margin: float
    maintenance_margin: float


class WithdrawalCheckOut(BaseModel):
    """A withdrawal decided without being made: the rule ``POST .../withdrawals`` applies.

    Amounts in asset units as exact decimal text; ``margin`` is null when the account was not
    margined (no positions and no borrowing: the balance alone decides).
    """

    accepted: bool
    reason: str
    asset: str
    amount: str
    balance: str
    balance_after: str
    model: str
    margin: MarginAfterOut | None


MAX_VOL_SHIFT = 10.0
"""Largest vol shift of a tick (decimal: 1,000 vol points); the breakers refuse any vol above
their ``max_iv`` (5) anyway, and a shift of 1e300 would overflow the surface's arithmetic."""


class TickIn(_Body):
    """One feed tick: an index price or vol shift, or an instrument's mark price or implied vol.

    ``underlying`` with ``index`` (USD) and/or ``vol_shift`` (a shift of its at-the-money vol,
    decimal: 0.02 = +2 vol points, every slice of its surface), or ``instrument`` with
    ``mark`` (the instrument's price currency) or ``iv`` (decimal); ``timestamp`` the event
    time (ISO-8601 or epoch milliseconds). Numbers are not range-checked (the breakers judge
    them) but for ``vol_shift``, within +-:data:`MAX_VOL_SHIFT`.
    """

    underlying: Annotated[str | None, Field(min_length=1, max_length=32)] = None
    instrument: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    index: float | None = None
    vol_shift: Annotated[float | None, Field(ge=-MAX_VOL_SHIFT, le=MAX_VOL_SHIFT)] = None
    mark: float | None = None
    iv: float | None = None
    timestamp: str | float

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        by_index = self.underlying is not None and (
            self.index is not None or self.vol_shift is not None
        )
        by_mark = self.instrument is not None and (self.mark is None) != (self.iv is None)
        others = (
            (self.instrument, self.mark, self.iv)
            if by_index
            else (self.underlying, self.index, self.vol_shift)
        )
        if by_index == by_mark or any(v is not None for v in others):
            raise ValueError(
                "give underlying and index or vol_shift, or instrument and one of mark, iv"
            )
        return self


class TicksIn(_Body):
    """``POST /v1/market/ticks``: 1 to 1,000 ticks, applied in order."""

    ticks: Annotated[list[TickIn], Field(min_length=1, max_length=1000)]


class MarketIn(_Body):
    """``PUT /v1/market``: a whole snapshot in the market-file form (DESIGN.md)."""

    timestamp: Any
    index: dict[str, Any] | None = None
    prices: dict[str, Any] | None = None
    rates: dict[str, Any] | None = None
    marks: dict[str, Any] | None = None
    forwards: dict[str, Any] | None = None
    surfaces: dict[str, Any] | None = None


class MarginIn(_Body):
    """``POST /v1/margin``: a portfolio and a market (file forms) and the model to apply."""

    portfolio: dict[str, Any]
    market: MarketIn
    model: Annotated[str, Field(min_length=1, max_length=64)] = DEFAULT_MODEL


class ErrorOut(BaseModel):
    """Every error: a code, the field at fault (or null) and the reason; 409s add figures."""

    model_config = ConfigDict(extra="allow")

    error: str
    field: str | None
    reason: str


class PositionOut(BaseModel):
    """A position in the portfolio-file form: native units and average price, exact text."""

    instrument: str
    quantity: str
    unit: str
    avg_price: str | None


class AccountOut(BaseModel):
    """An account in the portfolio-file form (balances: asset -> exact decimal text)."""

    id: str
    balances: dict[str, str]
    positions: list[PositionOut]


class AccountWriteOut(AccountOut):
    """The account after a write, with the ``seq`` of the write's event."""

    seq: int


class MarketOut(BaseModel):
    """The market put in force: its timestamp (ISO-8601 UTC) and its event's ``seq``."""

    timestamp: str
    seq: int


class EventOut(BaseModel):
    """One persisted event: sequence number, kind, account (null for market events), data."""

    seq: int
    kind: str
    account: str | None
    time: str
    data: dict[str, Any]


class EventsOut(BaseModel):
    """A page of events in ``seq`` order and the ``seq`` to ask ``after`` next."""

    events: list[EventOut]
    last: int

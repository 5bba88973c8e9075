"""Request and response bodies as pydantic models: validation and the OpenAPI document.

Amounts are decimal strings or JSON numbers, kept exact (:class:`~decimal.Decimal`; NaN and
infinities refused). The market and portfolio documents are checked field by field by the
same readers as the files (through the facade); here only their top-level shape is fixed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pmargin.engine import DEFAULT_MODEL

__all__ = [
    "AccountIn",
    "AccountOut",
    "AccountWriteOut",
    "ErrorOut",
    "EventOut",
    "EventsOut",
    "FillIn",
    "MarginIn",
    "MarketIn",
    "MarketOut",
    "PositionOut",
    "TransferIn",
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

"""Liquidation events: immutable records of every step, serialisable to JSON.

An episode is a list of events in the order they happened. State-changing events (fills,
fund draws, ADL fills, bad debt write-offs) carry every number needed to re-apply them to the
initial book (:func:`~pmargin.liquidation.replay`); the others (trigger, finish) record the
account's equity and margin for the audit. Amounts are USD unless the field says otherwise;
quantities are signed base units of the underlying (the trade: a sale < 0); prices are in the
instrument's price unit (quote currency per base unit for futures and perpetuals, premium
currency per base unit for options).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar

from pmargin.errors import InputError

__all__ = [
    "AdlFill",
    "BadDebt",
    "FundDraw",
    "LiquidationEvent",
    "LiquidationFill",
    "LiquidationFinished",
    "LiquidationTriggered",
    "event_from_dict",
    "event_to_dict",
    "events_from_json",
    "events_to_json",
]


@dataclass(frozen=True, slots=True)
class LiquidationTriggered:
    """An account found below maintenance margin: liquidation starts.

    Attributes
    ----------
    account
        Account id.
    equity, initial_margin, maintenance_margin
        USD, when found.
    target_equity
        The equity (USD) liquidation aims for at the start (``MM (1 + buffer)`` or ``IM``).
    paused
        Underlyings whose positions will not be touched (circuit breakers).
    """

    type: ClassVar[str] = "triggered"
    account: str
    equity: float
    initial_margin: float
    maintenance_margin: float
    target_equity: float
    paused: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LiquidationFill:
    """A position (partly) closed on the market, with slippage and penalty.

    Attributes
    ----------
    account, instrument
        Who and what (instrument symbol).
    quantity
        Signed base units traded (opposite to the position, never past zero).
    mark, fill_price
        Mark and execution price (price unit of the instrument);
        ``fill_price = mark (1 -/+ impact)``.
    impact
        Relative price impact ``min(k (notional / depth)^alpha, max_impact)``.
    depth_usd
        The depth the impact was measured against.
    notional_usd
        ``|quantity| x underlying price`` (USD).
    slippage_usd
        The account's loss against the mark, paid to the market counterparty (>= 0).
    penalty_rate, penalty_usd
        Rate applied and penalty charged (USD, after the premium and equity caps).
    penalty_fund_usd, penalty_liquidator_usd
        Its split.
    cash_asset, cash_usd
        Asset the cash leg and penalty are booked in (settlement currency; quote for spot) and
        its USD price.
    equity_before, equity_after, initial_margin_before, initial_margin_after,
    maintenance_margin_before, maintenance_margin_after
        The account (USD), margined alone with the same model.
    reason
        ``"partial"`` (toward the target) or ``"bankrupt"`` (closing out a bankrupt account).
    """

    type: ClassVar[str] = "fill"
    account: str
    instrument: str
    quantity: float
    mark: float
    fill_price: float
    impact: float
    depth_usd: float
    notional_usd: float
    slippage_usd: float
    penalty_rate: float
    penalty_usd: float
    penalty_fund_usd: float
    penalty_liquidator_usd: float
    cash_asset: str
    cash_usd: float
    equity_before: float
    equity_after: float
    initial_margin_before: float
    initial_margin_after: float
    maintenance_margin_before: float
    maintenance_margin_after: float
    reason: str = "partial"


@dataclass(frozen=True, slots=True)
class FundDraw:
    """The insurance fund pays (part of) a closed-out account's deficit.

    Attributes
    ----------
    account
        The bankrupt account.
    amount_usd
        Paid by the fund (USD).
    fund_before, fund_after
        Fund balance (USD).
    credits
        Asset -> amount (asset units) credited to the account's negative balances.
    """

    type: ClassVar[str] = "fund_draw"
    account: str
    amount_usd: float
    fund_before: float
    fund_after: float
    credits: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "credits", MappingProxyType(dict(self.credits)))


@dataclass(frozen=True, slots=True)
class AdlFill:
    """Auto-deleveraging: a bankrupt account's position closed against an opposite one.

    Both positions shrink by ``|quantity|`` at the bankruptcy price; the counterparty, closing
    at a price worse than the mark, pays ``transfer_usd`` to the bankrupt account.

    Attributes
    ----------
    account, counterparty, instrument
        Bankrupt account, deleveraged account, instrument symbol.
    quantity
        The bankrupt account's trade (signed base units); the counterparty trades
        ``-quantity``.
    mark, bankruptcy_price
        Price unit of the instrument.
    transfer_usd
        Value moved from the counterparty to the bankrupt account (USD, >= 0).
    ranking
        The counterparty position's ADL ranking score.
    cash_asset, cash_usd
        Settlement asset and its USD price.
    counterparty_equity_before, counterparty_equity_after
        USD.
    """

    type: ClassVar[str] = "adl"
    account: str
    counterparty: str
    instrument: str
    quantity: float
    mark: float
    bankruptcy_price: float
    transfer_usd: float
    ranking: float
    cash_asset: str
    cash_usd: float
    counterparty_equity_before: float
    counterparty_equity_after: float


@dataclass(frozen=True, slots=True)
class BadDebt:
    """A deficit neither the fund nor ADL covered, written off (the account is set to zero).

    Attributes
    ----------
    account
        The bankrupt account.
    amount_usd
        Written off (USD).
    credits
        Asset -> amount (asset units) credited to the account's negative balances.
    """

    type: ClassVar[str] = "bad_debt"
    account: str
    amount_usd: float
    credits: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "credits", MappingProxyType(dict(self.credits)))


@dataclass(frozen=True, slots=True)
class LiquidationFinished:
    """An account's liquidation ends.

    Attributes
    ----------
    account
        Account id.
    outcome
        ``"restored"`` (target reached), ``"closed_out"`` (nothing left to close, solvent),
        ``"bankrupt"`` (closed out with a deficit, settled by the fund, ADL or bad debt),
        ``"paused"`` (only positions in paused underlyings are left), ``"max_steps"``.
    steps
        Fills made for this account.
    equity, initial_margin, maintenance_margin
        USD, at the end.
    """

    type: ClassVar[str] = "finished"
    account: str
    outcome: str
    steps: int
    equity: float
    initial_margin: float
    maintenance_margin: float


LiquidationEvent = (
    LiquidationTriggered | LiquidationFill | FundDraw | AdlFill | BadDebt | LiquidationFinished
)
"""Any liquidation event."""

_TYPES: dict[str, type[Any]] = {
    cls.type: cls
    for cls in (
        LiquidationTriggered,
        LiquidationFill,
        FundDraw,
        AdlFill,
        BadDebt,
        LiquidationFinished,
    )
}


def event_to_dict(event: LiquidationEvent) -> dict[str, Any]:
    """JSON object of an event: its fields plus ``"type"``."""
    data: dict[str, Any] = {"type": event.type}
    data.update({f.name: getattr(event, f.name) for f in fields(event)})
    for key, value in data.items():
        if isinstance(value, tuple):
            data[key] = list(value)
        elif isinstance(value, Mapping):
            data[key] = dict(value)
    return data


def event_from_dict(data: Mapping[str, Any]) -> LiquidationEvent:
    """Rebuild an event from :func:`event_to_dict`'s object.

    Raises
    ------
    InputError
        An unknown ``type`` or a missing or unknown field.
    """
    kind = data.get("type")
    cls = _TYPES.get(str(kind))
    if cls is None:
        raise InputError("event.type", kind, f"is not one of {'|'.join(_TYPES)}")
    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in data.items() if k != "type"}
    unknown = set(values) - names
    if unknown:
        raise InputError(f"event[{kind}]", sorted(unknown), "are not fields of this event")
    if "paused" in values:
        values["paused"] = tuple(values["paused"])
    try:
        event: LiquidationEvent = cls(**values)
    except TypeError as exc:
        raise InputError(f"event[{kind}]", sorted(values), f"does not match: {exc}") from None
    return event


def events_to_json(events: Sequence[LiquidationEvent], indent: int | None = None) -> str:
    """Serialise an episode (a JSON array of event objects, in order)."""
    return json.dumps([event_to_dict(e) for e in events], indent=indent)


def events_from_json(text: str) -> list[LiquidationEvent]:
    """Parse :func:`events_to_json`'s text back into events."""
    data = json.loads(text)
    if not isinstance(data, list):
        raise InputError("events", type(data).__name__, "must be a JSON array of events")
    return [event_from_dict(item) for item in data]

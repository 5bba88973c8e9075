"""The facade of the liquidation engine for the service: one episode at the monitor's market.

The service holds positions in native units as exact decimals and books every change through
its ledger; the engine (:class:`pmargin.liquidation.LiquidationEngine`, the one ``pmargin
simulate`` drives) works in base units and USD floats. :func:`liquidate_monitor` runs the
engine once on the monitor's own book and margin (:meth:`pmargin.monitor.Monitor.state`, the
insurance fund valued at the monitor's market, paused underlyings from its breakers) and
turns each event into what a ledger books: trades in native units at the venue's price, the
penalty and its fund share in the cash asset, the credits of a fund draw or of bad debt.
Floats become :class:`~decimal.Decimal` once, here (``Decimal(repr(x))``: the float's shortest
exact text). The stored positions are exact sums where the engine's are float sums, so the two
differ by a few ulps: a trade that leaves the stored position within
:data:`CLOSE_TOLERANCE` of zero (or past it) closes it exactly, and a trade of the dust the
engine's float arithmetic left on a position the ledger has closed (a fill or ADL of about
1e-16 of the position) is not booked. No maths beyond that conversion: the rules are the
engine's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pmargin.errors import MarketDataError
from pmargin.liquidation import (
    AdlFill,
    BadDebt,
    FundDraw,
    InsuranceFund,
    LiquidationConfig,
    LiquidationEngine,
    LiquidationFill,
    LiquidationFinished,
    LiquidationTriggered,
    below_maintenance,
    event_to_dict,
    load_config,
)
from pmargin.market import MarketSnapshot
from pmargin.monitor import Monitor

__all__ = [
    "LiquidationEpisode",
    "LiquidationStep",
    "LiquidationTrade",
    "fund_value_usd",
    "liquidate_monitor",
    "liquidation_config",
    "needs_liquidation",
]

CLOSE_TOLERANCE = 1e-9
"""A trade within this share (relative) of the stored position closes it exactly: the engine
closes whole positions in base units, and the conversion to native units rounds."""

_ZERO = Decimal(0)


def _exact(x: float) -> Decimal:
    """Return the float as a decimal, through its shortest round-tripping text."""
    return Decimal(repr(float(x)))


def liquidation_config(path: str | None = None) -> LiquidationConfig:
    """Load liquidation parameters (the shipped ``liquidation.toml`` without ``path``).

    Raises
    ------
    InputError
        A missing, out-of-range or unknown field, named by its dotted path.
    """
    return load_config(path)


@dataclass(frozen=True, slots=True)
class LiquidationTrade:
    """One side of a liquidation or ADL fill, as a ledger books a fill.

    Attributes
    ----------
    account, instrument
        Who trades what (venue symbol).
    quantity
        Signed native units (the instrument's portfolio-file unit; a sale < 0), exact.
    price
        As the venue quotes it (coin per coin for inverse options, USD for inverse futures).
    """

    account: str
    instrument: str
    quantity: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class LiquidationStep:
    """One engine event and what a ledger books for it.

    Attributes
    ----------
    kind
        The engine event's type: ``triggered``, ``fill``, ``adl``, ``fund_draw``,
        ``bad_debt`` or ``finished``.
    account
        The liquidated account.
    event
        :func:`pmargin.liquidation.event_to_dict` of the event (USD floats, base units).
    trades
        ``fill``: the account's trade; ``adl``: the bankrupt side's, then the
        counterparty's; else empty.
    asset
        ``fill``: the cash asset of the penalty (else None).
    penalty, penalty_fund
        ``fill``: the penalty the account pays and the insurance fund's share of it (asset
        units, exact; the rest goes to the liquidator).
    credits
        ``fund_draw`` and ``bad_debt``: asset -> amount credited to the account (asset units).
    """

    kind: str
    account: str
    event: dict[str, Any]
    trades: tuple[LiquidationTrade, ...] = ()
    asset: str | None = None
    penalty: Decimal = _ZERO
    penalty_fund: Decimal = _ZERO
    credits: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LiquidationEpisode:
    """One engine run at the monitor's market.

    Attributes
    ----------
    steps
        Every event, in order, with its bookings.
    fund_usd_before, fund_usd_after
        The insurance fund the engine started from and ended with (USD).
    paused
        Underlyings the engine left alone (circuit breakers).
    liquidated
        Accounts the engine processed, in order.
    """

    steps: tuple[LiquidationStep, ...]
    fund_usd_before: float
    fund_usd_after: float
    paused: tuple[str, ...]
    liquidated: tuple[str, ...]


def needs_liquidation(monitor: Monitor) -> bool:
    """Return True when an account of the monitor is below maintenance (beyond rounding)."""
    below = below_maintenance(monitor.equity, monitor.initial_margin, monitor.maintenance_margin)
    return bool(below.any())


def fund_value_usd(market: MarketSnapshot, balances: Mapping[str, Decimal]) -> float:
    """USD value of a fund's balances (asset units) at ``market``.

    An asset the market does not price (no index, no price) counts zero: the fund is never
    valued above what the market can show.
    """
    total = 0.0
    for asset, amount in balances.items():
        try:
            total += float(amount) * market.usd_price(asset)
        except MarketDataError:
            continue
    return total


def liquidate_monitor(
    monitor: Monitor,
    fund_usd: float,
    positions: Mapping[str, Mapping[str, Decimal]],
    config: LiquidationConfig | None = None,
) -> LiquidationEpisode:
    """Run the liquidation engine once on the monitor's book at its market.

    Parameters
    ----------
    monitor
        Its book, margin and market (:meth:`~pmargin.monitor.Monitor.state`) and its paused
        underlyings are the engine's.
    fund_usd
        The insurance fund (USD; a negative value counts as empty).
    positions
        ``{account: {symbol: quantity}}``: the stored positions in native units (exact), the
        ones the trades are converted against.
    config
        Liquidation parameters (``None``: the shipped ``liquidation.toml``).

    Returns
    -------
    LiquidationEpisode
        The engine's events with their bookings.
    """
    state = monitor.state()
    book = state.book
    paused = monitor.paused_underlyings
    engine = LiquidationEngine(
        monitor.model,
        book,
        InsuranceFund(max(float(fund_usd), 0.0)),
        config=config or load_config(),
        paused=paused,
        result=state.margin,
    )
    outcome = engine.run()
    held = {a: dict(p) for a, p in positions.items()}
    price_of = book.resolved.underlying_price

    def trade(account: str, symbol: str, base: float, price: float) -> LiquidationTrade | None:
        """Return the trade in native units; None for dust on a position the ledger closed."""
        column = book.column(symbol)
        assert column is not None  # the engine trades only instruments of the book
        instrument = book.instruments[column]
        per_native = instrument.base_units(1.0, instrument.quantity_unit, float(price_of[column]))
        stored = held.get(account, {}).get(symbol, _ZERO)
        if stored == _ZERO:
            return None
        quantity = _exact(base / per_native)
        after = stored + quantity
        if abs(after) <= abs(stored) * Decimal(CLOSE_TOLERANCE) or (after > 0) != (stored > 0):
            quantity = -stored
        held.setdefault(account, {})[symbol] = stored + quantity
        return LiquidationTrade(account, symbol, quantity, _exact(price))

    steps: list[LiquidationStep] = []
    for event in outcome.events:
        data = event_to_dict(event)
        if isinstance(event, LiquidationFill):
            one = trade(event.account, event.instrument, event.quantity, event.fill_price)
            if one is None:
                continue
            penalty = _exact(event.penalty_usd / event.cash_usd)
            fund_part = min(_exact(event.penalty_fund_usd / event.cash_usd), penalty)
            steps.append(
                LiquidationStep(
                    "fill",
                    event.account,
                    data,
                    (one,),
                    event.cash_asset,
                    penalty,
                    fund_part,
                )
            )
        elif isinstance(event, AdlFill):
            price = event.bankruptcy_price
            bankrupt = trade(event.account, event.instrument, event.quantity, price)
            other = trade(event.counterparty, event.instrument, -event.quantity, price)
            if bankrupt is None or other is None:
                continue
            steps.append(LiquidationStep("adl", event.account, data, (bankrupt, other)))
        elif isinstance(event, FundDraw | BadDebt):
            credits = {a: _exact(x) for a, x in event.credits.items() if x != 0.0}
            steps.append(LiquidationStep(event.type, event.account, data, credits=credits))
        elif isinstance(event, LiquidationTriggered | LiquidationFinished):
            steps.append(LiquidationStep(event.type, event.account, data))
    return LiquidationEpisode(
        steps=tuple(steps),
        fund_usd_before=engine.fund.balance_usd,
        fund_usd_after=outcome.state.fund_usd,
        paused=tuple(sorted(paused)),
        liquidated=outcome.liquidated,
    )

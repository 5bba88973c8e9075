"""Where the money is after an episode, and the replay that rebuilds it from the events.

:class:`LiquidationState` is the book after the episode plus the four places money that left
the accounts went: the insurance fund, the liquidators, the market counterparties (slippage)
and the bad debt written off. :func:`replay` re-applies an episode's events to the state it
started from through the same :meth:`Ledger.apply` the engine used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pmargin.book import BookArrangement
from pmargin.liquidation._events import LiquidationEvent, events_to_json
from pmargin.liquidation._ledger import Ledger

__all__ = ["InsuranceFund", "LiquidationOutcome", "LiquidationState", "replay", "state_of"]


@dataclass(frozen=True, slots=True)
class InsuranceFund:
    """Insurance fund state.

    Attributes
    ----------
    balance_usd
        What the fund holds (USD), >= 0.
    """

    balance_usd: float


@dataclass(frozen=True, slots=True)
class LiquidationState:
    """Where the money is after an episode (or a replay).

    Attributes
    ----------
    book
        Positions and balances after the episode (same instruments as before).
    fund_usd
        Insurance fund balance (USD).
    liquidator_usd
        Penalties paid to liquidators (USD).
    market_usd
        Slippage received by the market counterparties of liquidation fills (USD).
    bad_debt_usd
        Deficits written off (USD).
    """

    book: BookArrangement
    fund_usd: float
    liquidator_usd: float
    market_usd: float
    bad_debt_usd: float

    @property
    def fund(self) -> InsuranceFund:
        """The fund after the episode."""
        return InsuranceFund(self.fund_usd)


@dataclass(frozen=True, slots=True)
class LiquidationOutcome:
    """What an episode did.

    Attributes
    ----------
    events
        Every event, in order.
    state
        The state after the episode.
    liquidated
        Accounts that were found below MM, in processing order.
    """

    events: tuple[LiquidationEvent, ...]
    state: LiquidationState
    liquidated: tuple[str, ...]

    @property
    def book(self) -> BookArrangement:
        """The book after the episode."""
        return self.state.book

    def to_json(self, indent: int | None = None) -> str:
        """Return the events as a JSON array (:func:`~pmargin.liquidation.events_to_json`)."""
        return events_to_json(self.events, indent)


def replay(
    book: BookArrangement, fund: InsuranceFund | float, events: Iterable[LiquidationEvent]
) -> LiquidationState:
    """Re-apply an episode's events to the state it started from.

    Parameters
    ----------
    book
        The book before the episode.
    fund
        The insurance fund before the episode (or its USD balance).
    events
        The episode's events, in order (e.g. from :func:`events_from_json`).

    Returns
    -------
    LiquidationState
        The same state the engine reached (no model or market is needed: every number is in
        the events).
    """
    balance = fund.balance_usd if isinstance(fund, InsuranceFund) else float(fund)
    ledger = Ledger(book, balance)
    for event in events:
        ledger.apply(event)
    return state_of(ledger)


def state_of(ledger: Ledger) -> LiquidationState:
    """Snapshot a ledger into a :class:`LiquidationState`."""
    return LiquidationState(
        book=ledger.to_book(),
        fund_usd=ledger.fund_usd,
        liquidator_usd=ledger.liquidator_usd,
        market_usd=ledger.market_usd,
        bad_debt_usd=ledger.bad_debt_usd,
    )

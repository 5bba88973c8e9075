"""Representative books for the backtest, defined relative to the day's market.

A book is a list of :class:`Leg` templates: an instrument kind, an underlying, a signed USD
notional, a tenor in days and a moneyness ``K / F``. Each step of the backtest RE-STRIKES
every book on that step's market (:func:`build_portfolio`): the expiry is the first 08:00 UTC
at or after ``t + tenor`` (a rolling constant-maturity position, not a listed Deribit expiry),
the strike is ``moneyness x forward`` rounded to three significant figures (1,000 USD on BTC
at 100,000, 10 USD at 3,000), and the quantity is ``notional / index`` coins. The positions
are then held FIXED over the margin period of risk. So the backtest asks: "had this strategy
been put on at ``t``, would the margin have covered its loss by ``t + MPOR``?".

Every book exists twice, as one account each:

* ``<name>`` in Deribit's coin-settled (inverse) contracts: ``BTC-PERPETUAL``,
  ``BTC-13DEC25``, ``BTC-13DEC25-100000-C`` (P&L in coin, converted to USD at the horizon);
* ``<name>/usdc``, its linear twin in USDC-settled contracts: ``BTC_USDC-PERPETUAL``,
  ``BTC_USDC-13DEC25``, ``BTC_USDC-13DEC25-100000-C``.

Models that cannot margin a book (Derive's PMRM_2 takes only USDC-settled options and
perpetuals, so no inverse book and no dated future) show it as not applicable. Books hold no
collateral: margin is on the positions alone, and a coin that a strategy holds (covered call,
protective put) is held as a long perpetual.

Books (notional ``N``, 1,000,000 USD by default; tenors in days):

==========================  ==========================================================
``long_perp``               +N perpetual
``short_perp``              -N perpetual
``basis``                   +N perpetual, -N 90-day future (cash-and-carry)
``pair``                    +N BTC perpetual, -N ETH perpetual
``covered_call``            +N perpetual, -N 30-day 110% call
``protective_put``          +N perpetual, +N 30-day 90% put
``short_strangle``          -N 30-day 90% put, -N 30-day 110% call
``calendar``                -N 30-day ATM call, +N 90-day ATM call
``risk_reversal``           +N 30-day 110% call, -N 30-day 90% put
``delta_hedged_short_vol``  -N 30-day ATM straddle, perpetual = the straddle's Black delta
``mixed``                   12 seeded random legs: BTC/ETH options (7-180 days, 80%-125%)
                            and perpetuals, notionals N(0, N/2) (the same draw every day)
==========================  ==========================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from pmargin.book import Portfolio, Position, base_quantity, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.market import MarketSnapshot
from pmargin.pricing import black76

__all__ = [
    "BOOKS",
    "BookSpec",
    "Leg",
    "books_from_portfolio",
    "build_portfolio",
    "default_books",
    "gross_notional",
]

LegKind = Literal["perp", "future", "call", "put"]

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_EXPIRY_HOUR = 8


@dataclass(frozen=True, slots=True)
class Leg:
    """One position template of a book.

    Attributes
    ----------
    kind
        ``"perp"``, ``"future"``, ``"call"`` or ``"put"``.
    underlying
        ``"BTC"`` or ``"ETH"``.
    notional
        Signed USD notional (long > 0): ``notional / index`` coins.
    tenor_days
        Days to expiry (futures and options).
    moneyness
        Strike over the expiry's forward (options).
    linear
        ``True``: always the USDC-settled contract, ``False``: always the coin-settled one;
        ``None`` (the representative books): coin-settled in ``<name>``, USDC-settled in
        its twin ``<name>/usdc``.
    """

    kind: LegKind
    underlying: str
    notional: float
    tenor_days: int = 0
    moneyness: float = 1.0
    linear: bool | None = None


@dataclass(frozen=True, slots=True)
class BookSpec:
    """A named book: legs, and whether a perpetual delta-hedges its options each day.

    Attributes
    ----------
    name
        Book name (``"short_strangle"``).
    legs
        The position templates.
    delta_hedge
        Add a perpetual on the first leg's underlying sized to minus the options' Black delta
        (forward delta per coin, at the day's surface vol), re-computed at each step.
    description
        One line for the report.
    """

    name: str
    legs: tuple[Leg, ...]
    delta_hedge: bool = False
    description: str = ""

    @property
    def max_tenor(self) -> int:
        """Longest tenor of the book's legs, days."""
        return max((leg.tenor_days for leg in self.legs), default=0)

    @property
    def min_tenor(self) -> int:
        """Shortest tenor of a dated leg, days (0 when none is dated)."""
        dated = [leg.tenor_days for leg in self.legs if leg.kind != "perp"]
        return min(dated, default=0)


def _mixed(notional: float, seed: int) -> tuple[Leg, ...]:
    rng = np.random.default_rng(seed)
    legs = []
    for _ in range(12):
        underlying = "BTC" if rng.random() < 0.6 else "ETH"
        size = float(np.round(rng.normal(0.0, notional / 2.0), -3)) or 1000.0
        if rng.random() < 0.2:
            legs.append(Leg("perp", underlying, size))
            continue
        kind: LegKind = "call" if rng.random() < 0.5 else "put"
        tenor = int(rng.choice([7, 14, 30, 60, 90, 180]))
        money = float(np.round(rng.uniform(0.8, 1.25), 2))
        legs.append(Leg(kind, underlying, size, tenor, money))
    return tuple(legs)


def default_books(notional: float = 1_000_000.0, seed: int = 7) -> dict[str, BookSpec]:
    """Return the representative books (see the module docstring), sized at ``notional`` USD."""
    n = float(notional)
    b = "BTC"
    books = [
        BookSpec("long_perp", (Leg("perp", b, n),), description="+N perpetual"),
        BookSpec("short_perp", (Leg("perp", b, -n),), description="-N perpetual"),
        BookSpec(
            "basis",
            (Leg("perp", b, n), Leg("future", b, -n, 90)),
            description="+N perpetual, -N 90d future",
        ),
        BookSpec(
            "pair",
            (Leg("perp", b, n), Leg("perp", "ETH", -n)),
            description="+N BTC perpetual, -N ETH perpetual",
        ),
        BookSpec(
            "covered_call",
            (Leg("perp", b, n), Leg("call", b, -n, 30, 1.1)),
            description="+N perpetual, -N 30d 110% call",
        ),
        BookSpec(
            "protective_put",
            (Leg("perp", b, n), Leg("put", b, n, 30, 0.9)),
            description="+N perpetual, +N 30d 90% put",
        ),
        BookSpec(
            "short_strangle",
            (Leg("put", b, -n, 30, 0.9), Leg("call", b, -n, 30, 1.1)),
            description="-N 30d 90% put, -N 30d 110% call",
        ),
        BookSpec(
            "calendar",
            (Leg("call", b, -n, 30, 1.0), Leg("call", b, n, 90, 1.0)),
            description="-N 30d ATM call, +N 90d ATM call",
        ),
        BookSpec(
            "risk_reversal",
            (Leg("call", b, n, 30, 1.1), Leg("put", b, -n, 30, 0.9)),
            description="+N 30d 110% call, -N 30d 90% put",
        ),
        BookSpec(
            "delta_hedged_short_vol",
            (Leg("call", b, -n, 30, 1.0), Leg("put", b, -n, 30, 1.0)),
            delta_hedge=True,
            description="-N 30d ATM straddle, perpetual delta hedge",
        ),
        BookSpec("mixed", _mixed(n, seed), description="12 seeded random BTC/ETH legs"),
    ]
    return {book.name: book for book in books}


BOOKS: tuple[str, ...] = tuple(default_books())
"""Names of the default books."""


def _expiry(when: datetime, tenor_days: int) -> datetime:
    """First 08:00 UTC at or after ``when + tenor_days``."""
    target = when + timedelta(days=tenor_days)
    expiry = target.replace(hour=_EXPIRY_HOUR, minute=0, second=0, microsecond=0)
    return expiry if expiry >= target else expiry + timedelta(days=1)


def _date_code(expiry: datetime) -> str:
    return f"{expiry.day}{_MONTHS[expiry.month - 1]}{expiry.year % 100:02d}"


def _strike(value: float) -> tuple[float, str]:
    """``value`` rounded to three significant figures, and Deribit's text for it."""
    step = 10.0 ** (math.floor(math.log10(value)) - 2)
    strike = float(f"{round(value / step) * step:.3g}")
    return strike, f"{strike:.10g}".replace(".", "d")


def _symbol(leg: Leg, linear: bool, market: MarketSnapshot) -> tuple[str, float]:
    """Venue symbol of a leg on ``market``, and its underlying price for the delta hedge."""
    linear = linear if leg.linear is None else leg.linear
    prefix = f"{leg.underlying}_USDC" if linear else leg.underlying
    if leg.kind == "perp":
        return f"{prefix}-PERPETUAL", market.index_price(leg.underlying)
    expiry = _expiry(market.timestamp, leg.tenor_days)
    forward = market.forward(leg.underlying, expiry)
    if leg.kind == "future":
        return f"{prefix}-{_date_code(expiry)}", forward
    _, text = _strike(leg.moneyness * forward)
    right = "C" if leg.kind == "call" else "P"
    return f"{prefix}-{_date_code(expiry)}-{text}-{right}", forward


def _hedge(book: BookSpec, market: MarketSnapshot, coins: Sequence[float]) -> float:
    """Coins of perpetual that offset the options' forward Black delta."""
    delta = 0.0
    for leg, q in zip(book.legs, coins, strict=True):
        if leg.kind not in ("call", "put"):
            continue
        expiry = _expiry(market.timestamp, leg.tenor_days)
        forward = market.forward(leg.underlying, expiry)
        strike, _ = _strike(leg.moneyness * forward)
        t = market.year_fraction(expiry)
        vol = float(market.surface_vols(leg.underlying, strike, forward, t))
        greeks = black76(forward, strike, t, vol, leg.kind == "call", 0.0)
        delta += q * float(greeks.delta)
    return -delta


def build_portfolio(
    books: Sequence[BookSpec], market: MarketSnapshot, *, linear_twins: bool = True
) -> tuple[Portfolio, list[str]]:
    """Strike every book on ``market``: one account per book (and per linear twin).

    Parameters
    ----------
    books
        The book templates.
    market
        The day's market (index, forwards, surfaces of every underlying used).
    linear_twins
        Also build each book's USDC-settled twin (account ``<name>/usdc``).

    Returns
    -------
    portfolio, account_ids
        Accounts without balances, positions in base units (coins); ids in row order.
    """
    accounts: list[dict[str, Any]] = []
    for linear in (False, True) if linear_twins else (False,):
        for book in books:
            positions = []
            coins = []
            for leg in book.legs:
                symbol, _ = _symbol(leg, linear, market)
                q = leg.notional / market.index_price(leg.underlying)
                coins.append(q)
                positions.append({"instrument": symbol, "quantity": q, "unit": "base"})
            if book.delta_hedge:
                perp = Leg("perp", book.legs[0].underlying, 0.0)
                symbol, _ = _symbol(perp, linear, market)
                hedge = _hedge(book, market, coins)
                positions.append({"instrument": symbol, "quantity": hedge, "unit": "base"})
            name = f"{book.name}/usdc" if linear else book.name
            accounts.append({"id": name, "balances": {}, "positions": positions})
    portfolio = portfolio_from_dict({"accounts": accounts})
    return portfolio, [a["id"] for a in accounts]


def gross_notional(portfolio: Portfolio, market: MarketSnapshot) -> np.ndarray[Any, Any]:
    """Gross USD notional of each account: ``sum |coins| x index``, shape ``(n_accounts,)``."""
    out = np.zeros(len(portfolio.accounts))
    for a, account in enumerate(portfolio.accounts):
        for position in account.positions:
            if position.unit != "base":
                raise InputError("unit", position.unit, "must be base in backtest books")
            spot = market.index_price(position.instrument.underlying)
            out[a] += abs(position.quantity) * spot
    return out


_KINDS: dict[str, LegKind] = {"perpetual": "perp", "future": "future"}
_DAY_SECONDS = 86_400.0


def books_from_portfolio(portfolio: Portfolio, market: MarketSnapshot) -> dict[str, BookSpec]:
    """Turn a user's accounts into book templates re-struck each step like the default books.

    Each position becomes a :class:`Leg` measured at ``market`` (the market the portfolio is
    marked at): its signed USD notional ``base quantity x index``, its tenor in whole days to
    expiry (at least 1) and, for an option, its moneyness ``strike / forward`` at its expiry.
    :func:`build_portfolio` then re-strikes every leg at each step by the representative books'
    rule (module docstring): constant USD notional, constant tenor, constant moneyness. A leg
    keeps its settlement (``linear``: coin-settled or USDC-settled Deribit contracts). Balances
    are left out: as the default books, margin is on the positions alone.

    Parameters
    ----------
    portfolio
        The user's accounts (one book per account with positions).
    market
        The market the tenors, moneyness and notionals are read at.

    Returns
    -------
    dict[str, BookSpec]
        Account id -> its book, in file order.

    Raises
    ------
    InputError
        A spot position, an underlying without history (other than BTC and ETH), an expired
        contract, or no account with positions.
    """
    books: dict[str, BookSpec] = {}
    for account in portfolio.accounts:
        legs = [_leg_of(position, market) for position in account.positions]
        if legs:
            described = ", ".join(p.instrument.symbol for p in account.positions)
            books[account.id] = BookSpec(account.id, tuple(legs), description=described)
    if not books:
        raise InputError("portfolio", "no positions", "must hold at least one position")
    return books


def _leg_of(position: Position, market: MarketSnapshot) -> Leg:
    """One position as a leg template at ``market`` (:func:`books_from_portfolio`)."""
    instrument = position.instrument
    if instrument.underlying not in ("BTC", "ETH"):
        raise InputError("instrument", instrument.symbol, "has no price history (BTC and ETH only)")
    kind = _KINDS.get(str(instrument.kind))
    if instrument.is_option:
        kind = "call" if instrument.is_call else "put"
    if kind is None:
        raise InputError("instrument", instrument.symbol, "is spot: backtest books hold contracts")
    index = market.index_price(instrument.underlying)
    base = base_quantity(
        position,
        market.forward(instrument.underlying, instrument.expiry)
        if instrument.expiry is not None
        else index,
    )
    tenor = 0
    moneyness = 1.0
    if instrument.expiry is not None:
        days = (instrument.expiry - market.timestamp).total_seconds() / _DAY_SECONDS
        if days <= 0.0:
            raise InputError("instrument", instrument.symbol, "has expired at the market")
        tenor = max(1, round(days))
        if instrument.strike is not None:
            moneyness = instrument.strike / market.forward(instrument.underlying, instrument.expiry)
    return Leg(
        kind, instrument.underlying, base * index, tenor, moneyness, not instrument.is_inverse
    )

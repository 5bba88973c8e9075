"""Price instruments and value positions: ``pmargin price`` and the risk-matrix positions.

No maths lives here beyond multiplying per-unit results by position sizes; the pricing is in
:mod:`pmargin.pricing`, the market lookups in :mod:`pmargin.valuation`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pmargin.book import Portfolio, Position, base_quantity, unrealised_pnl
from pmargin.instruments import Instrument
from pmargin.market import MarketSnapshot
from pmargin.valuation import (
    ResolvedInstruments,
    Valuation,
    resolve_instruments,
    value_instruments,
)

__all__ = ["InstrumentQuote", "PositionRisk", "position_risk", "price_instruments"]


@dataclass(frozen=True, slots=True)
class InstrumentQuote:
    """One instrument's mark value and raw Greeks per unit of underlying.

    ``price`` is in ``premium_currency`` (coin for inverse options, quote currency otherwise;
    futures, perpetuals and spot give their price in the quote currency); ``forward`` is the
    underlying price it was valued off in the quote currency; Greeks are in USD per unit of
    underlying (delta per unit, gamma per USD, vega per 1.00 vol, theta per year); ``iv`` and
    ``delta_coin`` are ``None`` where they do not apply.
    """

    instrument: Instrument
    premium_currency: str
    price: float
    price_usd: float
    forward: float
    iv: float | None
    vol_source: str
    time: float | None
    delta: float
    gamma: float
    vega: float
    theta: float
    delta_coin: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON row of ``pmargin price --json``."""
        inst = self.instrument
        return {
            "instrument": inst.symbol,
            "kind": inst.kind.value,
            "settlement": inst.settlement.value,
            "premium_currency": self.premium_currency,
            "price": self.price,
            "price_usd": self.price_usd,
            "forward": self.forward,
            "iv": self.iv,
            "vol_source": self.vol_source or None,
            "time": self.time,
            "delta": self.delta,
            "gamma": self.gamma,
            "vega": self.vega,
            "theta": self.theta,
            "delta_coin": self.delta_coin,
        }


def price_instruments(
    instruments: Sequence[Instrument], market: MarketSnapshot
) -> list[InstrumentQuote]:
    """Price instruments off a market snapshot (one vectorised pass)."""
    resolved = resolve_instruments(instruments, market)
    valuation = value_instruments(resolved)
    return [_quote(i, resolved.instruments[i], resolved, valuation) for i in range(len(resolved))]


def _quote(
    i: int, inst: Instrument, resolved: ResolvedInstruments, v: Valuation
) -> InstrumentQuote:
    return InstrumentQuote(
        instrument=inst,
        premium_currency=inst.settlement_currency if inst.is_option else inst.quote,
        price=float(v.price[i]),
        price_usd=float(v.price_usd[i]),
        forward=float(resolved.underlying_price[i]),
        iv=_optional(resolved.vol[i]),
        vol_source=resolved.vol_source[i],
        time=_optional(resolved.time[i]),
        delta=float(v.delta[i]),
        gamma=float(v.gamma[i]),
        vega=float(v.vega[i]),
        theta=float(v.theta[i]),
        delta_coin=_optional(v.delta_coin[i]),
    )


def _optional(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


@dataclass(frozen=True, slots=True)
class PositionRisk:
    """A position's size, value and Greeks in USD (Greeks are the per-unit ones x base size).

    ``base_quantity`` is in units of the underlying; ``notional_usd`` is its absolute USD value
    at the underlying price; ``value_usd`` is the mark value of options and spot, and the
    unrealised P&L against ``avg_price`` for futures and perpetuals (0 without an avg_price);
    ``delta`` is in units of the underlying; ``gamma`` per USD; ``vega`` USD per 1.00 vol;
    ``theta`` USD per year.
    """

    account: str
    position: Position
    quote: InstrumentQuote
    base_quantity: float
    notional_usd: float
    value_usd: float
    delta: float
    gamma: float
    vega: float
    theta: float


def position_risk(portfolio: Portfolio, market: MarketSnapshot) -> list[PositionRisk]:
    """Value every position of every account, pricing each unique instrument once."""
    unique = portfolio.unique_instruments()
    quotes = {q.instrument.symbol: q for q in price_instruments(unique, market)}
    rows: list[PositionRisk] = []
    for account in portfolio.accounts:
        for position in account.positions:
            quote = quotes[position.instrument.symbol]
            base = base_quantity(position, quote.forward)
            usd_per_quote = market.usd_price(position.instrument.quote)
            rows.append(
                PositionRisk(
                    account=account.id,
                    position=position,
                    quote=quote,
                    base_quantity=base,
                    notional_usd=quote.instrument.usd_notional(base, quote.forward, usd_per_quote),
                    value_usd=_value_usd(position, base, quote, market),
                    delta=base * quote.delta,
                    gamma=base * quote.gamma,
                    vega=base * quote.vega,
                    theta=base * quote.theta,
                )
            )
    return rows


def _value_usd(
    position: Position, base: float, quote: InstrumentQuote, market: MarketSnapshot
) -> float:
    inst = position.instrument
    if not inst.is_futures_style:
        return base * quote.price_usd
    pnl = unrealised_pnl(position, base, quote.forward)
    return pnl * market.usd_price(inst.settlement_currency)

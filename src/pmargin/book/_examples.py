"""A seeded book of example accounts over a market's listed expiries (for the demo and benches).

Each account runs one strategy a crypto options venue sees every day, on BTC or ETH, in
Deribit's coin-settled (inverse) contracts or, for a share of accounts, USDC-settled linear
ones, with collateral in the settlement currency:

``long_perp``, ``short_perp`` (2x-10x leverage), ``basis`` (coin held, short dated future),
``covered_call``, ``protective_put``, ``short_strangle``, ``calendar``, ``risk_reversal``,
``delta_hedged_short_vol`` (short straddle + perpetual hedge) and ``mixed`` (random options
and futures). Strikes are rounded to the venue's grid (1,000 USD for BTC, 50 USD for ETH) near
the expiry's forward; expiries are the market's surface expiries at least two days out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from pmargin.book._portfolio import Portfolio
from pmargin.book._portfolio_file import portfolio_from_dict
from pmargin.errors import InputError
from pmargin.market import MarketSnapshot

__all__ = ["STRATEGIES", "example_portfolio"]

_STRIKE_STEP = {"BTC": 1_000.0, "ETH": 50.0}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


class _Context:
    """What a strategy needs: the market, a random generator, an underlying and a venue style."""

    def __init__(
        self, market: MarketSnapshot, rng: np.random.Generator, underlying: str, linear: bool
    ) -> None:
        self.market = market
        self.rng = rng
        self.underlying = underlying
        self.linear = linear
        self.prefix = f"{underlying}_USDC" if linear else underlying
        self.collateral = "USDC" if linear else underlying
        self.spot = market.index_price(underlying)
        surface = market.surface(underlying)
        horizon = market.timestamp + timedelta(days=2)
        self.expiries = [e for e in surface.expiries if e > horizon]
        if not self.expiries:
            raise InputError(f"surfaces.{underlying}", "", "has no expiry two days out")

    def expiry(self, far: bool = False) -> datetime:
        pool = self.expiries[len(self.expiries) // 2 :] if far else self.expiries
        return pool[int(self.rng.integers(len(pool)))]

    def option(self, expiry: datetime, moneyness: float, right: str) -> str:
        step = _STRIKE_STEP.get(self.underlying, 1.0)
        forward = self.market.forward(self.underlying, expiry)
        strike = max(step, round(forward * moneyness / step) * step)
        return f"{self.prefix}-{_date(expiry)}-{strike:.0f}-{right}"

    def perpetual(self) -> str:
        return f"{self.prefix}-PERPETUAL"

    def size(self) -> float:
        """Option size in coins: log-uniform, 1-100 BTC or 10-1,000 ETH."""
        low = 1.0 if self.underlying == "BTC" else 10.0
        return float(np.round(low * 10 ** self.rng.uniform(0.0, 2.0), 1))

    def perp(self, coins: float) -> dict[str, Any]:
        return {"instrument": self.perpetual(), "quantity": coins, "unit": "base"}

    def collateral_for(self, coins: float) -> dict[str, float]:
        """Collateral worth ``coins`` of the underlying, in the settlement currency."""
        amount = coins * self.spot if self.linear else coins
        return {self.collateral: float(np.round(amount, 4))}


def _date(expiry: datetime) -> str:
    return f"{expiry.day}{_MONTHS[expiry.month - 1]}{expiry.year % 100:02d}"


def _opt(symbol: str, quantity: float) -> dict[str, Any]:
    return {"instrument": symbol, "quantity": quantity, "unit": "base"}


def _directional(sign: float) -> Callable[[_Context], tuple[list[dict[str, Any]], float]]:
    def build(c: _Context) -> tuple[list[dict[str, Any]], float]:
        coins = c.size()
        leverage = float(c.rng.uniform(2.0, 10.0))
        return [c.perp(sign * coins)], coins / leverage

    return build


def _basis(c: _Context) -> tuple[list[dict[str, Any]], float]:
    coins = c.size()
    future = f"{c.prefix}-{_date(c.expiry(far=True))}"
    return [{"instrument": future, "quantity": -coins, "unit": "base"}], coins * 1.05


def _covered_call(c: _Context) -> tuple[list[dict[str, Any]], float]:
    coins = c.size()
    call = c.option(c.expiry(), float(c.rng.uniform(1.05, 1.3)), "C")
    return [_opt(call, -coins)], coins


def _protective_put(c: _Context) -> tuple[list[dict[str, Any]], float]:
    coins = c.size()
    put = c.option(c.expiry(), float(c.rng.uniform(0.8, 0.95)), "P")
    return [c.perp(coins), _opt(put, coins)], coins * 0.3


def _short_strangle(c: _Context) -> tuple[list[dict[str, Any]], float]:
    coins = c.size()
    expiry = c.expiry()
    put = c.option(expiry, float(c.rng.uniform(0.8, 0.95)), "P")
    call = c.option(expiry, float(c.rng.uniform(1.05, 1.2)), "C")
    return [_opt(put, -coins), _opt(call, -coins)], coins * 0.4


def _calendar(c: _Context) -> tuple[list[dict[str, Any]], float]:
    coins = c.size()
    near = c.expiries[int(c.rng.integers(max(1, len(c.expiries) // 2)))]
    later = [e for e in c.expiries if e > near] or [near]
    far = later[int(c.rng.integers(len(later)))]
    moneyness = float(c.rng.uniform(0.95, 1.1))
    return [
        _opt(c.option(near, moneyness, "C"), -coins),
        _opt(c.option(far, moneyness, "C"), coins),
    ], coins * 0.2


def _risk_reversal(c: _Context) -> tuple[list[dict[str, Any]], float]:
    coins = c.size()
    expiry = c.expiry()
    return [
        _opt(c.option(expiry, float(c.rng.uniform(1.05, 1.2)), "C"), coins),
        _opt(c.option(expiry, float(c.rng.uniform(0.8, 0.95)), "P"), -coins),
    ], coins * 0.3


def _delta_hedged_short_vol(c: _Context) -> tuple[list[dict[str, Any]], float]:
    coins = c.size()
    expiry = c.expiry()
    call = c.option(expiry, 1.0, "C")
    put = c.option(expiry, 1.0, "P")
    # A short straddle struck at the forward is near delta neutral; the hedge trims the rest.
    hedge = float(np.round(coins * c.rng.uniform(-0.1, 0.1), 2)) or 0.01
    return [_opt(call, -coins), _opt(put, -coins), c.perp(hedge)], coins * 0.5


def _mixed(c: _Context) -> tuple[list[dict[str, Any]], float]:
    legs: list[dict[str, Any]] = []
    for _ in range(int(c.rng.integers(3, 21))):
        if c.rng.random() < 0.2:
            legs.append(c.perp(float(np.round(c.rng.normal(0.0, c.size()), 2)) or 0.01))
        else:
            right = "C" if c.rng.random() < 0.5 else "P"
            symbol = c.option(c.expiry(), float(c.rng.uniform(0.8, 1.25)), right)
            legs.append(_opt(symbol, float(np.round(c.rng.normal(0.0, c.size()), 1)) or 0.1))
    return legs, sum(abs(leg["quantity"]) for leg in legs) * 0.3


STRATEGIES: dict[str, Callable[[_Context], tuple[list[dict[str, Any]], float]]] = {
    "long_perp": _directional(1.0),
    "short_perp": _directional(-1.0),
    "basis": _basis,
    "covered_call": _covered_call,
    "protective_put": _protective_put,
    "short_strangle": _short_strangle,
    "calendar": _calendar,
    "risk_reversal": _risk_reversal,
    "delta_hedged_short_vol": _delta_hedged_short_vol,
    "mixed": _mixed,
}
"""Strategy name -> builder of its positions and collateral (in coins of the underlying)."""


def example_portfolio(
    market: MarketSnapshot,
    n_accounts: int,
    *,
    seed: int = 7,
    underlyings: tuple[str, ...] = ("BTC", "ETH"),
    linear_share: float = 0.2,
) -> Portfolio:
    """Build ``n_accounts`` example accounts over ``market``'s expiries, reproducibly.

    Parameters
    ----------
    market
        A snapshot with an index, forwards and a surface for each of ``underlyings``.
    n_accounts
        Number of accounts (>= 1); ids are ``"<strategy>-<n>"``.
    seed
        Seed of the random generator: the same seed gives the same book.
    underlyings
        Underlyings to draw from, with equal probability.
    linear_share
        Fraction of accounts in USDC-settled linear contracts instead of coin-settled ones.

    Returns
    -------
    Portfolio
        Accounts with balances (collateral drawn around each strategy's need, between 0.5x and
        3x) and positions in base units.
    """
    if isinstance(n_accounts, bool) or not isinstance(n_accounts, int) or n_accounts < 1:
        raise InputError("n_accounts", n_accounts, "must be an integer >= 1")
    rng = np.random.default_rng(seed)
    names = list(STRATEGIES)
    contexts = {
        (u, linear): _Context(market, rng, u, linear)
        for u in underlyings
        for linear in (False, True)
    }
    accounts = []
    for n in range(n_accounts):
        name = names[int(rng.integers(len(names)))]
        underlying = underlyings[int(rng.integers(len(underlyings)))]
        context = contexts[(underlying, bool(rng.random() < linear_share))]
        positions, need = STRATEGIES[name](context)
        cushion = float(rng.uniform(0.5, 3.0))
        accounts.append(
            {
                "id": f"{name}-{n}",
                "balances": context.collateral_for(need * cushion),
                "positions": positions,
            }
        )
    return portfolio_from_dict({"accounts": accounts})

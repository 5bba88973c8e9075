"""Synthetic markets, paths and populations for the crash-replay tests (no shared data)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from pmargin.book import arrange, portfolio_from_dict
from pmargin.margin import get_model
from pmargin.market import MarketSnapshot
from pmargin.simulate import CrashPath, FundedBook, Population, fund_population

START = datetime(2022, 11, 8, tzinfo=UTC)
F0 = 100_000.0


def market(price: float = F0) -> MarketSnapshot:
    """A BTC-only market: index ``price`` (USD), USDC at 1, no surface (perpetuals only)."""
    return MarketSnapshot(timestamp=START, index={"BTC": price}, prices={"USDC": 1.0})


def path(prices: list[float], hours: float = 4.0) -> CrashPath:
    """A BTC path through ``prices`` (USD), one point every ``hours``, vol flat."""
    n = len(prices)
    t0 = np.datetime64(int(START.timestamp()), "s")
    times = t0 + (np.arange(n) * round(hours * 3600)).astype("timedelta64[s]")
    return CrashPath(
        episode="synthetic",
        title="synthetic",
        names=("BTC",),
        times=times,
        index=np.asarray(prices, dtype=np.float64)[:, np.newaxis],
        atm_vol=np.full((n, 1), 0.6),
        is_close=np.ones(n, dtype=bool),
        market=market(prices[0]),
    )


def perp(account_id: str, quantity: float, usdc: float, inverse: bool = False) -> dict[str, Any]:
    """One perpetual position (base units, entry at F0) and its collateral."""
    symbol = "BTC-PERPETUAL" if inverse else "BTC_USDC-PERPETUAL"
    balances = {"BTC": usdc / F0} if inverse else {"USDC": usdc}
    return {
        "id": account_id,
        "balances": balances,
        "positions": [
            {"instrument": symbol, "quantity": quantity, "unit": "base", "avg_price": F0}
        ],
    }


def population(accounts: list[dict[str, Any]]) -> Population:
    """Accounts arranged at the start market, balances as given."""
    book = arrange(portfolio_from_dict({"accounts": accounts}), market())
    n = len(accounts)
    collateral = tuple(next(iter(a["balances"])) for a in accounts)
    return Population(book, ("file",) * n, collateral, np.full(n, 0.5), "test")


def funded(accounts: list[dict[str, Any]], model: str = "standard") -> FundedBook:
    """The accounts funded as given under ``model``."""
    return fund_population(get_model(model), population(accounts), mode="as_given")


def random_perps(n: int, seed: int, *, longs_only: bool, low: float = 3.0) -> list[dict[str, Any]]:
    """``n`` perpetual accounts, 1-20 BTC, leverage ``low``-40x, linear and inverse, seeded."""
    rng = np.random.default_rng(seed)
    accounts = []
    for i in range(n):
        size = float(np.round(rng.uniform(1.0, 20.0), 2))
        sign = 1.0 if longs_only or rng.random() < 0.6 else -1.0
        leverage = float(rng.uniform(low, 40.0))
        inverse = bool(rng.random() < 0.3)
        accounts.append(perp(f"a{i}", sign * size, size * F0 / leverage, inverse))
    return accounts

"""A market with a BTC surface, and seeded books with balances and entry prices, for the monitor."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from _books import MARKET_DATA, UNIVERSE

from pmargin.book import Portfolio, portfolio_from_dict
from pmargin.market import MarketSnapshot, market_from_dict
from pmargin.monitor import Monitor

T0 = "2024-11-27T08:00:00Z"

SURFACE_OPTION = "BTC-27DEC24-95000-C"
"""An option without a mark: valued off the BTC surface (so vol updates reach it)."""


def market_data() -> dict[str, Any]:
    data = copy.deepcopy(MARKET_DATA)
    data["surfaces"] = {
        "BTC": [
            {
                "expiry": "2024-12-27",
                "forward": 96_000.0,
                "svi": {"a": 0.02, "b": 0.05, "rho": -0.3, "m": 0.0, "sigma": 0.2},
            },
            {
                "expiry": "2025-03-28",
                "forward": 98_000.0,
                "svi": {"a": 0.08, "b": 0.08, "rho": -0.2, "m": 0.0, "sigma": 0.3},
            },
        ]
    }
    return data


def market() -> MarketSnapshot:
    return market_from_dict(market_data())


UNIVERSE_PLUS = (*UNIVERSE, SURFACE_OPTION)
FUTURES = {"BTC-PERPETUAL", "BTC-27DEC24", "BTC_USDC-PERPETUAL", "ETH-PERPETUAL"}


def portfolio(seed: int, n_accounts: int) -> Portfolio:
    """Accounts with coin and USDC balances and random positions (futures with entry prices)."""
    rng = np.random.default_rng(seed)
    snapshot = market()
    accounts = []
    for a in range(n_accounts):
        held = rng.choice(len(UNIVERSE_PLUS), size=int(rng.integers(1, 7)), replace=True)
        positions = []
        for j in held:
            symbol = UNIVERSE_PLUS[int(j)]
            position: dict[str, Any] = {
                "instrument": symbol,
                "quantity": float(rng.normal(0.0, 3.0)),
                "unit": "base",
            }
            if symbol in FUTURES:
                mark = snapshot.marks[symbol].price
                assert mark is not None
                position["avg_price"] = mark * float(rng.uniform(0.9, 1.1))
                position["unit"] = "native"
                if symbol in ("BTC-PERPETUAL", "BTC-27DEC24", "ETH-PERPETUAL"):
                    position["quantity"] = float(rng.normal(0.0, 3.0)) * mark
            positions.append(position)
        balances = {
            "BTC": float(rng.uniform(0.0, 5.0)),
            "ETH": float(rng.uniform(0.0, 50.0)),
            "USDC": float(rng.uniform(0.0, 200_000.0)),
        }
        accounts.append({"id": f"acct-{a}", "balances": balances, "positions": positions})
    return portfolio_from_dict({"accounts": accounts})


def assert_matches_full(monitor: Monitor) -> None:
    """The monitor's equity, IM, MM (rtol 1e-9) and statuses are its full recompute's."""
    full = monitor.full_recompute()
    for mine, theirs in (
        (monitor.equity, full.equity),
        (monitor.initial_margin, full.initial_margin),
        (monitor.maintenance_margin, full.maintenance_margin),
    ):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-6)
    assert [s.value for s in monitor.status] == list(full.status)

"""A market and a universe of instruments for the kernel tests (linear and inverse, all kinds)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pmargin.book import Portfolio, portfolio_from_dict
from pmargin.market import MarketSnapshot, market_from_dict

MARKET_DATA: dict[str, Any] = {
    "timestamp": "2024-11-27T08:00:00Z",
    "index": {"BTC": 95_000.0, "ETH": 3_400.0},
    "prices": {"USDC": 0.999},
    "rates": {"USDC": 0.04, "BTC": 0.01},
    "forwards": {"BTC": {"2024-12-27": 96_000.0}, "ETH": {"2024-12-27": 3_450.0}},
    "marks": {
        "BTC-PERPETUAL": {"price": 95_200.0},
        "BTC-27DEC24": {"price": 96_100.0},
        "BTC_USDC-PERPETUAL": {"price": 95_100.0},
        "ETH-PERPETUAL": {"price": 3_405.0},
        "BTC-27DEC24-100000-C": {"iv": 0.6},
        "BTC-27DEC24-90000-P": {"iv": 0.65},
        "BTC-29NOV24-95000-C": {"iv": 0.5},
        "BTC_USDC-27DEC24-95000-P": {"iv": 0.62},
        "BTC_USDC-27DEC24-110000-C": {"iv": 0.58},
        "ETH-27DEC24-3500-C": {"iv": 0.7},
    },
}

UNIVERSE = (
    "BTC-PERPETUAL",
    "BTC-27DEC24",
    "BTC_USDC-PERPETUAL",
    "BTC_USDC",
    "ETH-PERPETUAL",
    "BTC-27DEC24-100000-C",
    "BTC-27DEC24-90000-P",
    "BTC-29NOV24-95000-C",
    "BTC_USDC-27DEC24-95000-P",
    "BTC_USDC-27DEC24-110000-C",
    "ETH-27DEC24-3500-C",
)


def market() -> MarketSnapshot:
    """The test market snapshot."""
    return market_from_dict(MARKET_DATA)


def random_portfolio(rng: np.random.Generator, n_accounts: int) -> Portfolio:
    """Accounts holding random subsets of the universe, in random units, with duplicates."""
    accounts = []
    for a in range(n_accounts):
        held = rng.choice(len(UNIVERSE), size=int(rng.integers(0, 7)), replace=True)
        positions = [
            {
                "instrument": UNIVERSE[int(j)],
                "quantity": float(rng.normal(0.0, 5.0)),
                "unit": str(rng.choice(["native", "base"])),
            }
            for j in held
        ]
        accounts.append({"id": f"acct-{a}", "positions": positions})
    return portfolio_from_dict({"accounts": accounts})

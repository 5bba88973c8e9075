"""Parameter tables, a market and books for the OKX model tests."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

from pmargin.book import Portfolio, portfolio_from_dict
from pmargin.margin import ParamTable, methodology_path
from pmargin.market import MarketSnapshot, market_from_dict

INDEX = {"BTC": 100_000.0, "ETH": 4_000.0, "XRP": 2.0}
FORWARD_BTC = 101_000.0
EXPIRY = "2025-03-28T08:00:00Z"
TIMESTAMP = "2024-12-28T08:00:00Z"
YEARS = 90 / 365  # TIMESTAMP -> EXPIRY


def shipped() -> dict[str, Any]:
    """The shipped okx.toml as plain data (a fresh copy)."""
    return copy.deepcopy(tomllib.loads(methodology_path("okx").read_text(encoding="utf-8")))


def table(data: dict[str, Any]) -> ParamTable:
    return ParamTable(data, "okx.toml")


SPECS = [
    {"symbol": "BTC-USD-SWAP", "kind": "perpetual", "underlying": "BTC", "contract_size": 1},
    {
        "symbol": "BTC-USD-250328",
        "kind": "future",
        "underlying": "BTC",
        "expiry": EXPIRY,
        "contract_size": 1,
    },
    {"symbol": "BTC-USD", "kind": "spot", "underlying": "BTC", "contract_size": 1},
    {"symbol": "XRP-USD-SWAP", "kind": "perpetual", "underlying": "XRP", "contract_size": 1},
    {
        "symbol": "BTC-USD-250328-110000-C",
        "kind": "option",
        "underlying": "BTC",
        "expiry": EXPIRY,
        "strike": 110_000,
        "right": "call",
        "contract_size": 1,
    },
    {
        "symbol": "BTC-USD-250328-90000-P",
        "kind": "option",
        "underlying": "BTC",
        "expiry": EXPIRY,
        "strike": 90_000,
        "right": "put",
        "contract_size": 1,
    },
    {
        "symbol": "BTC-USD-250131-100000-C",
        "kind": "option",
        "underlying": "BTC",
        "expiry": "2025-01-31T08:00:00Z",
        "strike": 100_000,
        "right": "call",
        "contract_size": 1,
    },
]


def market() -> MarketSnapshot:
    return market_from_dict(
        {
            "timestamp": TIMESTAMP,
            "index": INDEX,
            "forwards": {"BTC": {EXPIRY: FORWARD_BTC}},
            "marks": {
                "BTC-USD-250328-110000-C": {"iv": 0.55},
                "BTC-USD-250328-90000-P": {"iv": 0.60},
                "BTC-USD-250131-100000-C": {"iv": 0.50},
            },
        }
    )


def portfolio(*accounts: dict[str, float]) -> Portfolio:
    """One account per mapping symbol -> quantity in contracts (= base units here)."""
    return portfolio_from_dict(
        {
            "accounts": [
                {
                    "id": f"a{k}",
                    "positions": [{"instrument": s, "quantity": q} for s, q in positions.items()],
                }
                for k, positions in enumerate(accounts)
            ],
            "instruments": SPECS,
        }
    )

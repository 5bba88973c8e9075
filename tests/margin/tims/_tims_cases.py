"""A market, explicit equity/index specs and books for the TIMS tests."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

from pmargin.book import Portfolio, portfolio_from_dict
from pmargin.margin import ParamTable, methodology_path
from pmargin.market import MarketSnapshot, market_from_dict

INDEX = {"SPX": 5_000.0, "NDX": 20_000.0, "AAPL": 200.0, "RUT": 2_000.0}
TIMESTAMP = "2025-01-02T21:00:00Z"
EXPIRY = "2025-03-21T21:00:00Z"


def shipped() -> dict[str, Any]:
    """The shipped tims.toml as plain data (a fresh copy)."""
    return copy.deepcopy(tomllib.loads(methodology_path("tims").read_text(encoding="utf-8")))


def table(data: dict[str, Any]) -> ParamTable:
    return ParamTable(data, "tims.toml")


def _option(underlying: str, strike: float, right: str) -> dict[str, Any]:
    return {
        "symbol": f"{underlying}-{strike:g}-{right[0].upper()}",
        "kind": "option",
        "underlying": underlying,
        "expiry": EXPIRY,
        "strike": strike,
        "right": right,
        "contract_size": 100,
    }


SPECS = [
    {"symbol": "AAPL", "kind": "spot", "underlying": "AAPL", "contract_size": 1},
    _option("AAPL", 200, "call"),
    _option("AAPL", 200, "put"),
    _option("AAPL", 220, "call"),
    _option("SPX", 5_000, "put"),
    {"symbol": "ES", "kind": "future", "underlying": "SPX", "expiry": EXPIRY, "contract_size": 50},
    {"symbol": "NQ", "kind": "future", "underlying": "NDX", "expiry": EXPIRY, "contract_size": 20},
    {"symbol": "RTY", "kind": "future", "underlying": "RUT", "expiry": EXPIRY, "contract_size": 50},
]


def market() -> MarketSnapshot:
    return market_from_dict(
        {
            "timestamp": TIMESTAMP,
            "index": INDEX,
            "marks": {s["symbol"]: {"iv": 0.25} for s in SPECS if s["kind"] == "option"},
        }
    )


def portfolio(*accounts: dict[str, float]) -> Portfolio:
    """One account per mapping symbol -> quantity in contracts (shares for AAPL)."""
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

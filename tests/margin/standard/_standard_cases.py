"""A small market and helpers for the standard-model tests (expiry 28 March 2025)."""

from __future__ import annotations

from typing import Any

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.margin import MarginResult, load_parameter_file
from pmargin.margin.standard import StandardModel
from pmargin.market import MarketSnapshot, market_from_dict

INDEX_BTC = 98_000.0
FORWARD_BTC = 100_000.0
INDEX_ETH = 4_000.0
FORWARD_ETH = 4_000.0
USDC = 0.999

MARKET_DATA: dict[str, Any] = {
    "timestamp": "2025-01-10T08:00:00Z",
    "index": {"BTC": INDEX_BTC, "ETH": INDEX_ETH, "XRP": 2.5},
    "prices": {"USDC": USDC},
    "forwards": {"BTC": {"2025-03-28": FORWARD_BTC}, "ETH": {"2025-03-28": FORWARD_ETH}},
    "marks": {
        "BTC-PERPETUAL": {"price": 98_500.0},
        "BTC-28MAR25": {"price": FORWARD_BTC},
        "BTC_USDC-PERPETUAL": {"price": 98_400.0},
        "ETH-PERPETUAL": {"price": 4_010.0},
        "XRP_USDC-PERPETUAL": {"price": 2.5},
        # Inverse options with coin mark prices (per 1 BTC of underlying).
        "BTC-28MAR25-110000-C": {"price": 0.02},
        "BTC-28MAR25-90000-P": {"price": 0.015},
        "BTC-28MAR25-120000-P": {"price": 0.22},
        "BTC-28MAR25-100000-C": {"iv": 0.55},
        "ETH-28MAR25-4400-C": {"iv": 0.7},
        # Linear (USDC) options with USDC mark prices.
        "BTC_USDC-28MAR25-110000-C": {"price": 2_000.0},
        "BTC_USDC-28MAR25-90000-P": {"price": 1_500.0},
    },
}

UNIVERSE = (
    "BTC-PERPETUAL",
    "BTC-28MAR25",
    "BTC_USDC-PERPETUAL",
    "BTC_USDC",
    "ETH-PERPETUAL",
    "BTC-28MAR25-110000-C",
    "BTC-28MAR25-90000-P",
    "BTC-28MAR25-120000-P",
    "BTC-28MAR25-100000-C",
    "ETH-28MAR25-4400-C",
    "BTC_USDC-28MAR25-110000-C",
    "BTC_USDC-28MAR25-90000-P",
)


def market() -> MarketSnapshot:
    """The test market snapshot."""
    return market_from_dict(MARKET_DATA)


def book(*accounts: dict[str, Any]) -> BookArrangement:
    """Arrange accounts given as portfolio-file dicts against :func:`market`."""
    return arrange(portfolio_from_dict({"accounts": list(accounts)}), market())


def account(account_id: str, *positions: tuple[str, float], **balances: float) -> dict[str, Any]:
    """An account dict with positions ``(symbol, quantity in base units)``."""
    return {
        "id": account_id,
        "balances": balances,
        "positions": [
            {"instrument": symbol, "quantity": quantity, "unit": "base"}
            for symbol, quantity in positions
        ],
    }


def shipped_model() -> StandardModel:
    """The model built from the shipped ``standard.toml``."""
    return StandardModel.from_params(load_parameter_file("standard"))


def margin(*accounts: dict[str, Any], model: StandardModel | None = None) -> MarginResult:
    """Margin the given accounts with ``model`` (default: the shipped parameters)."""
    return (model or shipped_model()).compute(book(*accounts))

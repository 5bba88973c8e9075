"""Books, configurations and helpers shared by the liquidation tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import _books
import numpy as np

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.collateral import account_equity
from pmargin.liquidation import (
    LiquidationConfig,
    LiquidationState,
    PenaltyConfig,
    SlippageConfig,
    StepConfig,
    TargetConfig,
    load_config,
)
from pmargin.market import MarketSnapshot

MARKET: MarketSnapshot = _books.market()
INDEX = 95_000.0  # BTC index (USD)
PERP_MARK = 95_100.0  # BTC_USDC-PERPETUAL mark (USDC)
USDC = 0.999  # USD per USDC
RATE = 0.01  # standard.toml futures.BTC mm_rate
RATE_PER_UNIT = 0.00005  # standard.toml futures.BTC mm_rate_per_unit


def book(accounts: list[dict[str, Any]]) -> BookArrangement:
    """Arrange accounts at the test market."""
    return arrange(portfolio_from_dict({"accounts": accounts}), MARKET)


def perp_account(
    account_id: str, quantity: float, usdc: float, avg_price: float = PERP_MARK
) -> dict[str, Any]:
    """An account holding one BTC_USDC-PERPETUAL position (base units) and USDC."""
    return {
        "id": account_id,
        "balances": {"USDC": usdc},
        "positions": [
            {
                "instrument": "BTC_USDC-PERPETUAL",
                "quantity": quantity,
                "unit": "base",
                "avg_price": avg_price,
            }
        ],
    }


def standard_perp_mm(quantity: float) -> float:
    """Standard model MM (USD) of a BTC linear perp: |q| (rate + |q| rate_per_unit) x index."""
    q = abs(quantity)
    return q * (RATE + q * RATE_PER_UNIT) * INDEX


def config(
    *,
    k: float = 0.0,
    alpha: float = 0.5,
    penalty_mode: str = "fixed",
    rate: float = 0.0,
    fund_share: float = 1.0,
    target: str = "buffer",
    buffer: float = 0.15,
    max_fraction: float = 1.0,
    tolerance: float = 1e-12,
    fund: float = 0.0,
) -> LiquidationConfig:
    """The shipped configuration with the fields a test sets."""
    base = load_config()
    return replace(
        base,
        target=TargetConfig(kind=target, buffer=buffer),
        steps=replace(
            StepConfig(), max_fraction=max_fraction, size_tolerance=tolerance, max_steps=500
        ),
        slippage=SlippageConfig(
            k=k, alpha=alpha, max_impact=0.5, depth_usd={"default": {"default": 10_000_000.0}}
        ),
        penalty=PenaltyConfig(
            mode=penalty_mode,
            base_rate=rate,
            slope=0.01,
            max_rate=max(rate, 0.015),
            option_premium_cap=0.125,
            fund_share=fund_share,
        ),
        fund_initial_balance=fund,
    )


def total_money(state: LiquidationState) -> float:
    """Accounts' equity + fund + liquidators + market counterparties - bad debt (USD)."""
    equity = float(account_equity(state.book).equity.sum())
    return equity + state.fund_usd + state.liquidator_usd + state.market_usd - state.bad_debt_usd


def dense(book: BookArrangement) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """Quantities, unrealised and balances as dense arrays, and the asset order."""
    return (
        np.asarray(book.quantity.toarray()),
        np.asarray(book.unrealised.toarray()),
        book.balance_matrix,
        book.assets,
    )

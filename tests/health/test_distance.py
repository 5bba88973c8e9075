"""Distance to liquidation: hand-computed moves, the root property, the joint direction.

Expected values are written as formulas of the inputs (the standard model's rules are in
docs/margin-standard.md: a linear future's MM is ``|q| (mm_rate + |q| mm_rate_per_unit) x
index``, an inverse one's ``|q| (mm_rate + |q| mm_rate_per_unit)`` coin, ``q`` in base units
at the mark).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.health import (
    LiquidationDistance,
    joint_direction,
    liquidation_distance,
    margin_gap_after_move,
)
from pmargin.history import PriceHistory
from pmargin.margin import get_model, methodology_path
from pmargin.market import MarketSnapshot, market_from_dict

INDEX_BTC = 100_000.0
INDEX_ETH = 4_000.0
PERP_BTC_USDC = 100_200.0  # linear perpetual mark, USDC per BTC
PERP_ETH_USDC = 4_010.0
MM_RATE_BTC, MM_PER_UNIT_BTC = 0.01, 0.00005  # standard.toml [futures.BTC]
MM_RATE_ETH, MM_PER_UNIT_ETH = 0.01, 0.000004  # standard.toml [futures.ETH]

MARKET: dict[str, Any] = {
    "timestamp": "2025-01-10T08:00:00Z",
    "index": {"BTC": INDEX_BTC, "ETH": INDEX_ETH},
    "prices": {"USDC": 1.0},
    "forwards": {"BTC": {"2025-03-28": 101_000.0}},
    "marks": {
        "BTC-PERPETUAL": {"price": INDEX_BTC},
        "BTC_USDC-PERPETUAL": {"price": PERP_BTC_USDC},
        "ETH_USDC-PERPETUAL": {"price": PERP_ETH_USDC},
        "BTC-28MAR25-90000-P": {"iv": 0.6},
    },
}


def _market() -> MarketSnapshot:
    return market_from_dict(MARKET)


def _book(*accounts: dict[str, Any]) -> BookArrangement:
    return arrange(portfolio_from_dict({"accounts": list(accounts)}), _market())


def _account(
    name: str, positions: list[tuple[str, float, str]], **balances: float
) -> dict[str, Any]:
    return {
        "id": name,
        "balances": balances,
        "positions": [
            {"instrument": symbol, "quantity": q, "unit": unit} for symbol, q, unit in positions
        ],
    }


def _distance(
    book: BookArrangement, model: str = "standard", **options: Any
) -> LiquidationDistance:
    return liquidation_distance(get_model(model), book, **options)


def _linear_liquidation_multiplier(q: float, mark: float, index: float, balance: float) -> float:
    """``m`` solving ``B + q F (m - 1) = |q| (r + |q| r_u) I m`` (USDC at 1 USD)."""
    c = MM_RATE_BTC + abs(q) * MM_PER_UNIT_BTC
    return (q * mark - balance) / (q * mark - abs(q) * c * index)


@pytest.mark.parametrize(("q", "balance"), [(2.0, 30_000.0), (-1.5, 25_000.0)])
def test_linear_perpetual_closed_form(q: float, balance: float) -> None:
    book = _book(_account("a", [("BTC_USDC-PERPETUAL", q, "base")], USDC=balance))
    result = _distance(book, tolerance=1e-8)
    m = _linear_liquidation_multiplier(q, PERP_BTC_USDC, INDEX_BTC, balance)
    k = result.underlyings.index("BTC")
    if q > 0:  # a long loses on the way down only
        assert result.move_down[0, k] == pytest.approx(m - 1.0, abs=1e-6)
        assert result.price_down[0, k] == pytest.approx(INDEX_BTC * m, rel=1e-6)
        assert math.isnan(result.move_up[0, k])
        assert result.to_dict(0)["underlyings"]["BTC"]["move_up"] is None
    else:
        assert result.move_up[0, k] == pytest.approx(m - 1.0, abs=1e-6)
        assert result.price_up[0, k] == pytest.approx(INDEX_BTC * m, rel=1e-6)
        assert math.isnan(result.move_down[0, k])


def test_inverse_perpetual_classic_liquidation_price(tmp_path: Path) -> None:
    """Long inverse perp, coin collateral: ``P = N (1 + r) / (b + N / F)`` (no size term)."""
    text = methodology_path("standard").read_text(encoding="utf-8")
    flat = tmp_path / "standard-flat.toml"
    flat.write_text(text.replace("mm_rate_per_unit = 0.00005", "mm_rate_per_unit = 0.0"))
    notional, coins, r = 200_000.0, 0.5, MM_RATE_BTC  # USD notional, BTC collateral
    book = _book(_account("inv", [("BTC-PERPETUAL", notional, "quote")], BTC=coins))
    model = get_model("standard", flat)
    result = liquidation_distance(model, book, tolerance=1e-8)
    expected = notional * (1.0 + r) / (coins + notional / INDEX_BTC)
    k = result.underlyings.index("BTC")
    assert result.price_down[0, k] == pytest.approx(expected, rel=1e-6)
    assert math.isnan(result.move_up[0, k])  # long with coin collateral: only a fall hurts


def test_inverse_perpetual_with_size_term() -> None:
    """Shipped rates: ``r_u x^2 + (1 + r) x = b + N / F`` with ``x = N / P`` (coin)."""
    notional, coins = 200_000.0, 0.5
    book = _book(_account("inv", [("BTC-PERPETUAL", notional, "quote")], BTC=coins))
    result = _distance(book, tolerance=1e-8)
    a, b, c = MM_PER_UNIT_BTC, 1.0 + MM_RATE_BTC, -(coins + notional / INDEX_BTC)
    x = (-b + math.sqrt(b * b - 4.0 * a * c)) / (2.0 * a)
    assert result.price_down[0, 0] == pytest.approx(notional / x, rel=1e-6)


def test_short_put_root_under_deribit() -> None:
    book = _book(_account("put", [("BTC-28MAR25-90000-P", -1.0, "base")], BTC=1.0))
    model = get_model("deribit")
    tol = 1e-4
    result = liquidation_distance(model, book, tolerance=tol)
    move = float(result.move_down[0, 0])
    assert -0.99 < move < 0.0
    gap = margin_gap_after_move(model, book, {"BTC": move})[0]
    scale = result.maintenance_margin[0]
    assert abs(gap) < 1e-3 * scale
    inside = margin_gap_after_move(model, book, {"BTC": move + 2 * tol})[0]
    outside = margin_gap_after_move(model, book, {"BTC": move - 2 * tol})[0]
    assert inside > 0.0 > outside
    # vol rising as the index falls brings liquidation nearer
    shocked = liquidation_distance(model, book, tolerance=tol, vol_beta=1.0)
    assert move < shocked.move_down[0, 0] < 0.0


def test_already_below_maintenance_is_zero() -> None:
    book = _book(_account("thin", [("BTC-28MAR25-90000-P", -1.0, "base")], BTC=0.001))
    result = _distance(book, "deribit")
    assert result.below_maintenance[0]
    assert result.move_down[0, 0] == 0.0
    assert result.move_up[0, 0] == 0.0
    assert result.joint_scale[0] == 0.0
    assert result.to_dict(0)["below_maintenance"] is True


def test_no_exposure_is_none() -> None:
    book = _book(
        _account("eth", [("ETH_USDC-PERPETUAL", 10.0, "base")], USDC=8_000.0),
        _account("btc", [("BTC_USDC-PERPETUAL", 1.0, "base")], USDC=20_000.0),
    )
    result = _distance(book)
    k_btc, k_eth = result.underlyings.index("BTC"), result.underlyings.index("ETH")
    assert not result.exposed[0, k_btc]
    assert result.exposed[0, k_eth]
    assert np.isnan(result.move_down[0, k_btc])
    assert np.isnan(result.joint_index[0, k_btc])
    row = result.to_dict(0)
    assert row["underlyings"]["BTC"] is None
    assert row["underlyings"]["ETH"]["move_down"] < 0.0
    assert set(row["joint"]["index"]) == {"ETH"}


def _pair(q_btc: float, q_eth: float, usdc: float) -> dict[str, Any]:
    return _account(
        f"{q_btc:+}/{q_eth:+}",
        [("BTC_USDC-PERPETUAL", q_btc, "base"), ("ETH_USDC-PERPETUAL", q_eth, "base")],
        USDC=usdc,
    )


def test_joint_direction_long_both_against_long_short() -> None:
    q_btc, q_eth, usdc = 1.0, 25.0, 60_000.0  # 100k USD of each
    book = _book(_pair(q_btc, q_eth, usdc), _pair(q_btc, -q_eth, usdc))
    result = _distance(book, tolerance=1e-8)
    np.testing.assert_allclose(result.direction, [1.0, 1.0])
    assert result.direction_source == "equal"
    # long both, equal moves: B + sum q F (m - 1) = sum |q| (r + |q| r_u) I m
    c_btc = q_btc * (MM_RATE_BTC + q_btc * MM_PER_UNIT_BTC) * INDEX_BTC
    c_eth = q_eth * (MM_RATE_ETH + q_eth * MM_PER_UNIT_ETH) * INDEX_ETH
    exposure = q_btc * PERP_BTC_USDC + q_eth * PERP_ETH_USDC
    m = (exposure - usdc) / (exposure - c_btc - c_eth)
    assert result.joint_scale[0] == pytest.approx(m - 1.0, abs=1e-6)
    np.testing.assert_allclose(result.joint_index[0], [INDEX_BTC * m, INDEX_ETH * m], rtol=1e-6)
    # together they fall sooner than either alone
    assert abs(result.joint_scale[0]) < np.abs(result.move_down[0]).min()
    # long BTC, short ETH: the equal move nearly cancels; the hedged account is much further
    hedged = result.joint_scale[1]
    assert np.isnan(hedged) or abs(hedged) > 3 * abs(result.joint_scale[0])


def test_joint_direction_from_history() -> None:
    rng = np.random.default_rng(5)
    btc = rng.normal(0.0, 0.03, 400)
    eth = 1.5 * btc + rng.normal(0.0, 0.005, 400)
    closes = np.exp(np.cumsum(np.column_stack([btc, eth]), axis=0)) * [INDEX_BTC, INDEX_ETH]
    times = np.datetime64("2023-12-01T00:00:00", "s") + np.arange(400) * np.timedelta64(1, "D")
    history = PriceHistory(("BTC", "ETH"), times, closes, step_hours=24.0)
    v, source = joint_direction(("BTC", "ETH"), history, None)
    assert source == "pca"
    assert v[1] == 1.0
    assert v[0] == pytest.approx(1.0 / 1.5, abs=0.03)
    v, source = joint_direction(("BTC", "SOL"), history, None)
    assert source == "equal"
    assert np.all(v == 1.0)
    # the book's joint search follows the history known at the market date
    book = _book(_pair(1.0, 25.0, 60_000.0))
    result = liquidation_distance(get_model("standard"), book, history=history)
    assert result.direction_source == "pca"
    assert result.direction[0] == pytest.approx(1.0 / 1.5, abs=0.03)
    scale = result.joint_scale[0]
    moves = {"BTC": scale * result.direction[0], "ETH": scale}
    gap = margin_gap_after_move(get_model("standard"), book, moves)
    assert abs(gap[0]) < 1.0  # USD

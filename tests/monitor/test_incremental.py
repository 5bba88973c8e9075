"""The monitor's incremental path equals a full recompute, after random update sequences."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from _fixtures import T0, assert_matches_full, market, portfolio
from hypothesis import given, settings
from hypothesis import strategies as st

from pmargin.book import arrange
from pmargin.collateral import account_equity
from pmargin.margin import get_model
from pmargin.monitor import MarketUpdate, Monitor
from pmargin.timeutil import parse_timestamp

START = parse_timestamp(T0)
MODELS = ("standard", "deribit", "deribit-cross")


def _close(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-6)


@pytest.fixture(scope="module")
def books():
    snapshot = market()
    return snapshot, arrange(portfolio(7, 40), snapshot)


@pytest.mark.parametrize("name", [*MODELS, "okx", "tims"])
def test_start_state_is_the_engine_pipeline(books, name):
    _, book = books
    model = get_model(name)
    monitor = Monitor(model, book)
    result = model.compute(book)
    _close(monitor.equity, account_equity(book).equity)
    _close(monitor.initial_margin, result.initial_margin)
    _close(monitor.maintenance_margin, result.maintenance_margin)
    assert monitor.scope == ("account" if name == "tims" else "underlying")


def test_rebase_equals_arranging_afresh():
    """With entry prices and native USD inverse futures, rebasing == arrange at the new market."""
    snapshot = market()
    book_portfolio = portfolio(3, 25)
    start = arrange(book_portfolio, snapshot)
    moved = snapshot.with_updates(
        index={"BTC": 88_000.0, "ETH": 3_700.0},
        marks={"BTC-PERPETUAL": _mark(88_100.0), "ETH-PERPETUAL": _mark(3_710.0),
               "BTC-27DEC24": _mark(89_000.0), "BTC_USDC-PERPETUAL": _mark(88_050.0)},
    )  # fmt: skip
    rebased = start.rebased(moved)
    fresh = arrange(book_portfolio, moved)
    _close(rebased.quantity.toarray(), fresh.quantity.toarray())
    _close(rebased.unrealised.toarray(), fresh.unrealised.toarray())


def _mark(price: float):
    from pmargin.market import Mark

    return Mark(price=price)


_MOVE = st.floats(-0.06, 0.06)


@st.composite
def updates(draw: st.DrawFn) -> list[dict]:
    """1-4 updates: index and futures marks, ivs, vol shifts, bad ticks."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["btc", "eth", "both", "vol", "iv", "bad"]))
        out.append(
            {"kind": kind, "m": draw(_MOVE), "m2": draw(_MOVE), "v": draw(st.floats(-0.1, 0.1))}
        )
    return out


def _to_update(step: dict, monitor: Monitor, k: int) -> MarketUpdate:
    now = START + timedelta(seconds=k)
    current = monitor.market
    btc, eth = current.index["BTC"] * (1 + step["m"]), current.index["ETH"] * (1 + step["m2"])
    kind = step["kind"]
    if kind == "btc":
        return MarketUpdate(now, index={"BTC": btc}, marks={
            "BTC-PERPETUAL": {"price": btc * 1.001}, "BTC-27DEC24": {"price": btc * 1.01},
            "BTC_USDC-PERPETUAL": {"price": btc * 1.0005}})  # fmt: skip
    if kind == "eth":
        return MarketUpdate(now, index={"ETH": eth}, marks={"ETH-PERPETUAL": {"price": eth}})
    if kind == "both":
        return MarketUpdate(now, index={"BTC": btc, "ETH": eth})
    if kind == "vol":
        return MarketUpdate(now, vol_shift={"BTC": step["v"]})
    if kind == "iv":
        ivs = {"ETH-27DEC24-3500-C": 0.7 + step["v"], "BTC-27DEC24-90000-P": 0.65 - step["v"]}
        return MarketUpdate(now, marks={s: {"iv": v} for s, v in ivs.items()})
    return MarketUpdate(now, index={"ETH": math.nan, "BTC": btc})


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=12, deadline=None)
@given(steps=updates())
def test_incremental_equals_full_recompute(books, name, steps):
    _, book = books
    monitor = Monitor(get_model(name), book)
    for k, step in enumerate(steps, start=1):
        monitor.apply(_to_update(step, monitor, k))
        assert_matches_full(monitor)


def test_only_the_touched_underlying_is_recomputed(books):
    _, book = books
    monitor = Monitor(get_model("deribit"), book)
    monitor.apply(MarketUpdate(START + timedelta(seconds=1), index={"ETH": 3_300.0}))
    assert monitor.last_recomputed == ("ETH",)
    monitor.apply(MarketUpdate(START + timedelta(seconds=2), vol_shift={"BTC": 0.05}))
    assert monitor.last_recomputed == ("BTC",)
    assert_matches_full(monitor)


def test_account_scope_model_recomputes_whole_book(books):
    _, book = books
    monitor = Monitor(get_model("tims"), book)
    monitor.apply(MarketUpdate(START + timedelta(seconds=1), index={"BTC": 93_000.0}))
    assert monitor.last_recomputed == ("*",)
    assert_matches_full(monitor)


def test_roll_to_recomputes_at_the_new_valuation_time(books):
    _, book = books
    monitor = Monitor(get_model("deribit"), book)
    monitor.roll_to(START + timedelta(days=1))
    assert monitor.market.timestamp == START + timedelta(days=1)
    assert_matches_full(monitor)

"""Status-change events fire exactly when an account's status changes (hand-computed)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pmargin.book import arrange, portfolio_from_dict
from pmargin.health import HealthStatus
from pmargin.margin import get_model
from pmargin.market import market_from_dict
from pmargin.monitor import MarketUpdate, Monitor, StatusChange
from pmargin.timeutil import parse_timestamp

T0 = parse_timestamp("2025-01-10T00:00:00Z")
F0 = 100_000.0
CASH = 3_000.0
# standard.toml, futures.BTC: IM 2% + 0.005% x size, MM 1% + 0.005% x size; 1 BTC long, so
# IM = 0.02005 F and MM = 0.01005 F (linear futures are charged at the index, here = mark).
IM_RATE, MM_RATE = 0.02005, 0.01005


def _monitor() -> Monitor:
    market = market_from_dict({
        "timestamp": T0.isoformat(), "index": {"BTC": F0}, "prices": {"USDC": 1.0},
        "marks": {"BTC_USDC-PERPETUAL": {"price": F0}},
    })  # fmt: skip
    book = portfolio_from_dict({"accounts": [
        {"id": "trader", "balances": {"USDC": CASH},
         "positions": [{"instrument": "BTC_USDC-PERPETUAL", "quantity": 1.0, "unit": "base",
                        "avg_price": F0}]},
        {"id": "bystander", "balances": {"USDC": 1_000_000.0}, "positions": []},
    ]})  # fmt: skip
    return Monitor(get_model("standard"), arrange(book, market))


def _expected(price: float) -> HealthStatus:
    equity = CASH + price - F0
    if equity < 0:
        return HealthStatus.BANKRUPT
    if equity < MM_RATE * price:
        return HealthStatus.LIQUIDATION
    if equity < IM_RATE * price:
        return HealthStatus.REDUCE_ONLY
    return HealthStatus.HEALTHY


# reduce_only below 97000/0.97995 = 98984.6, liquidation below 97000/0.98995 = 97984.7,
# bankrupt below 97000.
PATH = (99_500.0, 99_000.0, 98_500.0, 98_000.0, 97_900.0, 97_800.0, 96_900.0, 98_600.0, 99_900.0)


def test_status_change_fires_exactly_on_each_crossing():
    monitor = _monitor()
    assert monitor.status_of("trader") is HealthStatus.HEALTHY
    previous = HealthStatus.HEALTHY
    seen = []
    for k, price in enumerate(PATH, start=1):
        update = MarketUpdate(
            T0 + timedelta(seconds=k),
            index={"BTC": price},
            marks={"BTC_USDC-PERPETUAL": {"price": price}},
        )
        events = [e for e in monitor.apply(update) if isinstance(e, StatusChange)]
        expected = _expected(price)
        if expected is previous:
            assert events == []
        else:
            assert len(events) == 1
            event = events[0]
            assert (event.account_id, event.old, event.new) == ("trader", previous, expected)
            assert event.timestamp == T0 + timedelta(seconds=k)
            assert event.equity == pytest.approx(CASH + price - F0, rel=1e-12)
            assert event.initial_margin == pytest.approx(IM_RATE * price, rel=1e-12)
            assert event.maintenance_margin == pytest.approx(MM_RATE * price, rel=1e-12)
            assert event.paused_underlyings == frozenset()
            seen.append(expected)
        assert monitor.status_of("trader") is expected
        previous = expected
    assert seen == [
        HealthStatus.REDUCE_ONLY,
        HealthStatus.LIQUIDATION,
        HealthStatus.BANKRUPT,
        HealthStatus.REDUCE_ONLY,
        HealthStatus.HEALTHY,
    ]
    assert monitor.status_of("bystander") is HealthStatus.HEALTHY


def test_event_json_object():
    monitor = _monitor()
    update = MarketUpdate(T0 + timedelta(seconds=1), index={"BTC": 97_900.0},
                          marks={"BTC_USDC-PERPETUAL": {"price": 97_900.0}})  # fmt: skip
    (event,) = monitor.apply(update)
    assert isinstance(event, StatusChange)
    assert event.to_dict()["new"] == "liquidation"
    assert event.to_dict()["timestamp"] == "2025-01-10T00:00:01Z"

"""The margin snapshot where the consumers hand it out: the monitor, its events, pre-trade.

One linear perpetual (1 BTC long, entry F0) margined by ``standard``: IM = 0.02005 F and
MM = 0.01005 F (standard.toml, futures.BTC: 2 % / 1 % + 0.005 % x size), equity
``cash + F - F0``. The snapshot's status and surpluses follow from those formulas.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.health import HealthStatus, Requirement
from pmargin.instruments import parse_symbol
from pmargin.margin import get_model
from pmargin.market import MarketSnapshot, market_from_dict
from pmargin.monitor import MarketUpdate, Monitor, StatusChange
from pmargin.pretrade import Order, PreTradeChecker
from pmargin.timeutil import parse_timestamp

T0 = parse_timestamp("2025-01-10T00:00:00Z")
F0, CASH = 100_000.0, 3_000.0
IM_RATE, MM_RATE = 0.02005, 0.01005
PERP = "BTC_USDC-PERPETUAL"


def _inputs(price: float = F0) -> tuple[BookArrangement, MarketSnapshot]:
    market = market_from_dict({
        "timestamp": T0.isoformat(), "index": {"BTC": price}, "prices": {"USDC": 1.0},
        "marks": {PERP: {"price": price}},
    })  # fmt: skip
    book = portfolio_from_dict({"accounts": [
        {"id": "trader", "balances": {"USDC": CASH},
         "positions": [{"instrument": PERP, "quantity": 1.0, "unit": "base",
                        "avg_price": F0}]},
    ]})  # fmt: skip
    return arrange(book, market), market


@pytest.mark.parametrize("price", [99_500.0, 98_500.0, 97_900.0, 96_900.0])
def test_monitor_and_event_snapshots_follow_the_formulas(price: float) -> None:
    book, _ = _inputs()
    monitor = Monitor(get_model("standard"), book)
    update = MarketUpdate(
        T0 + timedelta(seconds=1), index={"BTC": price}, marks={PERP: {"price": price}}
    )
    events = [e for e in monitor.apply(update) if isinstance(e, StatusChange)]
    snap = monitor.snapshot("trader")
    assert snap.equity == pytest.approx(CASH + price - F0, rel=1e-12)
    assert snap.initial_margin == pytest.approx(IM_RATE * price, rel=1e-12)
    assert snap.maintenance_margin == pytest.approx(MM_RATE * price, rel=1e-12)
    assert snap.surplus(Requirement.MAINTENANCE) == pytest.approx(
        CASH + price - F0 - MM_RATE * price, rel=1e-9
    )
    assert snap.status is monitor.status_of("trader")
    for event in events:
        assert event.snapshot == snap
        assert event.snapshot.status is event.new


def test_pretrade_acceptance_reads_the_initial_requirement() -> None:
    price = 98_500.0
    book, _ = _inputs(price)
    checker = PreTradeChecker(get_model("standard"), book)
    check = checker.check("trader", Order(parse_symbol(PERP), -0.5, "base"))
    # before: equity CASH + F - F0 = 1500 < IM 0.02005 F = 1974.9, >= MM 0.01005 F = 989.9
    assert check.equity_before == pytest.approx(CASH + price - F0, rel=1e-12)
    assert check.initial_margin_before == pytest.approx(IM_RATE * price, rel=1e-12)
    assert check.status_before == HealthStatus.REDUCE_ONLY.value
    # a fill at the mark moves no equity; half the position needs less than 1500 of IM
    assert check.equity_after == check.equity_before
    assert check.initial_margin_after < check.equity_after
    assert check.accepted
    assert check.reason == "equity after the order covers its initial margin"
    assert check.status_after == HealthStatus.HEALTHY.value

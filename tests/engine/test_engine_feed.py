"""The facade's monitor entries for documents equal the monitor they wrap."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from pmargin.book import arrange, portfolio_from_dict
from pmargin.engine import (
    EXAMPLE_MARKET,
    book_status_changes,
    example_path,
    market_document_of,
    monitor_rebooked,
    start_monitor,
    tick_update,
)
from pmargin.errors import InputError
from pmargin.margin import get_model
from pmargin.market import market_from_dict
from pmargin.monitor import MarketUpdate, MarkTick, Monitor
from pmargin.timeutil import parse_timestamp

PERP = "BTC_USDC-PERPETUAL"


def _portfolio(quantity: float) -> dict[str, Any]:
    return {
        "accounts": [
            {
                "id": "a",
                "balances": {"USDC": 18500.0},
                "positions": [{"instrument": PERP, "quantity": quantity, "unit": "native"}],
            },
            {"id": "b", "balances": {"BTC": 1.0}, "positions": []},
        ]
    }


def test_start_monitor_is_the_monitor_of_the_documents() -> None:
    market = json.loads(example_path(EXAMPLE_MARKET).read_text())
    served = start_monitor(_portfolio(1.0), market, "deribit")
    book = portfolio_from_dict(_portfolio(1.0))
    direct = Monitor(
        get_model("deribit"), arrange(book, market_from_dict(market, book.instruments))
    )
    np.testing.assert_array_equal(served.equity, direct.equity)
    np.testing.assert_array_equal(served.initial_margin, direct.initial_margin)
    assert market_document_of(served)["index"] == market["index"]
    tick = tick_update({"instrument": PERP, "mark": 100_000.0, "timestamp": "2025-11-13T00:00:01Z"})
    when = parse_timestamp("2025-11-13T00:00:01Z", "t")
    assert tick == MarketUpdate(when, marks={PERP: MarkTick(price=100_000.0)})
    served.apply(tick)
    assert market_document_of(served)["marks"][PERP] == {"price": 100_000.0}
    bigger = monitor_rebooked(served, _portfolio(3.0))
    changes = [c.to_dict() for c in book_status_changes(served, bigger)]
    assert [(c["account"], c["cause"], c["new"]) for c in changes] == [
        ("a", "book", bigger.status_of("a").value)
    ]
    assert changes[0]["equity"] == bigger.snapshot("a").equity


def test_tick_update_forms() -> None:
    index = tick_update({"underlying": "BTC", "index": 1.0, "timestamp": "2025-11-13T00:00:01Z"})
    assert index.index == {"BTC": 1.0}
    iv = tick_update(
        {"instrument": "BTC-26DEC25-90000-P", "iv": 0.5, "timestamp": "2025-11-13T00:00:01Z"}
    )
    assert iv.marks["BTC-26DEC25-90000-P"] == MarkTick(iv=0.5)
    with pytest.raises(InputError) as err:
        tick_update({"underlying": "BTC", "timestamp": "2025-11-13T00:00:01Z"})
    assert err.value.field == "tick"

"""Deribit's incremental what-if path where the book lacks the unit a change opens.

The random what-if tests run on books holding both coins; here the book holds BTC only, so an
ETH trade opens a unit (S:PM: (ETH, ETH); X:PM: the USD unit of ETH) that the cached run never
had, and under X:PM an ETH balance delta alone opens the ETH unit (the coin's balance moves
with its scenarios). Each answer equals the account rebuilt and re-margined (1e-9 relative),
before and after commits.
"""

from __future__ import annotations

import pytest

from pmargin.book import arrange, portfolio_from_dict
from pmargin.engine import example_path
from pmargin.health import AccountWhatIf, MarginSnapshot, Trade
from pmargin.instruments import parse_symbol
from pmargin.margin import get_model
from pmargin.market import load_market

MARKET = load_market(example_path("example_market.json"))
ACCOUNTS = [
    {
        "id": "btc",
        "balances": {"BTC": 2.0, "USDC": 5_000.0},
        "positions": [
            {"instrument": "BTC-PERPETUAL", "quantity": 30_000.0},
            {"instrument": "BTC-26DEC25-100000-P", "quantity": -1.5},
        ],
    },
    {"id": "cash", "balances": {"USDC": 10_000.0}, "positions": []},
]
BOOK = arrange(portfolio_from_dict({"accounts": ACCOUNTS}), MARKET)


def _close(fast: MarginSnapshot, slow: MarginSnapshot) -> None:
    for name in ("equity", "initial_margin", "maintenance_margin"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), name


@pytest.mark.parametrize("name", ["deribit", "deribit-cross"])
@pytest.mark.parametrize("row", [0, 1])
def test_a_unit_the_book_lacks_opens_on_the_incremental_path(name: str, row: int) -> None:
    whatif = AccountWhatIf(get_model(name), BOOK)
    assert whatif.incremental is not None
    eth_call = Trade(parse_symbol("ETH-26DEC25-5000-C"), -4.0)
    eth_perp = Trade(parse_symbol("ETH-PERPETUAL"), 3.0)
    changes: list[tuple[list[Trade], dict[str, float] | None]] = [
        ([eth_call], None),
        ([eth_call, eth_perp], None),
        ([], {"ETH": 5.0}),
        ([eth_perp], {"ETH": -2.0, "BTC": 0.5}),
    ]
    for trades, balances in changes:
        _close(
            whatif.margin_after(row, trades, balances),
            whatif.margin_after_reference(row, trades, balances),
        )
    for trades, balances in changes:
        committed = whatif.commit(row, trades, balances)
        _close(committed, whatif.margin_after_reference(row))
        _close(
            whatif.margin_after(row, [eth_perp], {"ETH": 1.0}),
            whatif.margin_after_reference(row, [eth_perp], {"ETH": 1.0}),
        )

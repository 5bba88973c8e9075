"""Derive PMRM_2's incremental what-if path equals the account rebuilt and re-margined.

The random what-if tests of every model run on the example book with the shipped parameters
(no haircut, no oracle charge, no other collateral). Here the model has every charge on:
haircuts on ETH (risk-cancelling) and BTC as *other* collateral (the account-level ``"*"``
unit), a feed confidence below the threshold (oracle contingency), USDC below its peg (peg
loss); the book leaves an expiry group, a strike of a held group and the BTC perpetual out,
so orders open groups, strikes and units the cached run never had. Random what-ifs and
commits with trades and balance deltas (seeded): every answer equals
``margin_after_reference`` to 1e-9 relative (the incremental sums carry rounding of ~1e-16
per step; a wrong rule is many orders larger).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import numpy as np
import pytest

from pmargin.book import arrange, portfolio_from_dict
from pmargin.engine import example_path
from pmargin.errors import InputError
from pmargin.health import AccountWhatIf, MarginSnapshot, Trade
from pmargin.instruments import parse_symbol
from pmargin.margin import MarginModel, get_model
from pmargin.margin.pmrm2 import BookSettings, CollateralParameters, DerivePmrm2Model
from pmargin.market import load_market

MARKET = load_market(example_path("example_market.json")).replace(
    prices={"USDC": 0.97, "USDT": 1.0}
)
SHIPPED = get_model("derive-pmrm2")
assert isinstance(SHIPPED, DerivePmrm2Model)
MODEL = DerivePmrm2Model(
    replace(
        SHIPPED.params,
        collaterals={
            "ETH": CollateralParameters(0.02, 0.01, True),
            "BTC": CollateralParameters(0.03, 0.01, False),
        },
    ),
    BookSettings(feed_confidence=0.4),
)


def _pos(symbol: str, quantity: float) -> dict[str, Any]:
    return {"instrument": symbol, "quantity": quantity, "unit": "base"}


ACCOUNTS = [
    {
        "id": "eth",
        "balances": {"ETH": 20.0, "USDC": 25_000.0},
        "positions": [
            _pos("ETH_USDC-28NOV25-3600-C", -40.0),
            _pos("ETH_USDC-28NOV25-3200-P", -25.0),
            _pos("ETH_USDC-PERPETUAL", 12.0),
        ],
    },
    {
        "id": "both",
        "balances": {"ETH": 5.0, "BTC": 1.5, "USDC": 1e4},
        "positions": [
            _pos("BTC_USDC-26DEC25-70000-P", -2.0),
            _pos("ETH_USDC-28NOV25-3600-C", 10.0),
        ],
    },
    {"id": "cash", "balances": {"USDC": 5_000.0}, "positions": []},
]
BOOK = arrange(portfolio_from_dict({"accounts": ACCOUNTS}), MARKET)
HELD = [i.symbol for i in BOOK.instruments]
NEW = ["ETH_USDC-26DEC25-3400-C", "ETH_USDC-28NOV25-3400-P", "BTC_USDC-PERPETUAL"]
ASSETS = {"ETH": 5.0, "BTC": 0.5, "USDC": 5_000.0}


def _whatif() -> AccountWhatIf:
    return AccountWhatIf(cast(MarginModel, MODEL), BOOK)


def _close(fast: MarginSnapshot, slow: MarginSnapshot, what: str) -> None:
    for name in ("equity", "initial_margin", "maintenance_margin"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), (what, name, a, b)


def test_the_model_declares_and_builds_its_incremental_path() -> None:
    assert MODEL.capabilities.incremental
    whatif = _whatif()
    assert whatif.incremental is not None
    assert whatif.incremental.reads_balances
    assert not set(NEW) & set(HELD)
    assert "*" in {u.underlying for u in whatif.result.risk_units}  # BTC: other collateral


@pytest.mark.parametrize("seed", range(4))
def test_random_what_ifs_and_commits_equal_the_rebuilt_account(seed: int) -> None:
    rng = np.random.default_rng(seed)
    whatif = _whatif()
    symbols = HELD + NEW
    for step in range(25):
        row = int(rng.integers(len(BOOK.account_ids)))
        trades = []
        for _ in range(int(rng.integers(0, 3))):
            instrument = parse_symbol(symbols[int(rng.integers(len(symbols)))])
            held = whatif.account_state(row).positions
            column = whatif.column(instrument.symbol)
            if column in held and rng.random() < 0.5:  # close, halve or flip it
                quantity = -float(rng.choice([1.0, 0.5, 2.0])) * held[column]
            else:
                quantity = float(rng.normal(0.0, 10.0))
            price = None if rng.random() < 0.5 else whatif.mark(instrument) * 1.02
            if instrument.is_futures_style and price is not None:
                price = float(whatif.resolved(instrument)[0].underlying_price[0]) * 0.98
            trades.append(Trade(instrument, quantity, price))
        balances = None
        if rng.random() < 0.5:
            asset = str(rng.choice(sorted(ASSETS)))
            balances = {asset: float(rng.uniform(-1.0, 1.0)) * ASSETS[asset]}
        what = f"seed {seed} step {step} row {row}"
        if rng.random() < 0.4:
            committed = whatif.commit(row, trades, balances)
            _close(committed, whatif.margin_after_reference(row), what + " commit")
        else:
            fast = whatif.margin_after(row, trades, balances)
            _close(fast, whatif.margin_after_reference(row, trades, balances), what)


def test_an_unsupported_instrument_is_refused_as_the_model_refuses_it() -> None:
    whatif = _whatif()
    with pytest.raises(InputError, match="PMRM_2 margins"):
        whatif.margin_after(0, [Trade(parse_symbol("BTC-PERPETUAL"), 100.0)])

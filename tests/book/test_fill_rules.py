"""What a fill does to the position it trades: one rule, written as closed forms per case.

A trade of ``dq`` base units at price ``p`` (mark ``m``) on a position ``q`` with unrealised
P&L ``U``. Futures and perpetuals: the trade's P&L against the mark is ``g = dq (m - p)``
(linear) or ``g = dq (m / p - 1)`` coin (inverse); opening or adding keeps ``U + g``
unrealised, reducing realises ``U (-dq / q) + g``, closing realises ``U + g``, flipping
realises ``U + g |q| / |dq|`` and keeps ``g (1 - |q| / |dq|)`` on the new position. Options
and spot: the cash leg ``-dq p`` is the balance change and ``U`` is untouched. The what-if's
account state and the liquidation ledger book through the same functions.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmargin.book import AccountHoldings, fill, position_after
from pmargin.errors import InputError
from pmargin.health import WhatIfAccount
from pmargin.instruments import parse_symbol
from pmargin.liquidation._ledger import reduce_position

LINEAR = "BTC_USDC-PERPETUAL"
INVERSE = "BTC-PERPETUAL"
OPTION = "BTC-27JUN25-60000-C"
SPOT = "ETH_USDC"
M, P = 105.0, 100.0  # mark and fill price (linear: g = dq (M - P))
MI, PI = 63_000.0, 60_000.0  # inverse: g = dq (MI / PI - 1) coin


def _g(dq: float) -> float:
    return dq * (M - P)


def _gi(dq: float) -> float:
    return dq * (MI / PI - 1.0)


# case, symbol, q, U, dq, p, m, expected (q after, U after, cash) as formulas
CASES = [
    ("open", LINEAR, 0.0, 0.0, 2.0, P, M, (2.0, _g(2.0), 0.0)),
    ("add", LINEAR, 1.0, 3.0, 2.0, P, M, (3.0, 3.0 + _g(2.0), 0.0)),
    ("reduce", LINEAR, 4.0, 8.0, -1.0, P, M, (3.0, 8.0 - 8.0 / 4.0, 8.0 / 4.0 + _g(-1.0))),
    ("close", LINEAR, 4.0, 8.0, -4.0, P, M, (0.0, 0.0, 8.0 + _g(-4.0))),
    (
        "flip",
        LINEAR,
        2.0,
        6.0,
        -5.0,
        P,
        M,
        (-3.0, _g(-5.0) * 3.0 / 5.0, 6.0 + _g(-5.0) * 2.0 / 5.0),
    ),
    ("short reduce", LINEAR, -4.0, -2.0, 3.0, P, M, (-1.0, -2.0 / 4.0, -2.0 * 3.0 / 4.0 + _g(3.0))),
    ("inverse open", INVERSE, 0.0, 0.0, -1.5, PI, MI, (-1.5, _gi(-1.5), 0.0)),
    ("inverse reduce", INVERSE, 2.0, 0.01, -0.5, PI, MI, (1.5, 0.0075, 0.0025 + _gi(-0.5))),
    (
        "inverse flip",
        INVERSE,
        1.0,
        0.02,
        -3.0,
        PI,
        MI,
        (-2.0, _gi(-3.0) * 2 / 3, 0.02 + _gi(-3.0) / 3),
    ),
    ("option buy", OPTION, 0.0, 0.0, 3.0, 0.05, 0.06, (3.0, 0.0, -3.0 * 0.05)),
    ("option flip", OPTION, 1.0, 0.0, -3.0, 0.05, 0.06, (-2.0, 0.0, 3.0 * 0.05)),
    ("spot sell", SPOT, 4.0, 0.0, -4.0, 3_000.0, 3_010.0, (0.0, 0.0, 4.0 * 3_000.0)),
]


@pytest.mark.parametrize(
    ("case", "symbol", "q", "u", "dq", "price", "mark", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_position_after_follows_the_closed_forms(
    case: str,
    symbol: str,
    q: float,
    u: float,
    dq: float,
    price: float,
    mark: float,
    expected: tuple[float, float, float],
) -> None:
    booked = fill(parse_symbol(symbol), dq, price, mark)
    after, unrealised, cash = position_after(q, u, dq, booked)
    assert after == expected[0]
    assert unrealised == pytest.approx(expected[1], rel=1e-12, abs=1e-15)
    assert cash == pytest.approx(expected[2], rel=1e-12, abs=1e-15)
    # the fill moves equity by the trade's P&L against the mark: cash + unrealised + value
    change = (cash + unrealised - u) + booked.value
    assert change == pytest.approx(booked.equity_change, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_holdings_book_the_rule_and_remove_closed_positions(case: tuple[Any, ...]) -> None:
    _, symbol, q, u, dq, price, mark, (after, unrealised, cash) = case
    instrument = parse_symbol(symbol)
    futures = instrument.is_futures_style
    held = AccountHoldings({7: q} if q else {}, {7: u} if q and futures else {}, {"USDC": 1.0})
    held.trade(7, dq, fill(instrument, dq, price, mark))
    assert held.positions.get(7, 0.0) == after
    assert (7 in held.unrealised) == (after != 0.0 and futures)
    assert held.unrealised.get(7, 0.0) == pytest.approx(
        unrealised if after else 0.0, rel=1e-12, abs=1e-15
    )
    asset = instrument.cash_asset
    assert held.balances.get(asset, 0.0) == pytest.approx(
        (1.0 if asset == "USDC" else 0.0) + cash, rel=1e-12, abs=1e-15
    )


def test_a_zero_balance_change_books_no_balance_key() -> None:
    held = AccountHoldings({}, {}, {})
    held.trade(0, 2.0, fill(parse_symbol(INVERSE), 2.0, MI, MI))  # at the mark: g = 0, opens
    assert held.balances == {}
    assert held.positions == {0: 2.0}


def test_the_ledger_and_the_whatif_book_the_same_reduction() -> None:
    """Both hold their accounts in the same type and book through the same rule."""
    instrument = parse_symbol(LINEAR)
    ledger = AccountHoldings({3: 4.0}, {3: 8.0}, {"USDC": 10.0})
    whatif = WhatIfAccount({3: 4.0}, {3: 8.0}, {"USDC": 10.0}, 0.0)
    reduce_position(ledger, instrument, 3, -1.5, M, P)
    whatif.trade(3, -1.5, fill(instrument, -1.5, P, M))
    assert (ledger.positions, ledger.unrealised, ledger.balances) == (
        whatif.positions,
        whatif.unrealised,
        whatif.balances,
    )
    assert whatif.cash == {"USDC": whatif.balances["USDC"] - 10.0}


def test_the_ledger_closes_within_its_tolerance_and_refuses_to_open() -> None:
    instrument = parse_symbol(LINEAR)
    state = AccountHoldings({0: 4.0}, {0: 8.0}, {"USDC": 0.0})
    dq = -4.0 * (1.0 + 1e-13)  # past zero by rounding: closes, realising the whole trade
    reduce_position(state, instrument, 0, dq, M, P)
    assert state.positions == {}
    assert state.unrealised == {}
    assert state.balances["USDC"] == pytest.approx(8.0 + _g(dq), rel=1e-15)
    short = AccountHoldings({0: 4.0}, {0: 8.0}, {"USDC": 0.0})
    reduce_position(short, instrument, 0, -4.0 * (1.0 - 1e-15), M, P)  # short of it by rounding
    assert short.positions == {}  # closed whole: no 4e-15 dust left for another fill
    assert short.unrealised == {}
    kept = AccountHoldings({0: 4.0}, {0: 8.0}, {"USDC": 0.0})
    reduce_position(kept, instrument, 0, -4.0 * (1.0 - 1e-9), M, P)  # a real partial trade
    assert kept.positions == {0: pytest.approx(4e-9, rel=1e-6)}
    with pytest.raises(InputError, match="must reduce"):
        reduce_position(AccountHoldings({0: 1.0}, {}, {}), instrument, 0, 0.5, M, P)


@settings(max_examples=60, deadline=None)
@given(
    trades=st.lists(
        st.tuples(
            st.floats(-5.0, 5.0, allow_nan=False).filter(lambda x: abs(x) > 1e-6),
            st.floats(50.0, 150.0),
        ),
        min_size=1,
        max_size=12,
    ),
    symbol=st.sampled_from([LINEAR, INVERSE]),
)
def test_a_futures_account_keeps_every_trades_pnl(
    trades: list[tuple[float, float]], symbol: str
) -> None:
    """Position = sum of trades; balance + unrealised = sum of the trades' P&L (any order)."""
    instrument = parse_symbol(symbol)
    held = AccountHoldings({}, {}, {})
    total = 0.0
    scale = 0.0
    for dq, price in trades:
        booked = fill(instrument, dq, price, 100.0)
        held.trade(0, dq, booked)
        total += booked.pnl
        scale += abs(booked.pnl)
    kept = held.balances.get(instrument.cash_asset, 0.0) + held.unrealised.get(0, 0.0)
    assert kept == pytest.approx(total, abs=1e-12 * (1.0 + scale))
    assert held.positions.get(0, 0.0) == pytest.approx(sum(t[0] for t in trades), abs=1e-12 * 60)

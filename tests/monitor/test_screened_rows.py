"""Blocks margin only the accounts holding something in them, and still equal a full recompute.

Accounts here hold one underlying each (with its coin as collateral), some hold nothing at
all; a BTC tick must re-margin only the BTC holders, and every figure (equity, IM, MM, status)
must stay the full recompute's after updates of either underlying. The rebase the blocks use (only
the futures entries touched) equals its reference twin bit for bit.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from _fixtures import FUTURES, UNIVERSE_PLUS, assert_matches_full, market

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.margin import get_model
from pmargin.market import Mark, MarketSnapshot
from pmargin.monitor import MarketUpdate, MarkTick, Monitor


def _book(seed: int, n_accounts: int) -> tuple[MarketSnapshot, BookArrangement]:
    rng = np.random.default_rng(seed)
    snapshot = market()
    by_code = {code: [s for s in UNIVERSE_PLUS if s.startswith(code)] for code in ("BTC", "ETH")}
    accounts: list[dict[str, Any]] = []
    for a in range(n_accounts):
        kind = ("BTC", "ETH", "none")[int(rng.integers(3))]
        positions = []
        balances: dict[str, float] = {"USDC": float(rng.uniform(0.0, 50_000.0))}
        if kind != "none":
            for symbol in rng.choice(by_code[kind], size=int(rng.integers(1, 5))):
                position: dict[str, Any] = {
                    "instrument": str(symbol),
                    "quantity": float(rng.normal(0.0, 2.0)),
                }
                if symbol in FUTURES:
                    price = snapshot.marks[str(symbol)].price
                    assert price is not None
                    position["avg_price"] = price * float(rng.uniform(0.95, 1.05))
                positions.append(position)
            balances[kind] = float(rng.uniform(0.0, 3.0 if kind == "BTC" else 40.0))
        accounts.append({"id": f"a{a}", "balances": balances, "positions": positions})
    return snapshot, arrange(portfolio_from_dict({"accounts": accounts}), snapshot)


@pytest.mark.parametrize("name", ["standard", "deribit", "okx"])
def test_ticks_remargin_the_holders_only(name: str) -> None:
    snapshot, book = _book(3, 45)
    monitor = Monitor(get_model(name), book)
    holders = {
        code: int(
            np.count_nonzero(
                np.diff(book.take_columns(
                    [j for j, i in enumerate(book.instruments) if i.underlying == code],
                    (code,),
                ).quantity.indptr)
                | (book.balance_matrix[:, book.assets.index(code)] != 0.0)
            )
        )
        for code in ("BTC", "ETH")
    }  # fmt: skip
    assert {c: monitor.margined_rows[c] for c in holders} == holders
    assert all(0 < n < book.shape[0] for n in holders.values())
    rng = np.random.default_rng(7)
    for k in range(8):
        code = ("BTC", "ETH")[k % 2]
        move = 1.0 + float(rng.uniform(-0.08, 0.08))
        marks = {
            s: MarkTick(price=m.price * move)
            for s, m in monitor.market.marks.items()
            if s in FUTURES and s.startswith(code) and m.price is not None
        }
        update = MarketUpdate(
            snapshot.timestamp + timedelta(seconds=k + 1),
            index={code: monitor.market.index[code] * move},
            marks=marks,
        )
        monitor.apply(update)
        assert monitor.last_recomputed == (code,)
        assert_matches_full(monitor)


@pytest.mark.parametrize("seed", [1, 2])
def test_rebased_equals_its_reference_bit_for_bit(seed: int) -> None:
    """The monitor's rebase (futures entries only, index arrays shared) == the full twin."""
    snapshot, book = _book(seed, 30)
    rng = np.random.default_rng(seed)
    marks = {
        s: MarkTick(price=m.price * float(rng.uniform(0.9, 1.1)))
        for s, m in snapshot.marks.items()
        if s in FUTURES and m.price is not None
    }
    moved = snapshot.with_updates(
        index={c: snapshot.index[c] * float(rng.uniform(0.9, 1.1)) for c in ("BTC", "ETH")},
        marks={s: Mark(price=t.price) for s, t in marks.items()},
    )
    btc = [j for j, i in enumerate(book.instruments) if i.underlying == "BTC"]
    starts = (
        book,
        book.take_columns(btc, ("BTC",)),
        book.take_accounts([0, 3, 5]),
        dataclasses.replace(book, unrealised=None),  # no avg_price: nothing accrued yet
    )
    for start, target in itertools.product(starts, (moved, snapshot, moved)):
        # the same market accrues exact zeros (dropped); later calls read the cached plans
        for _ in range(2):
            fast, reference = start.rebased(target), start.rebased_reference(target)
            for a, b in (
                (fast.quantity, reference.quantity),
                (fast.unrealised, reference.unrealised),
            ):
                np.testing.assert_array_equal(a.toarray(), b.toarray(), strict=True)
            np.testing.assert_array_equal(fast.quantity.data, reference.quantity.data)
            np.testing.assert_array_equal(fast.quantity.indices, reference.quantity.indices)
            for part in ("data", "indices", "indptr"):  # the same stored entries, zeros dropped
                mine, theirs = getattr(fast.unrealised, part), getattr(reference.unrealised, part)
                assert mine.tobytes() == theirs.astype(mine.dtype).tobytes(), part


def test_recycled_rebases_are_the_plain_ones_and_never_touch_a_live_book() -> None:
    """rebased(recycle=True) writes a new book into a kept array only when nothing holds it."""
    snapshot, book = _book(4, 30)
    start = book.take_columns(
        [j for j, i in enumerate(book.instruments) if i.underlying == "BTC"], ("BTC",)
    )
    rng = np.random.default_rng(4)
    held = []
    for k in range(12):
        move = float(rng.uniform(0.97, 1.03))
        at = snapshot.with_updates(
            index={"BTC": snapshot.index["BTC"] * move},
            marks={
                s: Mark(price=snapshot.marks[s].price * move)
                for s in FUTURES
                if s.startswith("BTC")
            },  # type: ignore[operator]
        )
        recycled, plain = start.rebased(at, recycle=True), start.rebased(at)
        assert recycled.quantity.data.tobytes() == plain.quantity.data.tobytes()
        if k % 3 == 0:  # kept alive: its numbers must stay as they were
            held.append((recycled, recycled.quantity.data.copy()))
    for kept, numbers in held:
        assert kept.quantity.data.tobytes() == numbers.tobytes()

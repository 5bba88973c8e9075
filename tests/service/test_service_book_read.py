"""The whole book's read in two queries equals reading each account alone (its reference)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pmargin.service import _ledger as ledger

SYMBOLS = ("BTC-PERPETUAL", "ETH-PERPETUAL", "BTC_USDC-PERPETUAL", "BTC-28NOV25-95000-P")


def test_account_documents_equal_their_reference(store: Engine) -> None:
    rng = np.random.default_rng(4)
    ids = [f"a{i:02d}" for i in range(12)]
    with Session(store) as session, session.begin():
        for account in ids:
            ledger.create_account(session, account)
        for _ in range(120):
            account = ids[int(rng.integers(len(ids) - 2))]  # the last two hold no positions
            if rng.random() < 0.3:
                asset = ("BTC", "ETH", "USDC")[int(rng.integers(3))]
                ledger.deposit(session, account, asset, Decimal(int(rng.integers(1, 100))))
                continue
            symbol = SYMBOLS[int(rng.integers(len(SYMBOLS)))]
            quantity = Decimal(int(rng.integers(-5, 6)) or 1) * 10
            price = Decimal("0.0135") if symbol.endswith("-P") else Decimal("100000")
            ledger.record_fill(session, account, symbol, quantity, price, Decimal(0))
        ledger.deposit(session, "a10", "SOL", Decimal(3))
        ledger.withdraw(session, "a10", "SOL", Decimal(3))  # a zero balance stays listed
    with Session(store) as session:
        for wanted in (ids, ids[::-1], ids[3:7], []):
            fast = ledger.account_documents(session, wanted)
            assert fast == ledger.account_documents_reference(session, wanted)
        assert ledger.account_documents(session, ["a10"])[0]["balances"]["SOL"] == "0"

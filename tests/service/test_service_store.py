"""The store: migration on open, refusal with the reason, the ledger rebuilds the state."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from pmargin.service import StoreError, open_store, schema_revision
from pmargin.service._ledger import (
    RefusedError,
    create_account,
    deposit,
    rebuild,
    record_fill,
    set_market,
    stored_holdings,
    withdraw,
)
from pmargin.service._tables import Base


def test_open_migrates_to_the_newest_revision_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = open_store(url)
    assert schema_revision(first) == "0001"
    first.dispose()
    again = open_store(url)  # already at head: nothing to do
    assert schema_revision(again) == "0001"
    again.dispose()


def test_migrated_schema_matches_the_models(store: Engine) -> None:
    inspector = inspect(store)
    for table in Base.metadata.sorted_tables:
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(columns) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, (table.name, column.name)


def test_refuses_a_newer_schema_with_the_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = open_store(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="revision '9999' is newer") as info:
        open_store(url)
    assert "\n" not in str(info.value)


def test_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="file is not a database") as info:
        open_store(f"sqlite:///{path}")
    assert "\n" not in str(info.value)


def test_refuses_foreign_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    engine = open_store(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    with pytest.raises(StoreError, match="already exists"):
        open_store(url)


def test_balances_and_positions_rebuild_from_the_events(
    store: Engine, market: dict[str, Any]
) -> None:
    rng = random.Random(16)
    instruments = ["BTC-PERPETUAL", "BTC_USDC-PERPETUAL", "BTC-28NOV25-110000-C", "ETH-PERPETUAL"]
    with Session(store) as session, session.begin():
        set_market(session, market)
        for a in range(4):
            create_account(session, f"acc{a}")
            deposit(session, f"acc{a}", "BTC", Decimal("2"))
            deposit(session, f"acc{a}", "USDC", Decimal("50000"))
            deposit(session, f"acc{a}", "ETH", Decimal("20"))
    refused = 0
    for _ in range(60):
        account = f"acc{rng.randrange(4)}"
        with Session(store) as session, session.begin():
            action = rng.random()
            try:
                if action < 0.6:
                    symbol = rng.choice(instruments)
                    step = {"BTC-PERPETUAL": 100, "ETH-PERPETUAL": 10}.get(symbol)
                    q = Decimal(rng.choice([-1, 1]) * rng.randint(1, 20)) * (
                        Decimal(step) if step else Decimal("0.01")
                    )
                    price = Decimal(rng.randint(90_000, 110_000))
                    if symbol == "BTC-28NOV25-110000-C":
                        price = Decimal(rng.randint(5, 20)) / 1000
                    if symbol == "ETH-PERPETUAL":
                        price = Decimal(rng.randint(3_000, 3_800))
                    fee = Decimal(rng.randint(0, 5)) / 10_000
                    record_fill(session, account, symbol, q, price, fee)
                elif action < 0.8:
                    deposit(session, account, "USDC", Decimal(rng.randint(1, 10_000)) / 100)
                else:
                    amount = Decimal(rng.randint(1, 100)) / 100
                    withdraw(session, account, rng.choice(["BTC", "ETH"]), amount)
            except RefusedError:
                refused += 1
                session.rollback()
    with Session(store) as session:
        stored, rebuilt = stored_holdings(session), rebuild(session)
    assert stored.positions  # the run did trade
    assert rebuilt.balances == stored.balances
    assert rebuilt.positions == stored.positions
    assert refused < 60

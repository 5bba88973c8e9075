"""The server's kept monitor: fills, deposits, withdrawals and liquidations applied account by
account equal a monitor started afresh from the store (:meth:`Feed.monitor_reference`).

Runs on SQLite and on a throwaway PostgreSQL (skipped with a loud reason where the PostgreSQL
binaries are absent, as in ``test_service_process``).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
import test_service_liquidation
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from test_service_process import postgres_url  # noqa: F401 (the module's PostgreSQL server)

from pmargin.engine import (
    KeptBook,
    Monitor,
    example_path,
    monitor_rebooked,
    monitor_with_accounts,
    monitor_with_kept,
    start_monitor,
    tick_update,
)
from pmargin.engine import _feed as feed_module
from pmargin.service import create_app, create_key
from pmargin.service._ticks import Feed

store = test_service_liquidation.store
"""SQLite in the test's folder, or a new PostgreSQL database (the liquidation tests' fixture)."""

_ticks = test_service_liquidation._ticks
"""``{"ticks"}``: the BTC index and the linear perpetual's mark at a second of the day."""
PERP = test_service_liquidation.PERP
ENTRY = 101_654.0
REL = 1e-9
"""The kept monitor's market went through the market row's JSON (the reference starts at it):
equal to rounding, float64 relative error far below 1e-9 of a figure."""


def _figures(monitor: Monitor) -> dict[str, tuple[float, float, float, str]]:
    return {
        a: (float(e), float(i), float(m), s.value)
        for a, e, i, m, s in zip(
            monitor.account_ids,
            monitor.equity,
            monitor.initial_margin,
            monitor.maintenance_margin,
            monitor.status,
            strict=True,
        )
    }


def _assert_kept_is_reference(feed: Feed, store: Engine) -> None:
    assert feed.monitor is not None
    with Session(store) as session:
        reference = feed.monitor_reference(session)
    kept, fresh = _figures(feed.monitor), _figures(reference)
    assert kept.keys() == fresh.keys()
    for account, (equity, im, mm, status) in fresh.items():
        assert kept[account][:3] == pytest.approx((equity, im, mm), rel=REL, abs=1e-6), account
        assert kept[account][3] == status, account


def test_kept_monitor_equals_the_monitor_from_the_store(
    store: Engine, market: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(12)
    reads: list[int] = []
    whole_read = Feed._book

    def counted(session: Session) -> dict[str, Any]:
        reads.append(1)
        return whole_read(session)

    monkeypatch.setattr(Feed, "_book", staticmethod(counted))
    rearranged: list[int] = []
    whole_arrange = feed_module.monitor_with_kept

    def counted_whole(monitor: Monitor, book: KeptBook) -> Monitor:
        rearranged.append(1)
        return whole_arrange(monitor, book)

    monkeypatch.setattr(feed_module, "monitor_with_kept", counted_whole)
    app = create_app(store, model="standard")
    feed: Feed = app.state.feed
    admin = {"Authorization": f"Bearer {create_key(store, 'admin')}"}
    with TestClient(app, raise_server_exceptions=False) as client:
        assert feed.monitor is None  # no market, no account at start-up: the first tick starts it
        assert client.put("/v1/market", json=market, headers=admin).is_success
        accounts = [f"a{i:02d}" for i in range(10)]
        for account in accounts[:6]:
            assert client.post("/v1/accounts", json={"id": account}, headers=admin).is_success
            deposit = {"asset": "USDC", "amount": f"{rng.uniform(15_000, 60_000):.2f}"}
            r = client.post(f"/v1/accounts/{account}/deposits", json=deposit, headers=admin)
            assert r.is_success
        index, second, liquidated = ENTRY, 1, 0
        r = client.post("/v1/market/ticks", json=_ticks(second, index), headers=admin)
        assert r.status_code == 200, r.json()
        kept = feed.kept
        for step in range(40):
            for _ in range(int(rng.integers(0, 4))):
                account = accounts[int(rng.integers(0, len(accounts)))]
                if client.get(f"/v1/accounts/{account}", headers=admin).status_code == 404:
                    client.post("/v1/accounts", json={"id": account}, headers=admin)
                kind = rng.choice(["fill", "fill", "deposit", "withdrawal"])
                if kind == "fill":
                    quantity = f"{rng.uniform(-1.5, 1.5):.3f}"
                    body = {"instrument": PERP, "quantity": quantity, "price": f"{index:.1f}"}
                    client.post(f"/v1/accounts/{account}/fills", json=body, headers=admin)
                else:
                    amount = {"asset": "USDC", "amount": f"{rng.uniform(10, 5_000):.2f}"}
                    client.post(f"/v1/accounts/{account}/{kind}s", json=amount, headers=admin)
            # A random walk with an occasional crash (liquidations), and every few steps no
            # book change at all between ticks.
            index *= 0.9 if step % 13 == 12 else float(np.exp(rng.normal(0.0, 0.01)))
            second += 1
            r = client.post("/v1/market/ticks", json=_ticks(second, index), headers=admin)
            assert r.status_code == 200, r.json()
            liquidated += bool(r.json()["liquidation"])
            assert feed.kept is kept, "the kept accounts are never read again in whole"
            served = len(reads)
            _assert_kept_is_reference(feed, store)
            del reads[served:]  # the reference's own reads
        assert liquidated, "the crashes should liquidate"
    assert len(reads) == 1, "the store's whole book is read once, at the first tick"
    # Only new accounts (4 opened during the run, some steps together) arrange every account.
    assert 0 < len(rearranged) <= 4


def test_the_monitor_starts_with_the_server(store: Engine, market: dict[str, Any]) -> None:
    admin = {"Authorization": f"Bearer {create_key(store, 'admin')}"}
    with TestClient(create_app(store), raise_server_exceptions=False) as client:
        client.put("/v1/market", json=market, headers=admin)
        client.post("/v1/accounts", json={"id": "a"}, headers=admin)
        client.post("/v1/accounts/a/deposits", json={"asset": "BTC", "amount": "1"}, headers=admin)
    app = create_app(store)
    feed: Feed = app.state.feed
    with TestClient(app, raise_server_exceptions=False) as client:
        assert feed.monitor is not None
        assert feed.monitor.account_ids == ("a",)
        started = feed.monitor
        r = client.post("/v1/market/ticks", json=_ticks(1, ENTRY), headers=admin)
        assert r.status_code == 200, r.json()
        assert feed.kept is not None
        assert len(feed.kept) == 1
        assert feed.monitor is started  # the tick moved the started monitor, no restart
        _assert_kept_is_reference(feed, store)


def _example_accounts() -> list[dict[str, Any]]:
    """The example accounts, futures and perpetuals with an average price (as the service
    stores every fill's)."""
    document = json.loads(example_path("example_portfolio.json").read_text())
    entries = {"BTC-PERPETUAL": 99_000.0, "ETH-27MAR26": 3_400.0, "BTC_USDC-PERPETUAL": 98_000.0}
    accounts: list[dict[str, Any]] = document["accounts"]
    for account in accounts:
        for position in account["positions"]:
            if position["instrument"] in entries:
                position["avg_price"] = entries[position["instrument"]]
    return accounts


@pytest.mark.parametrize("model", ["deribit", "standard"])
def test_changed_rows_put_in_place_equal_the_book_arranged_again(
    market: dict[str, Any], model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = _example_accounts()
    monitor = start_monitor({"accounts": accounts}, market, model)
    when = datetime.fromisoformat(market["timestamp"].replace("Z", "+00:00"))
    index = market["index"]["BTC"] * 0.98
    for k, symbol in enumerate(("BTC-PERPETUAL", "BTC_USDC-PERPETUAL"), start=1):
        tick = {"instrument": symbol, "mark": index, "timestamp": when + timedelta(seconds=k)}
        monitor.apply(tick_update(tick))
    tick = {"underlying": "BTC", "index": index, "timestamp": when + timedelta(seconds=3)}
    monitor.apply(tick_update(tick))
    assert monitor.market.index["BTC"] == index  # accepted: the book is rebased to it
    kept = KeptBook(accounts)
    changed = copy.deepcopy({a["id"]: a for a in accounts})
    strangle = changed["btc-short-strangle"]
    strangle["positions"][2]["quantity"] *= 3  # the inverse perpetual, USD
    strangle["balances"] = {"BTC": 4.5, "USDC": 1_000.0}  # a new asset column
    linear = changed["usdc-linear"]
    linear["positions"] = linear["positions"][1:]  # one option closed
    kept.put([strangle, linear])
    whole = monitor_rebooked(monitor, {"accounts": list(changed.values())})

    def whole_book(*_: Any) -> Monitor:
        raise AssertionError("the changed rows should be put in place")

    monkeypatch.setattr(feed_module, "monitor_with_kept", whole_book)
    spliced = monitor_with_accounts(monitor, kept, ["btc-short-strangle", "usdc-linear"])
    got, want = _figures(spliced), _figures(whole)
    assert got.keys() == want.keys()
    for account, figures in want.items():
        assert got[account][:3] == pytest.approx(figures[:3], rel=REL, abs=1e-6), account
        assert got[account][3] == figures[3]
    monkeypatch.undo()
    # An instrument no account held: the whole book is arranged again (and equal).
    linear["positions"].append({"instrument": "ETH-PERPETUAL", "quantity": 5_000.0})
    kept.put([linear])
    grown = monitor_with_accounts(spliced, kept, ["usdc-linear"])
    assert _figures(grown) == _figures(monitor_with_kept(spliced, kept))

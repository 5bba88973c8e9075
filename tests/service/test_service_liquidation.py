"""Liquidation on ticks: bookings, money conserved, rebuild, breakers, durability, reads.

Every test runs on SQLite and on a throwaway PostgreSQL (a fresh database per test; skipped
with a loud reason where the PostgreSQL binaries are absent, as in ``test_service_process``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session
from test_service_process import postgres_url  # noqa: F401 (the module's PostgreSQL server)

from pmargin.engine import margin_document
from pmargin.errors import PmarginError
from pmargin.service import _ticks as ticks_module
from pmargin.service import create_app, create_key, open_store
from pmargin.service._ledger import _portfolio, rebuild, stored_holdings
from pmargin.service._tables import MarketRow


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store: SQLite in the test's folder, or a new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pmargin.db'}"
    else:
        server = make_url(request.getfixturevalue("postgres_url"))
        name = f"liq_{uuid.uuid4().hex[:12]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        url = server.set(database=name).render_as_string(hide_password=False)
    engine = open_store(url)
    yield engine
    engine.dispose()


PERP = "BTC_USDC-PERPETUAL"
ENTRY = "101654"
REL = 1e-9
DIGITS = Decimal("1e-18")
"""Balances are decimals of 28 significant digits (Decimal's default context): sums agree to
that, about 1e-24 of a unit on five-digit balances; 1e-18 units is far below any money."""


def _t(second: int) -> str:
    return f"2025-11-13T00:{second // 60:02d}:{second % 60:02d}Z"


def _ticks(second: int, index: float) -> dict[str, Any]:
    """The index and the perpetual's mark (the perpetual moves with its mark)."""
    return {
        "ticks": [
            {"underlying": "BTC", "index": index, "timestamp": _t(second)},
            {"instrument": PERP, "mark": index, "timestamp": _t(second)},
        ]
    }


def _open(
    client: TestClient, admin: dict[str, str], account: str, usdc: str, quantity: str
) -> None:
    assert client.post("/v1/accounts", json={"id": account}, headers=admin).status_code == 201
    deposit = {"asset": "USDC", "amount": usdc}
    assert client.post(f"/v1/accounts/{account}/deposits", json=deposit, headers=admin).is_success
    fill = {"instrument": PERP, "quantity": quantity, "price": ENTRY}
    r = client.post(f"/v1/accounts/{account}/fills", json=fill, headers=admin)
    assert r.status_code == 200, r.json()


@pytest.fixture
def book(client: TestClient, admin: dict[str, str], market: dict[str, Any]) -> dict[str, str]:
    """A market, a 5x long that partial liquidation restores, a healthy short."""
    client.put("/v1/market", json=market, headers=admin)
    _open(client, admin, "lev", "18500", "1")
    _open(client, admin, "shorty", "50000", "-2")
    r = client.post("/v1/market/ticks", json=_ticks(1, 101_654.0), headers=admin)
    assert r.status_code == 200, r.json()
    assert r.json()["liquidation"] == []
    return admin


def _documents(client: TestClient, admin: dict[str, str], store: Engine) -> list[dict[str, Any]]:
    with Session(store) as session:
        ids = sorted(stored_holdings(session).balances) + sorted(stored_holdings(session).positions)
    return [
        client.get(f"/v1/accounts/{a}", headers=admin).json() for a in sorted(dict.fromkeys(ids))
    ]


def _equity_usd(documents: list[dict[str, Any]], store: Engine) -> float:
    """Sum of every account's equity (system accounts too) at the market in force, USD."""
    with Session(store) as session:
        row = session.get(MarketRow, 1)
        assert row is not None
        market = json.loads(row.document)
    portfolio = {"accounts": [_portfolio(d) for d in documents]}
    margined = margin_document(portfolio, market, "standard")
    return float(sum(a["equity"] for a in margined["accounts"]))


def _asset_sums(documents: list[dict[str, Any]]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for d in documents:
        for asset, amount in d["balances"].items():
            sums[asset] = sums.get(asset, Decimal(0)) + Decimal(amount)
    return sums


def _liquidating_tick(
    client: TestClient, admin: dict[str, str], store: Engine, second: int, index: float
) -> dict[str, Any]:
    """Post a tick that liquidates; check money, conservation and the rebuild around it."""
    before = _documents(client, admin, store)
    r = client.post("/v1/market/ticks", json=_ticks(second, index), headers=admin)
    assert r.status_code == 200, r.json()
    answer: dict[str, Any] = r.json()
    events = answer["liquidation"]
    assert events, "the tick should liquidate"
    after = _documents(client, admin, store)
    # Every transfer's deltas sum to zero per asset, exactly.
    fills_cash: dict[str, Decimal] = {}
    slippage_usd = 0.0
    for event in events:
        data = event["data"]
        if "deltas" in data:
            totals: dict[str, Decimal] = {}
            for per_asset in data["deltas"].values():
                for asset, delta in per_asset.items():
                    totals[asset] = totals.get(asset, Decimal(0)) + Decimal(delta)
            assert all(t == 0 for t in totals.values()), (event["kind"], totals)
        if event["kind"] in ("liquidation", "adl"):
            for asset, delta in data["balances"].items():
                fills_cash[asset] = fills_cash.get(asset, Decimal(0)) + Decimal(delta)
        if event["kind"] == "liquidation":
            slippage_usd += data["engine"]["slippage_usd"]
    # Per asset, balances change only by what the fills settled with the market (exact).
    was, now = _asset_sums(before), _asset_sums(after)
    for asset in set(was) | set(now) | set(fills_cash):
        change = now.get(asset, Decimal(0)) - was.get(asset, Decimal(0))
        assert abs(change - fills_cash.get(asset, Decimal(0))) <= DIGITS, asset
    # In value: the accounts, the fund, the liquidator and bad debt lose only the slippage
    # paid to the market (USD, at the market after the tick: float valuation).
    equity_before, equity_after = _equity_usd(before, store), _equity_usd(after, store)
    assert equity_after - equity_before == pytest.approx(
        -slippage_usd, rel=REL, abs=REL * abs(equity_before)
    )
    with Session(store) as session:
        stored, rebuilt = stored_holdings(session), rebuild(session)
    assert rebuilt.balances == stored.balances
    assert rebuilt.positions == stored.positions
    return answer


def test_partial_liquidation_books_fills_and_penalties(
    client: TestClient, book: dict[str, str], store: Engine
) -> None:
    fund = {"asset": "USD", "amount": "100000"}
    client.post("/v1/accounts/_insurance_fund/deposits", json=fund, headers=book)
    fill = {"instrument": PERP, "quantity": "2", "price": ENTRY}
    client.post("/v1/accounts/lev/fills", json=fill, headers=book)
    answer = _liquidating_tick(client, book, store, 2, 99_500.0)
    kinds = [e["kind"] for e in answer["liquidation"]]
    assert (kinds[0], kinds[-1]) == ("liquidation_triggered", "liquidation_finished")
    assert set(kinds) == {"liquidation_triggered", "liquidation", "penalty", "liquidation_finished"}
    assert answer["liquidation"][-1]["data"]["outcome"] == "restored"
    penalties = sum(
        Decimal(e["data"]["amount"]) for e in answer["liquidation"] if e["kind"] == "penalty"
    )
    fund_now = client.get("/v1/insurance-fund", headers=book).json()
    assert Decimal(fund_now["balances"]["USDC"]) == penalties
    assert fund_now["value_usd"] == pytest.approx(100_000.0 + float(penalties), rel=1e-9)
    assert [h["kind"] for h in fund_now["history"]] == ["deposit"] + ["penalty"] * (
        kinds.count("penalty")
    )
    # The liquidation fill is booked like a trader's fill: the average price stays, the
    # position shrinks by the engine's size, and the account reads healthy or reduce-only.
    position = client.get("/v1/accounts/lev", headers=book).json()["positions"][0]
    assert position["avg_price"] == ENTRY
    sold = sum(
        Decimal(e["data"]["quantity"]) for e in answer["liquidation"] if e["kind"] == "liquidation"
    )
    assert Decimal(position["quantity"]) == 3 + sold
    status = client.get("/v1/accounts/lev/liquidations", headers=book).json()
    assert (status["state"], status["episodes"]) == ("restored", 1)
    assert status["fills"] == kinds.count("liquidation")
    assert Decimal(status["penalties"]["USDC"]) == penalties
    after = answer["events"][-1]
    assert (after["cause"], after["old"]) == ("liquidation", "liquidation")
    assert after["new"] in ("healthy", "reduce_only")


@pytest.mark.parametrize("fund", ["1000000", None])
def test_bankruptcy_fund_draw_adl_and_bad_debt(
    client: TestClient, book: dict[str, str], store: Engine, fund: str | None
) -> None:
    if fund is not None:
        body = {"asset": "USD", "amount": fund}
        client.post("/v1/accounts/_insurance_fund/deposits", json=body, headers=book)
    _open(client, book, "wreck", "20000", "10")
    answer = _liquidating_tick(client, book, store, 2, 99_000.0)
    kinds = [e["kind"] for e in answer["liquidation"]]
    wreck = client.get("/v1/accounts/wreck/liquidations", headers=book).json()
    assert wreck["state"] == "bankrupt"
    assert client.get("/v1/accounts/wreck", headers=book).json()["positions"] == []
    if fund is not None:
        # The fund covers the deficit: closed on the market, the fund pays.
        assert "fund_draw" in kinds
        assert not {"adl", "bad_debt"} & set(kinds)
        draw = next(e for e in answer["liquidation"] if e["kind"] == "fund_draw")
        assert set(draw["data"]["deltas"]) == {"wreck", "_insurance_fund"}
    else:
        # No fund: the short is deleveraged at the bankruptcy price, the rest is bad debt.
        assert {"adl", "bad_debt"} <= set(kinds)
        sides = [e for e in answer["liquidation"] if e["kind"] == "adl"]
        assert {e["account"] for e in sides} == {"wreck", "shorty"}
        assert sides[0]["data"]["price"] == sides[1]["data"]["price"]
        assert Decimal(sides[0]["data"]["quantity"]) == -Decimal(sides[1]["data"]["quantity"])
        written = client.get("/v1/insurance-fund", headers=book).json()["bad_debt"]
        assert Decimal(written["balances"]["USDC"]) > 0
        assert wreck["bad_debt"]["USDC"] == written["balances"]["USDC"]
        shorty = client.get("/v1/accounts/shorty/liquidations", headers=book).json()
        assert shorty["adl_fills"] >= 1
    # The bankrupt account ends at zero equity, its balances settled.
    equity = client.get("/v1/accounts/wreck/margin", headers=book).json()["accounts"][0]
    assert equity["equity"] == pytest.approx(0.0, abs=1e-6)


def test_a_paused_underlying_is_not_liquidated_until_it_resumes(
    client: TestClient, book: dict[str, str], store: Engine
) -> None:
    bad = {"underlying": "BTC", "index": 50_000.0, "timestamp": _t(2)}
    r = client.post("/v1/market/ticks", json={"ticks": [bad]}, headers=book)
    assert r.json()["paused"] == ["BTC"]
    # A fill takes the account below maintenance while BTC is paused.
    fill = {"instrument": PERP, "quantity": "2", "price": ENTRY}
    client.post("/v1/accounts/lev/fills", json=fill, headers=book)
    r = client.post("/v1/market/ticks", json=_ticks(3, 101_654.0), headers=book)
    assert r.status_code == 200, r.json()
    assert r.json()["paused"] == ["BTC"]
    kinds = [e["kind"] for e in r.json()["liquidation"]]
    assert not {"liquidation", "adl"} & set(kinds)
    assert client.get("/v1/accounts/lev/liquidations", headers=book).json()["state"] in (
        "none",
        "paused",
    )
    assert client.get("/v1/accounts/lev", headers=book).json()["positions"][0]["quantity"] == "3"
    # Clean ticks after the cool-down resume BTC: then the account is liquidated.
    for second in range(10, 80, 5):
        r = client.post("/v1/market/ticks", json=_ticks(second, 101_654.0), headers=book)
        assert r.status_code == 200, r.json()
        if r.json()["paused"] == []:
            break
    assert r.json()["paused"] == []
    assert "liquidation" in [e["kind"] for e in r.json()["liquidation"]]


def test_liquidation_is_published_only_once_committed(
    client: TestClient, book: dict[str, str], store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill = {"instrument": PERP, "quantity": "2", "price": ENTRY}
    client.post("/v1/accounts/lev/fills", json=fill, headers=book)
    last = client.get("/v1/events", headers=book).json()["last"]

    def fail(*_: Any) -> Any:
        raise RuntimeError("crash after the liquidation was booked, before the commit")

    # A failure after the steps were booked rolls the whole request back: nothing published.
    monkeypatch.setattr(ticks_module, "market_document_of", fail)
    r = client.post("/v1/market/ticks", json=_ticks(2, 99_500.0), headers=book)
    assert r.status_code == 500
    assert client.get("/v1/events", params={"after": last}, headers=book).json()["events"] == []
    assert client.get("/v1/accounts/lev", headers=book).json()["positions"][0]["quantity"] == "3"
    monkeypatch.undo()
    with client.websocket_connect(f"/v1/ws?after={last}", headers=book) as ws:
        r = client.post("/v1/market/ticks", json=_ticks(2, 99_500.0), headers=book)
        assert r.status_code == 200, r.json()
        answer = r.json()
        streamed = [ws.receive_json()]
        while streamed[-1]["seq"] != answer["seq"]:  # PostgreSQL: the failed request's seqs
            streamed.append(ws.receive_json())  # are never used (a gap), hence no count
    listed = client.get("/v1/events", params={"after": last}, headers=book).json()["events"]
    assert streamed == listed  # the stream carries what the ledger holds, in seq order
    kinds = [e["kind"] for e in listed]
    # Order: the tick's status events, the episode, the statuses it caused, margin, tick.
    first, end = kinds.index("liquidation_triggered"), kinds.index("liquidation_finished")
    assert kinds[end + 1 :] == ["status", "margin", "tick"]
    episode = [e["seq"] for e in listed[first : end + 1] if e["kind"] != "account_created"]
    assert [e["seq"] for e in answer["liquidation"]] == episode  # (the fund opens on first use)


def test_margin_updates_reach_each_account_alone(
    client: TestClient, book: dict[str, str], store: Engine
) -> None:
    r = client.post("/v1/market/ticks", json=_ticks(2, 101_000.0), headers=book)
    margin = r.json()["margin"]
    assert margin["accounts"] == 2
    listed = client.get("/v1/events", params={"after": margin["seq"] - 1}, headers=book).json()
    event = listed["events"][0]
    assert (event["kind"], event["account"]) == ("margin", None)
    assert event["data"]["fields"] == ["equity", "initial_margin", "maintenance_margin", "status"]
    lev = client.get("/v1/accounts/lev/margin", params={"model": "deribit"}, headers=book).json()
    equity, _, _, status = event["data"]["accounts"]["lev"]
    assert equity == pytest.approx(lev["accounts"][0]["equity"], rel=1e-9)
    assert status == lev["accounts"][0]["status"]
    trader = {"Authorization": f"Bearer {create_key(store, 'trader', 'lev')}"}
    mine = client.get("/v1/events", headers=trader).json()["events"]
    updates = [e for e in mine if e["kind"] == "margin"]
    assert updates
    assert all(list(e["data"]["accounts"]) == ["lev"] for e in updates)
    # A tick that changes nothing writes no margin event.
    r = client.post("/v1/market/ticks", json=_ticks(3, 101_000.0), headers=book)
    assert r.json()["margin"] is None
    # Reads of the fund and of liquidations: admin, and a trader for its own account only.
    assert client.get("/v1/insurance-fund", headers=trader).status_code == 403
    assert client.get("/v1/accounts/lev/liquidations", headers=trader).status_code == 200
    assert client.get("/v1/accounts/shorty/liquidations", headers=trader).status_code == 404
    assert client.get("/v1/insurance-fund", headers=book).json()["balances"] == {}
    # System accounts are not the clients' to open or trade in.
    assert (
        client.post("/v1/accounts", json={"id": "_insurance_fund"}, headers=book).status_code == 422
    )
    fill = {"instrument": PERP, "quantity": "1", "price": ENTRY}
    client.post(
        "/v1/accounts/_insurance_fund/deposits", json={"asset": "USD", "amount": "1"}, headers=book
    )
    r = client.post("/v1/accounts/_insurance_fund/fills", json=fill, headers=book)
    assert r.status_code == 409


def test_a_restarted_server_goes_on_liquidating(
    client: TestClient, book: dict[str, str], store: Engine
) -> None:
    fill = {"instrument": PERP, "quantity": "2", "price": ENTRY}
    client.post("/v1/accounts/lev/fills", json=fill, headers=book)
    with TestClient(create_app(store)) as again:
        r = again.post("/v1/market/ticks", json=_ticks(2, 99_500.0), headers=book)
        assert r.status_code == 200, r.json()
        assert "liquidation" in [e["kind"] for e in r.json()["liquidation"]]
    r = client.post("/v1/market/ticks", json=_ticks(3, 99_400.0), headers=book)
    assert r.status_code == 200, r.json()
    with Session(store) as session:
        assert rebuild(session).positions == stored_holdings(session).positions


def test_a_failing_engine_keeps_the_ticks_and_tries_again(
    client: TestClient, book: dict[str, str], store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill = {"instrument": PERP, "quantity": "2", "price": ENTRY}
    client.post("/v1/accounts/lev/fills", json=fill, headers=book)

    def fail(*_: Any) -> Any:
        raise PmarginError("the model cannot margin this account")

    monkeypatch.setattr(ticks_module, "liquidate_monitor", fail)
    r = client.post("/v1/market/ticks", json=_ticks(2, 99_500.0), headers=book)
    assert r.status_code == 200, r.json()
    (failed,) = r.json()["liquidation"]
    assert (failed["kind"], failed["data"]["reason"]) == (
        "liquidation_failed",
        "the model cannot margin this account",
    )
    assert client.get("/v1/accounts/lev", headers=book).json()["positions"][0]["quantity"] == "3"
    monkeypatch.undo()
    r = client.post("/v1/market/ticks", json=_ticks(3, 99_500.0), headers=book)
    assert "liquidation" in [e["kind"] for e in r.json()["liquidation"]]

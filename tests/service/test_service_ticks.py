"""``POST /v1/market/ticks``: breakers, the monitor, statuses persisted, reads at the new market."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pmargin.service import create_app, create_key

PERP = "BTC_USDC-PERPETUAL"


def _t(second: int) -> str:
    return f"2025-11-13T00:00:{second:02d}Z"


@pytest.fixture
def levered(client: TestClient, admin: dict[str, str], market: dict[str, Any]) -> str:
    """An account long 1 BTC of the linear perpetual on 18,500 USDC, at the example market."""
    client.post("/v1/accounts", json={"id": "lev"}, headers=admin)
    client.post(
        "/v1/accounts/lev/deposits", json={"asset": "USDC", "amount": "18500"}, headers=admin
    )
    client.put("/v1/market", json=market, headers=admin)
    fill = {"instrument": PERP, "quantity": "1", "price": "101654"}
    assert client.post("/v1/accounts/lev/fills", json=fill, headers=admin).status_code == 200
    return "lev"


def _ticks(second: int, index: float) -> list[dict[str, Any]]:
    """The index and the perpetual's mark (its value follows its mark, not the index)."""
    return [
        {"underlying": "BTC", "index": index, "timestamp": _t(second)},
        {"instrument": PERP, "mark": index, "timestamp": _t(second)},
    ]


def _margin(client: TestClient, headers: dict[str, str], account: str) -> dict[str, Any]:
    found = client.get(f"/v1/accounts/{account}/margin", headers=headers).json()
    first: dict[str, Any] = found["accounts"][0]
    return first


def test_ticks_move_health_and_persist_status_changes(
    client: TestClient, admin: dict[str, str], store: Engine, levered: str
) -> None:
    feed = {"Authorization": f"Bearer {create_key(store, 'feed')}"}
    before = _margin(client, admin, levered)
    assert before["status"] == "healthy"
    seen = []
    for second, index in ((1, 100_000.0), (2, 99_000.0), (3, 98_500.0), (4, 97_800.0)):
        r = client.post("/v1/market/ticks", json={"ticks": _ticks(second, index)}, headers=feed)
        assert r.status_code == 200, r.json()
        assert r.json()["paused"] == []
        seen.extend(r.json()["events"])
        after = _margin(client, admin, levered)
        # The reads margin at the market the monitor holds: the same figures.
        for name in ("equity", "initial_margin", "maintenance_margin"):
            if r.json()["events"]:
                event = r.json()["events"][-1]
                assert event[name] == pytest.approx(after[name], rel=1e-9), name
    assert seen, "a 3.8 % fall should worsen a 5x long"
    assert [e["new"] for e in seen][-1] == _margin(client, admin, levered)["status"]
    assert all(e["account"] == levered for e in seen)
    stored = client.get("/v1/events", params={"after": 0}, headers=admin).json()["events"]
    kinds = [e["kind"] for e in stored]
    assert kinds.count("tick") == 4
    assert kinds.count("status") == len(seen)
    trader = {"Authorization": f"Bearer {create_key(store, 'trader', levered)}"}
    mine = client.get("/v1/events", headers=trader).json()["events"]
    assert [e["kind"] for e in mine if e["kind"] == "status"] == ["status"] * len(seen)


def test_a_bad_tick_pauses_and_is_not_applied(
    client: TestClient, admin: dict[str, str], levered: str
) -> None:
    equity = _margin(client, admin, levered)["equity"]
    bad = {"underlying": "BTC", "index": 50_000.0, "timestamp": _t(1)}
    r = client.post("/v1/market/ticks", json={"ticks": [bad]}, headers=admin)
    assert r.status_code == 200, r.json()
    assert r.json()["paused"] == ["BTC"]
    pause = r.json()["events"][0]
    assert (pause["event"], pause["field"]) == ("liquidation_pause", "update.index.BTC")
    assert _margin(client, admin, levered)["equity"] == pytest.approx(equity, rel=1e-12)
    kinds = [e["kind"] for e in client.get("/v1/events", headers=admin).json()["events"]]
    assert kinds[-2:] == ["breaker", "tick"]


def test_the_book_changes_between_ticks(
    client: TestClient, admin: dict[str, str], store: Engine, levered: str
) -> None:
    r = client.post("/v1/market/ticks", json={"ticks": _ticks(1, 101_000.0)}, headers=admin)
    assert r.status_code == 200
    fill = {"instrument": PERP, "quantity": "2", "price": "101000"}
    client.post(f"/v1/accounts/{levered}/fills", json=fill, headers=admin)
    at_fill = _margin(client, admin, levered)
    r = client.post("/v1/market/ticks", json={"ticks": _ticks(2, 99_500.0)}, headers=admin)
    assert r.status_code == 200, r.json()
    # 3 BTC long on 18,500 USDC: the fill itself took it below maintenance (cause: book).
    event = r.json()["events"][0]
    assert (event["cause"], event["old"], event["new"]) == ("book", "healthy", "liquidation")
    for name in ("equity", "initial_margin", "maintenance_margin"):
        assert event[name] == pytest.approx(at_fill[name], rel=1e-9), name
    # Below maintenance: the tick liquidated it back to the target (docs/liquidation.md).
    kinds = [e["kind"] for e in r.json()["liquidation"]]
    assert (kinds[0], kinds[-1]) == ("liquidation_triggered", "liquidation_finished")
    assert {"liquidation", "penalty"} <= set(kinds)
    after = r.json()["events"][-1]
    assert (after["cause"], after["old"]) == ("liquidation", "liquidation")
    assert _margin(client, admin, levered)["status"] == after["new"] != "liquidation"
    assert _margin(client, admin, levered)["equity"] < at_fill["equity"]
    # A new server process over the same store goes on from the stored market.
    with TestClient(create_app(store)) as again:
        r = again.post("/v1/market/ticks", json={"ticks": _ticks(3, 99_400.0)}, headers=admin)
        assert r.status_code == 200, r.json()


def test_ticks_refusals(
    client: TestClient, admin: dict[str, str], store: Engine, market: dict[str, Any]
) -> None:
    tick = {"underlying": "BTC", "index": 101_000.0, "timestamp": _t(1)}
    assert client.post("/v1/market/ticks", json={"ticks": [tick]}, headers=admin).status_code == 409
    client.put("/v1/market", json=market, headers=admin)
    assert client.post("/v1/market/ticks", json={"ticks": [tick]}, headers=admin).status_code == 409
    client.post("/v1/accounts", json={"id": "a"}, headers=admin)
    trader = {"Authorization": f"Bearer {create_key(store, 'trader', 'a')}"}
    assert (
        client.post("/v1/market/ticks", json={"ticks": [tick]}, headers=trader).status_code == 403
    )
    assert client.post("/v1/market/ticks", json={"ticks": [tick]}).status_code == 401
    for bad, field in (
        ({"underlying": "BTC", "timestamp": _t(1)}, "ticks.0"),
        ({"underlying": "BTC", "index": 1.0, "mark": 2.0, "timestamp": _t(1)}, "ticks.0"),
        ({"instrument": PERP, "mark": 1.0, "iv": 0.5, "timestamp": _t(1)}, "ticks.0"),
        ({"underlying": "BTC", "index": 1.0}, "ticks.0.timestamp"),
    ):
        r = client.post("/v1/market/ticks", json={"ticks": [bad]}, headers=admin)
        assert r.status_code == 422, r.json()
        assert r.json()["field"] == field
    once = admin | {"Idempotency-Key": "t-1"}
    first = client.post("/v1/market/ticks", json={"ticks": [tick]}, headers=once)
    again = client.post("/v1/market/ticks", json={"ticks": [tick]}, headers=once)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    old = {"underlying": "BTC", "index": 101_000.0, "timestamp": "2025-11-12T23:00:00Z"}
    r = client.post("/v1/market/ticks", json={"ticks": [old]}, headers=admin)
    assert r.status_code == 422
    assert r.json()["field"] == "update.timestamp"
    later = {"underlying": "BTC", "index": 101_100.0, "timestamp": _t(5)}
    assert (
        client.post("/v1/market/ticks", json={"ticks": [later]}, headers=admin).status_code == 200
    )


def test_changed_figures_equal_their_reference(market: dict[str, Any]) -> None:
    from pmargin.engine import (
        changed_figures,
        changed_figures_reference,
        margin_figures,
        monitor_rebooked,
        start_monitor,
        tick_update,
    )

    def account(name: str, symbol: str, quantity: float) -> dict[str, Any]:
        positions = [{"instrument": symbol, "quantity": quantity, "unit": "native"}]
        return {"id": name, "balances": {"USDC": 20_000.0}, "positions": positions}

    book = {
        "accounts": [
            account("btc", PERP, 1.0),
            account("eth", "ETH_USDC-PERPETUAL", 5.0),
            account("cash", PERP, 0.0) | {"positions": []},
        ]
    }
    monitor = start_monitor(book, market, "standard")
    before = margin_figures(monitor)
    monitor.apply(tick_update({"underlying": "BTC", "index": 99_000.0, "timestamp": _t(1)}))
    monitor.apply(tick_update({"instrument": PERP, "mark": 99_000.0, "timestamp": _t(1)}))
    found = changed_figures(before, monitor)
    assert list(found) == ["btc"]  # only what the tick touched
    assert found == changed_figures_reference(before, monitor)
    assert changed_figures(margin_figures(monitor), monitor) == {}
    # A book with one more account: the new account counts as changed.
    grown = monitor_rebooked(monitor, {"accounts": [*book["accounts"], account("new", PERP, 2.0)]})
    assert changed_figures(before, grown) == changed_figures_reference(before, grown)
    assert {"btc", "new"} <= set(changed_figures(before, grown))


def test_a_deposit_the_market_cannot_price_is_refused(
    client: TestClient, admin: dict[str, str], levered: str
) -> None:
    # One account holding an asset the market has no USD price for would stop every tick's
    # monitor: the deposit is refused, naming the asset; ticks go on.
    r = client.post(
        f"/v1/accounts/{levered}/deposits", json={"asset": "SOL", "amount": "3"}, headers=admin
    )
    assert r.status_code == 422, r.json()
    assert r.json()["field"] == "asset"
    assert "SOL" in r.json()["reason"]
    assert "SOL" not in client.get(f"/v1/accounts/{levered}", headers=admin).json()["balances"]
    r = client.post("/v1/market/ticks", json={"ticks": _ticks(1, 100_000.0)}, headers=admin)
    assert r.status_code == 200, r.json()
    # Priced assets (an index, a price, USD) are accepted.
    for asset in ("ETH", "USDT", "USD"):
        body = {"asset": asset, "amount": "1"}
        r = client.post(f"/v1/accounts/{levered}/deposits", json=body, headers=admin)
        assert r.status_code == 200, (asset, r.json())


def test_without_a_market_any_asset_is_deposited(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/v1/accounts", json={"id": "early"}, headers=admin)
    r = client.post(
        "/v1/accounts/early/deposits", json={"asset": "SOL", "amount": "3"}, headers=admin
    )
    assert r.status_code == 200, r.json()

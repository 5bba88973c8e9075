"""WebSocket ``/v1/ws``: history after a seq, then live events; reconnect misses nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.websockets import WebSocketDisconnect

from pmargin.service import create_key

MONEY = {"asset": "BTC", "amount": "1"}


def _bearer(store: Engine, role: str, account: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(store, role, account)}"}


def _take(ws: Any, n: int) -> list[dict[str, Any]]:
    return [ws.receive_json() for _ in range(n)]


def test_history_then_live_then_reconnect(
    client: TestClient, admin: dict[str, str], market: dict[str, Any]
) -> None:
    client.post("/v1/accounts", json={"id": "a1"}, headers=admin)
    client.post("/v1/accounts/a1/deposits", json=MONEY, headers=admin)
    with client.websocket_connect("/v1/ws?after=0", headers=admin) as ws:
        history = _take(ws, 2)
        assert [e["kind"] for e in history] == ["account_created", "deposit"]
        listed = client.get("/v1/events", params={"after": 0}, headers=admin).json()["events"]
        assert history == listed  # the same events as GET /v1/events
        client.put("/v1/market", json=market, headers=admin)
        live = ws.receive_json()
        assert (live["kind"], live["seq"]) == ("market", history[-1]["seq"] + 1)
    last = live["seq"]
    # Disconnected: writes go on; a reconnect after the last seq gets them, then live ones.
    for _ in range(3):
        client.post("/v1/accounts/a1/deposits", json=MONEY, headers=admin)
    with client.websocket_connect(f"/v1/ws?after={last}", headers=admin) as ws:
        missed = _take(ws, 3)
        assert [e["seq"] for e in missed] == [last + 1, last + 2, last + 3]
        client.post("/v1/accounts/a1/withdrawals", json=MONEY, headers=admin)
        assert ws.receive_json()["seq"] == last + 4
    everything = client.get("/v1/events", params={"after": 0}, headers=admin).json()["events"]
    assert [e["seq"] for e in everything] == list(range(1, last + 5))


def test_a_trader_sees_only_its_account(
    client: TestClient, admin: dict[str, str], store: Engine, market: dict[str, Any]
) -> None:
    for account in ("mine", "theirs"):
        client.post("/v1/accounts", json={"id": account}, headers=admin)
    trader = _bearer(store, "trader", "mine")
    client.post("/v1/accounts/theirs/deposits", json=MONEY, headers=admin)
    client.put("/v1/market", json=market, headers=admin)
    with client.websocket_connect("/v1/ws", headers=trader) as ws:
        first = ws.receive_json()
        assert (first["kind"], first["account"]) == ("account_created", "mine")
        client.post("/v1/accounts/theirs/deposits", json=MONEY, headers=admin)
        client.post("/v1/accounts/mine/deposits", json=MONEY, headers=trader)
        nxt = ws.receive_json()
        assert (nxt["kind"], nxt["account"]) == ("deposit", "mine")
        assert nxt["seq"] == first["seq"] + 5  # the others' events were skipped, not delayed


@pytest.mark.parametrize("role", [None, "bad", "feed"])
def test_the_handshake_needs_an_admin_or_trader_key(
    client: TestClient, store: Engine, role: str | None
) -> None:
    headers: dict[str, str] = {}
    if role == "bad":
        headers = {"Authorization": "Bearer pmk_nope_nope"}
    elif role is not None:
        headers = _bearer(store, role)
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/v1/ws", headers=headers) as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 1008

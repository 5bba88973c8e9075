"""The REST API in process (FastAPI TestClient): auth, roles, idempotency, errors, margin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmargin.cli.main import app as cli
from pmargin.engine import EXAMPLE_MARKET, example_path
from pmargin.service import create_app, create_key, open_store
from pmargin.service._tables import EventRow

PERP = "BTC-PERPETUAL"


def _key(store: Engine, role: str, account: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(store, role, account)}"}


def _open(client: TestClient, admin: dict[str, str], account: str = "a1") -> None:
    assert client.post("/v1/accounts", json={"id": account}, headers=admin).status_code == 201


def _events(store: Engine) -> int:
    with Session(store) as session:
        return int(session.scalar(select(func.count()).select_from(EventRow)) or 0)


def test_account_lifecycle(client: TestClient, admin: dict[str, str], market: dict) -> None:
    _open(client, admin)
    r = client.post(
        "/v1/accounts/a1/deposits", json={"asset": "btc", "amount": "1.5"}, headers=admin
    )
    assert r.status_code == 200
    assert r.json()["balances"] == {"BTC": "1.5"}
    assert client.put("/v1/market", json=market, headers=admin).status_code == 200
    fill = {"instrument": PERP, "quantity": "10000", "price": 101000, "fee": "0.0001"}
    r = client.post("/v1/accounts/a1/fills", json=fill, headers=admin)
    assert r.status_code == 200, r.json()
    body = client.get("/v1/accounts/a1", headers=admin).json()
    assert body == {
        "id": "a1",
        "balances": {"BTC": "1.4999"},
        "positions": [
            {"instrument": PERP, "quantity": "10000", "unit": "native", "avg_price": "101000"}
        ],
    }
    events = client.get("/v1/events", params={"after": 0}, headers=admin).json()
    assert [e["kind"] for e in events["events"]] == ["account_created", "deposit", "market", "fill"]
    assert events["last"] == events["events"][-1]["seq"]
    later = client.get("/v1/events", params={"after": events["events"][1]["seq"]}, headers=admin)
    assert [e["kind"] for e in later.json()["events"]] == ["market", "fill"]


def test_account_margin_is_pmargin_margin_json(
    client: TestClient, admin: dict[str, str], market: dict, portfolio_file: Any
) -> None:
    _open(client, admin)
    client.post("/v1/accounts/a1/deposits", json={"asset": "BTC", "amount": "2"}, headers=admin)
    client.put("/v1/market", json=market, headers=admin)
    for symbol, q, p in ((PERP, "-20000", "101500"), ("BTC-28NOV25-95000-P", "-1", "0.0135")):
        fill = {"instrument": symbol, "quantity": q, "price": p}
        assert client.post("/v1/accounts/a1/fills", json=fill, headers=admin).status_code == 200
    served = client.get("/v1/accounts/a1/margin", params={"model": "standard"}, headers=admin)
    assert served.status_code == 200
    path = portfolio_file("a1", admin)
    run = CliRunner().invoke(
        cli,
        [
            "margin",
            "-p",
            str(path),
            "-m",
            str(example_path(EXAMPLE_MARKET)),
            "--model",
            "standard",
            "--json",
        ],
    )
    assert run.exit_code == 0, run.output
    assert served.json() == json.loads(run.output)


def test_stateless_margin_equals_the_cli_for_the_example(
    client: TestClient, admin: dict[str, str], market: dict
) -> None:
    portfolio_file = example_path("example_portfolio.json")
    portfolio = json.loads(portfolio_file.read_text())
    for model in ("deribit", "standard"):
        body = {"portfolio": portfolio, "market": market, "model": model}
        served = client.post("/v1/margin", json=body, headers=admin)
        assert served.status_code == 200, served.json()
        run = CliRunner().invoke(
            cli,
            [
                "margin",
                "-p",
                str(portfolio_file),
                "-m",
                str(example_path(EXAMPLE_MARKET)),
                "--model",
                model,
                "--json",
            ],
        )
        assert run.exit_code == 0, run.output
        assert served.json() == json.loads(run.output)  # identical numbers, bit for bit


def test_withdrawals_refused_with_409(
    client: TestClient, admin: dict[str, str], market: dict
) -> None:
    _open(client, admin)
    client.post("/v1/accounts/a1/deposits", json={"asset": "BTC", "amount": "1"}, headers=admin)
    over = client.post(
        "/v1/accounts/a1/withdrawals", json={"asset": "BTC", "amount": "1.01"}, headers=admin
    )
    assert over.status_code == 409
    assert over.json()["error"] == "conflict"
    assert "exceeds the balance" in over.json()["reason"]
    fill = {"instrument": PERP, "quantity": "50000", "price": "101654"}
    client.post("/v1/accounts/a1/fills", json=fill, headers=admin)
    no_market = client.post(
        "/v1/accounts/a1/withdrawals", json={"asset": "BTC", "amount": "0.1"}, headers=admin
    )
    assert no_market.status_code == 409
    assert "no market" in no_market.json()["reason"]
    client.put("/v1/market", json=market, headers=admin)
    below = client.post(
        "/v1/accounts/a1/withdrawals", json={"asset": "BTC", "amount": "0.99"}, headers=admin
    )
    assert below.status_code == 409
    assert below.json()["equity"] < below.json()["initial_margin"]
    ok = client.post(
        "/v1/accounts/a1/withdrawals", json={"asset": "BTC", "amount": "0.5"}, headers=admin
    )
    assert ok.status_code == 200
    assert ok.json()["balances"] == {"BTC": "0.5"}


def test_roles_and_isolation(
    client: TestClient, admin: dict[str, str], store: Engine, market: dict
) -> None:
    _open(client, admin, "mine")
    _open(client, admin, "theirs")
    trader = _key(store, "trader", "mine")
    feed = _key(store, "feed")
    money = {"asset": "BTC", "amount": "1"}
    fill = {"instrument": PERP, "quantity": "10", "price": "100000"}
    requests: list[tuple[str, str, Any]] = [
        ("GET", "/v1/accounts/{a}", None),
        ("POST", "/v1/accounts/{a}/deposits", money),
        ("POST", "/v1/accounts/{a}/withdrawals", money),
        ("POST", "/v1/accounts/{a}/fills", fill),
        ("GET", "/v1/accounts/{a}/margin", None),
        ("GET", "/v1/accounts/{a}/risk-matrix", None),
        ("GET", "/v1/accounts/{a}/liquidation", None),
        ("POST", "/v1/accounts/{a}/orders/check", {"instrument": PERP, "quantity": 10}),
        ("POST", "/v1/accounts/{a}/withdrawals/check", money),
    ]
    for method, path, body in requests:
        other = client.request(method, path.format(a="theirs"), json=body, headers=trader)
        assert other.status_code == 404, (path, other.json())
        missing = client.request(method, path.format(a="nobody"), json=body, headers=trader)
        assert missing.json() == other.json() | {"reason": missing.json()["reason"]}
        nokey = client.request(method, path.format(a="mine"), json=body)
        assert nokey.status_code == 401
        assert nokey.json()["error"] == "unauthorized"
        assert (
            client.request(method, path.format(a="mine"), json=body, headers=feed).status_code
            == 403
        )
    assert client.get("/v1/accounts/mine", headers=trader).status_code == 200
    assert client.post("/v1/accounts", json={"id": "x"}, headers=trader).status_code == 403
    assert client.put("/v1/market", json=market, headers=trader).status_code == 403
    assert client.put("/v1/market", json=market, headers=feed).status_code == 200
    assert client.get("/v1/events", headers=feed).status_code == 403
    client.post("/v1/accounts/mine/deposits", json=money, headers=trader)
    client.post("/v1/accounts/theirs/deposits", json=money, headers=admin)
    seen = {e["account"] for e in client.get("/v1/events", headers=trader).json()["events"]}
    assert seen == {"mine"}
    wrong = {"Authorization": trader["Authorization"][:-2] + "xx"}
    assert client.get("/v1/accounts/mine", headers=wrong).status_code == 401
    assert (
        client.get("/v1/accounts/mine", headers={"Authorization": "Basic abc"}).status_code == 401
    )


def test_every_path_needs_a_key(client: TestClient, market: dict) -> None:
    for method, path in [
        ("POST", "/v1/accounts"),
        ("GET", "/v1/accounts/a"),
        ("POST", "/v1/accounts/a/deposits"),
        ("POST", "/v1/accounts/a/withdrawals"),
        ("POST", "/v1/accounts/a/fills"),
        ("GET", "/v1/accounts/a/margin"),
        ("GET", "/v1/accounts/a/risk-matrix"),
        ("GET", "/v1/accounts/a/liquidation"),
        ("POST", "/v1/accounts/a/orders/check"),
        ("POST", "/v1/accounts/a/withdrawals/check"),
        ("PUT", "/v1/market"),
        ("POST", "/v1/market/ticks"),
        ("POST", "/v1/margin"),
        ("GET", "/v1/events"),
    ]:
        r = client.request(method, path, json={})
        assert r.status_code == 401, (method, path, r.json())
        assert r.json()["error"] == "unauthorized"


def test_idempotent_writes_across_a_restart(
    client: TestClient, admin: dict[str, str], store: Engine, tmp_path: Path
) -> None:
    _open(client, admin)
    key = {"Idempotency-Key": "dep-1"} | admin
    money = {"asset": "BTC", "amount": "0.25"}
    first = client.post("/v1/accounts/a1/deposits", json=money, headers=key)
    again = client.post("/v1/accounts/a1/deposits", json=money, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    count = _events(store)
    restarted = open_store(str(store.url))
    with TestClient(create_app(restarted)) as fresh:
        third = fresh.post("/v1/accounts/a1/deposits", json=money, headers=key)
        assert third.json() == first.json()
        reused = fresh.post("/v1/accounts/a1/deposits", json=money | {"amount": "1"}, headers=key)
        assert reused.status_code == 422
        assert reused.json()["field"] == "Idempotency-Key"
        balance = fresh.get("/v1/accounts/a1", headers=admin).json()["balances"]
    restarted.dispose()
    assert _events(store) == count
    assert balance == {"BTC": "0.25"}
    created = client.post(
        "/v1/accounts", json={"id": "a2"}, headers={"Idempotency-Key": "c"} | admin
    )
    assert created.status_code == 201
    replay = client.post(
        "/v1/accounts", json={"id": "a2"}, headers={"Idempotency-Key": "c"} | admin
    )
    assert replay.status_code == 201
    assert replay.json() == created.json()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/accounts/a1/deposits", {"asset": "BTC", "amount": "-1"}, "amount"),
        ("/v1/accounts/a1/deposits", {"asset": "BTC", "amount": "Infinity"}, "amount"),
        ("/v1/accounts/a1/deposits", {"asset": "B TC", "amount": "1"}, "asset"),
        ("/v1/accounts/a1/deposits", {"asset": "BTC", "amount": "1", "x": 1}, "x"),
        ("/v1/accounts/a1/deposits", {"asset": "BTC"}, "amount"),
        (
            "/v1/accounts/a1/fills",
            {"instrument": "NOPE", "quantity": "1", "price": "1"},
            "instrument",
        ),
        ("/v1/accounts/a1/fills", {"instrument": PERP, "quantity": "0", "price": "1"}, "quantity"),
        ("/v1/accounts", {"id": ""}, "id"),
    ],
)
def test_bad_input_is_4xx_json_naming_the_field(
    client: TestClient, admin: dict[str, str], path: str, body: dict, field: str
) -> None:
    _open(client, admin)
    r = client.post(path, json=body, headers=admin)
    assert r.status_code == 422, r.json()
    assert r.json()["error"] == "invalid"
    assert field in (r.json()["field"] or "")


def test_bad_market_names_the_field(client: TestClient, admin: dict[str, str]) -> None:
    r = client.put(
        "/v1/market",
        json={"timestamp": "2025-11-13T00:00:00Z", "index": {"BTC": -1}},
        headers=admin,
    )
    assert r.status_code == 422
    assert r.json()["field"] == "index.BTC"
    r = client.put("/v1/market", json={"index": {}}, headers=admin)
    assert r.status_code == 422
    assert r.json()["field"] == "timestamp"


def test_body_limit_and_no_stack_trace(
    store: Engine, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(store, max_body=200), raise_server_exceptions=False) as small:
        r = small.post("/v1/accounts", content=b"{" + b" " * 500 + b"}", headers=admin)
        assert r.status_code == 413
        assert r.json()["field"] == "body"
        r = small.post(
            "/v1/accounts",
            content=b"{not json",
            headers=admin | {"Content-Type": "application/json"},
        )
        assert r.status_code == 422
        assert r.json()["error"] == "invalid"

        def broken(*_: Any) -> None:
            raise RuntimeError("secret detail")

        monkeypatch.setattr("pmargin.service._ledger.create_account", broken)
        r = small.post("/v1/accounts", json={"id": "a"}, headers=admin)
        assert r.status_code == 500
        assert r.json() == {"error": "internal", "field": None, "reason": "internal error"}
        assert "secret" not in r.text
        assert "Traceback" not in r.text


def test_openapi_lists_the_paths(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/accounts",
        "/v1/accounts/{account_id}",
        "/v1/accounts/{account_id}/deposits",
        "/v1/accounts/{account_id}/withdrawals",
        "/v1/accounts/{account_id}/fills",
        "/v1/accounts/{account_id}/margin",
        "/v1/accounts/{account_id}/risk-matrix",
        "/v1/accounts/{account_id}/liquidation",
        "/v1/accounts/{account_id}/orders/check",
        "/v1/accounts/{account_id}/withdrawals/check",
        "/v1/market",
        "/v1/market/ticks",
        "/v1/margin",
        "/v1/events",
    } <= set(paths)

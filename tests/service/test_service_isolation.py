"""Every endpoint of the OpenAPI document, tried with no key, another account's key and a feed key.

The test iterates over ``/openapi.json``, so an endpoint added later is tried too: it fails until
the endpoint has its line in :data:`EXPECTED` (a valid body and the status each key must get),
which makes whoever adds an endpoint decide who may call it. For every operation:

* no ``Authorization`` header: 401 (``"error": "unauthorized"``);
* a trader key of another account: 404 on the account-scoped paths, answered exactly as for an
  account that does not exist (nothing tells the two apart), else the status listed;
* a feed key: 403 where the role may not call it (``"error": "forbidden"``), else the status
  listed.

Bodies are valid for their schema, so that a refusal is the key's and not the body's.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pmargin.service import create_key

PERP = "BTC-PERPETUAL"
MONEY = {"asset": "BTC", "amount": "0.5"}
TICKS = {"ticks": [{"underlying": "BTC", "index": 101700.0, "timestamp": "2025-11-13T00:00:01Z"}]}
METHODS = ("get", "put", "post", "delete", "patch")

# (method, path) -> (body, or query of a GET; status for a trader key of another account;
# status for a feed key). "market" stands for the example market document, "margin" for a
# stateless margin request. Path parameters other than account_id come from PATH_VALUES.
EXPECTED: dict[tuple[str, str], tuple[Any, int, int]] = {
    ("POST", "/v1/accounts"): ({"id": "new"}, 403, 403),
    ("GET", "/v1/accounts/{account_id}"): (None, 404, 403),
    ("POST", "/v1/accounts/{account_id}/deposits"): (MONEY, 404, 403),
    ("POST", "/v1/accounts/{account_id}/withdrawals"): (MONEY, 404, 403),
    ("POST", "/v1/accounts/{account_id}/fills"): (
        {"instrument": PERP, "quantity": "10", "price": "100000"},
        404,
        403,
    ),
    ("GET", "/v1/accounts/{account_id}/margin"): (None, 404, 403),
    ("GET", "/v1/accounts/{account_id}/risk-matrix"): (None, 404, 403),
    ("GET", "/v1/accounts/{account_id}/liquidation"): (None, 404, 403),
    ("POST", "/v1/accounts/{account_id}/orders/check"): (
        {"instrument": PERP, "quantity": 10},
        404,
        403,
    ),
    ("POST", "/v1/accounts/{account_id}/withdrawals/check"): (MONEY, 404, 403),
    ("PUT", "/v1/market"): ("market", 403, 200),
    ("GET", "/v1/market"): (None, 403, 200),
    ("POST", "/v1/market/ticks"): (TICKS, 403, 200),
    ("POST", "/v1/margin"): ("margin", 200, 200),
    ("GET", "/v1/events"): (None, 200, 403),
    ("GET", "/v1/insurance-fund"): (None, 403, 403),
    ("GET", "/v1/accounts/{account_id}/liquidations"): (None, 404, 403),
    ("POST", "/v1/accounts/{account_id}/hedge-proposal"): ({}, 404, 403),
    # the dashboard's reads
    ("GET", "/v1/dashboard/me"): (None, 200, 200),
    ("GET", "/v1/dashboard/venue"): (None, 403, 403),
    ("GET", "/v1/dashboard/accounts/{account_id}/models"): (None, 404, 403),
    ("GET", "/v1/dashboard/accounts/{account_id}/holdings"): (None, 404, 403),
    ("GET", "/v1/dashboard/accounts/{account_id}/profile"): ({"underlying": "BTC"}, 404, 403),
    ("POST", "/v1/dashboard/accounts/{account_id}/whatif"): ({"legs": []}, 404, 403),
    ("POST", "/v1/dashboard/accounts/{account_id}/largest"): (
        {"instrument": PERP, "quantity": 10},
        404,
        403,
    ),
    ("GET", "/v1/dashboard/stress"): (None, 200, 403),  # a trader: its own row
    ("GET", "/v1/dashboard/reports"): (None, 403, 403),
    ("GET", "/v1/dashboard/reports/{name}"): (None, 403, 403),
}
PATH_VALUES = {"name": "some/report.html"}


def _operations(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [(m.upper(), p) for p, item in paths.items() for m in item if m in METHODS]


def test_every_endpoint_is_listed(client: TestClient) -> None:
    served = set(_operations(client))
    missing = sorted(served - set(EXPECTED))
    assert not missing, f"new endpoints: add their expected statuses to EXPECTED: {missing}"
    assert not sorted(set(EXPECTED) - served), "EXPECTED lists endpoints that are gone"


def test_every_endpoint_with_no_key_another_account_and_a_feed_key(
    client: TestClient, admin: dict[str, str], store: Engine, market: dict[str, Any]
) -> None:
    for account in ("mine", "theirs"):
        assert client.post("/v1/accounts", json={"id": account}, headers=admin).status_code == 201
    client.post("/v1/accounts/theirs/deposits", json=MONEY, headers=admin)
    assert client.put("/v1/market", json=market, headers=admin).status_code == 200
    trader = {"Authorization": f"Bearer {create_key(store, 'trader', 'mine')}"}
    feed = {"Authorization": f"Bearer {create_key(store, 'feed')}"}
    portfolio = {"accounts": [{"id": "x", "balances": {"BTC": 1.0}, "positions": []}]}
    bodies = {"market": market, "margin": {"portfolio": portfolio, "market": market}}
    tried = 0
    for method, path in _operations(client):
        assert (method, path) in EXPECTED, f"{method} {path}: not in EXPECTED"
        body, as_other, as_feed = EXPECTED[(method, path)]
        body = bodies.get(body, body) if isinstance(body, str) else body
        theirs = path.format(**PATH_VALUES, account_id="theirs")
        where = f"{method} {path}"
        sent: dict[str, Any] = {"params": body} if method == "GET" else {"json": body}

        nokey = client.request(method, theirs, **sent)
        assert nokey.status_code == 401, (where, nokey.text)
        assert nokey.json()["error"] == "unauthorized", where

        other = client.request(method, theirs, headers=trader, **sent)
        assert other.status_code == as_other, (where, other.text)
        if as_other == 404:
            nobody = path.format(**PATH_VALUES, account_id="nobody")
            missing = client.request(method, nobody, headers=trader, **sent)
            assert missing.status_code == 404, where
            assert {**other.json(), "reason": ""} == {**missing.json(), "reason": ""}, where
        if as_other == 403:
            assert other.json()["error"] == "forbidden", where

        as_feed_answer = client.request(method, theirs, headers=feed, **sent)
        assert as_feed_answer.status_code == as_feed, (where, as_feed_answer.text)
        if as_feed == 403:
            assert as_feed_answer.json()["error"] == "forbidden", where
        tried += 1
    assert tried == len(EXPECTED)
    # Nothing the refused keys tried reached the other account.
    account = client.get("/v1/accounts/theirs", headers=admin).json()
    assert account["balances"] == {"BTC": "0.5"}
    assert account["positions"] == []

"""``POST /v1/accounts/{id}/hedge-proposal``: the facade's document for the stored account.

The hedging agent's proposal (docs/agent.md) for an account booked through the API equals
:func:`pmargin.engine.hedge_proposal_document` on the account read back; roles as the other
account reads; a bad body is a 422.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pmargin.engine import hedge_proposal_document
from pmargin.service import create_key

POSITIONS = (("BTC-PERPETUAL", -20_000.0, 101_500.0), ("BTC-28NOV25-95000-P", -1.0, 0.0135))


def test_the_endpoint_answers_the_facade(
    client: TestClient, store: Engine, admin: dict[str, str], market: dict[str, Any]
) -> None:
    assert client.post("/v1/accounts", json={"id": "a1"}, headers=admin).status_code == 201
    client.post("/v1/accounts/a1/deposits", json={"asset": "BTC", "amount": "2"}, headers=admin)
    assert client.put("/v1/market", json=market, headers=admin).status_code == 200
    for symbol, quantity, price in POSITIONS:
        fill = {"instrument": symbol, "quantity": str(quantity), "price": str(price)}
        assert client.post("/v1/accounts/a1/fills", json=fill, headers=admin).status_code == 200
    stored = client.get("/v1/accounts/a1", headers=admin).json()
    portfolio = {
        "id": "a1",
        "balances": {k: float(v) for k, v in stored["balances"].items()},
        "positions": [
            {"instrument": p["instrument"], "quantity": float(p["quantity"]), "unit": "native",
             "avg_price": float(p["avg_price"])}
            for p in stored["positions"]
        ],
    }  # fmt: skip
    now = hedge_proposal_document(portfolio, market, "a1", model="deribit", target_util=10.0)
    target = 0.5 * now["utilisation"]
    served = client.post("/v1/accounts/a1/hedge-proposal", json={"target_util": target},
                         headers=admin)  # fmt: skip
    assert served.status_code == 200, served.json()
    expected = hedge_proposal_document(portfolio, market, "a1", model="deribit", target_util=target)
    assert served.json()["proposal"]["trades"] == expected["proposal"]["trades"]
    assert served.json()["reasons"] == expected["reasons"]
    assert served.json()["proposal"]["im_after"] == pytest.approx(
        expected["proposal"]["im_after"], rel=1e-9
    )
    # roles: the account's trader sees it, another trader gets 404, no key 401
    mine = {"Authorization": f"Bearer {create_key(store, 'trader', 'a1')}"}
    assert client.post("/v1/accounts/a1/hedge-proposal", headers=mine).status_code == 200
    client.post("/v1/accounts", json={"id": "b2"}, headers=admin)
    other = {"Authorization": f"Bearer {create_key(store, 'trader', 'b2')}"}
    assert client.post("/v1/accounts/a1/hedge-proposal", headers=other).status_code == 404
    assert client.post("/v1/accounts/a1/hedge-proposal").status_code == 401
    bad = client.post("/v1/accounts/a1/hedge-proposal", json={"target_util": 0}, headers=admin)
    assert bad.status_code == 422

"""The same book through the service and through ``pmargin margin --json``: identical numbers.

For every registered model: an account booked through the API (deposits and fills of inverse
and linear perpetuals and options; linear instruments only for ``derive-pmrm2``, which
margins nothing else), then

* ``GET /v1/accounts/{id}/margin?model=M`` equals ``pmargin margin --json --model M`` on the
  account's portfolio file at the same market, bit for bit (JSON equality);
* the stateless ``POST /v1/margin`` of that portfolio file and market equals it too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pmargin.cli.main import app as cli
from pmargin.engine import EXAMPLE_MARKET, MODELS, example_path

MARKET = str(example_path(EXAMPLE_MARKET))
LINEAR_ONLY = {"derive-pmrm2"}
INVERSE = (
    ("BTC-PERPETUAL", "-20000", "101500"),
    ("BTC-28NOV25-95000-P", "-1", "0.0135"),
)
LINEAR = (
    ("BTC_USDC-PERPETUAL", "0.5", "101000"),
    ("BTC_USDC-30JAN26-100000-P", "-2", "3000"),
)


def _book(client: TestClient, admin: dict[str, str], market: dict[str, Any], linear: bool) -> str:
    account = "linear" if linear else "mixed"
    assert client.post("/v1/accounts", json={"id": account}, headers=admin).status_code == 201
    deposits = {"USDC": "50000"} if linear else {"BTC": "2", "USDC": "50000"}
    for asset, amount in deposits.items():
        money = {"asset": asset, "amount": amount}
        assert client.post(f"/v1/accounts/{account}/deposits", json=money, headers=admin).is_success
    assert client.put("/v1/market", json=market, headers=admin).status_code == 200
    for symbol, quantity, price in LINEAR if linear else INVERSE + LINEAR:
        fill = {"instrument": symbol, "quantity": quantity, "price": price, "fee": "0.0001"}
        assert client.post(f"/v1/accounts/{account}/fills", json=fill, headers=admin).is_success
    return account


@pytest.mark.parametrize("model", list(MODELS))
def test_service_margin_equals_the_cli_for_every_model(
    client: TestClient,
    admin: dict[str, str],
    market: dict[str, Any],
    portfolio_file: Any,
    model: str,
) -> None:
    account = _book(client, admin, market, linear=model in LINEAR_ONLY)
    path = portfolio_file(account, admin)
    run = CliRunner().invoke(
        cli, ["margin", "-p", str(path), "-m", MARKET, "--model", model, "--json"]
    )
    assert run.exit_code == 0, run.output
    expected = json.loads(run.output)
    served = client.get(f"/v1/accounts/{account}/margin", params={"model": model}, headers=admin)
    assert served.status_code == 200, served.text
    assert served.json() == expected
    body = {"portfolio": json.loads(path.read_text()), "market": market, "model": model}
    stateless = client.post("/v1/margin", json=body, headers=admin)
    assert stateless.status_code == 200, stateless.text
    assert stateless.json() == expected

"""Reads and what-ifs of a stored account equal the CLI and the library on the same book.

Risk matrix (``pmargin margin --json --scenarios``), distance to liquidation (``--liquidation``),
the pre-trade check of one order (``pmargin check-order --json``) and of several legs (the
facade's :func:`pmargin.engine.legs_report`), the withdrawal check (the decision
``POST .../withdrawals`` takes, nothing written), the configured default model.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmargin.cli.main import app as cli
from pmargin.engine import EXAMPLE_MARKET, OrderLeg, example_path, legs_report, load_inputs
from pmargin.service import create_app
from pmargin.service._tables import EventRow

PERP = "BTC-PERPETUAL"
PUT = "BTC-28NOV25-95000-P"
MARKET = str(example_path(EXAMPLE_MARKET))


def _events(store: Engine) -> int:
    with Session(store) as session:
        return int(session.scalar(select(func.count()).select_from(EventRow)) or 0)


@pytest.fixture
def booked(client: TestClient, admin: dict[str, str], market: dict[str, Any]) -> str:
    """An account with BTC, a short perpetual and a short put, at the example market."""
    assert client.post("/v1/accounts", json={"id": "a1"}, headers=admin).status_code == 201
    client.post("/v1/accounts/a1/deposits", json={"asset": "BTC", "amount": "2"}, headers=admin)
    client.put("/v1/market", json=market, headers=admin)
    for symbol, q, p in ((PERP, "-20000", "101500"), (PUT, "-1", "0.0135")):
        fill = {"instrument": symbol, "quantity": q, "price": p}
        assert client.post("/v1/accounts/a1/fills", json=fill, headers=admin).status_code == 200
    return "a1"


def _cli(*args: str) -> Any:
    run = CliRunner().invoke(cli, list(args))
    assert run.exit_code == 0, run.output
    return json.loads(run.output)


@pytest.mark.parametrize("model", ["deribit", "standard"])
def test_risk_matrix_and_liquidation_equal_the_cli(
    client: TestClient, admin: dict[str, str], booked: str, portfolio_file: Any, model: str
) -> None:
    path = str(portfolio_file(booked, admin))
    base = ["margin", "-p", path, "-m", MARKET, "--model", model, "--json"]
    served = client.get(f"/v1/accounts/{booked}/risk-matrix?model={model}", headers=admin)
    assert served.status_code == 200, served.json()
    assert served.json() == _cli(*base, "--scenarios")
    units = served.json()["accounts"][0]["risk_units"]
    assert all("scenarios" in u for u in units)
    if model == "deribit":  # standard is a rule per position: no scenario columns
        assert all(u["scenarios"] for u in units)
    served = client.get(f"/v1/accounts/{booked}/liquidation?model={model}", headers=admin)
    assert served.status_code == 200, served.json()
    assert served.json() == _cli(*base, "--liquidation")
    assert "liquidation" in served.json()["accounts"][0]


def test_order_check_equals_check_order(
    client: TestClient, admin: dict[str, str], store: Engine, booked: str, portfolio_file: Any
) -> None:
    path = str(portfolio_file(booked, admin))
    before = _events(store)
    for quantity, price in ((5000.0, None), (-3.0, 0.014)):
        symbol = PERP if price is None else PUT
        body: dict[str, Any] = {"instrument": symbol, "quantity": quantity}
        args = ["check-order", "-p", path, "-m", MARKET, "-a", booked, "-i", symbol]
        args += ["-q", str(quantity), "--json"]
        if price is not None:
            body["price"] = price
            args += ["--price", str(price)]
        served = client.post(f"/v1/accounts/{booked}/orders/check", json=body, headers=admin)
        assert served.status_code == 200, served.json()
        assert served.json() == _cli(*args)
    assert _events(store) == before  # a check writes nothing


def test_order_check_of_several_legs_equals_the_library(
    client: TestClient, admin: dict[str, str], booked: str, portfolio_file: Any
) -> None:
    legs: list[dict[str, Any]] = [
        {"instrument": PERP, "quantity": 20000},
        {"instrument": PUT, "quantity": 1, "price": 0.0135},
        {"instrument": "BTC-PERPETUAL", "quantity": 0.05, "unit": "base"},
    ]
    for model in ("deribit", "standard"):
        served = client.post(
            f"/v1/accounts/{booked}/orders/check?model={model}",
            json={"legs": legs},
            headers=admin,
        )
        assert served.status_code == 200, served.json()
        snapshot, book = load_inputs(MARKET, portfolio_file(booked, admin))
        wanted = legs_report(
            book,
            snapshot,
            booked,
            [
                OrderLeg(g["instrument"], g["quantity"], g.get("unit", "native"), g.get("price"))
                for g in legs
            ],
            model=model,
        )
        assert served.json() == wanted.to_dict()
    # Closing both positions lowers IM: accepted as risk-reducing or covered.
    assert served.json()["initial_margin_after"] < served.json()["initial_margin_before"]
    assert served.json()["accepted"]


def test_order_check_refusals_name_the_field(
    client: TestClient, admin: dict[str, str], booked: str
) -> None:
    path = f"/v1/accounts/{booked}/orders/check"
    for body, field in (
        ({"instrument": PERP}, None),
        ({"legs": []}, "legs"),
        ({"instrument": PERP, "quantity": 1, "legs": [{"instrument": PERP, "quantity": 1}]}, None),
        ({"instrument": PERP, "quantity": 0}, "quantity"),
        ({"instrument": "NOPE", "quantity": 1}, "instrument"),
        ({"instrument": PUT, "quantity": 1, "price": 5.0}, "price"),
        (
            {"legs": [{"instrument": PERP, "quantity": 1}, {"instrument": "X", "quantity": 1}]},
            "legs",
        ),
        ({"legs": [{"instrument": PERP, "quantity": 1, "unit": "lots"}]}, "legs.0.unit"),
    ):
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 422, (body, r.json())
        assert r.json()["error"] == "invalid"
        if field is not None:
            assert r.json()["field"] == field, (body, r.json())


def test_withdrawal_check_decides_as_the_withdrawal_without_writing(
    client: TestClient, admin: dict[str, str], store: Engine, booked: str
) -> None:
    check = f"/v1/accounts/{booked}/withdrawals/check"
    before = _events(store)
    over = client.post(check, json={"asset": "BTC", "amount": "5"}, headers=admin).json()
    assert not over["accepted"]
    assert "exceeds the balance" in over["reason"]
    assert over["margin"] is None
    found = None
    for amount in ("1.99", "1.5", "1", "0.5", "0.1"):
        verdict = client.post(check, json={"asset": "btc", "amount": amount}, headers=admin)
        assert verdict.status_code == 200, verdict.json()
        v = verdict.json()
        assert v["asset"] == "BTC"
        assert v["margin"] is not None
        assert v["accepted"] == (v["margin"]["equity"] >= v["margin"]["initial_margin"])
        if not v["accepted"]:
            found = amount
    assert _events(store) == before
    assert found is not None
    refused = client.post(
        f"/v1/accounts/{booked}/withdrawals", json={"asset": "BTC", "amount": found}, headers=admin
    )
    assert refused.status_code == 409
    wanted = client.post(check, json={"asset": "BTC", "amount": found}, headers=admin).json()
    assert {k: refused.json()[k] for k in wanted["margin"]} == wanted["margin"]
    ok = client.post(check, json={"asset": "BTC", "amount": "0.1"}, headers=admin).json()
    assert ok["accepted"]
    done = client.post(
        f"/v1/accounts/{booked}/withdrawals", json={"asset": "BTC", "amount": "0.1"}, headers=admin
    )
    assert done.status_code == 200
    assert done.json()["balances"]["BTC"] == ok["balance_after"]


def test_default_model_from_the_configuration(
    store: Engine, admin: dict[str, str], market: dict[str, Any]
) -> None:
    with TestClient(create_app(store, model="standard")) as client:
        client.post("/v1/accounts", json={"id": "a1"}, headers=admin)
        client.post("/v1/accounts/a1/deposits", json={"asset": "BTC", "amount": "1"}, headers=admin)
        client.put("/v1/market", json=market, headers=admin)
        assert client.get("/v1/accounts/a1/margin", headers=admin).json()["model"] == "standard"
        assert (
            client.get("/v1/accounts/a1/risk-matrix", headers=admin).json()["model"] == "standard"
        )
    with pytest.raises(Exception, match="not a model"):
        create_app(store, model="nope")

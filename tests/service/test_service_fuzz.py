"""Schemathesis against the service's own ``/openapi.json`` (in process, ASGI), admin key.

Every operation of the document gets generated requests (valid and invalid bodies, queries and
path parameters, from the pydantic models the document is generated from). Each answer must:

* never be a 5xx;
* if a 4xx, be the service's JSON error ``{"error", "field", "reason"}``, and a 422 must name
  the field at fault (a non-empty ``field``);
* if a 2xx or a 4xx, match the response schema and status codes the document declares
  (schemathesis' own checks).

Half the generated account ids are replaced by a stored account's (``a1``: a balance and two
positions at the example market) so the account paths also do work, not only 404s; the choice
is a function of the generated case, so the run stays deterministic. Bounded: at most
``MAX_EXAMPLES`` per operation; under CI the examples are derandomised (the ``ci`` hypothesis
profile), so the run is the same on every clean clone.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pmargin.engine import EXAMPLE_MARKET, example_path
from pmargin.service import create_app, create_key, open_store

MAX_EXAMPLES = 25
ERROR_KEYS = {"error", "field", "reason"}


@pytest.fixture
def fuzzed(tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app over a store holding one account with positions at the example market."""
    engine = open_store(f"sqlite:///{tmp_path / 'pmargin.db'}")
    admin = {"Authorization": f"Bearer {create_key(engine, 'admin')}"}
    app = create_app(engine)
    market = json.loads(example_path(EXAMPLE_MARKET).read_text())
    with TestClient(app) as client:
        client.post("/v1/accounts", json={"id": "a1"}, headers=admin)
        client.post("/v1/accounts/a1/deposits", json={"asset": "BTC", "amount": "2"}, headers=admin)
        client.put("/v1/market", json=market, headers=admin)
        for symbol, q, p in (
            ("BTC-PERPETUAL", "-20000", "101500"),
            ("BTC-28NOV25-95000-P", "-1", "0.0135"),
        ):
            client.post(
                "/v1/accounts/a1/fills",
                json={"instrument": symbol, "quantity": q, "price": p},
                headers=admin,
            )
    yield app, admin
    engine.dispose()


def _check(case: Any, admin: dict[str, str]) -> None:
    """Call the app with one generated case and check the answer (see the module docstring)."""
    path = dict(case.path_parameters or {})
    if "account_id" in path and zlib.crc32(repr(path).encode()) % 2 == 0:
        case.path_parameters = path | {"account_id": "a1"}
    response = case.call(headers=admin)
    where = f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, where
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict), where
        assert set(body) >= ERROR_KEYS, where
        assert isinstance(body["error"], str), where
        assert isinstance(body["reason"], str), where
        assert body["reason"], where
        if response.status_code == 422:
            assert isinstance(body["field"], str), where
            assert body["field"], where
    case.validate_response(
        response,
        checks=[status_code_conformance, content_type_conformance, response_schema_conformance],
    )


def test_no_5xx_and_every_4xx_names_the_field(fuzzed: tuple[Any, dict[str, str]]) -> None:
    app, admin = fuzzed
    operations = []
    for found in schemathesis.openapi.from_asgi("/openapi.json", app).get_all_operations():
        assert isinstance(found, Ok), found
        operations.append(found.ok())
    assert len(operations) >= 14
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def fuzz(case: Any) -> None:
            _check(case, admin)

        fuzz()


def test_what_the_fuzz_found_stays_fixed(fuzzed: tuple[Any, dict[str, str]]) -> None:
    """The three faults schemathesis found, as explicit requests (see docs/service.md)."""
    app, admin = fuzzed
    with TestClient(app) as client:
        huge = client.get("/v1/events", params={"after": 1 << 63}, headers=admin)
        assert (huge.status_code, huge.json()["field"]) == (422, "query.after")
        neither = client.post("/v1/accounts/a1/orders/check", json={}, headers=admin)
        assert (neither.status_code, neither.json()["field"]) == (422, "body")
        odd = {"asset": "BacktestReport", "amount": "128"}
        refused = client.post("/v1/accounts/a1/deposits", json=odd, headers=admin)
        assert (refused.status_code, refused.json()["field"]) == (422, "asset")  # no USD price
        # An asset priced when deposited, not by a market put in force later: reads say so.
        usdt = {"asset": "USDT", "amount": "1"}
        assert client.post("/v1/accounts/a1/deposits", json=usdt, headers=admin).is_success
        market = client.get("/v1/market", headers=admin).json()
        del market["prices"]["USDT"]
        assert client.put("/v1/market", json=market, headers=admin).is_success
        unpriced = client.get("/v1/accounts/a1/margin", headers=admin)
        assert (unpriced.status_code, unpriced.json()["field"]) == (409, "market")
        assert unpriced.json()["error"] == "conflict"

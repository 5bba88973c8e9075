"""Fixtures of the service tests: a migrated SQLite store, keys and an in-process client."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette's note on httpx, not ours to act on
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pmargin.engine import EXAMPLE_MARKET, example_path
from pmargin.service import create_app, create_key, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path / 'pmargin.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def admin(store: Engine) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(store, 'admin')}"}


@pytest.fixture
def client(store: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(store), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def market() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(example_path(EXAMPLE_MARKET).read_text())
    return document


@pytest.fixture
def portfolio_file(client: TestClient, tmp_path: Path) -> Any:
    """Write an account of the service as a portfolio file (what the CLI reads); its path."""

    def write(account_id: str, headers: dict[str, str]) -> Path:
        account = client.get(f"/v1/accounts/{account_id}", headers=headers).json()
        document = {
            "id": account["id"],
            "balances": {k: float(v) for k, v in account["balances"].items()},
            "positions": [
                {"instrument": p["instrument"], "quantity": float(p["quantity"]), "unit": "native"}
                | ({} if p["avg_price"] is None else {"avg_price": float(p["avg_price"])})
                for p in account["positions"]
            ],
        }
        path = tmp_path / f"{account_id}.json"
        path.write_text(json.dumps(document))
        return path

    return write

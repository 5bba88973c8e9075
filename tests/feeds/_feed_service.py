"""The service a feed posts to: the real app over a SQLite store, with a market and a book.

``GET /v1/market`` (the market in force, admin or feed) is what a feed asks to learn what the
service holds. Where the app does not serve it yet, :func:`add_market_read` adds the route
(the same store, the same keys) so the feed can be tested against the rest of the real app;
``test_feed_replay.py`` also runs a feed against the app without it (``--underlying``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session

with warnings.catch_warnings():  # starlette's note on httpx, not ours to act on
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from pmargin.engine import EXAMPLE_MARKET, example_path
from pmargin.service import create_app, create_key, open_store
from pmargin.service._tables import MarketRow

OKX_MARKS = {
    "BTC-USD-SWAP": {"price": 101660.0},
    "BTC-USD-251226": {"price": 102080.0},
    "BTC-USD-251226-90000-P": {"iv": 0.49},
    "ETH-USD-SWAP": {"price": 3415.5},
}
"""OKX instruments added to the example market for the OKX feed."""

BOOKS = {
    "deribit": [
        ("BTC-PERPETUAL", "10000", "101654.37"),
        ("BTC-26DEC25-90000-P", "1", "0.03"),
        ("ETH-PERPETUAL", "3000", "3414.92"),
    ],
    "okx": [
        ("BTC-USD-SWAP", "100", "101660"),
        ("BTC-USD-251226-90000-P", "10", "0.03"),
        ("ETH-USD-SWAP", "50", "3415.5"),
    ],
}
"""One account per venue: fills (symbol, native quantity, price) on 2 BTC and 20 ETH."""


@dataclass
class Service:
    """The app, its store and its keys."""

    app: FastAPI
    store: Engine
    admin: dict[str, str]
    feed_key: str

    def market(self) -> dict[str, Any]:
        """The market in force, read from the store."""
        with Session(self.store) as session:
            row = session.get(MarketRow, 1)
            assert row is not None
            document: dict[str, Any] = json.loads(row.document)
            return document

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The persisted events of one kind."""
        with TestClient(self.app) as client:
            found = client.get("/v1/events", params={"after": 0}, headers=self.admin).json()
        return [e for e in found["events"] if e["kind"] == kind]


def drop_market_read(app: FastAPI) -> None:
    """Remove ``GET /v1/market``: a service older than that read (the feed must be told)."""
    app.router.routes[:] = [
        route
        for route in app.router.routes
        if not (
            getattr(route, "path", "") == "/v1/market" and "GET" in getattr(route, "methods", ())
        )
    ]


def service_for(tmp_path: Path, venue: str, *, market_read: bool) -> Iterator[Service]:
    """Open a store, start the app (model = venue), put the market, open the venue's book."""
    store = open_store(f"sqlite:///{tmp_path / 'pmargin.db'}")
    app = create_app(store, model=venue)
    if not market_read:
        drop_market_read(app)
    admin = {"Authorization": f"Bearer {create_key(store, 'admin')}"}
    market = json.loads(example_path(EXAMPLE_MARKET).read_text())
    market["marks"].update(OKX_MARKS)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.put("/v1/market", json=market, headers=admin).status_code == 200
        account = f"{venue}-book"
        client.post("/v1/accounts", json={"id": account}, headers=admin)
        for asset, amount in (("BTC", "2"), ("ETH", "20")):
            body = {"asset": asset, "amount": amount}
            client.post(f"/v1/accounts/{account}/deposits", json=body, headers=admin)
        for symbol, quantity, price in BOOKS[venue]:
            fill = {"instrument": symbol, "quantity": quantity, "price": price}
            answer = client.post(f"/v1/accounts/{account}/fills", json=fill, headers=admin)
            assert answer.status_code == 200, answer.text
    yield Service(app, store, admin, create_key(store, "feed"))
    store.dispose()

"""The dashboard's reads (``/v1/dashboard/...``) equal the facade on the stored documents.

In process (FastAPI's TestClient over a temporary SQLite store holding the example book):
every read equals the facade function called on the account's portfolio-file form and the
market in force; the roles are those of every other account path (trader: its own account,
404 for another; admin only for the venue and the reports); the page and Plotly's bundle are
served locally.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from _dashboard_book import TRADER_ACCOUNT, book_example
from sqlalchemy import Engine
from sqlalchemy.orm import Session

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from pmargin.engine import (
    OrderLeg,
    holdings_document,
    largest_leg_document,
    margin_document,
    models_document,
    profile_document,
    stress_document,
    venue_document,
    whatif_document,
)
from pmargin.service import _ledger as ledger
from pmargin.service import create_app, create_key, open_store
from pmargin.service._ticks import Feed


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('dash') / 'pmargin.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def keys(store: Engine) -> dict[str, dict[str, str]]:
    return {
        "admin": {"Authorization": f"Bearer {create_key(store, 'admin')}"},
        "trader": {"Authorization": f"Bearer {create_key(store, 'trader', TRADER_ACCOUNT)}"},
        "feed": {"Authorization": f"Bearer {create_key(store, 'feed')}"},
    }


@pytest.fixture(scope="module")
def client(store: Engine, keys: dict[str, dict[str, str]]) -> Iterator[TestClient]:
    with TestClient(create_app(store), raise_server_exceptions=False) as test_client:
        book_example(test_client, keys["admin"])
        yield test_client


def _stored(store: Engine, account: str) -> tuple[dict[str, Any], dict[str, Any]]:
    with Session(store) as session:
        document = ledger.account_document(session, account)
        return ledger._portfolio(document), ledger._market(session)


def _book(store: Engine) -> tuple[dict[str, Any], dict[str, Any]]:
    with Session(store) as session:
        return Feed._book(session), ledger._market(session)


def test_venue_equals_the_facade_on_the_stored_book(
    client: TestClient, store: Engine, keys: Any
) -> None:
    answer = client.get("/v1/dashboard/venue", headers=keys["admin"])
    assert answer.status_code == 200, answer.text
    found = answer.json()
    expected = venue_document(*_book(store))
    assert found["accounts"] == expected["accounts"]
    assert found["counts"] == expected["counts"] == {"healthy": 4}
    assert found["seq"] > 0
    # Each row's figures are the account's own margin read.
    one = client.get(f"/v1/accounts/{TRADER_ACCOUNT}/margin", headers=keys["admin"]).json()
    row = next(r for r in found["accounts"] if r["id"] == TRADER_ACCOUNT)
    assert row["initial_margin"] == one["accounts"][0]["initial_margin"]


def test_the_venue_is_paged_sorted_and_filtered_by_the_server(
    client: TestClient, store: Engine, keys: Any
) -> None:
    def venue(query: str) -> dict[str, Any]:
        answer = client.get(f"/v1/dashboard/venue?{query}", headers=keys["admin"])
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    whole = venue_document(*_book(store))
    ids = sorted(r["id"] for r in whole["accounts"])
    assert [r["id"] for r in venue("sort=id&desc=false&offset=1&limit=2")["accounts"]] == ids[1:3]
    assert [r["id"] for r in venue("sort=id&desc=true&limit=1")["accounts"]] == ids[-1:]
    found = venue("filter=BTC-&sort=id&desc=false")
    assert [r["id"] for r in found["accounts"]] == [i for i in ids if "btc-" in i]
    assert (found["matched"], found["total"]) == (2, 4)
    assert venue("status=liquidation")["accounts"] == []
    # The distances of a page are those of the whole book; sorting by distance searches all.
    by_distance = venue("sort=distance&desc=false")
    assert sorted(by_distance["accounts"], key=lambda r: r["id"]) == sorted(
        whole["accounts"], key=lambda r: r["id"]
    )
    assert by_distance == venue_document(*_book(store), sort="distance", desc=False, limit=100) | {
        "seq": by_distance["seq"]
    }
    bad = client.get("/v1/dashboard/venue?sort=colour", headers=keys["admin"])
    assert bad.status_code == 422
    assert "sort" in bad.text
    assert client.get("/v1/dashboard/venue?limit=0", headers=keys["admin"]).status_code == 422
    # The venue is kept per state of the store: a deposit (a new event) is read at once.
    before = next(r for r in venue("")["accounts"] if r["id"] == "btc-collar")
    body = {"asset": "BTC", "amount": "0.5"}
    assert client.post(
        "/v1/accounts/btc-collar/deposits", json=body, headers=keys["admin"]
    ).is_success
    after = next(r for r in venue("")["accounts"] if r["id"] == "btc-collar")
    assert after["equity"] > before["equity"]
    assert after == next(
        r for r in venue_document(*_book(store))["accounts"] if r["id"] == "btc-collar"
    )


def test_after_ticks_the_kept_venue_follows_the_margin_events(
    client: TestClient, store: Engine, keys: Any
) -> None:
    # A venue read keeps the venue; ticks (no book change) bring it up to date from their
    # margin events: the figures equal a fresh margin of the book at the new market (the
    # monitor's, to rounding), the distances are searched at the new market.
    admin = keys["admin"]
    client.get("/v1/dashboard/venue", headers=admin)
    market = client.get("/v1/market", headers=admin).json()
    start = datetime.fromisoformat(market["timestamp"].replace("Z", "+00:00"))
    ticks = [
        {
            "underlying": "BTC",
            "index": market["index"]["BTC"] * (1 - 0.002 * k),
            "timestamp": (start + timedelta(seconds=10 * k)).isoformat(),
        }
        for k in range(1, 4)
    ]
    answer = client.post("/v1/market/ticks", json={"ticks": ticks}, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["margin"] is not None, answer.text
    assert answer.json()["margin"]["accounts"] > 0
    assert answer.json()["liquidation"] == []
    found = client.get("/v1/dashboard/venue?sort=id&desc=false", headers=admin).json()
    fresh = venue_document(*_book(store), sort="id", desc=False)
    assert found["counts"] == fresh["counts"]
    for got, want in zip(found["accounts"], fresh["accounts"], strict=True):
        assert got["id"] == want["id"]
        assert got["status"] == want["status"]
        for field in ("equity", "initial_margin", "maintenance_margin", "available"):
            assert got[field] == pytest.approx(want[field], rel=1e-9, abs=1e-6), field
        for field in ("im_utilization", "mm_utilization", "distance"):
            if want[field] is None:  # no finite utilisation, no move within the search
                assert got[field] is None, field
            else:
                assert got[field] == pytest.approx(want[field], rel=1e-9), field


def test_account_reads_equal_the_facade(client: TestClient, store: Engine, keys: Any) -> None:
    portfolio, market = _stored(store, TRADER_ACCOUNT)
    base = f"/v1/dashboard/accounts/{TRADER_ACCOUNT}"
    models = client.get(f"{base}/models", headers=keys["trader"]).json()
    assert models == models_document(portfolio, market)
    deribit = next(m for m in models["models"] if m["model"] == "deribit")["account"]
    risk = client.get(f"/v1/accounts/{TRADER_ACCOUNT}/risk-matrix", headers=keys["trader"]).json()
    assert deribit == risk["accounts"][0]  # the heat map's numbers are the risk-matrix read's
    holdings = client.get(f"{base}/holdings", headers=keys["trader"]).json()
    assert holdings == holdings_document(portfolio, market)
    assert holdings["positions"] == margin_document(portfolio, market)["accounts"][0]["positions"]
    query = {"underlying": "BTC", "dates": ["2025-11-20T00:00:00Z"]}
    profile = client.get(f"{base}/profile", params=query, headers=keys["trader"]).json()
    assert profile == profile_document(portfolio, market, "BTC", dates=["2025-11-20T00:00:00Z"])
    assert profile["dates"][:2] == ["2025-11-13T00:00:00+00:00", "2025-11-20T00:00:00+00:00"]


def test_whatif_and_largest_equal_the_facade(client: TestClient, store: Engine, keys: Any) -> None:
    portfolio, market = _stored(store, TRADER_ACCOUNT)
    base = f"/v1/dashboard/accounts/{TRADER_ACCOUNT}"
    body = {
        "legs": [{"instrument": "BTC-PERPETUAL", "quantity": 20000}],
        "transfers": {"BTC": -1.5},
        "moves": {"BTC": -0.05},
    }
    found = client.post(f"{base}/whatif", json=body, headers=keys["trader"]).json()
    expected = whatif_document(
        portfolio,
        market,
        TRADER_ACCOUNT,
        legs=[OrderLeg("BTC-PERPETUAL", 20000.0)],
        transfers={"BTC": -1.5},
        moves={"BTC": -0.05},
    )
    assert found == expected
    assert found["delta"]["initial_margin"] == (
        found["after"]["initial_margin"] - found["before"]["initial_margin"]
    )
    # Without legs or a move, "after" is the account margined after the transfer alone.
    plain = client.post(f"{base}/whatif", json={}, headers=keys["trader"]).json()
    assert plain["before"] == plain["after"]
    leg = {"instrument": "BTC-PERPETUAL", "quantity": 10000}
    largest = client.post(f"{base}/largest", json=leg, headers=keys["trader"]).json()
    expected_largest = largest_leg_document(
        portfolio, market, TRADER_ACCOUNT, OrderLeg("BTC-PERPETUAL", 10000.0)
    )
    assert largest == expected_largest
    assert largest["check"]["accepted"]
    assert largest["quantity"] > 10000
    bigger = {"instrument": "BTC-PERPETUAL", "quantity": largest["quantity"] * 1.001}
    checked = client.post(
        f"/v1/accounts/{TRADER_ACCOUNT}/orders/check", json=bigger, headers=keys["trader"]
    ).json()
    assert not checked["accepted"]


def test_stress_grid_admin_every_account_trader_its_own(
    client: TestClient, store: Engine, keys: Any
) -> None:
    found = client.get("/v1/dashboard/stress", headers=keys["admin"]).json()
    assert found == stress_document(*_book(store))
    assert len(found["loss_over_equity"]) == len(found["episodes"]) >= 1
    own = client.get("/v1/dashboard/stress", headers=keys["trader"]).json()
    assert own["accounts"] == [TRADER_ACCOUNT]
    column = found["accounts"].index(TRADER_ACCOUNT)
    assert [row[0] for row in own["loss"]] == [row[column] for row in found["loss"]]


@pytest.mark.parametrize(
    "path",
    ["models", "holdings", "profile?underlying=BTC"],
)
def test_a_trader_cannot_read_another_account(client: TestClient, keys: Any, path: str) -> None:
    answer = client.get(f"/v1/dashboard/accounts/btc-collar/{path}", headers=keys["trader"])
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    for verb, tail in (("whatif", {}), ("largest", {"instrument": "BTC-PERPETUAL", "quantity": 1})):
        answer = client.post(
            f"/v1/dashboard/accounts/btc-collar/{verb}", json=tail, headers=keys["trader"]
        )
        assert answer.status_code == 404


def test_roles_of_the_venue_reads(client: TestClient, keys: Any) -> None:
    assert client.get("/v1/dashboard/venue", headers=keys["trader"]).status_code == 403
    assert client.get("/v1/dashboard/venue", headers=keys["feed"]).status_code == 403
    assert client.get("/v1/dashboard/venue").status_code == 401
    assert client.get("/v1/dashboard/reports", headers=keys["trader"]).status_code == 403
    assert client.get("/v1/dashboard/stress", headers=keys["feed"]).status_code == 403
    me = client.get("/v1/dashboard/me", headers=keys["trader"]).json()
    assert me == {"role": "trader", "account": TRADER_ACCOUNT}


def test_reports_are_listed_and_served_inside_their_folder(
    client: TestClient, keys: Any, tmp_path: Path
) -> None:
    report = tmp_path / "backtest-out"
    report.mkdir()
    (report / "report.html").write_text("<h1>backtest</h1>")
    (report / "results.json").write_text("{}")
    client.app.state.reports = tmp_path  # type: ignore[attr-defined]
    try:
        listed = client.get("/v1/dashboard/reports", headers=keys["admin"]).json()
        assert [r["name"] for r in listed["reports"]] == ["backtest-out"]
        assert listed["reports"][0]["files"] == ["report.html", "results.json"]
        page = client.get("/v1/dashboard/reports/backtest-out/report.html", headers=keys["admin"])
        assert page.status_code == 200
        assert "backtest" in page.text
        for bad in ("backtest-out/../../etc/passwd", "elsewhere/report.html", "backtest-out/x"):
            answer = client.get(f"/v1/dashboard/reports/{bad}", headers=keys["admin"])
            assert answer.status_code == 404, bad
    finally:
        client.app.state.reports = None  # type: ignore[attr-defined]


def test_the_page_and_plotly_are_served_locally(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "/dashboard/plotly.min.js" in page.text
    assert "cdn" not in page.text.lower()
    bundle = client.get("/dashboard/plotly.min.js")
    assert bundle.status_code == 200
    assert len(bundle.content) > 1_000_000
    for name in ("app.js", "style.css"):
        assert client.get(f"/dashboard/{name}").status_code == 200
    assert client.get("/dashboard/secret.py").status_code == 404

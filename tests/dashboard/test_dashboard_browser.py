"""The dashboard in a real browser: headless Chromium (Playwright) against ``pmargin serve``.

One server process on a free loopback port over a temporary SQLite store holding the example
book and one thin account (a linear perpetual on little collateral); an admin page and a
trader page. Checked: the venue table, the margin table, the heat map's cells, the P&L profile,
the what-if and the largest leg equal the API's numbers for the same account; the venue is
paged and sorted by the server; a tick that pushes the thin account below maintenance shows
its status change on the open page within 2 s of the tick's answer (the page idle and
subscribed up to the last event before the tick is posted); a trader's page shows its own
account only, and its key reads no other; no console errors. Each test opens its own view
(no test needs another to have run first). Screenshots of each view are saved under
``build/dashboard/``; a failed test's page under ``build/dashboard/failures/`` (conftest).

Skipped, loudly, only where Debian's ``/usr/bin/chromium`` is absent (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from _dashboard_book import TRADER_ACCOUNT, book_example

from pmargin.service import create_key, open_store
from shared_paths import shared_data_dir

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = (
    "DASHBOARD NOT TESTED IN A BROWSER: /usr/bin/chromium is absent; install Debian's "
    "chromium package (.ci/run does)"
)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[2] / "build" / "dashboard"
THIN = "thin-perp"
LIVE_SECONDS = 2.0

if not CHROMIUM.exists():
    print(f"\n{NO_CHROMIUM}", file=sys.stderr)
    pytest.skip(NO_CHROMIUM, allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("dashboard")
    db = f"sqlite:///{folder / 'pmargin.db'}"
    store = open_store(db)
    admin = create_key(store, "admin")
    store.dispose()
    report = folder / "backtest-out"  # a report the page lists (the server's cwd)
    report.mkdir()
    (report / "report.html").write_text("<h1>Backtest report</h1><p>coverage 99.1%</p>")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "serve.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "pmargin.cli.main", "serve", "--db", db, "--port", str(port)],
            cwd=folder,
            env=os.environ | {"PMARGIN_SHARED_DATA": str(shared_data_dir())},
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "pmargin serve did not answer in 60 s"
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {admin}"}
        with httpx.Client(base_url=url, timeout=60) as client:
            market = book_example(client, headers)
            _book_thin(client, headers, market)
        store = open_store(db)
        trader = create_key(store, "trader", TRADER_ACCOUNT)
        store.dispose()
        yield {"url": url, "admin": admin, "trader": trader, "market": market}
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def _book_thin(client: httpx.Client, headers: dict[str, str], market: dict[str, Any]) -> None:
    """A long linear perpetual on thin collateral: an 8 % fall takes it below maintenance."""
    mark = market["marks"]["BTC_USDC-PERPETUAL"]["price"]
    assert client.post("/v1/accounts", json={"id": THIN}, headers=headers).status_code == 201
    body = {"asset": "USDC", "amount": "19000"}
    assert client.post(f"/v1/accounts/{THIN}/deposits", json=body, headers=headers).is_success
    fill = {"instrument": "BTC_USDC-PERPETUAL", "quantity": 1, "price": str(mark), "fee": "0"}
    assert client.post(f"/v1/accounts/{THIN}/fills", json=fill, headers=headers).is_success


def _api(server: dict[str, Any], method: str, path: str, key: str = "admin", **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {server[key]}"}
    answer = httpx.request(method, f"{server['url']}{path}", headers=headers, timeout=60, **kw)
    return answer


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


class Watched:
    """A page with its console errors and uncaught exceptions collected."""

    def __init__(self, browser: Browser, server: dict[str, Any], role: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{server['url']}/")
        self.page.evaluate(f"sessionStorage.setItem('pmargin-key', '{server[role]}')")

    def open(self, url: str) -> Page:
        self.page.goto(url)
        self.page.reload()  # a change of the hash alone does not load the page again
        return self.page


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _settled(page: Page, seq: int) -> None:
    """Wait until the page is idle (no request in flight) and has every event up to ``seq``."""
    page.wait_for_function(
        "seq => document.body.dataset.pending === '0' && "
        "document.getElementById('ws-state').classList.contains('live') && "
        "Number(document.getElementById('ws-state').dataset.seq) >= seq",
        arg=seq,
    )


def _values(page: Page, selector: str) -> list[float]:
    found: list[str] = page.eval_on_selector_all(
        selector, "cells => cells.map(c => c.dataset.value)"
    )
    return [float(x) for x in found]


@pytest.fixture(scope="module")
def admin_page(browser: Browser, server: dict[str, Any]) -> Iterator[Watched]:
    watched = Watched(browser, server, "admin")
    yield watched
    watched.context.close()


def test_venue_table_equals_the_api(admin_page: Watched, server: dict[str, Any]) -> None:
    page = admin_page.open(f"{server['url']}/#venue")
    page.wait_for_function("document.querySelectorAll('#venue-table tbody tr').length === 5")
    venue = _api(server, "GET", "/v1/dashboard/venue").json()
    for row in venue["accounts"]:
        tr = f'#venue-table tr[data-account="{row["id"]}"]'
        numbers = _values(page, f"{tr} td.num")
        expected = [row[k] for k in ("equity", "initial_margin", "maintenance_margin")]
        expected += [row[k] for k in ("mm_utilization", "im_utilization")]
        assert numbers[:5] == expected
        assert page.get_attribute(f"{tr} td.status", "data-status") == row["status"]
    page.wait_for_selector("#ws-state.live")
    _shot(page, "venue")
    # Sorted and paged by the server: a header click asks for the order, the pager for a page.
    page.click('#venue-table th[data-key="id"]')
    ids = sorted((r["id"] for r in venue["accounts"]), reverse=True)
    page.wait_for_function(
        "ids => [...document.querySelectorAll('#venue-table tbody tr')]"
        ".map(tr => tr.dataset.account).join() === ids.join()",
        arg=ids,
    )
    paged = _api(server, "GET", "/v1/dashboard/venue?sort=id&desc=false&offset=2&limit=2").json()
    assert [r["id"] for r in paged["accounts"]] == sorted(ids)[2:4]
    assert (paged["matched"], paged["total"]) == (5, 5)
    assert admin_page.errors == []


def test_account_view_equals_the_api(admin_page: Watched, server: dict[str, Any]) -> None:
    page = admin_page.open(f"{server['url']}/#account/{TRADER_ACCOUNT}")
    page.wait_for_function("document.querySelectorAll('#models-table tbody tr').length > 5")
    page.wait_for_function("(document.getElementById('heatmap').data || []).length === 2")
    page.wait_for_function("(document.getElementById('profile').data || []).length > 0")
    models = _api(server, "GET", f"/v1/dashboard/accounts/{TRADER_ACCOUNT}/models").json()
    for row in models["models"]:
        tr = f'#models-table tr[data-model="{row["model"]}"]'
        if row["account"] is None:
            assert row["error"] in page.inner_text(tr)
            continue
        assert _values(page, f"{tr} td.im") == [row["account"]["initial_margin"]]
        assert _values(page, f"{tr} td.mm") == [row["account"]["maintenance_margin"]]
    # The heat map: every cell is the risk-matrix read's P&L of its scenario; the binding
    # cell is marked.
    risk = _api(server, "GET", f"/v1/accounts/{TRADER_ACCOUNT}/risk-matrix").json()
    unit = risk["accounts"][0]["risk_units"][0]
    grid = page.evaluate(
        "() => { const d = document.getElementById('heatmap');"
        " return {z: d.data[0].z, text: d.data[0].text, x: d.data[0].x, y: d.data[0].y,"
        " marks: d.data[1].x.map((x, i) => [x, d.data[1].y[i]])}; }"
    )
    cells = {
        grid["text"][i][j]: grid["z"][i][j]
        for i in range(len(grid["y"]))
        for j in range(len(grid["x"]))
        if grid["text"][i][j]
    }
    assert cells == {s["label"]: s["pnl"] for s in unit["scenarios"]}
    ((mx, my),) = grid["marks"]
    assert grid["text"][grid["y"].index(my)][grid["x"].index(mx)] == unit["worst_scenario"]
    profile = _api(
        server, "GET", f"/v1/dashboard/accounts/{TRADER_ACCOUNT}/profile?underlying=BTC"
    ).json()
    lines = page.evaluate(
        "() => document.getElementById('profile').data.map(t => ({x: t.x, y: t.y}))"
    )
    assert [line["y"] for line in lines] == profile["pnl"]
    assert all(line["x"] == profile["levels"] for line in lines)
    _shot(page, "account")
    assert admin_page.errors == []


def test_whatif_equals_the_api(admin_page: Watched, server: dict[str, Any]) -> None:
    page = admin_page.open(f"{server['url']}/#whatif/{TRADER_ACCOUNT}")
    page.wait_for_selector(".leg-instrument")
    page.fill(".leg-instrument", "BTC-PERPETUAL")
    page.fill(".leg-quantity", "20000")
    page.fill("#transfer-asset", "BTC")
    page.fill("#transfer-amount", "-1")
    page.fill("#move-underlying", "BTC")
    page.fill("#move-pct", "-5")
    page.click("#run-whatif")
    page.wait_for_selector("#whatif-table tbody tr[data-field=status]")
    body = {
        "legs": [{"instrument": "BTC-PERPETUAL", "quantity": 20000, "unit": "native"}],
        "transfers": {"BTC": -1},
        "moves": {"BTC": -0.05},
    }
    path = f"/v1/dashboard/accounts/{TRADER_ACCOUNT}/whatif?model=deribit"
    expected = _api(server, "POST", path, json=body).json()
    for field in ("equity", "initial_margin", "maintenance_margin", "available"):
        shown = _values(page, f"#whatif-table tr[data-field={field}] td.num")
        assert shown == [
            expected["before"][field],
            expected["after"][field],
            expected["delta"][field],
        ]
    statuses = page.eval_on_selector_all(
        "#whatif-table tr[data-field=status] td", "cells => cells.map(c => c.dataset.status)"
    )
    assert statuses == [expected["before"]["status"], expected["after"]["status"]]
    page.click(".leg-largest")
    page.wait_for_selector(".leg-answer[data-value]")
    leg = {"instrument": "BTC-PERPETUAL", "quantity": 20000, "unit": "native"}
    path = f"/v1/dashboard/accounts/{TRADER_ACCOUNT}/largest?model=deribit"
    largest = _api(server, "POST", path, json=leg).json()
    assert _values(page, ".leg-answer") == [largest["quantity"]]
    _shot(page, "whatif")
    assert admin_page.errors == []


def test_stress_and_reports(admin_page: Watched, server: dict[str, Any]) -> None:
    page = admin_page.open(f"{server['url']}/#stress")
    page.click("#reports a")
    page.wait_for_selector("#report-frame:not([hidden])")
    assert "Backtest report" in page.frame_locator("#report-frame").locator("h1").inner_text()
    if not shared_data_dir().exists():  # the stress episodes are read from the price history
        pytest.skip(f"no shared price history at {shared_data_dir()}: stress grid not checked")
    page.click("#run-stress")
    page.wait_for_function("(document.getElementById('stress-map').data || []).length === 1")
    grid = _api(server, "GET", "/v1/dashboard/stress?model=deribit").json()
    shown = page.evaluate("() => document.getElementById('stress-map').data[0].z")
    assert shown == grid["loss_over_equity"]
    _shot(page, "stress")
    assert admin_page.errors == []


@pytest.fixture
def own_page(browser: Browser, server: dict[str, Any]) -> Iterator[Watched]:
    """A fresh admin page of its own (no earlier test's state)."""
    watched = Watched(browser, server, "admin")
    yield watched
    watched.context.close()


def test_a_tick_below_maintenance_shows_on_the_open_page(
    own_page: Watched, server: dict[str, Any]
) -> None:
    watched = own_page
    page = watched.open(f"{server['url']}/#venue")
    healthy = f'#venue-table tr[data-account="{THIN}"] td.status[data-status=healthy]'
    page.wait_for_selector(healthy)
    # Idle and subscribed: no read in flight (one answered before the tick would show the
    # state before it) and every event up to the newest seen, before the tick is posted.
    _settled(page, _api(server, "GET", "/v1/dashboard/venue?limit=1").json()["seq"])
    answer = _api(server, "POST", "/v1/market/ticks", json={"ticks": _fall(server)})
    sent = time.monotonic()  # the latency counts from the tick's answer
    assert answer.status_code == 200, answer.text
    changes = [
        e
        for e in answer.json()["events"]
        if e.get("event") == "status_change" and e.get("account") == THIN
    ]
    assert changes, answer.text
    assert changes[0]["new"] != "healthy"
    page.wait_for_selector(
        f'#venue-table tr[data-account="{THIN}"] td.status:not([data-status=healthy])',
        timeout=10_000,
    )
    latency = time.monotonic() - sent
    page.wait_for_selector(
        f'#events li.status:has-text("{THIN}: healthy -> {changes[0]["new"]}")',
        timeout=10_000,
    )
    assert latency < LIVE_SECONDS, f"the status change took {latency:.2f} s to show"
    # A read of the state after the tick agrees with what the stream put on the page.
    row = f'#venue-table tr[data-account="{THIN}"]'
    page.click("#venue-refresh")
    _settled(page, answer.json()["seq"])
    venue = _api(server, "GET", "/v1/dashboard/venue").json()
    expected = next(r for r in venue["accounts"] if r["id"] == THIN)
    assert page.get_attribute(f"{row} td.status", "data-status") == expected["status"]
    _shot(page, "live")
    assert watched.errors == []


def _fall(server: dict[str, Any]) -> list[dict[str, Any]]:
    """Ticks of BTC falling 1 % every 40 s to -8 % (inside every circuit breaker)."""
    market = server["market"]
    start = datetime.fromisoformat(market["timestamp"].replace("Z", "+00:00"))
    index = market["index"]["BTC"]
    mark = market["marks"]["BTC_USDC-PERPETUAL"]["price"]
    ticks = []
    for k in range(1, 9):
        when = (start + timedelta(seconds=40 * k)).astimezone(UTC).isoformat()
        ticks.append({"underlying": "BTC", "index": index * (1 - 0.01 * k), "timestamp": when})
        ticks.append(
            {"instrument": "BTC_USDC-PERPETUAL", "mark": mark * (1 - 0.01 * k), "timestamp": when}
        )
    return ticks


def test_a_trader_sees_its_own_account_only(browser: Browser, server: dict[str, Any]) -> None:
    watched = Watched(browser, server, "trader")
    try:
        page = watched.open(f"{server['url']}/#account/btc-collar")
        page.wait_for_function("document.querySelectorAll('#models-table tbody tr').length > 5")
        options = page.eval_on_selector_all("#account-select option", "o => o.map(x => x.value)")
        assert options == [TRADER_ACCOUNT]
        assert not page.is_visible("button[data-view=venue]")
        assert page.inner_text("#who") == f"trader: {TRADER_ACCOUNT}"
        _shot(page, "trader")
        for path in (
            "/v1/dashboard/accounts/btc-collar/models",
            "/v1/dashboard/accounts/btc-collar/profile?underlying=BTC",
            "/v1/accounts/btc-collar",
        ):
            assert _api(server, "GET", path, key="trader").status_code == 404, path
        assert _api(server, "GET", "/v1/dashboard/venue", key="trader").status_code == 403
        assert watched.errors == []
    finally:
        watched.context.close()

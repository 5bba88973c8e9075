"""``pmargin serve`` under load: fills, ticks and pre-trade checks against 10,000 accounts.

Bounded and loopback only; it stops by itself. Steps:

1. **Seed** ``N_ACCOUNTS`` accounts (seed 5) into a fresh SQLite store, in bulk through the
   store: one transaction, rows and ledger events inserted with SQLAlchemy Core in the
   ledger's own event form (an account opening, a deposit of BTC or USDC, one to three fills
   booked by :func:`pmargin.engine.book_fill` at the example market's marks), and the example
   market put in force by the ledger. Through the API (up to five writes per account, each
   its own request, transaction and fsync) it takes minutes, and even the ledger's own writes
   in one transaction take about 14 ms per account (ORM), so neither is what is measured.
   The seeded store is checked: the ledger's rebuild equals the tables.
2. **Serve**: ``pmargin serve`` in a subprocess on a free loopback port (``--model deribit``);
   the server starts its monitor over every account before it answers (timed: ``server
   start``, from the process's start to its first answer), then the first tick (timed), one
   fill and one check warm the paths.
3. **Load** for ``SECONDS`` (asyncio, httpx): ``CLIENTS`` clients post fills on random accounts
   back to back (each with an ``Idempotency-Key``); one feed posts an index tick every
   ``TICK_PERIOD`` seconds (BTC and ETH in turn, a seeded random walk within +-2 %); one client
   posts pre-trade checks back to back. A WebSocket ``/v1/ws`` client receives every event.
4. **Count**: after the load the stream must have delivered every event from the start on,
   in ``seq`` order, each once (no gap), and every acknowledged fill and tick among them;
   anything lost fails the benchmark.

Latencies: a fill and a check from request to answer; a tick from its request to the arrival
of its ``tick`` event on the WebSocket (the ``status`` events it caused are committed and
streamed before it). Baselines in the same run, in process on the same store after the server
stopped: ``_ledger.record_fill`` committed per fill, ``Feed.apply`` of the same ticks (the
service's own monitor path, with the store) each after a committed fill (as under load, where
fills land between ticks: the monitor takes the changed accounts first),
``_ledger.check_orders`` of the same orders: the ratios are what HTTP, the WebSocket, the
write lock and the concurrency add.

Environment: ``PMARGIN_BENCH_SERVICE_ACCOUNTS`` (10000), ``PMARGIN_BENCH_SERVICE_SECONDS``
(20), ``PMARGIN_BENCH_SERVICE_CLIENTS`` (4).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session
from websockets.asyncio.client import connect as ws_connect

from benchmarks._common import Row
from pmargin.engine import EXAMPLE_MARKET, OrderLeg, book_fill, example_path
from pmargin.service import _ledger as ledger
from pmargin.service import create_key, open_store
from pmargin.service._tables import AccountRow, BalanceRow, EventRow, FillRow, PositionRow
from pmargin.service._ticks import Feed

N_ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_SERVICE_ACCOUNTS", "10000"))
SECONDS = float(os.environ.get("PMARGIN_BENCH_SERVICE_SECONDS", "20"))
CLIENTS = int(os.environ.get("PMARGIN_BENCH_SERVICE_CLIENTS", "4"))
TICK_PERIOD = 0.2
MODEL = "deribit"
SEED = 5
BASELINE_CALLS = 50
# symbol -> (smallest, largest) native quantity of a seeded position (sign drawn separately)
HOLDINGS = {
    "BTC-PERPETUAL": (1_000, 200_000),
    "ETH-PERPETUAL": (1_000, 100_000),
    "BTC-28NOV25-95000-P": (0.1, 10.0),
    "BTC-28NOV25-110000-C": (0.1, 10.0),
    "BTC-26DEC25": (1_000, 100_000),
    "BTC_USDC-PERPETUAL": (0.01, 5.0),
}
FILLED = ("BTC-PERPETUAL", "ETH-PERPETUAL", "BTC_USDC-PERPETUAL")  # what the load trades
CHECKED = (("BTC-PERPETUAL", 20_000.0), ("BTC-28NOV25-95000-P", 2.0), ("ETH-PERPETUAL", 5_000.0))


@dataclass
class Load:
    """What the load phase measured (seconds, ``time.perf_counter``)."""

    fills: list[float] = field(default_factory=list)  # latency of each acknowledged fill
    checks: list[float] = field(default_factory=list)
    ticks: dict[int, float] = field(default_factory=dict)  # tick seq -> its request's start
    arrived: dict[int, float] = field(default_factory=dict)  # seq -> arrival on the stream
    kinds: dict[int, str] = field(default_factory=dict)  # seq -> kind, as streamed
    acked: list[int] = field(default_factory=list)  # seq of every acknowledged write
    sent_ticks: list[dict[str, Any]] = field(default_factory=list)
    checked: list[tuple[str, OrderLeg]] = field(default_factory=list)
    duplicates: int = 0
    seconds: float = 0.0


def _market() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(example_path(EXAMPLE_MARKET).read_text())
    return document


def _mark(market: dict[str, Any], symbol: str) -> Decimal:
    return Decimal(repr(round(float(market["marks"][symbol]["price"]), 8)))


def seed(engine: Engine, n: int, market: dict[str, Any]) -> None:
    """Open ``n`` accounts with collateral and positions, in bulk (see the module docstring)."""
    rng = np.random.default_rng(SEED)
    now = datetime.now(UTC).isoformat()
    events: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    balances: list[dict[str, Any]] = []
    positions: list[dict[str, Any]] = []
    fills: list[dict[str, Any]] = []
    symbols = list(HOLDINGS)
    for i in range(n):
        account = f"acct-{i:05d}"
        held: dict[str, Decimal] = {}
        events.append({"kind": "account_created", "account_id": account, "data": {}})
        accounts.append({"id": account, "created_seq": len(events)})
        asset = "BTC" if rng.random() < 0.7 else "USDC"
        amount = (
            Decimal(f"{rng.uniform(0.2, 5.0):.4f}")
            if asset == "BTC"
            else Decimal(f"{rng.uniform(10_000, 500_000):.2f}")
        )
        events.append(
            {
                "kind": "deposit",
                "account_id": account,
                "data": {"asset": asset, "balances": {asset: str(amount)}},
            }
        )
        held[asset] = amount
        for j in rng.choice(len(symbols), size=int(rng.integers(1, 4)), replace=False):
            symbol = symbols[int(j)]
            low, high = HOLDINGS[symbol]
            size = rng.uniform(low, high) * (1 if rng.random() < 0.5 else -1)
            quantity = Decimal(f"{size:.0f}") if high > 1_000 else Decimal(f"{size:.2f}")
            quantity = quantity - quantity % 10 if high > 1_000 else quantity
            if quantity == 0:
                continue
            price = _mark(market, symbol)
            booked = book_fill(symbol, Decimal(0), None, quantity, price)
            held[booked.cash_asset] = held.get(booked.cash_asset, Decimal(0)) + booked.cash
            avg = None if booked.avg_price is None else str(booked.avg_price)
            data = {
                "instrument": symbol,
                "quantity": str(quantity),
                "price": str(price),
                "fee": "0",
                "balances": {booked.cash_asset: str(booked.cash)} if booked.cash else {},
                "position": {
                    "instrument": symbol,
                    "quantity": str(booked.quantity),
                    "avg_price": avg,
                },
            }
            events.append({"kind": "fill", "account_id": account, "data": data})
            positions.append(
                {
                    "account_id": account,
                    "instrument": symbol,
                    "quantity": booked.quantity,
                    "avg_price": booked.avg_price,
                }
            )
            fills.append(
                {
                    "account_id": account,
                    "instrument": symbol,
                    "quantity": quantity,
                    "price": price,
                    "fee": Decimal(0),
                    "seq": len(events),
                }
            )
        balances.extend(
            {"account_id": account, "asset": a, "amount": v} for a, v in held.items() if v != 0
        )
    rows = [
        {"seq": seq, "kind": e["kind"], "account_id": e["account_id"], "time": now}
        | {"data": json.dumps(e["data"])}
        for seq, e in enumerate(events, start=1)
    ]
    with Session(engine) as session, session.begin():
        session.execute(insert(EventRow), rows)
        session.execute(insert(AccountRow), accounts)
        session.execute(insert(BalanceRow), balances)
        session.execute(insert(PositionRow), positions)
        session.execute(insert(FillRow), fills)
        ledger.set_market(session, market)
    with Session(engine) as session:
        if ledger.rebuild(session) != ledger.stored_holdings(session):
            raise AssertionError("the seeded tables differ from the ledger's rebuild")


class Server:
    """``pmargin serve`` in a subprocess on a free loopback port."""

    def __init__(self, db: str, folder: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "pmargin.cli.main", "serve", "--db", db]
        command += ["--port", str(self.port), "--model", MODEL]
        self.log = folder / "serve.log"
        self.started = float("nan")
        """Seconds from the process's start to its first answer (the monitor started)."""
        began = time.perf_counter()
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=sink, cwd=folder)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pmargin serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=5).status_code == 200:
                    self.started = time.perf_counter() - began
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("pmargin serve did not answer within 300 s")

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def _ticks(market: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` index ticks, BTC and ETH in turn, a seeded walk within +-2 % of the market's."""
    rng = np.random.default_rng(SEED + 1)
    start = datetime.fromisoformat(market["timestamp"].replace("Z", "+00:00"))
    level = {u: 0.0 for u in ("BTC", "ETH")}
    out = []
    for i in range(n):
        underlying = ("BTC", "ETH")[i % 2]
        level[underlying] = float(np.clip(level[underlying] + rng.normal(0, 0.003), -0.02, 0.02))
        index = round(market["index"][underlying] * (1 + level[underlying]), 2)
        when = (start + timedelta(milliseconds=100 * (i + 1))).isoformat()
        out.append({"underlying": underlying, "index": index, "timestamp": when})
    return out


def _order(rng: np.random.Generator) -> tuple[str, OrderLeg]:
    account = f"acct-{int(rng.integers(N_ACCOUNTS)):05d}"
    symbol, size = CHECKED[int(rng.integers(len(CHECKED)))]
    quantity = size if rng.random() < 0.5 else -size
    return account, OrderLeg(symbol, quantity)


async def _load(url: str, key: str, market: dict[str, Any], start_seq: int) -> Load:
    """Run the load phase (see the module docstring) and return what it measured."""
    admin = {"Authorization": f"Bearer {key}"}
    found = Load()
    ticks = iter(_ticks(market, 1_000_000)[2:])  # the first two were the warm-up
    deadline = time.perf_counter() + SECONDS
    marks = {s: str(_mark(market, s)) for s in FILLED}

    async def fills(client: int) -> None:
        rng = np.random.default_rng(SEED + 10 + client)
        async with httpx.AsyncClient(base_url=url, headers=admin, timeout=120) as http:
            n = 0
            while time.perf_counter() < deadline:
                account = f"acct-{int(rng.integers(N_ACCOUNTS)):05d}"
                symbol = FILLED[int(rng.integers(len(FILLED)))]
                quantity = "10" if symbol != "BTC_USDC-PERPETUAL" else "0.001"
                sign = "" if rng.random() < 0.5 else "-"
                body = {"instrument": symbol, "quantity": sign + quantity, "price": marks[symbol]}
                began = time.perf_counter()
                answer = await http.post(
                    f"/v1/accounts/{account}/fills",
                    json=body,
                    headers={"Idempotency-Key": f"load-{client}-{n}"},
                )
                answer.raise_for_status()
                found.fills.append(time.perf_counter() - began)
                found.acked.append(answer.json()["seq"])
                n += 1

    async def feed() -> None:
        async with httpx.AsyncClient(base_url=url, headers=admin, timeout=120) as http:
            while time.perf_counter() < deadline:
                tick = next(ticks)
                began = time.perf_counter()
                answer = await http.post("/v1/market/ticks", json={"ticks": [tick]})
                answer.raise_for_status()
                seq = answer.json()["seq"]
                found.ticks[seq] = began
                found.acked.append(seq)
                found.sent_ticks.append(tick)
                await asyncio.sleep(max(0.0, TICK_PERIOD - (time.perf_counter() - began)))

    async def checks() -> None:
        rng = np.random.default_rng(SEED + 2)
        async with httpx.AsyncClient(base_url=url, headers=admin, timeout=120) as http:
            while time.perf_counter() < deadline:
                account, leg = _order(rng)
                body = {"instrument": leg.instrument, "quantity": leg.quantity}
                began = time.perf_counter()
                answer = await http.post(f"/v1/accounts/{account}/orders/check", json=body)
                answer.raise_for_status()
                found.checks.append(time.perf_counter() - began)
                found.checked.append((account, leg))

    stop = asyncio.Event()

    async def stream() -> None:
        ws_url = url.replace("http", "ws", 1) + f"/v1/ws?after={start_seq}"
        async with ws_connect(ws_url, additional_headers=admin, max_size=None) as ws:
            ready.set()
            while not (stop.is_set() and set(found.acked) <= found.arrived.keys()):
                try:
                    message = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                event = json.loads(message)
                if event["seq"] in found.arrived:
                    found.duplicates += 1
                found.arrived[event["seq"]] = time.perf_counter()
                found.kinds[event["seq"]] = event["kind"]

    ready = asyncio.Event()
    listener = asyncio.create_task(stream())
    await asyncio.wait_for(ready.wait(), timeout=60)
    began = time.perf_counter()
    deadline = began + SECONDS
    await asyncio.gather(feed(), checks(), *(fills(c) for c in range(CLIENTS)))
    found.seconds = time.perf_counter() - began
    stop.set()
    await asyncio.wait_for(listener, timeout=120)
    return found


def _warm(url: str, key: str, market: dict[str, Any]) -> tuple[float, int]:
    """Time the first tick (the monitor started with the server), warm a fill and a check.

    Returns the first tick's seconds and the last ``seq``.
    """
    admin = {"Authorization": f"Bearer {key}"}
    first, second = _ticks(market, 2)
    with httpx.Client(base_url=url, headers=admin, timeout=600) as http:
        began = time.perf_counter()
        http.post("/v1/market/ticks", json={"ticks": [first]}).raise_for_status()
        started = time.perf_counter() - began
        http.post("/v1/market/ticks", json={"ticks": [second]}).raise_for_status()
        body = {"instrument": "BTC-PERPETUAL", "quantity": "10", "price": "101657.4"}
        http.post("/v1/accounts/acct-00000/fills", json=body).raise_for_status()
        check = {"instrument": "BTC-PERPETUAL", "quantity": 10}
        http.post("/v1/accounts/acct-00000/orders/check", json=check).raise_for_status()
        last = http.get("/v1/events", params={"after": 0, "limit": 1}).json()["events"]
        seq = last[0]["seq"] if last else 0
        while page := http.get("/v1/events", params={"after": seq}).json()["events"]:
            seq = page[-1]["seq"]
    return started, seq


def _lost(found: Load, start_seq: int) -> str:
    """Return what the stream missed or repeated ("" when nothing)."""
    seqs = sorted(found.arrived)
    problems = []
    if found.duplicates:
        problems.append(f"{found.duplicates} events streamed twice")
    if seqs != list(range(start_seq + 1, start_seq + 1 + len(seqs))):
        problems.append(f"gaps in the streamed seq {seqs[:3]}...{seqs[-3:]}")
    missing = set(found.acked) - found.arrived.keys()
    if missing:
        problems.append(f"{len(missing)} acknowledged writes never streamed")
    fills = sum(1 for s in found.arrived if found.kinds[s] == "fill")
    ticks = sum(1 for s in found.arrived if found.kinds[s] == "tick")
    if (fills, ticks) != (len(found.fills), len(found.ticks)):
        problems.append(
            f"streamed {fills} fills, {ticks} ticks; acked {len(found.fills)}, {len(found.ticks)}"
        )
    return "; ".join(problems)


def _timed(calls: list[Callable[[], object]]) -> list[float]:
    out = []
    for call in calls:
        began = time.perf_counter()
        call()
        out.append(time.perf_counter() - began)
    return out


def _baselines(engine: Engine, found: Load, market: dict[str, Any]) -> dict[str, list[float]]:
    """The same work in process on the same store (see the module docstring)."""
    rng = np.random.default_rng(SEED + 3)
    marks = {s: _mark(market, s) for s in FILLED}

    def fill(i: int) -> Callable[[], object]:
        account = f"acct-{int(rng.integers(N_ACCOUNTS)):05d}"
        symbol = FILLED[i % len(FILLED)]
        quantity = Decimal("10") if symbol != "BTC_USDC-PERPETUAL" else Decimal("0.001")

        def call() -> None:
            with Session(engine) as session, session.begin():
                ledger.record_fill(session, account, symbol, quantity, marks[symbol], Decimal(0))

        return call

    feed = Feed(MODEL)

    def tick(tick: dict[str, Any]) -> Callable[[], object]:
        def call() -> None:
            with Session(engine) as session, session.begin():
                feed.apply(session, [tick])

        return call

    def tick_after_fill(i: int, t: dict[str, Any]) -> float:
        fill(i)()  # committed before the tick: the monitor takes the account first
        return _timed([tick(t)])[0]

    def check(account: str, leg: OrderLeg) -> Callable[[], object]:
        def call() -> None:
            with Session(engine) as session:
                ledger.check_orders(session, account, [leg], MODEL)

        return call

    later = _ticks(market, 2 + len(found.sent_ticks) + 1 + BASELINE_CALLS)[-BASELINE_CALLS - 1 :]
    tick(later[0])()  # starts the in-process monitor: not timed (the server's was warm too)
    return {
        "fill": _timed([fill(i) for i in range(BASELINE_CALLS)]),
        "tick": [tick_after_fill(i, t) for i, t in enumerate(later[1:])],
        "check": _timed([check(a, g) for a, g in found.checked[:BASELINE_CALLS]]),
    }


def _ms(values: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(values), q)) * 1e3 if values else float("nan")


def run() -> list[Row]:
    """Seed, serve, load, count; return the rows (see the module docstring)."""
    market = _market()
    with tempfile.TemporaryDirectory(prefix="pmargin-bench-service-") as name:
        folder = Path(name)
        db = f"sqlite:///{folder / 'pmargin.db'}"
        engine = open_store(db)
        began = time.perf_counter()
        seed(engine, N_ACCOUNTS, market)
        seeded = time.perf_counter() - began
        key = create_key(engine, "admin")
        print(f"  service: seeded {N_ACCOUNTS:,} accounts in {seeded:.1f} s", file=sys.stderr)
        server = Server(db, folder)
        print(f"  service: server started in {server.started:.1f} s", file=sys.stderr)
        try:
            first_tick, start_seq = _warm(server.url, key, market)
            print(f"  service: first tick in {first_tick:.1f} s", file=sys.stderr)
            found = asyncio.run(_load(server.url, key, market, start_seq))
        finally:
            server.stop()
        lost = _lost(found, start_seq)
        if lost:
            raise AssertionError(f"the service lost events: {lost}")
        base = _baselines(engine, found, market)
        engine.dispose()
    latency = [found.arrived[s] - t for s, t in found.ticks.items()]
    statuses = sum(1 for k in found.kinds.values() if k == "status")
    streamed = len(found.arrived)

    def note(served: list[float], inproc: list[float], what: str) -> str:
        ratio = _ms(served, 0.5) / _ms(inproc, 0.5)
        return (
            f"p50 {_ms(served, 0.5):.1f} ms, p99 {_ms(served, 0.99):.1f} ms; in-process {what} "
            f"p50 {_ms(inproc, 0.5):.2f} ms: x{ratio:.1f}"
        )

    where = f"{N_ACCOUNTS:,} accounts, {CLIENTS} fill clients + 1 feed + 1 checker, {SECONDS:.0f} s"
    return [
        Row("service", "seed (bulk through the store)", N_ACCOUNTS, seeded, "accounts"),
        Row(
            "service",
            "server start (monitor of every account)",
            N_ACCOUNTS,
            server.started,
            "accounts margined",
        ),
        Row("service", "first tick", N_ACCOUNTS, first_tick, "accounts"),
        Row(
            "service",
            "fills over HTTP",
            len(found.fills),
            found.seconds,
            note(found.fills, base["fill"], "record_fill + commit") + f"; {where}",
        ),
        Row(
            "service",
            "tick -> health event (WS)",
            len(found.ticks),
            found.seconds,
            note(latency, base["tick"], "Feed.apply after a fill") + f"; {statuses} status events",
        ),
        Row(
            "service",
            "pre-trade check over HTTP",
            len(found.checks),
            found.seconds,
            note(found.checks, base["check"], "check_orders"),
        ),
        Row(
            "service",
            "events streamed (WS)",
            streamed,
            found.seconds,
            f"none lost: seq {start_seq + 1}..{start_seq + streamed} in order, each once, "
            "every acknowledged write among them",
        ),
    ]

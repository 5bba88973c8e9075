"""``kill -9`` of the real server, 20 times, in the middle of a stream of writes.

A client posts a seeded stream of account openings, deposits and fills, each with its own
``Idempotency-Key``, to ``pmargin serve`` on loopback (a SQLite file). The server is killed with
SIGKILL at random moments (seeded delays) and restarted, 20 times. The request in flight when
a kill lands has no answer: after the restart the test notes whether its event is in the
ledger (it must be there whole or not at all), then retries it with the same key, which must
leave exactly one copy (the stored answer if it had committed, a first effect otherwise). Some
acknowledged writes are retried too and must replay their first answer. At the end:

* every acknowledged write is in the ledger exactly once, at the ``seq`` its answer gave;
* every write of the stream is there exactly once (the unanswered ones after their retry);
* the balances and positions tables equal the ledger's rebuild (``_ledger.rebuild``) and an
  independent replay of the requests in ``seq`` order through :func:`pmargin.engine.book_fill`;
* one ``fills`` row per fill event and one stored answer per ``Idempotency-Key`` used.

Restarts are fast because each server is forked from a parent that has already imported
pmargin (a "zygote"); the child then runs the real ``pmargin serve`` command (store opened and
migrated, uvicorn on a fresh loopback port) and is the process that is killed. The cold start
through ``python -m pmargin.cli.main serve`` is covered by ``test_service_process.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _postgres import free_port
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmargin.engine import book_fill
from pmargin.service import _ledger as ledger
from pmargin.service import create_key, open_store
from pmargin.service._tables import EventRow, FillRow, IdempotencyRow

KILLS = 20
SEED = 12
ACCOUNTS = ("c0", "c1", "c2", "c3")
INSTRUMENTS = {  # symbol -> (base price, price step per request, quantity step)
    "BTC-PERPETUAL": (Decimal("100000"), Decimal("0.5"), Decimal("10")),
    "ETH-PERPETUAL": (Decimal("3500"), Decimal("0.05"), Decimal("1")),
    "BTC_USDC-PERPETUAL": (Decimal("100000"), Decimal("0.5"), Decimal("0.001")),
    "BTC-28NOV25-95000-P": (Decimal("0.01"), Decimal("0.00001"), Decimal("0.1")),
}

# The zygote: imports pmargin once, then forks one server per line ("<port>") read on stdin
# and answers the child's pid. Children run the real `pmargin serve` command.
ZYGOTE = """
import os, signal, sys
import uvicorn, pmargin.service
from pmargin.cli.main import app
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed children are reaped by the kernel
db, log = sys.argv[1], sys.argv[2]
print("ready", flush=True)
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sink = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.dup2(sink, 1)
        os.dup2(sink, 2)
        try:
            app(["serve", "--db", db, "--port", line.strip()], standalone_mode=False)
        finally:
            os._exit(0)
    print(pid, flush=True)
"""


@dataclass
class Write:
    """One write of the stream: where it goes, its body, its key and what came of it."""

    number: int
    path: str
    body: dict[str, Any]
    kind: str
    account: str
    answer: dict[str, Any] | None = None  # the acknowledged answer, None while unknown
    seen_before_retry: list[int] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"w-{self.number}"


def _stream(rng: np.random.Generator, n: int) -> list[Write]:
    """The seeded writes: the accounts first, then deposits and fills (each one unique)."""
    writes = [
        Write(i, "/v1/accounts", {"id": a}, "account_created", a) for i, a in enumerate(ACCOUNTS)
    ]
    symbols = list(INSTRUMENTS)
    for i in range(len(writes), n):
        account = ACCOUNTS[int(rng.integers(len(ACCOUNTS)))]
        if rng.random() < 0.5:
            asset = ("BTC", "ETH", "USDC")[int(rng.integers(3))]
            body: dict[str, Any] = {"asset": asset, "amount": f"{i}.{int(rng.integers(1, 10**6))}"}
            writes.append(Write(i, f"/v1/accounts/{account}/deposits", body, "deposit", account))
            continue
        symbol = symbols[int(rng.integers(len(symbols)))]
        base, step, unit = INSTRUMENTS[symbol]
        size = int(rng.integers(1, 20)) * (1 if rng.random() < 0.5 else -1)
        body = {
            "instrument": symbol,
            "quantity": str(size * unit),
            "price": str(base + i * step),  # unique: names the write in the ledger
            "fee": str(unit * Decimal("0.0001")),
        }
        writes.append(Write(i, f"/v1/accounts/{account}/fills", body, "fill", account))
    return writes


def _signature(kind: str, account: str | None, data: dict[str, Any]) -> tuple[Any, ...]:
    """What names a write in the ledger: its kind, account and the fields that make it unique."""
    if kind == "deposit":
        return (kind, account, *sorted(data["balances"].items()))
    if kind == "fill":
        return (kind, account, *(data[k] for k in ("instrument", "quantity", "price", "fee")))
    return (kind, account)


def _of_write(write: Write) -> tuple[Any, ...]:
    if write.kind == "deposit":
        data = {"balances": {write.body["asset"]: write.body["amount"]}}
        return _signature(write.kind, write.account, data)
    return _signature(write.kind, write.account, write.body)


def _of_event(event: dict[str, Any]) -> tuple[Any, ...]:
    return _signature(event["kind"], event["account"], event["data"])


class Zygote:
    """Forks ``pmargin serve`` processes on demand (see the module docstring)."""

    def __init__(self, db: str, folder: Path) -> None:
        self.log = folder / "serve.log"
        self.parent = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, db, str(self.log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=folder,
        )
        assert self.parent.stdout is not None
        assert self.parent.stdout.readline().strip() == "ready"
        self.pid = 0
        self.url = ""

    def start(self) -> None:
        """Fork a server on a fresh port and wait until it answers."""
        assert self.parent.stdin is not None
        assert self.parent.stdout is not None
        port = free_port()
        self.parent.stdin.write(f"{port}\n")
        self.parent.stdin.flush()
        self.pid = int(self.parent.stdout.readline())
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:  # a 401 from the app: up (cheaper than building /openapi.json)
                if httpx.get(f"{self.url}/v1/events", timeout=5).status_code == 401:
                    return
            except httpx.TransportError:
                time.sleep(0.02)
        raise AssertionError(f"the server did not answer: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the running server."""
        os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # reaped by the kernel (SIGCHLD ignored)
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.005)
        raise AssertionError(f"server {self.pid} survived SIGKILL")

    def close(self) -> None:
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.parent.kill()
        self.parent.wait(timeout=30)


def _post(http: httpx.Client, write: Write, headers: dict[str, str]) -> httpx.Response:
    return http.post(write.path, json=write.body, headers=headers | {"Idempotency-Key": write.key})


def _all_events(http: httpx.Client) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        page = http.get("/v1/events", params={"after": len(events) and events[-1]["seq"]}).json()
        if not page["events"]:
            return events
        events.extend(page["events"])


def _expected(writes: list[Write], events: list[dict[str, Any]]) -> ledger.Holdings:
    """Balances and positions from the requests in ``seq`` order, booked by ``book_fill``."""
    named = {_of_write(w): w for w in writes}
    order = {e["seq"]: named[_of_event(e)] for e in events}
    held = ledger.Holdings()
    for seq in sorted(order):
        write = order[seq]
        balances = held.balances.setdefault(write.account, {})
        if write.kind == "deposit":
            asset = write.body["asset"]
            balances[asset] = balances.get(asset, Decimal(0)) + Decimal(write.body["amount"])
        elif write.kind == "fill":
            positions = held.positions.setdefault(write.account, {})
            symbol = write.body["instrument"]
            quantity, avg = positions.get(symbol, (Decimal(0), None))
            booked = book_fill(
                symbol,
                quantity,
                avg,
                Decimal(write.body["quantity"]),
                Decimal(write.body["price"]),
            )
            cash = booked.cash - Decimal(write.body["fee"])
            balances[booked.cash_asset] = balances.get(booked.cash_asset, Decimal(0)) + cash
            if booked.quantity == 0:
                positions.pop(symbol, None)
            else:
                positions[symbol] = (booked.quantity, booked.avg_price)
    held.balances = {a: {k: v for k, v in b.items() if v != 0} for a, b in held.balances.items()}
    held.balances = {a: b for a, b in held.balances.items() if b}
    held.positions = {a: p for a, p in held.positions.items() if p}
    return held


def test_acknowledged_writes_survive_twenty_kills(tmp_path: Path) -> None:
    rng = np.random.default_rng(SEED)
    writes = _stream(rng, 4000)
    db = f"sqlite:///{tmp_path / 'pmargin.db'}"
    engine = open_store(db)
    admin = {"Authorization": f"Bearer {create_key(engine, 'admin')}"}
    engine.dispose()
    zygote = Zygote(db, tmp_path)
    sent = 0  # writes[:sent] have been posted (answered, or unknown and then retried)
    unknown: list[Write] = []
    replayed = 0
    try:
        zygote.start()
        for _ in range(KILLS):
            cut: list[Write] = []

            def client(url: str = zygote.url, cut: list[Write] = cut) -> None:
                nonlocal sent
                with httpx.Client(base_url=url, headers=admin, timeout=30) as http:
                    while sent < len(writes):
                        write = writes[sent]
                        try:
                            answer = _post(http, write, {})
                        except httpx.TransportError:
                            cut.append(write)  # no answer: the kill landed around it
                            sent += 1
                            return
                        assert answer.status_code in (200, 201), answer.text
                        write.answer = answer.json()
                        sent += 1

            worker = threading.Thread(target=client)
            worker.start()
            time.sleep(float(rng.uniform(0.02, 0.6)))
            zygote.kill()
            worker.join(timeout=60)
            assert not worker.is_alive()
            zygote.start()
            with httpx.Client(base_url=zygote.url, headers=admin, timeout=30) as http:
                events = _all_events(http)
                for write in cut:
                    found = [e["seq"] for e in events if _of_event(e) == _of_write(write)]
                    assert len(found) <= 1, (write, found)  # whole or absent
                    write.seen_before_retry = found
                    again = _post(http, write, {})
                    assert again.status_code in (200, 201), again.text
                    if found:  # it had committed: the stored answer comes back
                        assert again.headers.get("Idempotent-Replayed") == "true"
                        assert again.json()["seq"] == found[0]
                    write.answer = again.json()
                    unknown.append(write)
                answered = [w for w in writes[:sent] if w.answer is not None]
                for write in (answered[int(rng.integers(len(answered)))],) if answered else ():
                    again = _post(http, write, {})
                    assert again.headers.get("Idempotent-Replayed") == "true"
                    assert again.json() == write.answer
                    replayed += 1
        with httpx.Client(base_url=zygote.url, headers=admin, timeout=30) as http:
            events = _all_events(http)
            served = {a: http.get(f"/v1/accounts/{a}").json() for a in ACCOUNTS}
    finally:
        zygote.close()
    done = writes[:sent]
    assert sent > 2 * KILLS, f"only {sent} writes in {KILLS} rounds: the test measures nothing"
    assert len(unknown) >= KILLS // 2, "too few kills landed on a write in flight"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    by_seq = {e["seq"]: e for e in events}
    copies = Counter(_of_event(e) for e in events)
    for write in done:
        assert write.answer is not None, write
        assert _of_event(by_seq[write.answer["seq"]]) == _of_write(write), write
        assert copies[_of_write(write)] == 1, write
    assert len(events) == len(done)  # nothing else was written: no half of a lost write
    # The tables equal the ledger's rebuild and the requests replayed in seq order.
    engine = open_store(db)
    try:
        with Session(engine) as session:
            stored = ledger.stored_holdings(session)
            assert stored == ledger.rebuild(session)
            fills = session.scalars(select(FillRow.seq).order_by(FillRow.seq)).all()
            assert fills == [e["seq"] for e in events if e["kind"] == "fill"]
            keys = sorted(session.scalars(select(IdempotencyRow.key)).all())
            assert keys == sorted(w.key for w in done)
            for row in session.scalars(select(IdempotencyRow)):
                answer = json.loads(row.body)
                event = session.get(EventRow, answer["seq"])
                assert event is not None
            assert stored == _expected(done, events)
    finally:
        engine.dispose()
    for account in ACCOUNTS:
        balances = {k: Decimal(v) for k, v in served[account]["balances"].items() if Decimal(v)}
        assert balances == stored.balances.get(account, {})
    print(
        f"\n{KILLS} kills: {sent} writes, {len(unknown)} in flight at a kill "
        f"({sum(bool(w.seen_before_retry) for w in unknown)} had committed), "
        f"{replayed} acknowledged ones replayed",
        file=sys.stderr,
    )

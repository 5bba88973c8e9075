"""The real server process on loopback (``pmargin serve`` under uvicorn), SQLite and PostgreSQL.

Each backend: a key from ``pmargin keys create``, then accounts, deposits, the market, fills
and margin over HTTP; the server is killed with SIGKILL and restarted, and an acknowledged
write is there once while its retry returns the first answer; the WebSocket stream serves the
history after a seq and then a live event. PostgreSQL runs on a throwaway
server (``_postgres.py``); where its binaries are absent the test is skipped with a loud reason
(``.ci/run`` installs them, so CI never skips).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _postgres import free_port, postgres_bin, postgres_server
from websockets.sync.client import connect as ws_connect

PMARGIN = [sys.executable, "-m", "pmargin.cli.main"]
NO_POSTGRES = (
    "POSTGRESQL NOT TESTED: initdb/pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin; "
    "install Debian's postgresql package (.ci/run does)"
)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if postgres_bin() is None:
        print(f"\n{NO_POSTGRES}", file=sys.stderr)
        pytest.skip(NO_POSTGRES)
    # Not under pytest's tmp folder: that one is private to root, and as root the server runs
    # as the postgres user.
    with (
        tempfile.TemporaryDirectory(prefix="pmargin-pg-") as folder,
        postgres_server(Path(folder)) as url,
    ):
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pmargin.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


class Server:
    """``pmargin serve`` in a subprocess on a free loopback port."""

    def __init__(self, db: str, cwd: Path) -> None:
        self.db, self.cwd, self.port = db, cwd, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [*PMARGIN, "serve", "--db", self.db, "--port", str(self.port)]
        log = self.cwd / "serve.log"  # a file, not a pipe: a full pipe would stall the server
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                command, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=sink
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(log.read_text())
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("pmargin serve did not answer within 60 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def _admin_key(db: str, cwd: Path) -> dict[str, str]:
    done = subprocess.run(
        [*PMARGIN, "keys", "create", "--role", "admin", "--db", db],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("pmk_")
    assert " " not in key
    return {"Authorization": f"Bearer {key}"}


def test_end_to_end_with_a_kill(db_url: str, tmp_path: Path, market: dict[str, Any]) -> None:
    admin = _admin_key(db_url, tmp_path)
    server = Server(db_url, tmp_path)
    server.start()
    account = f"acc-{time.monotonic_ns()}"
    try:
        with httpx.Client(base_url=server.url, headers=admin, timeout=30) as http:
            assert http.post("/v1/accounts", json={"id": account}).status_code == 201
            once = {"Idempotency-Key": f"{account}-dep"}
            money = {"asset": "BTC", "amount": "1.25"}
            first = http.post(f"/v1/accounts/{account}/deposits", json=money, headers=once)
            assert first.status_code == 200
            assert http.put("/v1/market", json=market).status_code == 200
            fill = {"instrument": "BTC-PERPETUAL", "quantity": -5000, "price": "101700.5"}
            assert http.post(f"/v1/accounts/{account}/fills", json=fill).status_code == 200
            # standard: no compiled kernel to build in a fresh process (the in-process tests
            # cover deribit)
            margin = http.get(f"/v1/accounts/{account}/margin?model=standard").json()
            assert margin["accounts"][0]["status"] == "healthy"
            assert http.get(f"/v1/accounts/{account}").status_code == 200
            assert http.get("/v1/accounts/missing").status_code == 404
            assert (
                http.get(f"/v1/accounts/{account}", headers={"Authorization": ""}).status_code
                == 401
            )
        server.kill()
        server.start()
        with httpx.Client(base_url=server.url, headers=admin, timeout=30) as http:
            again = http.post(f"/v1/accounts/{account}/deposits", json=money, headers=once)
            assert again.json() == first.json()
            assert again.headers["Idempotent-Replayed"] == "true"
            body = http.get(f"/v1/accounts/{account}").json()
            assert body["balances"] == {"BTC": "1.25"}
            assert body["positions"][0]["quantity"] == "-5000"
            assert body["positions"][0]["avg_price"] == "101700.5"
            events = http.get("/v1/events").json()["events"]
            mine = [e["kind"] for e in events if e["account"] == account]
            assert mine == ["account_created", "deposit", "fill"]
            seqs = [e["seq"] for e in events]
            assert seqs == sorted(seqs)
            # The WebSocket stream of the real server: history after a seq, then a live event.
            start = min(e["seq"] for e in events if e["account"] == account) - 1
            ws_url = f"ws://127.0.0.1:{server.port}/v1/ws?after={start}"
            with ws_connect(ws_url, additional_headers=admin, open_timeout=30) as ws:
                streamed = [json.loads(ws.recv(timeout=30)) for _ in range(3)]
                assert [e["seq"] for e in streamed] == seqs[seqs.index(start + 1) :][:3]
                live = http.post(f"/v1/accounts/{account}/deposits", json=money).json()["seq"]
                while (event := json.loads(ws.recv(timeout=30)))["seq"] < live:
                    pass
                assert (event["seq"], event["kind"]) == (live, "deposit")
    finally:
        server.kill()


def test_serve_refuses_a_database_it_cannot_migrate(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database" * 100)
    done = subprocess.run(
        [*PMARGIN, "serve", "--db", f"sqlite:///{bad}", "--port", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "cannot migrate" in done.stderr
    assert "file is not a database" in done.stderr

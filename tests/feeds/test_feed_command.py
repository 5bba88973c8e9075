"""``pmargin feed``: the command against the app served by uvicorn on loopback.

The service runs under uvicorn in a thread (a real HTTP port), the venue is the replay
server in another thread; the command runs in this process (Typer's runner) and is stopped
with SIGINT once the stream is over, as Ctrl-C would: it posts what is pending, logs its last
status line and prints its counters (``--json``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from _feed_replay import ReplayServer, read_stream
from _feed_service import Service, service_for
from typer.testing import CliRunner

from pmargin.cli.main import app

START_TIMEOUT = 20.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Service, str]]:
    for service in service_for(tmp_path, "deribit", market_read=True):
        server = uvicorn.Server(
            uvicorn.Config(service.app, host="127.0.0.1", port=0, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield service, f"http://127.0.0.1:{port}"
        server.should_exit = True
        thread.join(START_TIMEOUT)


def _venue_then_interrupt(stream: str, url: list[str], ready: threading.Event) -> None:
    """Serve the stream; once it is over, interrupt this process (the command's Ctrl-C)."""

    async def main() -> None:
        async with ReplayServer(read_stream(stream)) as server:
            url.append(server.url)
            ready.set()
            await asyncio.wait_for(server.done.wait(), START_TIMEOUT)
            os.kill(os.getpid(), signal.SIGINT)

    asyncio.run(main())


def test_the_command_feeds_the_served_app_until_interrupted(served: tuple[Service, str]) -> None:
    service, to = served
    url: list[str] = []
    ready = threading.Event()
    venue = threading.Thread(
        target=_venue_then_interrupt, args=("deribit_replay", url, ready), daemon=True
    )
    venue.start()
    assert ready.wait(START_TIMEOUT)
    args = ["feed", "deribit", "--to", to, "--url", url[0], "--interval", "0.05"]
    result = CliRunner().invoke(
        app,
        [*args, "--json", "--quiet"],
        env={"PMARGIN_FEED_KEY": service.feed_key},
    )
    venue.join(START_TIMEOUT)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["reconnects"] == 1
    assert stats["out_of_order"] == 1
    assert stats["malformed"] == 3
    assert stats["refused"] == 0
    market = service.market()
    assert market["index"]["BTC"] == 101800.25
    assert market["marks"]["BTC-26DEC25-90000-P"] == {"iv": 0.4955}


def test_a_bad_key_is_one_line_and_exit_code_2(served: tuple[Service, str]) -> None:
    _, to = served
    result = CliRunner().invoke(
        app, ["feed", "okx", "--to", to, "--key", "pmk_nobody_secret", "--url", "ws://127.0.0.1:9"]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("pmargin: error: --key: ")
    assert "refused by the service (401)" in result.stderr
    assert "pmk_nobody" not in result.stderr

"""WebSocket ``/v1/ws``: the persisted events after a sequence number, then live ones.

The stream reads the ledger, never a queue of its own: a client connects with the last ``seq``
it has (``?after=SEQ``, 0 for everything), receives every event with ``seq > after`` that its
key may see, in order, and then each new one as it is committed. Because it reads what is
committed, in ``seq`` order (writes are serialised, see :mod:`pmargin.service._app`), a client
that reconnects with its last ``seq`` misses nothing and gets nothing twice.

New events are noticed without polling in the process that wrote them: each write rings the
:class:`Bell` after its commit; events committed by another server process on the same
database are picked up by a poll every :data:`POLL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

__all__ = ["POLL_SECONDS", "Bell", "stream_events"]

POLL_SECONDS = 1.0
"""Longest wait before the ledger is read again without a ring (other processes' writes)."""


class Bell:
    """Wakes the streams of this process when a write has committed (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def ring(self) -> None:
        """Wake every waiting stream (called after a commit, from any thread)."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        """Wait for a ring on ``event`` (registered by :meth:`listen`) or ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()

    def listen(self) -> tuple[asyncio.Event, Callable[[], None]]:
        """Register an event of the running loop; return it and the function that drops it."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(entry)

        def drop() -> None:
            with self._lock:
                self._waiters.discard(entry)

        return entry[1], drop


async def stream_events(
    websocket: WebSocket,
    bell: Bell,
    after: int,
    page: Callable[[int], list[dict[str, Any]]],
) -> None:
    """Send every event after ``after`` (``page(last)``: the next ones), then live ones.

    Parameters
    ----------
    websocket
        An accepted connection; each event is sent as one JSON text message (the
        ``GET /v1/events`` form).
    bell
        The process's bell, rung after each commit.
    after
        The last ``seq`` the client has.
    page
        Blocking read of the events the key may see with ``seq > last``, in order (run in a
        worker thread).

    The stream ends when the client disconnects.
    """
    event, drop = bell.listen()

    async def watch_close(scope: anyio.CancelScope) -> None:
        # The client sends nothing we need; reading is how its close is noticed.
        try:
            while True:
                await websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            scope.cancel()

    async def send(scope: anyio.CancelScope) -> None:
        last = after
        try:
            while True:
                found = await run_in_threadpool(page, last)
                for item in found:
                    await websocket.send_json(item)
                    last = item["seq"]
                if not found:
                    await bell.wait(event, POLL_SECONDS)
        except (WebSocketDisconnect, RuntimeError):
            scope.cancel()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(watch_close, group.cancel_scope)
            group.start_soon(send, group.cancel_scope)
    finally:
        drop()

"""A local venue: a WebSocket server on 127.0.0.1 replaying a recorded stream, and the service.

A recorded stream (``fixtures/*.jsonl``) is one JSON object per line, replayed in order:

* ``{"op": "await", "match": {...}}``: wait for the client's next frame whose JSON object
  holds these fields (``{"method": "public/subscribe"}``), or ``"text"`` for a raw text frame
  (``"ping"``); the frames the client sent are recorded per connection;
* ``{"op": "send", "frame": {...}}``: send the object as a JSON text frame;
* ``{"op": "send_text", "text": "..."}``: send raw text (a malformed frame);
* ``{"op": "drop"}``: cut the TCP connection without a close frame (the rest of the stream
  goes to the next connection);
* ``{"op": "end"}``: the stream is over; the connection stays open and quiet.

The frames were written from the venues' documented message shapes with our own values.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

FIXTURES = Path(__file__).resolve().parent / "fixtures"

T0 = 1_762_992_001_000
"""2025-11-13T00:00:01Z in epoch ms: one second after the example market's time."""


def read_stream(name: str) -> list[dict[str, Any]]:
    """The steps of a recorded stream (``fixtures/<name>.jsonl``)."""
    lines = (FIXTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


class ReplayServer:
    """Serve one recorded stream over successive connections (see the module docstring)."""

    def __init__(self, steps: list[dict[str, Any]]) -> None:
        self.steps = steps
        self.position = 0
        self.received: list[list[str]] = []
        self.done = asyncio.Event()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    async def __aenter__(self) -> ReplayServer:
        self._server = await serve(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, websocket: ServerConnection) -> None:
        frames: list[str] = []
        self.received.append(frames)
        incoming = self._incoming(websocket, frames)
        while self.position < len(self.steps):
            step = self.steps[self.position]
            self.position += 1
            op = step["op"]
            if op == "await":
                await self._await(incoming, step)
            elif op == "send":
                await websocket.send(json.dumps(step["frame"]))
            elif op == "send_text":
                await websocket.send(step["text"])
            elif op == "drop":
                websocket.transport.abort()
                return
            elif op == "end":
                self.done.set()
                await websocket.wait_closed()
                return
            else:
                raise AssertionError(f"unknown step {step}")

    @staticmethod
    async def _incoming(websocket: ServerConnection, frames: list[str]) -> Any:
        async for frame in websocket:
            frames.append(str(frame))
            yield str(frame)

    @staticmethod
    async def _await(incoming: Any, step: dict[str, Any]) -> None:
        async for frame in incoming:
            if "text" in step:
                if frame == step["text"]:
                    return
                continue
            try:
                document = json.loads(frame)
            except ValueError:
                continue
            if all(document.get(k) == v for k, v in step["match"].items()):
                return
        raise AssertionError(f"the client closed before {step}")


def sent_ticks(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every frame a stream sends (its ``send`` steps' objects), in order."""
    for step in steps:
        if step["op"] == "send":
            yield step["frame"]

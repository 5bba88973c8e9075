"""``pmargin serve --demo``: the crash replay's population in the store, a crash played as ticks.

:func:`load_demo` writes the demo's accounts (:func:`pmargin.engine.demo_inputs`: a deposit
and fills per account) and its start market through the ledger's own writes, and makes an
admin key and a trader key for the first account. :class:`TickPlayer` then posts the crash
path's ticks to the running server's ``POST /v1/market/ticks``, one path point every
``pace`` seconds, so the monitor and the liquidation engine act on them as on any feed and
the page watches accounts go to liquidation.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pmargin.service import _ledger as ledger
from pmargin.service._keys import create_key

__all__ = ["DemoKeys", "TickPlayer", "load_demo"]


@dataclass(frozen=True, slots=True)
class DemoKeys:
    """The demo's keys: an admin key and a trader key of ``account``."""

    admin: str
    trader: str
    account: str


def _decimal(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def load_demo(engine: Engine, inputs: dict[str, Any]) -> DemoKeys:
    """Write the demo's market, accounts, deposits and fills to an empty store; make keys.

    Parameters
    ----------
    engine
        A migrated, empty store.
    inputs
        :func:`pmargin.engine.demo_inputs`'s document.
    """
    with Session(engine) as session, session.begin():
        ledger.set_market(session, inputs["market"])
        for account in inputs["accounts"]:
            ledger.create_account(session, account["id"])
            for asset, amount in account["deposits"].items():
                ledger.deposit(session, account["id"], asset, _decimal(amount))
            for fill in account["fills"]:
                quantity = _decimal(fill["quantity"])
                if quantity == 0:
                    continue
                ledger.record_fill(
                    session,
                    account["id"],
                    fill["instrument"],
                    quantity,
                    _decimal(fill["price"]),
                    Decimal(0),
                )
    first = inputs["accounts"][0]["id"]
    return DemoKeys(create_key(engine, "admin"), create_key(engine, "trader", first), first)


class TickPlayer(threading.Thread):
    """Post the demo's ticks to a running server, one path point every ``pace`` seconds.

    Parameters
    ----------
    url
        The server's base URL (``http://127.0.0.1:8000``).
    key
        An admin or feed key.
    ticks
        Tick batches (``demo_inputs()["ticks"]``: one per path point), posted in order.
    pace
        Seconds between batches.
    times
        Each batch's path time (``demo_inputs()["times"]``), printed with its events
        (default the batch's event time).
    """

    def __init__(
        self,
        url: str,
        key: str,
        ticks: list[list[dict[str, Any]]],
        pace: float,
        times: list[str] | None = None,
    ) -> None:
        super().__init__(name="pmargin-demo-ticks", daemon=True)
        self.url, self.key, self.ticks, self.pace = url, key, ticks, pace
        self.times = times or [batch[0]["timestamp"] for batch in ticks]
        self.stopped = threading.Event()

    def run(self) -> None:
        """Wait for the server, then post each batch; print one line per batch with events."""
        import httpx

        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60.0) as client:
            while not self.stopped.is_set():
                try:
                    client.get("/v1/dashboard/me").raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            for k, batch in enumerate(self.ticks):
                if self.stopped.wait(self.pace):
                    return
                start = time.monotonic()
                answer = client.post("/v1/market/ticks", json={"ticks": batch})
                took = time.monotonic() - start
                if answer.status_code != 200:
                    print(f"demo: tick {k + 1} refused: {answer.text[:200]}", flush=True)
                    continue
                events = answer.json().get("events", [])
                if events:
                    print(
                        f"demo: {self.times[k]} point {k + 1}/{len(self.ticks)}: "
                        f"{len(events)} events, {took:.2f} s"
                    )
            print("demo: the crash path is over; the server keeps running", flush=True)

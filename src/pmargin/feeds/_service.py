"""The feed's side of the service: what it holds, and posting ticks (``pmargin serve``).

``GET /v1/market`` gives the market in force (what to follow, :func:`pmargin.feeds.
universe_for`); ``POST /v1/market/ticks`` takes each batch with its own ``Idempotency-Key``
(``pmargin-feed-<venue>-<session>-<n>``), so a retry after a lost answer never applies a batch
twice. Network errors and 5xx answers are retried with the same key (``retries`` times, the
wait doubling from ``retry_seconds``); a 4xx is the service refusing the batch (logged with
its field and reason, not retried); 401 and 403 stop the feed (a bad key).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pmargin.errors import InputError

if TYPE_CHECKING:
    import httpx

__all__ = ["PostResult", "ServiceClient"]

LOG = logging.getLogger("pmargin.feeds")

TICKS_PATH = "/v1/market/ticks"
MARKET_PATH = "/v1/market"


@dataclass(frozen=True, slots=True)
class PostResult:
    """What became of one batch.

    Attributes
    ----------
    outcome
        ``"applied"`` (200), ``"refused"`` (a 4xx: not applied) or ``"undelivered"``
        (network errors or 5xx after every retry).
    status
        The last HTTP status (None: no answer).
    answer
        The service's JSON answer (the tick request's summary, or its error).
    """

    outcome: Literal["applied", "refused", "undelivered"]
    status: int | None = None
    answer: Mapping[str, Any] = field(default_factory=dict)


class ServiceClient:
    """Talk to a running ``pmargin serve`` with a feed (or admin) key.

    Parameters
    ----------
    http
        An ``httpx.AsyncClient`` whose ``base_url`` is the service (``--to``).
    key
        The API key (``pmk_...``).
    venue
        The venue's name, part of every ``Idempotency-Key``.
    session
        The key prefix's session part (default: 12 random hex digits).
    retries, retry_seconds
        Retries of an undelivered batch, and the first wait (doubling).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        key: str,
        *,
        venue: str,
        session: str | None = None,
        retries: int = 3,
        retry_seconds: float = 0.25,
    ) -> None:
        self.http = http
        self._auth = {"Authorization": f"Bearer {key}"}
        self.prefix = f"pmargin-feed-{venue}-{session or uuid.uuid4().hex[:12]}"
        self.retries = retries
        self.retry_seconds = retry_seconds
        self._sent = 0

    async def market(self) -> Mapping[str, Any] | None:
        """Return the market in force, or None when the service cannot say.

        None when the service has no ``GET /v1/market`` (404/405) or no market yet (409).

        Raises
        ------
        InputError
            The key is refused (401/403), or the service is unreachable.
        """
        import httpx

        try:
            answer = await self.http.get(MARKET_PATH, headers=self._auth)
        except httpx.TransportError as exc:
            raise InputError("--to", str(self.http.base_url), f"is unreachable: {exc}") from None
        self._check_key(answer)
        if answer.status_code == 200:
            document = answer.json()
            if isinstance(document, Mapping):
                return document
        if answer.status_code in (404, 405):
            LOG.warning("the service has no GET /v1/market: following --underlying/--instrument")
        elif answer.status_code == 409:
            LOG.warning("the service has no market in force yet (PUT /v1/market)")
        else:
            LOG.warning("GET /v1/market answered %d: %s", answer.status_code, answer.text[:200])
        return None

    async def post(self, ticks: list[dict[str, Any]]) -> PostResult:
        """Post one batch of ticks (see the module docstring for retries and refusals)."""
        import httpx

        self._sent += 1
        headers = self._auth | {
            "Idempotency-Key": f"{self.prefix}-{self._sent}",
            "Content-Type": "application/json",
        }
        # NaN and infinities pass as JSON's extensions: the service's breakers judge them.
        body = json.dumps({"ticks": ticks}, allow_nan=True)
        status: int | None = None
        wait = self.retry_seconds
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(wait)
                wait *= 2.0
            try:
                answer = await self.http.post(TICKS_PATH, content=body, headers=headers)
            except httpx.TransportError as exc:
                LOG.warning("posting ticks failed (try %d): %s", attempt + 1, exc)
                continue
            status = answer.status_code
            self._check_key(answer)
            if status >= 500:
                LOG.warning("the service answered %d (try %d)", status, attempt + 1)
                continue
            found = _json(answer)
            if status == 200:
                return PostResult("applied", status, found)
            LOG.warning(
                "the service refused a batch of %d ticks (%d): %s: %s",
                len(ticks),
                status,
                found.get("field"),
                found.get("reason"),
            )
            return PostResult("refused", status, found)
        return PostResult("undelivered", status)

    @staticmethod
    def _check_key(answer: httpx.Response) -> None:
        if answer.status_code in (401, 403):
            reason = _json(answer).get("reason", answer.text[:200])
            raise InputError(
                "--key", "(hidden)", f"is refused by the service ({answer.status_code}): {reason}"
            )


def _json(answer: httpx.Response) -> Mapping[str, Any]:
    try:
        found = answer.json()
    except ValueError:
        return {"reason": answer.text[:200]}
    return found if isinstance(found, Mapping) else {"answer": found}

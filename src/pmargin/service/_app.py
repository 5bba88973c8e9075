"""The FastAPI application: auth, idempotent writes, the first endpoints, JSON errors only.

Every write runs in one database transaction under one process-wide lock (and, on PostgreSQL,
one advisory lock, so several server processes also commit events in ``seq`` order): the
effect, its
ledger event and (with an ``Idempotency-Key``) the stored answer commit together, so a retry
finds either nothing (and acts) or the first answer (and returns it, with
``Idempotent-Replayed: true``), also after a restart. Only successful answers are stored: a
refused write had no effect, so its retry is decided again. The same key with another request
(method, path or body) is refused with 422.

Errors are JSON ``{"error": code, "field": name or null, "reason": text}``; no response ever
carries a stack trace.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pmargin.engine import (
    DEFAULT_MODEL,
    MODELS,
    BreakerConfig,
    LiquidationConfig,
    OrderLeg,
    check_market_document,
    fund_value_usd,
    margin_document,
)
from pmargin.errors import InputError, MarketDataError, PmarginError
from pmargin.service import _ledger as ledger
from pmargin.service import _liquidation as liquidations
from pmargin.service._dashboard_api import dashboard_router
from pmargin.service._hedge_api import hedge_router
from pmargin.service._keys import KeyRing, Principal
from pmargin.service._schemas import (
    AccountIn,
    AccountOut,
    AccountWriteOut,
    ErrorOut,
    EventsOut,
    FillIn,
    MarginIn,
    MarketIn,
    MarketOut,
    OrderCheckIn,
    TicksIn,
    TransferIn,
    WithdrawalCheckOut,
)
from pmargin.service._stream import Bell, stream_events
from pmargin.service._tables import IdempotencyRow
from pmargin.service._ticks import Feed

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 1 << 20
"""Largest request body accepted (bytes); larger ones get 413."""

WRITE_LOCK_KEY = 0x706D617267696E
"""PostgreSQL advisory lock every write holds for its transaction ("pmargin" in hex)."""

_ORDER_FIELDS = {"order.quantity": "quantity", "order.price": "price", "symbol": "instrument"}
"""The library's fields of an order -> the fields of ``POST .../orders/check``'s body."""

EVENTS_PAGE = 1000
"""Most events one ``GET /v1/events`` returns."""

MAX_SEQ = (1 << 63) - 1
"""Largest ``?after=`` accepted: the largest integer the databases store (SQLite, bigint)."""


class _ApiError(Exception):
    def __init__(self, status: int, code: str, reason: str, field: str | None = None) -> None:
        self.status, self.code, self.reason, self.field = status, code, reason, field
        super().__init__(reason)


def _error(status: int, code: str, reason: str, field: str | None = None, **extra: Any) -> Any:
    body = {"error": code, "field": field, "reason": reason} | extra
    return JSONResponse(body, status_code=status)


class _BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes with 413 before they are parsed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(413, "too_large", f"request body over {self.limit} bytes", "body")
        await response(scope, receive, send)


def _bearer(keys: KeyRing, authorization: str | None) -> Principal | None:
    """Return the principal of an ``Authorization: Bearer <key>`` value (None: no valid key)."""
    scheme, _, token = (authorization or "").partition(" ")
    return keys.principal(token.strip()) if scheme.lower() == "bearer" else None


def _principal(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    """Return the key's principal (401 without a valid ``Authorization: Bearer`` key)."""
    found = _bearer(request.app.state.keys, authorization)
    if found is None:
        raise _ApiError(401, "unauthorized", "a valid 'Authorization: Bearer <key>' is needed")
    return found


Caller = Annotated[Principal, Depends(_principal)]
ModelQuery = Annotated[str, Query(min_length=1, max_length=64)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


def create_app(
    engine: Engine,
    *,
    max_body: int = MAX_BODY_BYTES,
    model: str = DEFAULT_MODEL,
    breakers: BreakerConfig | None = None,
    liquidation_config: LiquidationConfig | None = None,
) -> FastAPI:
    """Build the service over a migrated store (:func:`pmargin.service.open_store`).

    Parameters
    ----------
    engine
        The store.
    max_body
        Largest request body in bytes (413 above it).
    model
        The margin model of reads and what-ifs without ``?model=``, of withdrawals, and of
        the monitor and the liquidation engine on ticks.
    breakers
        Circuit-breaker limits of the ticks (``None``: the shipped ``circuit_breakers.toml``).
    liquidation_config
        Liquidation parameters on ticks (``None``: the shipped ``liquidation.toml``).

    Raises
    ------
    InputError
        ``model`` is not a registered model (field ``--model``).
    """
    if model not in MODELS:
        raise InputError("--model", model, f"is not a model: one of {', '.join(MODELS)}")
    errors: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorOut} for status in (401, 403, 404, 409, 413, 422)
    }
    lock = threading.Lock()
    feed = Feed(model, breakers, liquidation_config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(start_monitor)
        yield

    def start_monitor() -> None:
        # The monitor of every account at the market in force, before the first request (at
        # 10,000 accounts a second or more: the first tick no longer waits for it). A store
        # the monitor cannot start on still serves: the first tick says why.
        with lock, Session(engine) as session, session.begin():
            serialise(session)
            try:
                feed.start(session)
            except PmarginError:
                feed.monitor, feed.kept = None, None

    app = FastAPI(
        title="pmargin",
        summary="Portfolio margin engine: accounts, fills, market, margin, events.",
        version="1",
        responses=errors,
        lifespan=lifespan,
    )
    app.state.keys = KeyRing(engine)
    app.state.feed = feed
    bell = Bell()
    _errors(app)
    app.add_middleware(_BodyLimit, limit=max_body)

    def role(caller: Principal, *allowed: str) -> None:
        if caller.role not in allowed:
            raise _ApiError(403, "forbidden", f"a {caller.role} key cannot do this")

    def may_see(caller: Principal, account_id: str) -> None:
        role(caller, "admin", "trader")
        if caller.role == "trader" and caller.account_id != account_id:
            raise ledger.RefusedError(404, f"account {account_id!r} not found")

    def serialise(session: Session) -> None:
        # PostgreSQL hands out sequence numbers before commit: one transaction-scoped advisory
        # lock makes writes (and so event seq) commit in order across server processes too, so
        # that GET /v1/events?after=SEQ never skips a late commit. SQLite has one writer anyway.
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})

    def read(action: Callable[[Session], dict[str, Any]]) -> dict[str, Any]:
        with Session(engine) as session:
            return action(session)

    def write(
        caller: Principal,
        request: Request,
        idem: str | None,
        body: Any,
        action: Callable[[Session], dict[str, Any]],
        status: int = 200,
    ) -> JSONResponse:
        text = json.dumps([request.method, request.url.path, body], sort_keys=True, default=str)
        fingerprint = hashlib.sha256(text.encode()).hexdigest()
        with lock, Session(engine) as session, session.begin():
            serialise(session)
            if idem is not None:
                stored = session.get(IdempotencyRow, (caller.key_id, idem))
                if stored is not None:
                    if stored.request != fingerprint:
                        raise _ApiError(
                            422,
                            "idempotency_key_reused",
                            "this Idempotency-Key was used for another request",
                            "Idempotency-Key",
                        )
                    return JSONResponse(
                        json.loads(stored.body),
                        status_code=stored.status,
                        headers={"Idempotent-Replayed": "true"},
                    )
            answer = action(session)
            if idem is not None:
                session.add(
                    IdempotencyRow(
                        key_id=caller.key_id,
                        key=idem,
                        request=fingerprint,
                        status=status,
                        body=json.dumps(answer),
                    )
                )
        bell.ring()  # committed: wake the streams
        return JSONResponse(answer, status_code=status)

    @app.post("/v1/accounts", status_code=201, response_model=AccountWriteOut)
    def create_account(
        body: AccountIn, caller: Caller, request: Request, idem: IdemKey = None
    ) -> JSONResponse:
        """Open an empty account (admin)."""
        role(caller, "admin")
        return write(
            caller,
            request,
            idem,
            body.model_dump(mode="json"),
            lambda s: ledger.create_account(s, body.id),
            201,
        )

    @app.get("/v1/accounts/{account_id}", response_model=AccountOut)
    def get_account(account_id: str, caller: Caller) -> dict[str, Any]:
        """Balances and positions in the portfolio-file form (amounts as decimal strings)."""
        may_see(caller, account_id)
        return read(lambda s: ledger.account_document(s, account_id))

    def account_write(
        caller: Principal,
        account_id: str,
        request: Request,
        idem: str | None,
        body: BaseModel,
        action: Callable[[Session], dict[str, Any]],
    ) -> JSONResponse:
        may_see(caller, account_id)
        return write(caller, request, idem, body.model_dump(mode="json"), action)

    def transfer(path: str, book: Callable[..., dict[str, Any]], summary: str) -> None:
        def endpoint(
            account_id: str,
            body: TransferIn,
            caller: Caller,
            request: Request,
            idem: IdemKey = None,
        ) -> JSONResponse:
            action = partial(book, account_id=account_id, asset=body.asset, amount=body.amount)
            return account_write(caller, account_id, request, idem, body, action)

        route = f"/v1/accounts/{{account_id}}/{path}"
        app.post(route, summary=summary, name=path, response_model=AccountWriteOut)(endpoint)

    transfer("deposits", ledger.deposit, "Credit an amount of an asset")
    transfer(
        "withdrawals",
        partial(ledger.withdraw, model=model),
        "Debit an amount; 409 when it overdraws or leaves equity below initial margin",
    )

    @app.post("/v1/accounts/{account_id}/fills", response_model=AccountWriteOut)
    def fill(
        account_id: str, body: FillIn, caller: Caller, request: Request, idem: IdemKey = None
    ) -> JSONResponse:
        """Book a fill: native units, the venue's price, a fee in the cash asset."""
        book = partial(
            ledger.record_fill,
            account_id=account_id,
            instrument=body.instrument,
            quantity=body.quantity,
            price=body.price,
            fee=body.fee,
        )
        return account_write(caller, account_id, request, idem, body, book)

    @app.put("/v1/market", response_model=MarketOut)
    def put_market(
        body: MarketIn, caller: Caller, request: Request, idem: IdemKey = None
    ) -> JSONResponse:
        """Put a whole market snapshot in force (admin or feed)."""
        role(caller, "admin", "feed")
        document = body.model_dump(mode="json", exclude_none=True)
        return write(caller, request, idem, document, lambda s: ledger.set_market(s, document))

    @app.get("/v1/market")
    def get_market(caller: Caller) -> dict[str, Any]:
        """Return the market in force in the market-file form (admin or feed); 409 without one."""
        role(caller, "admin", "feed")
        return read(ledger._market)

    @app.post("/v1/market/ticks")
    def market_ticks(
        body: TicksIn, caller: Caller, request: Request, idem: IdemKey = None
    ) -> JSONResponse:
        """Apply ticks through the circuit breakers, the monitor and liquidation (admin or feed).

        Answers the ``tick`` event's ``seq``, the persisted status and breaker events, the
        liquidation events booked, the margin update's ``seq`` and size, and the underlyings
        whose liquidations are paused.
        """
        role(caller, "admin", "feed")
        ticks = [t.model_dump(mode="json", exclude_none=True) for t in body.ticks]
        return write(caller, request, idem, ticks, lambda s: feed.apply(s, ticks))

    @app.get("/v1/accounts/{account_id}/margin")
    def account_margin(
        account_id: str,
        caller: Caller,
        model: ModelQuery = model,
    ) -> dict[str, Any]:
        """``pmargin margin --json`` for this account at the market in force."""
        may_see(caller, account_id)
        return read(lambda s: ledger.account_margin(s, account_id, model))

    @app.get("/v1/accounts/{account_id}/risk-matrix")
    def risk_matrix(account_id: str, caller: Caller, model: ModelQuery = model) -> dict[str, Any]:
        """``pmargin margin --json --scenarios``: each risk unit's scenario labels and P&L."""
        may_see(caller, account_id)
        return read(lambda s: ledger.account_margin(s, account_id, model, scenarios=True))

    @app.get("/v1/accounts/{account_id}/liquidation")
    def liquidation(account_id: str, caller: Caller, model: ModelQuery = model) -> dict[str, Any]:
        """``pmargin margin --json --liquidation``: the index moves that reach maintenance."""
        may_see(caller, account_id)
        return read(lambda s: ledger.account_margin(s, account_id, model, liquidation=True))

    @app.post("/v1/accounts/{account_id}/orders/check")
    def check_order(
        account_id: str, body: OrderCheckIn, caller: Caller, model: ModelQuery = model
    ) -> dict[str, Any]:
        """Accept or reject one order or several legs (nothing written): ``check-order --json``.

        ``{"account", "accepted", "reason"}`` and equity, IM and MM before and after (USD).
        """
        may_see(caller, account_id)
        legs = [OrderLeg(g.instrument, g.quantity, g.unit, g.price) for g in body.all_legs()]
        try:
            return read(lambda s: ledger.check_orders(s, account_id, legs, model))
        except InputError as err:
            # The library names the order's fields; answer with the body's.
            field = _ORDER_FIELDS.get(err.field, err.field) if body.legs is None else "legs"
            raise InputError(field, err.value, err.reason) from None

    @app.post("/v1/accounts/{account_id}/withdrawals/check", response_model=WithdrawalCheckOut)
    def check_withdrawal(
        account_id: str, body: TransferIn, caller: Caller, model: ModelQuery = model
    ) -> dict[str, Any]:
        """Decide a withdrawal as ``POST .../withdrawals`` would, without making it."""
        may_see(caller, account_id)
        return read(
            lambda s: ledger.check_withdrawal(s, account_id, body.asset, body.amount, model)
        )

    @app.post("/v1/margin")
    def stateless_margin(body: MarginIn, caller: Caller) -> dict[str, Any]:
        """Margin a portfolio at a market (any key; nothing stored): ``pmargin margin --json``."""
        market = body.market.model_dump(mode="json", exclude_none=True)
        try:
            return margin_document(body.portfolio, market, body.model)
        except MarketDataError as err:  # the body's market cannot value its portfolio
            raise InputError("market", "", " ".join(str(err).split())) from None

    @app.websocket("/v1/ws")
    async def stream(
        websocket: WebSocket,
        after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
        authorization: Annotated[str | None, Header()] = None,
        protocols: Annotated[str | None, Header(alias="Sec-WebSocket-Protocol")] = None,
    ) -> None:
        """Stream the events after ``?after=SEQ`` a key may see, then live ones (JSON text).

        Auth by ``Authorization: Bearer <key>`` on the handshake (admin: every event; trader:
        its account's), or, from a browser (which cannot set headers), the subprotocols
        ``bearer, <key>``; without a valid key the handshake is refused (close code 1008).
        """
        offered = [p.strip() for p in (protocols or "").split(",")]
        if authorization is None and len(offered) == 2 and offered[0] == "bearer":
            authorization = f"Bearer {offered[1]}"
        caller = await run_in_threadpool(_bearer, websocket.app.state.keys, authorization)
        if caller is None or caller.role not in ("admin", "trader"):
            await websocket.close(code=1008)
            return
        account = caller.account_id if caller.role == "trader" else None
        await websocket.accept(subprotocol="bearer" if offered[0] == "bearer" else None)

        def page(last: int) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = read(
                lambda s: {"e": ledger.events_after(s, last, account, EVENTS_PAGE)}
            )["e"]
            return found

        await stream_events(websocket, bell, after, page)

    @app.get("/v1/insurance-fund")
    def insurance_fund(
        caller: Caller,
        after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
        limit: Annotated[int, Query(ge=1, le=EVENTS_PAGE)] = EVENTS_PAGE,
    ) -> dict[str, Any]:
        """Read the insurance fund (admin): balances, USD value, bad debt, its history."""
        role(caller, "admin")

        def document(session: Session) -> dict[str, Any]:
            balances = liquidations.fund_balances(session)
            try:
                market = check_market_document(ledger._market(session))
                value: float | None = fund_value_usd(market, balances)
            except ledger.RefusedError:
                value = None
            return liquidations.insurance_fund_document(session, value, after, limit)

        return read(document)

    @app.get("/v1/accounts/{account_id}/liquidations")
    def account_liquidations(account_id: str, caller: Caller) -> dict[str, Any]:
        """Read the account's liquidation state (last outcome), sums and liquidation events."""
        may_see(caller, account_id)
        return read(lambda s: liquidations.liquidation_document(s, account_id))

    @app.get("/v1/events", response_model=EventsOut)
    def events(
        caller: Caller,
        after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
        limit: Annotated[int, Query(ge=1, le=EVENTS_PAGE)] = EVENTS_PAGE,
    ) -> dict[str, Any]:
        """List persisted events with ``seq > after`` in order (a trader: its account's)."""
        role(caller, "admin", "trader")
        account = caller.account_id if caller.role == "trader" else None
        found = read(lambda s: {"events": ledger.events_after(s, after, account, limit)})
        last = found["events"][-1]["seq"] if found["events"] else after
        return found | {"last": last}

    app.include_router(dashboard_router(engine, model, _principal, may_see, role))
    app.include_router(hedge_router(engine, model, _principal, may_see))
    return app


def _errors(app: FastAPI) -> None:
    """Map every failure to a JSON error; nothing else ever leaves the server."""

    async def api_error(_: Request, exc: Exception) -> Any:
        assert isinstance(exc, _ApiError)
        return _error(exc.status, exc.code, exc.reason, exc.field)

    async def refused(_: Request, exc: Exception) -> Any:
        assert isinstance(exc, ledger.RefusedError)
        code = "not_found" if exc.status == 404 else "conflict"
        return _error(exc.status, code, exc.reason, None, **exc.detail)

    async def bad_input(_: Request, exc: Exception) -> Any:
        assert isinstance(exc, InputError)
        return _error(
            422, "invalid", " ".join(exc.reason.split()), exc.field, value=str(exc.value)[:200]
        )

    async def market_data(_: Request, exc: Exception) -> Any:
        # The stored account and the market in force disagree (an asset or instrument the
        # market cannot value): the state conflicts, the request itself is well formed.
        return _error(409, "conflict", " ".join(str(exc).split())[:500], "market")

    async def pmargin_error(_: Request, exc: Exception) -> Any:
        return _error(422, "invalid", " ".join(str(exc).split())[:500])

    async def validation(_: Request, exc: Exception) -> Any:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body",)]
        field = ".".join(loc) or "body"  # a rule over the whole body (a model validator)
        return _error(422, "invalid", str(first.get("msg", "invalid")), field)

    async def http_error(_: Request, exc: Exception) -> Any:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, "http", str(exc.detail))

    async def internal(_: Request, exc: Exception) -> Any:
        return _error(500, "internal", "internal error")

    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[Any]]] = {
        _ApiError: api_error,
        ledger.RefusedError: refused,
        InputError: bad_input,
        MarketDataError: market_data,
        PmarginError: pmargin_error,
        RequestValidationError: validation,
        HTTPException: http_error,
        Exception: internal,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)

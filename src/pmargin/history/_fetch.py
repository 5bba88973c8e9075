"""Download fresh history from Binance's and Deribit's public REST endpoints into a folder.

``pmargin data fetch`` writes, into the user cache (:func:`~pmargin.history.user_cache_dir`)
or ``--to DIR``, the files the loaders read, in the same formats as ``../shared/data``:

* ``binance_{BTC,ETH}USDT_{1d,4h}.csv``: spot candles, ``GET api.binance.com/api/v3/klines``;
* ``binance_funding_rate_BTCUSDT_8h.csv``: ``GET fapi.binance.com/fapi/v1/fundingRate``;
* ``deribit_dvol_btc_1d.json``: ``GET www.deribit.com/api/v2/public/get_volatility_index_data``.

All public endpoints, no key.

The parsers (:func:`parse_klines`, :func:`parse_funding`, :func:`parse_dvol`) check every reply
and are tested on saved replies; :func:`fetch_history` pages through each endpoint with a
``get`` function (default: :func:`http_get_json`, ``urllib`` with retries) that tests replace,
so no test touches the network. Candles still open at the time of the fetch are left out.
Each file is written whole (a temporary sibling renamed into place) once all its pages are in.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pmargin._validation import abbreviate
from pmargin.errors import InputError

__all__ = [
    "BINANCE_FUNDING_URL",
    "BINANCE_KLINES_URL",
    "DERIBIT_DVOL_URL",
    "FETCH_SOURCES",
    "FetchedFile",
    "fetch_history",
    "http_get_json",
    "parse_dvol",
    "parse_funding",
    "parse_klines",
]

BINANCE_KLINES_URL = "https://api.binance.com/api/v3/klines"
BINANCE_FUNDING_URL = "https://fapi.binance.com/fapi/v1/fundingRate"
DERIBIT_DVOL_URL = "https://www.deribit.com/api/v2/public/get_volatility_index_data"

FETCH_SOURCES = ("binance", "deribit")
"""Sources :func:`fetch_history` can be limited to."""

_PAGE = 1000
_INTERVAL_MS = {"1d": 86_400_000, "4h": 14_400_000}
_KLINES_START = datetime(2017, 8, 1, tzinfo=UTC)
_FUNDING_START = datetime(2019, 9, 1, tzinfo=UTC)
_DVOL_START = datetime(2021, 3, 1, tzinfo=UTC)
_MAX_PAGES = 500

GetJson = Callable[[str, Mapping[str, str | int]], Any]
"""``get(url, params) -> parsed JSON``."""
Progress = Callable[[str, int], None]
"""``progress(file name, rows so far)``, called after every page."""


@dataclass(frozen=True, slots=True)
class FetchedFile:
    """One file written by :func:`fetch_history`.

    Attributes
    ----------
    path
        The file.
    rows
        Rows (candles, funding prints, DVOL points) written.
    first, last
        UTC instants of the first and last row (candle open, print or DVOL candle time).
    """

    path: Path
    rows: int
    first: datetime
    last: datetime


def parse_klines(reply: Any, where: str = "binance klines") -> list[list[Any]]:
    """Check a Binance ``/api/v3/klines`` reply and return its candles.

    Each candle is ``[open time ms, "open", "high", "low", "close", "volume", close time ms,
    ...]`` (Binance sends prices as text).

    Returns
    -------
    list of list
        ``[open_ms, open, high, low, close, volume, close_ms]`` per candle, prices as text
        exactly as sent, times as int.

    Raises
    ------
    InputError
        Naming ``where`` and the row: not a list, a row too short, a time or price that is not
        a number (an error reply ``{"code", "msg"}`` is named as such).
    """
    candles = []
    for i, row in enumerate(_binance_list(reply, where, "candles")):
        if not isinstance(row, list) or len(row) < 7:
            raise InputError(f"{where}[{i}]", abbreviate(row), "must be a kline array of 7+ items")
        prices = [_decimal_text(row[j], f"{where}[{i}][{j}]") for j in range(1, 6)]
        candles.append([_ms(row[0], f"{where}[{i}][0]"), *prices, _ms(row[6], f"{where}[{i}][6]")])
    return candles


def parse_funding(reply: Any, where: str = "binance fundingRate") -> list[tuple[int, str]]:
    """Check a Binance ``/fapi/v1/fundingRate`` reply and return ``(time ms, rate text)``.

    Rows are ``{"symbol", "fundingTime", "fundingRate", "markPrice"}``; the rate is per 8-hour
    period, a fraction (``"0.00010000"`` = 1 bp).

    Raises
    ------
    InputError
        Naming ``where`` and the row for a malformed reply.
    """
    rows = []
    for i, row in enumerate(_binance_list(reply, where, "funding rows")):
        if not isinstance(row, Mapping):
            raise InputError(f"{where}[{i}]", abbreviate(row), "must be a funding row (object)")
        for key in ("fundingTime", "fundingRate"):
            if key not in row:
                raise InputError(f"{where}[{i}].{key}", None, "is required")
        rate = _decimal_text(row["fundingRate"], f"{where}[{i}].fundingRate")
        rows.append((_ms(row["fundingTime"], f"{where}[{i}].fundingTime"), rate))
    return rows


def parse_dvol(
    reply: Any, where: str = "deribit get_volatility_index_data"
) -> tuple[list[tuple[int, float]], int | None]:
    """Check a Deribit ``public/get_volatility_index_data`` reply.

    The reply is ``{"jsonrpc", "result": {"data": [[ms, open, high, low, close], ...],
    "continuation": ms | null}}``; vols are in vol points.

    Returns
    -------
    points, continuation
        ``(candle time ms, close)`` per candle, and the ``end_timestamp`` of the next page
        (``None`` when there is none).

    Raises
    ------
    InputError
        Naming ``where``: an ``error`` reply, a missing ``result.data``, a malformed candle.
    """
    if not isinstance(reply, Mapping):
        raise InputError(where, abbreviate(reply), "must be a JSON-RPC reply object")
    if "error" in reply:
        raise InputError(f"{where}.error", abbreviate(reply["error"]), "is an error reply")
    result = reply.get("result")
    if not isinstance(result, Mapping) or not isinstance(result.get("data"), list):
        raise InputError(f"{where}.result.data", abbreviate(result), "must be a list of candles")
    points = []
    for i, row in enumerate(result["data"]):
        field = f"{where}.result.data[{i}]"
        if not isinstance(row, list) or len(row) != 5:
            raise InputError(field, abbreviate(row), "must be [ms, open, high, low, close]")
        close = row[4]
        if isinstance(close, bool) or not isinstance(close, int | float) or not close > 0:
            raise InputError(f"{field}[4]", abbreviate(close), "must be a vol in points > 0")
        points.append((_ms(row[0], f"{field}[0]"), float(close)))
    continuation = result.get("continuation")
    if continuation is not None:
        continuation = _ms(continuation, f"{where}.result.continuation")
    return points, continuation


def fetch_history(
    folder: Path,
    *,
    sources: Sequence[str] = FETCH_SOURCES,
    get: GetJson | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> list[FetchedFile]:
    """Download every history file of ``sources`` into ``folder`` (created when missing).

    Parameters
    ----------
    folder
        Where to write (the user cache by default in the CLI).
    sources
        ``"binance"`` (candles and funding) and/or ``"deribit"`` (DVOL).
    get
        ``get(url, params) -> JSON``; default :func:`http_get_json`.
    now
        The fetch instant (UTC); candles that close after it are left out. Default: now.
    progress
        Called after every page with the file name and its rows so far.

    Returns
    -------
    list of FetchedFile
        One per file written.

    Raises
    ------
    InputError
        For an unknown source, a malformed reply (naming the endpoint and row), or a network
        failure (naming the URL).
    """
    unknown = [s for s in sources if s not in FETCH_SOURCES]
    if unknown or not sources:
        raise InputError("--source", unknown, f"must be among {', '.join(FETCH_SOURCES)}")
    fetch = http_get_json if get is None else get
    instant = datetime.now(UTC) if now is None else now
    now_ms = int(instant.timestamp() * 1000)
    folder.mkdir(parents=True, exist_ok=True)
    report = print_none if progress is None else progress
    written: list[FetchedFile] = []
    if "binance" in sources:
        for coin in ("BTC", "ETH"):
            for interval in ("1d", "4h"):
                name = f"binance_{coin}USDT_{interval}.csv"
                candles = _klines(fetch, f"{coin}USDT", interval, now_ms, name, report)
                written.append(_write_klines(folder / name, candles, interval))
        name = "binance_funding_rate_BTCUSDT_8h.csv"
        written.append(_write_funding(folder / name, _funding(fetch, now_ms, name, report)))
    if "deribit" in sources:
        name = "deribit_dvol_btc_1d.json"
        written.append(_write_dvol(folder / name, _dvol(fetch, now_ms, name, report)))
    return written


def _binance_list(reply: Any, where: str, what: str) -> list[Any]:
    """Return a Binance list reply, refusing an error reply ``{"code", "msg"}``."""
    if isinstance(reply, Mapping) and "code" in reply:
        raise InputError(
            f"{where}.code", reply.get("code"), f"is an error reply: {reply.get('msg')}"
        )
    if not isinstance(reply, list):
        raise InputError(where, abbreviate(reply), f"must be a list of {what}")
    return reply


def print_none(name: str, rows: int) -> None:
    """Ignore a progress report (the default of :func:`fetch_history`)."""


def http_get_json(url: str, params: Mapping[str, str | int], *, attempts: int = 4) -> Any:
    """GET ``url?params`` and parse the JSON body, retrying on 429, 5xx and network errors.

    Waits 1, 2, 4 s between attempts (longer when the server sends ``Retry-After``).

    Raises
    ------
    InputError
        (field ``url``) after the last failed attempt, with the reason.
    """
    query = f"{url}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(query, headers={"User-Agent": "pmargin data fetch"})
    reason = ""
    for attempt in range(attempts):
        wait = 2.0**attempt
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} {exc.reason}"
            if exc.code != 429 and exc.code < 500:
                break
            wait = max(wait, float(exc.headers.get("Retry-After") or 0.0))
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            reason = str(getattr(exc, "reason", exc))
        if attempt + 1 < attempts:
            time.sleep(wait)
    raise InputError("url", query, f"could not be fetched: {reason}")


def _klines(
    get: GetJson, symbol: str, interval: str, now_ms: int, name: str, progress: Progress
) -> list[list[Any]]:
    """Every closed candle of ``symbol`` at ``interval``, paging forward from the listing."""
    start = int(_KLINES_START.timestamp() * 1000)
    candles: list[list[Any]] = []
    for _ in range(_MAX_PAGES):
        params: dict[str, str | int] = {
            "symbol": symbol,
            "interval": interval,
            "startTime": start,
            "limit": _PAGE,
        }
        page = parse_klines(get(BINANCE_KLINES_URL, params), f"binance klines {symbol} {interval}")
        candles.extend(c for c in page if c[6] < now_ms)
        progress(name, len(candles))
        if len(page) < _PAGE or page[-1][6] >= now_ms:
            break
        start = page[-1][0] + _INTERVAL_MS[interval]
    return _unique(candles)


def _funding(get: GetJson, now_ms: int, name: str, progress: Progress) -> list[tuple[int, str]]:
    """Every BTCUSDT funding print up to ``now_ms``, paging forward."""
    start = int(_FUNDING_START.timestamp() * 1000)
    rows: list[tuple[int, str]] = []
    for _ in range(_MAX_PAGES):
        params: dict[str, str | int] = {"symbol": "BTCUSDT", "startTime": start, "limit": _PAGE}
        page = parse_funding(get(BINANCE_FUNDING_URL, params))
        rows.extend(r for r in page if r[0] <= now_ms)
        progress(name, len(rows))
        if len(page) < _PAGE:
            break
        start = page[-1][0] + 1
    return sorted(dict(rows).items())


def _dvol(get: GetJson, now_ms: int, name: str, progress: Progress) -> list[tuple[int, float]]:
    """Every closed daily BTC DVOL candle, paging backward by ``continuation``."""
    start = int(_DVOL_START.timestamp() * 1000)
    end = now_ms
    points: dict[int, float] = {}
    for _ in range(_MAX_PAGES):
        params: dict[str, str | int] = {
            "currency": "BTC",
            "start_timestamp": start,
            "end_timestamp": end,
            "resolution": "1D",
        }
        page, continuation = parse_dvol(get(DERIBIT_DVOL_URL, params))
        points.update((ms, v) for ms, v in page if ms + _INTERVAL_MS["1d"] <= now_ms)
        progress(name, len(points))
        if continuation is None or not page or continuation >= end:
            break
        end = continuation
    return sorted(points.items())


def _unique(candles: list[list[Any]]) -> list[list[Any]]:
    """Candles by open time, one per time (a later page's copy wins)."""
    return [c for _, c in sorted({c[0]: c for c in candles}.items())]


def _stamp(ms: int, fmt: str) -> str:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC).strftime(fmt)


def _write_klines(path: Path, candles: list[list[Any]], interval: str) -> FetchedFile:
    fmt = "%Y-%m-%d" if interval == "1d" else "%Y-%m-%d %H:%M:%S"
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{_stamp(c[0], fmt)},{c[1]},{c[2]},{c[3]},{c[4]},{c[5]}" for c in candles]
    _write_whole(path, "\n".join(lines) + "\n")
    return _fetched(path, [c[0] for c in candles])


def _write_funding(path: Path, rows: list[tuple[int, str]]) -> FetchedFile:
    lines = ["timestamp,funding_rate"]
    lines += [f"{_stamp(ms, '%Y-%m-%d %H:%M:%S')}.{ms % 1000:03d},{rate}" for ms, rate in rows]
    _write_whole(path, "\n".join(lines) + "\n")
    return _fetched(path, [ms for ms, _ in rows])


def _write_dvol(path: Path, points: list[tuple[int, float]]) -> FetchedFile:
    _write_whole(path, json.dumps([[ms, v] for ms, v in points], separators=(",", ":")) + "\n")
    return _fetched(path, [ms for ms, _ in points])


def _fetched(path: Path, times: list[int]) -> FetchedFile:
    if not times:
        raise InputError(str(path.name), 0, "no rows came back from the endpoint")
    return FetchedFile(
        path,
        len(times),
        datetime.fromtimestamp(times[0] / 1000.0, tz=UTC),
        datetime.fromtimestamp(times[-1] / 1000.0, tz=UTC),
    )


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` to a hidden sibling, then rename it over ``path``."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _ms(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(field, abbreviate(value), "must be a time in epoch milliseconds")
    try:
        number = int(float(value))
    except ValueError:
        raise InputError(field, abbreviate(value), "must be a time in epoch milliseconds") from None
    if not 1e11 < number < 1e14:
        raise InputError(field, number, "must be a time in epoch milliseconds (1973 to 5138)")
    return number


def _decimal_text(value: Any, field: str) -> str:
    """Return a price or rate as plain decimal text (Binance sends ``"4261.48000000"``)."""
    text = str(value).strip() if isinstance(value, str | int | float) else ""
    try:
        float(text)
    except ValueError:
        raise InputError(field, abbreviate(value), "must be a decimal number") from None
    if isinstance(value, bool) or text.lower() in ("nan", "inf", "-inf", "infinity"):
        raise InputError(field, abbreviate(value), "must be a finite decimal number")
    return text

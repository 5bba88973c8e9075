"""Read an OKX option chain from saved public REST replies.

Each file holds one reply ``{"code": "0", "msg": "", "data": [rows]}`` or a list of them; the
kind of each row is told by its fields:

==========================================  ==================================================
reply (endpoint)                            fields used
==========================================  ==================================================
option summary (``public/opt-summary``)     ``instId``, ``markVol``, ``bidVol``, ``askVol``
                                            (decimals), ``fwdPx`` (USD), ``ts`` (epoch ms)
mark prices (``public/mark-price``)         ``instId``, ``markPx`` (coin for ``BTC-USD``
                                            options), ``ts``
index tickers (``market/index-tickers``)    ``instId`` (``BTC-USD``), ``idxPx`` (USD), ``ts``
option tickers (``market/tickers``)         ``instId``, ``bidPx``, ``askPx`` (coin), ``ts``
==========================================  ==================================================

Rules: options are the instruments of the option summary; the mark is ``markPx`` when a mark
price reply gives it, else Black-76 at ``markVol`` and ``fwdPx`` (coin per coin); bid and ask
are the tickers' ``bidPx`` / ``askPx`` when given, else Black-76 at ``bidVol`` / ``askVol``
(a zero vol means no quote); the index is ``idxPx`` of ``<COIN>-USD`` when an index reply is
given, else the forward of the nearest expiry (stated in ``docs/market.md``). A reply with a
``code`` other than ``"0"``, or a row of no known kind, is refused naming ``okx`` and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from pmargin._files import read_structured, short_path
from pmargin._validation import abbreviate
from pmargin.errors import InputError, PmarginError
from pmargin.instruments import Instrument, Right, Settlement
from pmargin.io._chain import ChainQuote, option_instrument, venue_number
from pmargin.pricing import black76_value
from pmargin.timeutil import parse_timestamp, year_fraction

__all__ = ["okx_quotes", "read_okx_chain"]

_VENUE = "okx"


def read_okx_chain(paths: Sequence[str | PathLike[str]]) -> list[ChainQuote]:
    """Read saved OKX replies (option summary, mark prices, index and option tickers).

    Parameters
    ----------
    paths
        JSON files, each one reply or a list of replies (see the module docstring).

    Returns
    -------
    list of ChainQuote
        One per option of the option summaries.

    Raises
    ------
    InputError
        Naming ``okx``, the file and the field: an error reply, an unknown row, a bad number.
    """
    rows: list[tuple[str, Mapping[str, Any]]] = []
    for path in paths:
        name = short_path(Path(path))
        data = read_structured(path, "okx reply")
        replies = data if isinstance(data, list) else [data]
        for i, reply in enumerate(replies):
            where = f"{_VENUE} reply {name}" + (f"[{i}]" if isinstance(data, list) else "")
            rows.extend((f"{where}.data[{j}]", row) for j, row in enumerate(_data(reply, where)))
    return okx_quotes(rows)


def okx_quotes(rows: Sequence[tuple[str, Mapping[str, Any]]]) -> list[ChainQuote]:
    """Join OKX rows by ``instId`` into option quotes (rules in the module docstring).

    Parameters
    ----------
    rows
        ``(field path for errors, row)`` pairs from any of the four replies.

    Returns
    -------
    list of ChainQuote
        One per option summary row, in the order given.
    """
    summaries: list[tuple[str, Mapping[str, Any]]] = []
    marks: dict[str, float] = {}
    books: dict[str, tuple[float, float]] = {}
    index: dict[str, float] = {}
    for field, row in rows:
        if not isinstance(row, Mapping) or not isinstance(row.get("instId"), str):
            raise InputError(f"{field}.instId", abbreviate(row), f"is required in an {_VENUE} row")
        inst_id = row["instId"]
        if "markVol" in row:
            summaries.append((field, row))
        elif "markPx" in row:
            marks[inst_id] = _number(row, "markPx", field)
        elif "idxPx" in row:
            index[inst_id.split("-")[0]] = _number(row, "idxPx", field)
        elif "bidPx" in row or "askPx" in row:
            books[inst_id] = (_number(row, "bidPx", field), _number(row, "askPx", field))
        else:
            raise InputError(
                field,
                abbreviate(sorted(row)),
                "is not an option summary, mark price, index or ticker row",
            )
    parsed = []
    for field, row in summaries:
        try:
            instrument = option_instrument(row["instId"], f"{field}.instId")
        except PmarginError as exc:
            raise InputError(f"{field}.instId", row["instId"], str(exc)) from None
        if instrument is not None:
            parsed.append((field, row, instrument))
    nearest: dict[str, tuple[Any, float]] = {}
    for field, row, inst in parsed:
        fwd = _number(row, "fwdPx", field)
        if inst.underlying not in nearest or inst.expiry < nearest[inst.underlying][0]:
            nearest[inst.underlying] = (inst.expiry, fwd)
    quotes = []
    for field, row, inst in parsed:
        mark_iv = _number(row, "markVol", field)
        forward = _number(row, "fwdPx", field)
        ts = _number(row, "ts", field)
        if math.isnan(ts):
            raise InputError(f"{field}.ts", None, "is required (epoch milliseconds)")
        stamp = parse_timestamp(ts, f"{field}.ts")
        mark = marks.get(row["instId"], math.nan)
        if math.isnan(mark):
            mark = _black_coin(inst, forward, stamp, mark_iv)
        bid, ask = books.get(row["instId"], (math.nan, math.nan))
        if row["instId"] not in books:
            bid = _black_coin(inst, forward, stamp, _number(row, "bidVol", field))
            ask = _black_coin(inst, forward, stamp, _number(row, "askVol", field))
        quotes.append(
            ChainQuote(
                instrument=inst,
                timestamp=stamp,
                mark=mark,
                bid=bid,
                ask=ask,
                mark_iv=mark_iv,
                forward=forward,
                index=index.get(inst.underlying, math.nan),
                delivery=nearest[inst.underlying][1],
            )
        )
    return quotes


def _data(reply: Any, where: str) -> list[Any]:
    """Return the ``data`` rows of one OKX reply, refusing an error reply."""
    if not isinstance(reply, Mapping) or "data" not in reply or "code" not in reply:
        shown = sorted(reply) if isinstance(reply, Mapping) else reply
        raise InputError(where, abbreviate(shown), "is not an OKX reply {code, msg, data}")
    if str(reply["code"]) != "0":
        raise InputError(
            f"{where}.code", reply["code"], f"is an error reply: {reply.get('msg', '')!s}"
        )
    data = reply["data"]
    if not isinstance(data, list):
        raise InputError(f"{where}.data", abbreviate(data), "must be a list of rows")
    return data


def _number(row: Mapping[str, Any], key: str, field: str) -> float:
    """Return ``row[key]`` (OKX sends numbers as text) as a float; NaN when absent or empty."""
    return venue_number(row.get(key), f"{field}.{key}")


def _black_coin(inst: Instrument, forward: float, when: Any, vol: float) -> float:
    """Black-76 price at ``vol`` (coin per coin for inverse options); NaN without a vol."""
    assert inst.expiry is not None
    assert inst.strike is not None
    t = year_fraction(when, inst.expiry)
    if not (vol > 0.0 and forward > 0.0 and t > 0.0):
        return math.nan
    usd = float(black76_value(forward, inst.strike, t, vol, inst.right is Right.CALL))
    return usd / forward if inst.settlement is Settlement.INVERSE else usd

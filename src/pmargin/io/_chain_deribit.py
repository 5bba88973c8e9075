"""Read a Deribit option chain: saved API replies (JSON) or a flattened chain (CSV).

Accepted inputs, one or more files, any mix:

* JSON: a ``public/get_book_summary_by_currency`` reply (``{"jsonrpc", "result": [rows]}``),
  a ``public/ticker`` reply (``{"jsonrpc", "result": {row}}``), a list of such replies, or a
  plain list of result rows;
* CSV: one row per instrument with Deribit's field names as columns (a flattened book summary
  or ticker dump, like the chains in ``../shared/data/deribit``); unknown columns are ignored.

Field names (first one present wins), per row:

==================  ==========================================================================
value               fields
==================  ==========================================================================
symbol              ``instrument_name``
time                ``timestamp`` (ticker; epoch ms or ISO text), ``creation_timestamp``
mark (coin)         ``mark_price``
bid, ask (coin)     ``best_bid_price`` / ``bid_price``, ``best_ask_price`` / ``ask_price``
mark IV             ``mark_iv`` (vol points, ``55.3``) or ``implied_volatility`` (decimal)
forward (USD)       ``underlying_price``, ``underlying``
index (USD)         ``index_price``; ``estimated_delivery_price`` (fallback)
forward's source    ``underlying_index``, ``underlying_name`` (a future, or ``SYN.`` synthetic)
==================  ==========================================================================

Rows of non-options (futures, perpetuals in a ``kind=any`` summary) are skipped. A reply that
is not one of these shapes (a JSON-RPC ``error``, a row without ``instrument_name``) is refused
with the venue and the field named.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from pmargin._files import read_structured, read_text_file, short_path
from pmargin._validation import abbreviate
from pmargin.errors import InputError, PmarginError
from pmargin.io._chain import ChainQuote, option_instrument, venue_number
from pmargin.timeutil import parse_timestamp

__all__ = ["deribit_quotes", "read_deribit_chain"]

_VENUE = "deribit"
_TIME = ("timestamp", "creation_timestamp")
_BID = ("best_bid_price", "bid_price")
_ASK = ("best_ask_price", "ask_price")
_FORWARD = ("underlying_price", "underlying")
_SOURCE = ("underlying_index", "underlying_name")


def read_deribit_chain(paths: Sequence[str | PathLike[str]]) -> list[ChainQuote]:
    """Read Deribit chain files (JSON replies or CSV) into option quotes.

    Parameters
    ----------
    paths
        ``.json`` replies or ``.csv`` chains (see the module docstring).

    Returns
    -------
    list of ChainQuote
        The options of every file, in file order.

    Raises
    ------
    InputError
        Naming the file and field: an unrecognised reply, a row without a symbol, mark or
        time, an unparseable number or symbol.
    """
    quotes: list[ChainQuote] = []
    for path in paths:
        file = Path(path)
        name = short_path(file)
        if file.suffix.lower() == ".csv":
            text = read_text_file(file, "deribit chain file")
            reader = csv.DictReader(text.splitlines())
            rows: list[Mapping[str, Any]] = [dict(r) for r in reader]
            if reader.fieldnames is None or "instrument_name" not in reader.fieldnames:
                raise InputError(
                    f"{_VENUE} chain {name}",
                    abbreviate(list(reader.fieldnames or [])),
                    "has no instrument_name column (Deribit's field names are expected)",
                )
        else:
            rows = _reply_rows(read_structured(file, "deribit reply"), name)
        quotes.extend(deribit_quotes(rows, name))
    return quotes


def deribit_quotes(rows: Sequence[Mapping[str, Any]], where: str = _VENUE) -> list[ChainQuote]:
    """Option quotes from Deribit result rows (book summary or ticker field names).

    Parameters
    ----------
    rows
        One mapping per instrument, values as numbers or text (CSV cells).
    where
        Prefix of error fields (the file name).

    Returns
    -------
    list of ChainQuote
        One per option row; non-option rows are skipped.
    """
    quotes = []
    for i, row in enumerate(rows):
        field = f"{where}[{i}]"
        if not isinstance(row, Mapping):
            raise InputError(field, abbreviate(row), f"is not a {_VENUE} result row (a mapping)")
        symbol = row.get("instrument_name")
        if not isinstance(symbol, str) or not symbol:
            raise InputError(
                f"{field}.instrument_name", abbreviate(symbol), f"is required in a {_VENUE} row"
            )
        try:
            instrument = option_instrument(symbol, f"{field}.instrument_name")
        except PmarginError as exc:
            raise InputError(f"{field}.instrument_name", symbol, str(exc)) from None
        if instrument is None:
            continue
        stamp = _first(row, _TIME)
        if stamp is None:
            raise InputError(
                f"{field}.timestamp", None, "is required (timestamp or creation_timestamp)"
            )
        if isinstance(stamp, str) and _is_number(stamp):
            stamp = float(stamp)
        iv = _number(row, ("mark_iv",), field) / 100.0
        if math.isnan(iv):
            iv = _number(row, ("implied_volatility",), field)
        mark = _number(row, ("mark_price",), field)
        if math.isnan(mark) or mark < 0.0:
            raise InputError(f"{field}.mark_price", row.get("mark_price"), "must be a price >= 0")
        source = _first(row, _SOURCE)
        future = source if isinstance(source, str) and source[:4] != "SYN." else None
        if future == "index_price":
            future = None
        quotes.append(
            ChainQuote(
                instrument=instrument,
                timestamp=parse_timestamp(stamp, f"{field}.timestamp"),
                mark=mark,
                bid=_number(row, _BID, field),
                ask=_number(row, _ASK, field),
                mark_iv=iv,
                forward=_number(row, _FORWARD, field),
                index=_number(row, ("index_price",), field),
                delivery=_number(row, ("estimated_delivery_price",), field),
                future=future,
            )
        )
    return quotes


def _reply_rows(data: Any, name: str) -> list[Mapping[str, Any]]:
    """Return the result rows of one reply, a list of replies, or a plain list of rows."""
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise InputError(f"{_VENUE} reply {name}", abbreviate(data), "is not a reply or a list")
    rows: list[Mapping[str, Any]] = []
    for i, item in enumerate(data):
        if isinstance(item, Mapping) and "instrument_name" in item:
            rows.append(item)
            continue
        field = f"{_VENUE} reply {name}[{i}]"
        if not isinstance(item, Mapping):
            raise InputError(field, abbreviate(item), "is not a JSON-RPC reply or result row")
        if "error" in item:
            raise InputError(f"{field}.error", abbreviate(item["error"]), "is an error reply")
        if "result" not in item:
            raise InputError(
                field,
                abbreviate(sorted(item)),
                "has no result (expected get_book_summary_by_currency or ticker replies)",
            )
        result = item["result"]
        if isinstance(result, Mapping):
            rows.append(result)
        elif isinstance(result, list):
            rows.extend(result)
        else:
            raise InputError(f"{field}.result", abbreviate(result), "is not a row or list of rows")
    return rows


def _first(row: Mapping[str, Any], names: Sequence[str]) -> Any:
    """Return the first of ``names`` with a non-empty value, else ``None``."""
    for key in names:
        value = row.get(key)
        if value is not None and value != "":
            return value
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(row: Mapping[str, Any], names: Sequence[str], field: str) -> float:
    """Return the first present field of ``names`` as a float; NaN when none is given."""
    for key in names:
        number = venue_number(row.get(key), f"{field}.{key}")
        if not math.isnan(number):
            return number
    return math.nan

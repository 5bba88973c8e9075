"""What every venue importer shares: replies, numbers read exactly, and the portfolio document.

A venue reader takes one saved reply (:class:`Reply`: its name, for messages, and its parsed
JSON) and returns the :class:`Holdings` it contributes: positions in the portfolio file's
form (``{"instrument", "quantity", "unit", "avg_price"}``, units stated explicitly: ``base``,
``quote`` or ``contracts``), balances by asset, and explicit instrument specs where the venue
symbol alone does not say the contract. :func:`portfolio_document` joins the holdings of
several replies into one portfolio document (the JSON of ``pmargin import -o``), which
:func:`pmargin.book.portfolio_from_dict` reads like any portfolio file.

Numbers are read exactly (venues send decimal text, ``"0.01"``): quantities are multiplied
as :class:`~decimal.Decimal` (``3 x 0.01`` contracts is ``0.03`` coin, not
``0.030000000000000002``) and converted to float once, at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Any

from pmargin._validation import DECIMAL_TEXT, abbreviate
from pmargin.errors import InputError
from pmargin.instruments import Instrument, Kind, parse_symbol

__all__ = [
    "Holdings",
    "Reader",
    "Reply",
    "add_balances",
    "decimal",
    "entries",
    "envelope",
    "explicit_spec",
    "face_unit",
    "nested_balances",
    "optional_decimal",
    "portfolio_document",
    "position_entry",
    "read_all",
    "refuse",
    "row_instrument",
    "signed_size",
    "text",
    "venue_instrument",
]


@dataclass(frozen=True, slots=True)
class Reply:
    """One saved venue reply.

    Attributes
    ----------
    venue
        The venue that sent it (``"deribit"``, ``"okx"``, ``"bybit"``, ``"binance"``,
        ``"ccxt"``).
    name
        What names it in messages: the file it was read from, or ``"reply 2"``.
    data
        The parsed JSON: mappings, lists, text, numbers.
    """

    venue: str
    name: str
    data: Any

    def field(self, path: str = "") -> str:
        """Return the error field naming ``path`` in this reply: ``okx reply 'p.json' data[0]``."""
        where = f"{self.venue} reply {self.name!r}"
        return f"{where} {path}" if path else where


@dataclass(slots=True)
class Holdings:
    """What one reply (or several) contributes to an account.

    Attributes
    ----------
    positions
        Position entries of the portfolio file (``instrument``, ``quantity``, ``unit``,
        optional ``avg_price``), in reply order.
    balances
        Asset (upper case) -> amount in units of the asset.
    balance_fields
        ``"wallet:ASSET"`` -> the field of the reply that gave it (an asset given twice in
        one wallet is named).
    adjustments
        Asset -> amount added to that asset's balance once every reply is read (Deribit: the
        positions' values that its ``equity`` already holds); dropped for an asset with no
        balance given.
    instruments
        Explicit instrument specs (portfolio file ``instruments``) by symbol.
    """

    positions: list[dict[str, Any]] = field(default_factory=list)
    balances: dict[str, Decimal] = field(default_factory=dict)
    balance_fields: dict[str, str] = field(default_factory=dict)
    adjustments: dict[str, Decimal] = field(default_factory=dict)
    instruments: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_balance(self, asset: str, amount: Decimal, where: str, wallet: str = "") -> None:
        """Add ``amount`` of ``asset`` held in ``wallet`` to the account's balance.

        The same asset from two wallets of one venue (Binance futures and options) is summed;
        the same asset twice from one wallet (a reply given twice) is refused, naming both
        fields.
        """
        code = asset.strip().upper()
        if not code:
            raise InputError(where, asset, "must be an asset code such as 'BTC'")
        key = f"{wallet}:{code}"
        if key in self.balance_fields:
            raise InputError(
                where,
                code,
                f"repeats the balance of {code} already given by {self.balance_fields[key]}",
            )
        self.balances[code] = self.balances.get(code, Decimal(0)) + amount
        self.balance_fields[key] = where

    def adjust(self, asset: str, amount: Decimal) -> None:
        """Add ``amount`` to ``asset``'s adjustment (applied in :func:`portfolio_document`)."""
        self.adjustments[asset] = self.adjustments.get(asset, Decimal(0)) + amount

    def extend(self, other: Holdings) -> None:
        """Add another reply's holdings (positions appended, balances and specs checked once)."""
        self.positions.extend(other.positions)
        for key, where in other.balance_fields.items():
            if key in self.balance_fields:
                asset = key.partition(":")[2]
                raise InputError(
                    where,
                    asset,
                    f"repeats the balance of {asset} already given by {self.balance_fields[key]}",
                )
            self.balance_fields[key] = where
        for asset, amount in other.balances.items():
            self.balances[asset] = self.balances.get(asset, Decimal(0)) + amount
        for asset, amount in other.adjustments.items():
            self.adjust(asset, amount)
        for symbol, spec in other.instruments.items():
            if symbol in self.instruments and self.instruments[symbol] != spec:
                raise InputError(
                    f"instrument {symbol!r}", spec.get("contract_size"), "is described twice"
                )
            self.instruments[symbol] = spec


def refuse(reply: Reply, expected: str) -> InputError:
    """Return the error for a reply of no known shape: the venue, its keys and what was expected.

    Parameters
    ----------
    reply
        The reply.
    expected
        The replies the venue's importer reads and the field that tells each apart.
    """
    data = reply.data
    if isinstance(data, Mapping):
        shown: object = sorted(str(k) for k in data)[:8]
    elif isinstance(data, list):
        first = data[0] if data else None
        shown = (
            f"list of {len(data)} whose first entry has keys {sorted(map(str, first))[:8]}"
            if isinstance(first, Mapping)
            else f"list of {len(data)}"
        )
    else:
        shown = abbreviate(data)
    return InputError(reply.field(), shown, f"is not a reply pmargin reads: expected {expected}")


def envelope(reply: Reply, keys: tuple[str, str, str], expected: str) -> Any:
    """Return the payload of a ``{code, message, payload}`` reply whose code is ``0``.

    Parameters
    ----------
    reply
        The reply.
    keys
        ``(code key, message key, payload key)``: OKX's ``("code", "msg", "data")``,
        Bybit's ``("retCode", "retMsg", "result")``.
    expected
        What the venue's importer reads, for the error on a reply of another shape.

    Raises
    ------
    InputError
        A reply that is no such object, or lacks the code or the payload (:func:`refuse`);
        an error reply (code other than ``0``), naming the code and giving its message.
    """
    code, message, payload = keys
    body = reply.data
    if not isinstance(body, Mapping) or code not in body or payload not in body:
        raise refuse(reply, expected)
    if str(body[code]) != "0":
        raise InputError(reply.field(code), body[code], f"is an error reply: {body.get(message)}")
    return body[payload]


def entries(reply: Reply, value: Any, path: str) -> list[Mapping[str, Any]]:
    """Return ``value`` as a list of mappings, or refuse naming ``path``."""
    if not isinstance(value, list) or not all(isinstance(e, Mapping) for e in value):
        raise InputError(reply.field(path), abbreviate(value), "must be a list of objects")
    return value


def text(reply: Reply, entry: Mapping[str, Any], key: str, path: str) -> str:
    """Return the non-empty text ``entry[key]``, or refuse naming ``path.key``."""
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        reason = "is required" if value is None else "must be non-empty text"
        raise InputError(reply.field(f"{path}.{key}"), abbreviate(value), reason)
    return value.strip()


def decimal(reply: Reply, entry: Mapping[str, Any], key: str, path: str) -> Decimal:
    """Return the finite number ``entry[key]`` (a JSON number or decimal text) exactly.

    Raises
    ------
    InputError
        Naming ``path.key``: missing, empty, not a number, not finite.
    """
    value = optional_decimal(reply, entry, key, path)
    if value is None:
        raise InputError(reply.field(f"{path}.{key}"), entry.get(key), "is required (a number)")
    return value


def optional_decimal(reply: Reply, entry: Mapping[str, Any], key: str, path: str) -> Decimal | None:
    """Return ``entry[key]`` as a :class:`~decimal.Decimal`, ``None`` when absent or empty text."""
    value = entry.get(key)
    if value is None or value == "":
        return None
    where = reply.field(f"{path}.{key}")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(where, abbreviate(value), "must be a number or decimal text")
    if isinstance(value, str):
        if not DECIMAL_TEXT.fullmatch(value.strip()):
            raise InputError(where, abbreviate(value), "must be a decimal number such as 1.5")
        value = value.strip()
    try:
        number = Decimal(value if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise InputError(where, abbreviate(value), "must be a number") from None
    if not number.is_finite():
        raise InputError(where, abbreviate(value), "must be a finite number")
    return number


def signed_size(
    reply: Reply,
    row: Mapping[str, Any],
    keys: tuple[str, str],
    signs: Mapping[str, int],
    where: str,
) -> Decimal | None:
    """Return an unsigned size signed by its side, ``None`` for a size of 0.

    Parameters
    ----------
    reply, row, where
        The reply, the entry and its path (for messages).
    keys
        ``(size key, side key)``: ``("size", "side")``.
    signs
        Side -> +1 or -1 (``{"Buy": 1, "Sell": -1}``); another side is refused.
    """
    size_key, side_key = keys
    size = decimal(reply, row, size_key, where)
    if size == 0:
        return None
    side = str(row.get(side_key) or "")
    if side not in signs:
        raise InputError(reply.field(f"{where}.{side_key}"), side, f"must be {' or '.join(signs)}")
    return abs(size) * signs[side]


def add_balances(
    reply: Reply,
    rows: Sequence[Mapping[str, Any]],
    path: str,
    keys: tuple[str, str],
    holdings: Holdings,
    wallet: str = "",
) -> None:
    """Add one balance per entry of ``rows``: ``keys`` = ``(asset key, amount key)``.

    ``path`` is the list's path in the reply (``data[0].details``); the field recorded for
    each balance names its amount.
    """
    asset_key, amount_key = keys
    for k, row in enumerate(rows):
        where = f"{path}[{k}]"
        asset = text(reply, row, asset_key, where)
        amount = decimal(reply, row, amount_key, where)
        holdings.add_balance(asset, amount, reply.field(f"{where}.{amount_key}"), wallet)


def nested_balances(
    reply: Reply,
    rows: Sequence[Mapping[str, Any]],
    path: str,
    nested: str,
    keys: tuple[str, str],
) -> Holdings:
    """Return the balances of accounts that each list theirs under ``nested``.

    ``rows`` is the accounts' list at ``path`` in the reply (OKX's ``data``, each with
    ``details``; Bybit's ``result.list``, each with ``coin``); each account's list is read
    by :func:`add_balances` with ``keys`` = ``(asset key, amount key)``.
    """
    holdings = Holdings()
    for k, row in enumerate(rows):
        where = f"{path}[{k}].{nested}"
        add_balances(reply, entries(reply, row[nested], where), where, keys, holdings)
    return holdings


def row_instrument(
    reply: Reply, row: Mapping[str, Any], key: str, where: str, venue: str
) -> Instrument:
    """Return the instrument whose symbol is ``row[key]`` (:func:`venue_instrument`).

    ``where`` is the entry's path in the reply; errors name ``where.key``.
    """
    return venue_instrument(reply, text(reply, row, key, where), f"{where}.{key}", venue)


def venue_instrument(reply: Reply, symbol: str, where: str, venue: str | None = None) -> Instrument:
    """Parse a venue symbol (:func:`~pmargin.instruments.parse_symbol`), refusing with ``where``.

    Parameters
    ----------
    reply
        The reply (names the field).
    symbol
        The symbol as pmargin writes it (the venue's own, or its ccxt form).
    where
        Path of the symbol in the reply.
    venue
        The symbol syntax to read it with; ``None`` detects it from the shape.
    """
    try:
        return parse_symbol(symbol, venue)
    except InputError as err:
        raise InputError(reply.field(where), symbol, err.reason) from None


def position_entry(
    instrument: Instrument,
    quantity: Decimal,
    unit: str,
    avg_price: Decimal | None,
) -> dict[str, Any]:
    """Return a portfolio-file position: symbol, signed quantity in ``unit``, optional price.

    ``avg_price`` is kept when it is a positive number (a venue writes 0 for "none").
    """
    entry: dict[str, Any] = {
        "instrument": instrument.symbol,
        "quantity": float(quantity),
        "unit": unit,
    }
    if avg_price is not None and avg_price > 0:
        entry["avg_price"] = float(avg_price)
    return entry


def face_unit(instrument: Instrument) -> str:
    """``quote`` where one contract is a quote-currency face (inverse futures and perpetuals).

    Else ``base``: the unit of a quantity that is a number of coins.
    """
    if instrument.is_inverse and instrument.kind is not Kind.OPTION:
        return "quote"
    return "base"


def explicit_spec(instrument: Instrument) -> dict[str, Any]:
    """Return the portfolio file's explicit spec of an instrument (docs/portfolio.md)."""
    spec: dict[str, Any] = {
        "symbol": instrument.symbol,
        "kind": instrument.kind.value,
        "underlying": instrument.underlying,
        "quote": instrument.quote,
        "settlement": instrument.settlement.value,
        "contract_size": instrument.contract_size,
        "contract_currency": instrument.contract_currency,
        "quantity_unit": "contracts",
        "venue": instrument.venue,
    }
    if instrument.expiry is not None:
        spec["expiry"] = instrument.expiry.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if instrument.strike is not None:
        spec["strike"] = instrument.strike
    if instrument.right is not None:
        spec["right"] = instrument.right.value
    return spec


def portfolio_document(holdings: Holdings, account: str) -> dict[str, Any]:
    """Return the portfolio document of one account holding ``holdings``.

    Parameters
    ----------
    holdings
        Every reply's holdings, joined; each balance plus its adjustment (zeros left out).
    account
        The account id.

    Returns
    -------
    dict
        ``{"accounts": [{"id", "balances", "positions"}]}`` plus ``"instruments"`` when
        explicit specs are needed: the portfolio file's form (docs/portfolio.md).
    """
    document: dict[str, Any] = {
        "accounts": [
            {
                "id": account,
                "balances": {
                    asset: float(total)
                    for asset, total in sorted(
                        (a, b + holdings.adjustments.get(a, Decimal(0)))
                        for a, b in holdings.balances.items()
                    )
                    if total != 0
                },
                "positions": list(holdings.positions),
            }
        ]
    }
    if holdings.instruments:
        document["instruments"] = list(holdings.instruments.values())
    return document


Reader = Callable[[Reply], Holdings]
"""A venue's reader: one reply in, its holdings out (refusing a reply it does not know)."""


def read_all(reader: Reader, replies: Sequence[Reply]) -> Holdings:
    """Read every reply with ``reader`` and join their holdings (any order)."""
    joined = Holdings()
    for reply in replies:
        joined.extend(reader(reply))
    return joined

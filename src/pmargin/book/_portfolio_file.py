"""The portfolio file: JSON or YAML (accounts with balances and positions) or a flat CSV.

JSON/YAML (DESIGN.md)::

    {"accounts": [{"id": "alice", "balances": {"BTC": 2.5},
                   "positions": [{"instrument": "BTC-27DEC24-60000-C", "quantity": -1,
                                  "unit": "native", "avg_price": 0.05}]}],
     "instruments": [explicit instrument specs]}

A single account may be given without the ``accounts`` wrapper. CSV files are flat rows
(:mod:`pmargin.book._flat`): one position or balance per row, with the header
``[account,]instrument,quantity[,unit][,avg_price]`` (exactly those columns, each at most once,
in any order: an unknown, misspelt or repeated column is refused by name, never dropped);
without ``account`` every row is the account ``main``; a row with ``unit`` = ``balance`` is a
balance (``instrument`` the asset, ``quantity`` the amount).

Symbols are looked up among the explicit ``instruments`` first, then parsed as venue symbols.

Numbers (``quantity``, ``avg_price``, balances) are JSON/YAML numbers or plain decimal text
(``"1.5"``, ``"-2e3"``); every one is checked finite and inside the ranges of
``pmargin/input_limits.toml`` (table ``numbers``). Balance assets are upper-cased; two
spellings of one asset (``BTC`` and ``btc``) in one account are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pmargin._files import read_csv_rows, read_structured
from pmargin._validation import abbreviate, as_decimal, input_limits
from pmargin.book._flat import BALANCE_UNIT, DEFAULT_ACCOUNT, FLAT_COLUMNS, FLAT_REQUIRED
from pmargin.book._portfolio import NATIVE, Account, Portfolio, Position
from pmargin.book._symbols import symbol_resolver
from pmargin.book._table import read_portfolio_table
from pmargin.errors import InputError
from pmargin.instruments import Instrument, instrument_from_spec

__all__ = ["load_portfolio", "portfolio_from_dict"]

_ACCOUNT_KEYS = frozenset({"id", "balances", "positions"})
_POSITION_KEYS = frozenset({"instrument", "quantity", "unit", "avg_price"})
_TOP_KEYS = frozenset({"accounts", "instruments"})
CSV_COLUMNS = FLAT_COLUMNS
"""Columns a portfolio CSV file may have; ``instrument`` and ``quantity`` are required."""
_CSV_REQUIRED = FLAT_REQUIRED


def load_portfolio(path: str | Path) -> Portfolio:
    """Load a portfolio from a ``.json``, ``.yaml``/``.yml``, ``.csv`` or table file.

    Parquet and Arrow files (``.parquet``, ``.arrow``, ``.feather``) are read as portfolio
    tables (:func:`~pmargin.book.read_portfolio_table`) and returned as objects; a ``.csv``
    file is read here, row by row (the columnar reader's twin for CSV).
    """
    file = Path(path)
    if file.suffix.lower() in (".parquet", ".arrow", ".feather"):
        return read_portfolio_table(file).to_portfolio()
    if file.suffix.lower() == ".csv":
        rows = read_csv_rows(file, "portfolio file", columns=CSV_COLUMNS, required=_CSV_REQUIRED)
        return _portfolio_from_csv(rows, str(file))
    data = read_structured(file, "portfolio file")
    return portfolio_from_dict(data)


def portfolio_from_dict(data: Any) -> Portfolio:
    """Build a :class:`Portfolio` from the parsed portfolio document.

    Raises
    ------
    InputError
        Naming the field path, for unknown keys, unknown symbols and invalid values.
    """
    if not isinstance(data, Mapping):
        raise InputError("portfolio", abbreviate(data), "must be a mapping with 'accounts'")
    if "accounts" not in data and "id" in data:
        data = {"accounts": [{k: v for k, v in data.items() if k != "instruments"}]} | (
            {"instruments": data["instruments"]} if "instruments" in data else {}
        )
    _reject_unknown(data, _TOP_KEYS, "portfolio")
    specs = data.get("instruments") or []
    if not isinstance(specs, list):
        raise InputError("instruments", abbreviate(specs), "must be a list of instrument specs")
    explicit: dict[str, Instrument] = {}
    for i, spec in enumerate(specs):
        instrument = instrument_from_spec(spec, f"instruments[{i}]")
        if instrument.symbol in explicit:
            raise InputError(f"instruments[{i}].symbol", instrument.symbol, "is defined twice")
        explicit[instrument.symbol] = instrument
    resolve = symbol_resolver(explicit)
    accounts_data = data.get("accounts")
    if not isinstance(accounts_data, list) or not accounts_data:
        raise InputError(
            "accounts", abbreviate(accounts_data), "must be a non-empty list of accounts"
        )
    accounts = tuple(
        _account(entry, f"accounts[{i}]", resolve) for i, entry in enumerate(accounts_data)
    )
    held = {p.instrument.symbol: p.instrument for a in accounts for p in a.positions}
    return Portfolio(accounts=accounts, instruments=explicit | held)


def _account(entry: Any, field: str, resolve: Callable[[str, str], Instrument]) -> Account:
    if not isinstance(entry, Mapping):
        raise InputError(
            field, abbreviate(entry), "must be a mapping with id, balances and positions"
        )
    _reject_unknown(entry, _ACCOUNT_KEYS, field)
    account_id = entry.get("id")
    if not isinstance(account_id, str | int) or isinstance(account_id, bool) or account_id == "":
        raise InputError(f"{field}.id", abbreviate(account_id), "must be a non-empty string")
    balances = entry.get("balances") or {}
    if not isinstance(balances, Mapping):
        raise InputError(
            f"{field}.balances", abbreviate(balances), "must be a mapping of asset -> amount"
        )
    positions_data = entry.get("positions") or []
    if not isinstance(positions_data, list):
        raise InputError(
            f"{field}.positions", abbreviate(positions_data), "must be a list of positions"
        )
    positions = tuple(
        _position(p, f"{field}.positions[{j}]", resolve) for j, p in enumerate(positions_data)
    )
    return Account(
        id=str(account_id), balances=_balances(balances, f"{field}.balances"), positions=positions
    )


def _balances(balances: Mapping[Any, Any], field: str) -> dict[str, float]:
    """``{asset: amount}`` with upper-case asset codes, each given once, amounts in range."""
    limit = input_limits().number("numbers", "max_balance")
    result: dict[str, float] = {}
    spelt: dict[str, str] = {}
    for asset, amount in balances.items():
        if not isinstance(asset, str) or not asset.strip() or asset != asset.strip():
            raise InputError(field, abbreviate(asset), "keys must be asset codes such as 'BTC'")
        code = asset.upper()
        if code in result:
            raise InputError(
                f"{field}.{abbreviate(asset)}",
                abbreviate(amount),
                f"repeats the asset {spelt[code]!r} (asset codes ignore case)",
            )
        spelt[code] = asset
        result[code] = as_decimal(amount, f"{field}.{abbreviate(asset)}", low=-limit, high=limit)
    return result


def _position(entry: Any, field: str, resolve: Callable[[str, str], Instrument]) -> Position:
    if not isinstance(entry, Mapping):
        raise InputError(field, abbreviate(entry), "must be a mapping with instrument and quantity")
    _reject_unknown(entry, _POSITION_KEYS, field)
    if "instrument" not in entry:
        raise InputError(f"{field}.instrument", None, "is required")
    if "quantity" not in entry:
        raise InputError(f"{field}.quantity", None, "is required")
    instrument = resolve(entry["instrument"], f"{field}.instrument")
    limits = input_limits()
    max_quantity = limits.number("numbers", "max_quantity")
    quantity = as_decimal(
        entry["quantity"], f"{field}.quantity", low=-max_quantity, high=max_quantity
    )
    unit = entry.get("unit", NATIVE)
    if not isinstance(unit, str):
        raise InputError(f"{field}.unit", abbreviate(unit), "must be text such as 'native'")
    avg_price = entry.get("avg_price")
    if avg_price not in (None, ""):
        avg_price = as_decimal(
            avg_price,
            f"{field}.avg_price",
            low=limits.number("numbers", "min_price"),
            high=limits.number("numbers", "max_price"),
        )
    return Position(
        instrument=instrument,
        quantity=quantity,
        unit=unit.lower(),
        avg_price=None if avg_price in (None, "") else avg_price,
    )


def _portfolio_from_csv(rows: list[tuple[int, dict[str, str]]], name: str) -> Portfolio:
    """Positions and balances grouped by account; errors name the line of the bad row.

    Accounts in order of their first position row, then those with balance rows only
    (:mod:`pmargin.book._flat`).
    """
    if not rows:
        raise InputError("portfolio file", abbreviate(name), "has no position or balance rows")
    positions: dict[str, list[dict[str, Any]]] = {}
    balances: dict[str, dict[str, str]] = {}
    lines: dict[str, list[int]] = {}
    balance_lines: dict[str, dict[str, int]] = {}
    for line, row in rows:
        account = row.get("account", DEFAULT_ACCOUNT)
        if row.get("unit", "").lower() == BALANCE_UNIT:
            _balance_row(line, row, account, balances, balance_lines)
            continue
        position: dict[str, Any] = {"instrument": row["instrument"], "quantity": row["quantity"]}
        if row.get("unit"):
            position["unit"] = row["unit"]
        if row.get("avg_price"):
            position["avg_price"] = row["avg_price"]
        positions.setdefault(account, []).append(position)
        lines.setdefault(account, []).append(line)
    order = list(positions) + [a for a in balances if a not in positions]
    document = [
        {"id": a, "positions": positions.get(a, []), "balances": balances.get(a, {})} for a in order
    ]
    try:
        return portfolio_from_dict({"accounts": document})
    except InputError as err:
        raise InputError(
            _csv_field(err.field, order, lines, balance_lines), err.value, err.reason
        ) from None


def _balance_row(
    line: int,
    row: dict[str, str],
    account: str,
    balances: dict[str, dict[str, str]],
    balance_lines: dict[str, dict[str, int]],
) -> None:
    """Record a balance row (``unit`` = ``balance``); a repeated asset names both lines."""
    asset = row["instrument"]
    if row.get("avg_price"):
        raise InputError(
            f"portfolio file line {line} column avg_price",
            abbreviate(row["avg_price"]),
            "must be empty on a balance row",
        )
    held = balance_lines.setdefault(account, {})
    for known, first in held.items():
        if known.upper() == asset.upper():
            raise InputError(
                f"portfolio file line {line} column instrument",
                abbreviate(asset),
                f"repeats the balance of line {first} (asset codes ignore case)",
            )
    held[asset] = line
    balances.setdefault(account, {})[asset] = row["quantity"]


def _csv_field(
    field: str,
    order: list[str],
    lines: dict[str, list[int]],
    balance_lines: dict[str, dict[str, int]],
) -> str:
    """Replace ``accounts[i].positions[j]`` (or ``.balances.X``) by the CSV line it came from."""
    match = re.match(r"accounts\[(\d+)\](?:\.positions\[(\d+)\])?(.*)", field)
    if match is None:
        return field
    account = order[int(match.group(1))]
    rest = match.group(3)
    if match.group(2) is None:
        asset = rest.removeprefix(".balances.") if rest.startswith(".balances.") else None
        line = balance_lines.get(account, {}).get(asset or "")
        if line is not None:
            return f"portfolio file line {line} column quantity"
        return f"portfolio file account {account!r}{rest}"
    line = lines[account][int(match.group(2))]
    column = rest.lstrip(".")
    return f"portfolio file line {line}" + (f" column {column}" if column else "")


def _reject_unknown(entry: Mapping[str, Any], allowed: frozenset[str], field: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise InputError(
            f"{field}.{abbreviate(unknown[0])}",
            abbreviate(entry[unknown[0]]),
            f"is not a known field ({', '.join(sorted(allowed))})",
        )

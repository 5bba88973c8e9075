"""The portfolio file: JSON or YAML (accounts with balances and positions) or a flat CSV.

JSON/YAML (DESIGN.md)::

    {"accounts": [{"id": "alice", "balances": {"BTC": 2.5},
                   "positions": [{"instrument": "BTC-27DEC24-60000-C", "quantity": -1,
                                  "unit": "native", "avg_price": 0.05}]}],
     "instruments": [explicit instrument specs]}

A single account may be given without the ``accounts`` wrapper. CSV files hold positions only,
one per row, with the header ``account,instrument,quantity[,unit][,avg_price]``.

Symbols are looked up among the explicit ``instruments`` first, then parsed as venue symbols.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pmargin._files import read_csv_rows, read_structured
from pmargin.book._portfolio import NATIVE, Account, Portfolio, Position
from pmargin.errors import InputError
from pmargin.instruments import Instrument, instrument_from_spec, parse_symbol

__all__ = ["load_portfolio", "portfolio_from_dict"]

_ACCOUNT_KEYS = frozenset({"id", "balances", "positions"})
_POSITION_KEYS = frozenset({"instrument", "quantity", "unit", "avg_price"})
_TOP_KEYS = frozenset({"accounts", "instruments"})


def load_portfolio(path: str | Path) -> Portfolio:
    """Load a portfolio from a ``.json``, ``.yaml``/``.yml`` or ``.csv`` file."""
    file = Path(path)
    if file.suffix.lower() == ".csv":
        return _portfolio_from_csv(read_csv_rows(file, "portfolio file"))
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
        raise InputError("portfolio", type(data).__name__, "must be a mapping with 'accounts'")
    if "accounts" not in data and "id" in data:
        data = {"accounts": [{k: v for k, v in data.items() if k != "instruments"}]} | (
            {"instruments": data["instruments"]} if "instruments" in data else {}
        )
    _reject_unknown(data, _TOP_KEYS, "portfolio")
    specs = data.get("instruments") or []
    if not isinstance(specs, list):
        raise InputError("instruments", specs, "must be a list of instrument specs")
    explicit: dict[str, Instrument] = {}
    for i, spec in enumerate(specs):
        instrument = instrument_from_spec(spec, f"instruments[{i}]")
        if instrument.symbol in explicit:
            raise InputError(f"instruments[{i}].symbol", instrument.symbol, "is defined twice")
        explicit[instrument.symbol] = instrument
    resolve = _symbol_resolver(explicit)
    accounts_data = data.get("accounts")
    if not isinstance(accounts_data, list) or not accounts_data:
        raise InputError("accounts", accounts_data, "must be a non-empty list of accounts")
    accounts = tuple(
        _account(entry, f"accounts[{i}]", resolve) for i, entry in enumerate(accounts_data)
    )
    held = {p.instrument.symbol: p.instrument for a in accounts for p in a.positions}
    return Portfolio(accounts=accounts, instruments=explicit | held)


def _symbol_resolver(explicit: Mapping[str, Instrument]) -> Callable[[str, str], Instrument]:
    cache: dict[str, Instrument] = dict(explicit)

    def resolve(symbol: str, field: str) -> Instrument:
        if not isinstance(symbol, str) or not symbol:
            raise InputError(field, symbol, "must be an instrument symbol")
        if symbol not in cache:
            cache[symbol] = parse_symbol(symbol)
        return cache[symbol]

    return resolve


def _account(entry: Any, field: str, resolve: Callable[[str, str], Instrument]) -> Account:
    if not isinstance(entry, Mapping):
        raise InputError(field, entry, "must be a mapping with id, balances and positions")
    _reject_unknown(entry, _ACCOUNT_KEYS, field)
    account_id = entry.get("id")
    if not isinstance(account_id, str | int) or isinstance(account_id, bool) or account_id == "":
        raise InputError(f"{field}.id", account_id, "must be a non-empty string")
    balances = entry.get("balances") or {}
    if not isinstance(balances, Mapping):
        raise InputError(f"{field}.balances", balances, "must be a mapping of asset -> amount")
    positions_data = entry.get("positions") or []
    if not isinstance(positions_data, list):
        raise InputError(f"{field}.positions", positions_data, "must be a list of positions")
    positions = tuple(
        _position(p, f"{field}.positions[{j}]", resolve) for j, p in enumerate(positions_data)
    )
    for asset, amount in balances.items():
        _number(amount, f"{field}.balances.{asset}")
    return Account(id=str(account_id), balances=dict(balances), positions=positions)


def _position(entry: Any, field: str, resolve: Callable[[str, str], Instrument]) -> Position:
    if not isinstance(entry, Mapping):
        raise InputError(field, entry, "must be a mapping with instrument and quantity")
    _reject_unknown(entry, _POSITION_KEYS, field)
    if "instrument" not in entry:
        raise InputError(f"{field}.instrument", None, "is required")
    if "quantity" not in entry:
        raise InputError(f"{field}.quantity", None, "is required")
    instrument = resolve(entry["instrument"], f"{field}.instrument")
    quantity = _number(entry["quantity"], f"{field}.quantity")
    avg_price = entry.get("avg_price")
    return Position(
        instrument=instrument,
        quantity=quantity,
        unit=str(entry.get("unit", NATIVE)).lower(),
        avg_price=None if avg_price in (None, "") else _number(avg_price, f"{field}.avg_price"),
    )


def _portfolio_from_csv(rows: list[dict[str, str]]) -> Portfolio:
    required = {"account", "instrument", "quantity"}
    if not rows:
        raise InputError("portfolio file", "", "has no position rows")
    missing = required - set(rows[0])
    if missing:
        raise InputError("portfolio file", sorted(rows[0]), f"lacks the columns {sorted(missing)}")
    accounts: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        position: dict[str, Any] = {"instrument": row["instrument"], "quantity": row["quantity"]}
        if row.get("unit"):
            position["unit"] = row["unit"]
        if row.get("avg_price"):
            position["avg_price"] = row["avg_price"]
        accounts.setdefault(row["account"], []).append(position)
    return portfolio_from_dict(
        {"accounts": [{"id": k, "positions": v} for k, v in accounts.items()]}
    )


def _number(value: Any, field: str) -> float:
    """Parse a finite number (numbers, or numeric text from CSV/YAML)."""
    if isinstance(value, bool):
        raise InputError(field, value, "must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(field, value, "must be a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(field, value, "must be a finite number")
    return number


def _reject_unknown(entry: Mapping[str, Any], allowed: frozenset[str], field: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise InputError(
            f"{field}.{unknown[0]}", entry[unknown[0]], f"is not a known field ({sorted(allowed)})"
        )

"""A saved Deribit ``private/pme/simulate`` reply: rebuild its book, margin it, compare.

A user saves the JSON-RPC reply (``{"result": {...}}``, or the bare result) of
``private/pme/simulate``. It holds the venue's ``model_params`` (the parameters of that day),
the index and mark prices it used (``index_price``, ``ticker``), the simulated positions
(``portfolio.position``, base-currency sizes) and every intermediate: per-position
``initial_risk_vectors``, per-unit ``pre_aggregated_risk_vectors`` (recent replies only) and
``aggregated_risk_vectors`` (``{"standard": 27 cells, "extended": 8 cells}``), and per currency
``margins`` (worst case and its bucket, roll shock, delta shock, risk-matrix margin, IM, MM).

:func:`verify_capture` rebuilds the book and the market from the reply, takes ``model_params`` as
a parameter override of ``methodologies/deribit.toml``, margins the book and lists every
published number next to pmargin's, within :data:`TOLERANCE` (Deribit rounds margins to 9
decimals). :func:`override_toml` writes the same override as a parameter file
(``base = "deribit"``) for ``--params``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pmargin._params import ParamTable, merge_tables
from pmargin.book import Portfolio, arrange, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.margin._params import load_parameter_file
from pmargin.margin.deribit._model import DeribitModel
from pmargin.market import MarketSnapshot, market_from_dict

__all__ = [
    "TOLERANCE",
    "CaptureCheck",
    "CaptureRow",
    "DeribitCapture",
    "override_toml",
    "read_capture",
    "verify_capture",
]

TOLERANCE = 1e-9
"""Largest accepted difference, in the unit's currency: Deribit rounds ``worst_case`` to 9
decimals before adding the roll shock, and the IM to 9 decimals again (two roundings of at most
5e-10 each); every published vector cell agrees to ~1e-16."""


@dataclass(frozen=True, slots=True)
class DeribitCapture:
    """The parts of a ``private/pme/simulate`` reply pmargin uses.

    Attributes
    ----------
    source
        File name (for error messages).
    timestamp_ms
        ``model_params.general.timestamp``: epoch milliseconds of the parameters and prices.
    index
        Underlying (``"BTC"``) -> USD index price (``index_price.btc_usd``).
    marks
        Symbol -> mark price (``ticker.<symbol>.mark_price``: USD for futures, coin for inverse
        options).
    positions
        Symbol -> size in base currency (``portfolio.position``); may be empty.
    balances
        Currency -> amount (``portfolio.currency``), numbers only.
    model_params
        The reply's ``model_params`` object, as published.
    margins
        Currency (``"btc"``) -> the reply's margin object of that currency.
    initial
        Symbol -> the position's initial risk vector (standard then extended cells).
    pre_aggregated, aggregated
        Unit (``"btc_btc"``) -> vector (standard then extended cells); ``pre_aggregated`` is
        empty for replies older than December 2025.
    """

    source: str
    timestamp_ms: int
    index: Mapping[str, float]
    marks: Mapping[str, float]
    positions: Mapping[str, float]
    balances: Mapping[str, float]
    model_params: Mapping[str, Any]
    margins: Mapping[str, Mapping[str, Any]]
    initial: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    pre_aggregated: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    aggregated: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, source: str = "capture") -> DeribitCapture:
        """Read a parsed reply (JSON-RPC ``{"result": ...}`` or the bare result).

        Raises
        ------
        InputError
            Naming the first missing or malformed field (``capture.json: result.index_price``).
        """
        if isinstance(data, Mapping) and "error" in data and "result" not in data:
            raise InputError(f"{source}: error", data["error"], "is an error reply, not a result")
        if isinstance(data, Mapping) and isinstance(data.get("result"), Mapping):
            data, where = data["result"], f"{source}: result"
        else:
            where = f"{source}: result"
        if not isinstance(data, Mapping):
            raise InputError(where, _short(data), "must be an object (a pme/simulate reply)")
        params = _table(data, "model_params", where)
        general = _table(params, "general", f"{where}.model_params")
        stamp = _number(general, "timestamp", f"{where}.model_params.general")
        index = {
            _pair_underlying(k, f"{where}.index_price"): _positive(v, f"{where}.index_price.{k}")
            for k, v in _table(data, "index_price", where).items()
        }
        marks: dict[str, float] = {}
        for symbol, tick in _table(data, "ticker", where, {}).items():
            here = f"{where}.ticker.{symbol}"
            if not isinstance(tick, Mapping):
                raise InputError(here, _short(tick), "must be an object with mark_price")
            marks[str(symbol)] = _positive(tick.get("mark_price"), f"{here}.mark_price")
        portfolio = _table(data, "portfolio", where, {})
        positions = {
            str(s): _number_value(q, f"{where}.portfolio.position.{s}")
            for s, q in _table(portfolio, "position", f"{where}.portfolio", {}).items()
        }
        balances = {
            str(c): _number_value(a, f"{where}.portfolio.currency.{c}")
            for c, a in _table(portfolio, "currency", f"{where}.portfolio", {}).items()
        }
        margins = {
            str(c).lower(): m
            for c, m in _table(data, "margins", where).items()
            if _check_table(m, f"{where}.margins.{c}")
        }
        return cls(
            source=source,
            timestamp_ms=int(stamp),
            index=index,
            marks=marks,
            positions=positions,
            balances=balances,
            model_params=params,
            margins=margins,
            initial=_vectors(data, "initial_risk_vectors", where),
            pre_aggregated=_vectors(data, "pre_aggregated_risk_vectors", where),
            aggregated=_vectors(data, "aggregated_risk_vectors", where),
        )

    @property
    def timestamp(self) -> datetime:
        """The parameters' time (UTC)."""
        return datetime.fromtimestamp(self.timestamp_ms / 1000.0, tz=UTC)

    def market(self) -> MarketSnapshot:
        """Return the snapshot the reply was computed on: its index prices and marks.

        A ``usdc_usd`` (``usdt_usd``) index price, when the reply has one, prices USDC (USDT).
        """
        coins = {k: v for k, v in self.index.items() if k not in ("USDC", "USDT")}
        prices = {k: v for k, v in self.index.items() if k in ("USDC", "USDT")}
        document: dict[str, Any] = {
            "timestamp": self.timestamp_ms,
            "index": coins,
            "marks": {s: {"price": p} for s, p in self.marks.items()},
        }
        if prices:
            document["prices"] = prices
        return market_from_dict(document)

    def portfolio(self, account: str = "capture") -> Portfolio:
        """Return the simulated positions (base-currency sizes) and balances as one account.

        Raises
        ------
        InputError
            When the reply holds no positions (pass the positions as a portfolio file).
        """
        if not self.positions:
            raise InputError(
                f"{self.source}: result.portfolio.position",
                "{}",
                "holds no positions: pass them with --portfolio FILE",
            )
        return portfolio_from_dict(
            {
                "id": account,
                "balances": dict(self.balances),
                "positions": [
                    {"instrument": s, "quantity": q, "unit": "base"}
                    for s, q in self.positions.items()
                ],
            }
        )

    def override(self) -> dict[str, Any]:
        """Return ``model_params`` as override tables of ``deribit.toml`` (without the timestamp).

        ``[currency.usdc]`` copies ``usd`` where the reply has ``usd`` (Deribit publishes the
        USD table; pmargin margins USDC-settled units and balances with it, as the shipped
        file does).
        """
        tables: dict[str, Any] = {}
        for key in ("general", "currency_pair", "currency"):
            if key in self.model_params:
                tables[key] = json.loads(json.dumps(self.model_params[key]))
        tables.get("general", {}).pop("timestamp", None)  # kept as a comment, not a parameter
        currency = tables.get("currency", {})
        if "usd" in currency and "usdc" not in currency:
            currency["usdc"] = dict(currency["usd"])
        return tables

    def model(self, mode: str = "segregated") -> DeribitModel:
        """Return the shipped Deribit model with ``model_params`` laid over it, in ``mode``.

        Raises
        ------
        InputError
            Naming a published parameter pmargin does not accept (unknown or out of range).
        """
        shipped = load_parameter_file("deribit")
        merged = merge_tables(shipped.data, self.override())
        return DeribitModel.from_params(
            ParamTable(merged, f"{self.source}: model_params")
        ).with_mode(mode)


def read_capture(path: str | Path) -> DeribitCapture:
    """Read a saved reply from a JSON file (see :meth:`DeribitCapture.from_dict`).

    Raises
    ------
    InputError
        The file is missing, not JSON, or not a ``pme/simulate`` reply (naming the field).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("capture", str(file), "does not exist") from None
    except OSError as exc:
        raise InputError("capture", str(file), f"cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError("capture", str(file), f"is not valid JSON: {exc}") from None
    return DeribitCapture.from_dict(data, file.name)


@dataclass(frozen=True, slots=True)
class CaptureRow:
    """One published number next to pmargin's.

    Attributes
    ----------
    unit
        Where it belongs: a unit (``"btc_btc"``), a position's symbol, or a currency.
    quantity
        What it is (``"aggregated BTC -16% vol none"``, ``"roll_shock"``, ...).
    published, pmargin
        The two values (the unit's currency; a cell index for ``worst_case_bucket``). ``nan``
        where one side has no value.
    """

    unit: str
    quantity: str
    published: float
    pmargin: float

    @property
    def difference(self) -> float:
        """``pmargin - published``."""
        return self.pmargin - self.published

    @property
    def ok(self) -> bool:
        """Both values exist and agree within :data:`TOLERANCE`."""
        return bool(abs(self.difference) <= TOLERANCE)


@dataclass(frozen=True, slots=True)
class CaptureCheck:
    """Every published number of a reply against pmargin's.

    Attributes
    ----------
    rows
        One per compared number, vectors first (cell by cell), then the margin components.
    notes
        One-line notes: the model's reading, units pmargin margins that the reply lacks.
    """

    rows: tuple[CaptureRow, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every row agrees within :data:`TOLERANCE`."""
        return all(r.ok for r in self.rows)

    @property
    def mismatches(self) -> tuple[CaptureRow, ...]:
        """The rows beyond the tolerance."""
        return tuple(r for r in self.rows if not r.ok)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``ok``, ``tolerance``, ``rows`` (NaN as null) and ``notes``."""
        return {
            "ok": self.ok,
            "tolerance": TOLERANCE,
            "rows": [
                {
                    "unit": r.unit,
                    "quantity": r.quantity,
                    "published": _finite(r.published),
                    "pmargin": _finite(r.pmargin),
                    "difference": _finite(r.difference),
                    "ok": r.ok,
                }
                for r in self.rows
            ],
            "notes": list(self.notes),
        }


_MARGIN_FIELDS = ("worst_case", "roll_shock", "delta_shock", "correlation_contingency")
_EXTRA_IM = ("mmp_margin", "open_orders_margin", "spot_margin")


def verify_capture(
    capture: DeribitCapture,
    *,
    mode: str = "segregated",
    portfolio: Portfolio | None = None,
) -> CaptureCheck:
    """Margin the reply's book with its own parameters and compare every published number.

    Parameters
    ----------
    capture
        The reply.
    mode
        ``"segregated"`` (S:PM) or ``"cross"`` (X:PM).
    portfolio
        The positions, where the reply lacks them (its first account is used).

    Returns
    -------
    CaptureCheck
        Rows for each position's initial vector, each unit's pre-aggregated (when published)
        and aggregated vectors, cell by cell, then per currency the worst case, its cell,
        roll shock, delta shock, correlation contingency, risk-matrix margin, IM and MM.
    """
    model = capture.model(mode)
    market = capture.market()
    held = capture.portfolio() if portfolio is None else _first_account(portfolio)
    book = arrange(held, market)
    result = model.compute(book)
    rows: list[CaptureRow] = []
    notes: list[str] = list(result.notes)
    symbols = [i.symbol for i in book.instruments]
    quantity = book.quantity.toarray()[0]
    units = {(u.underlying, u.currency): u for u in result.risk_units}
    for vectors in model.risk_vectors(book):
        key = f"{vectors.underlying}_{vectors.currency}".lower()
        labels = vectors.labels
        for local, column in enumerate(vectors.columns.tolist()):
            symbol = symbols[column]
            if symbol in capture.initial:
                ours = quantity[column] * vectors.instrument_pnl[local]
                rows += _vector_rows(symbol, "initial", labels, capture.initial[symbol], ours)
        if key not in capture.aggregated:
            notes.append(f"{key}: margined by pmargin, not in the reply (not compared)")
            continue
        if key in capture.pre_aggregated:
            published = capture.pre_aggregated[key]
            rows += _vector_rows(
                key, "pre_aggregated", labels, published, vectors.pre_aggregated[0]
            )
        rows += _vector_rows(
            key, "aggregated", labels, capture.aggregated[key], vectors.aggregated[0]
        )
        unit = units[(vectors.underlying, vectors.currency)]
        currency = vectors.currency.lower()
        if currency in capture.margins:
            rows += _margin_rows(currency, capture.margins[currency], unit, vectors.n_standard)
    for key in capture.aggregated:
        if not any(r.unit == key for r in rows):
            rows.append(CaptureRow(key, "aggregated (unit not margined by pmargin)", 0.0, math.nan))
    return CaptureCheck(tuple(rows), tuple(notes))


def override_toml(capture: DeribitCapture) -> str:
    """Return the reply's ``model_params`` as a parameter file over ``deribit.toml``.

    The text starts with ``base = "deribit"``; ``pmargin --params FILE`` reads it. Every value
    is checked first (:meth:`DeribitCapture.model`).

    Raises
    ------
    InputError
        Naming a published parameter pmargin does not accept.
    """
    capture.model()
    lines = [
        "# Deribit portfolio-margin parameters imported from a private/pme/simulate reply",
        f"# {capture.source}: model_params timestamp {capture.timestamp_ms}",
        f"# ({capture.timestamp.isoformat()}). Laid over the shipped deribit.toml, whose",
        "# [model], extended_moves and [assumptions] (pmargin's reading) it keeps.",
        "# [currency.usdc] copies Deribit's usd table, as the shipped file does.",
        'base = "deribit"',
    ]
    for name, table in capture.override().items():
        lines += _toml_tables(name, table)
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- helpers


def _vector_rows(
    unit: str,
    kind: str,
    labels: tuple[str, ...],
    published: tuple[float, ...],
    ours: Any,
) -> list[CaptureRow]:
    values = np.asarray(ours, dtype=np.float64)
    n = max(len(published), values.size)
    rows = []
    for k in range(n):
        label = labels[k] if k < len(labels) else f"cell {k}"
        p = published[k] if k < len(published) else math.nan
        o = float(values[k]) if k < values.size else math.nan
        rows.append(CaptureRow(unit, f"{kind} {label}", p, o))
    return rows


def _margin_rows(
    currency: str, published: Mapping[str, Any], unit: Any, n_standard: int
) -> list[CaptureRow]:
    where = f"margins.{currency}"
    details = _table(published, "initial_margin_details", where, {})
    rmm_details = _table(
        details, "risk_matrix_margin_details", f"{where}.initial_margin_details", {}
    )
    rows = []
    for name in _MARGIN_FIELDS:
        if name in rmm_details:
            value = _number_value(rmm_details[name], f"{where}.risk_matrix_margin_details.{name}")
            rows.append(CaptureRow(currency, name, value, float(unit.components[name][0])))
    bucket = rmm_details.get("worst_case_bucket")
    if isinstance(bucket, Mapping) and "index" in bucket:
        index = _number_value(bucket["index"], f"{where}.worst_case_bucket.index")
        offset = n_standard if bucket.get("source") == "extended" else 0
        worst = int(unit.worst[0])
        rows.append(CaptureRow(currency, "worst_case_bucket (cell)", index + offset, worst))
    rmm = float(unit.components["risk_matrix_margin"][0])
    if "risk_matrix_margin" in details:
        value = _number_value(details["risk_matrix_margin"], f"{where}.risk_matrix_margin")
        rows.append(CaptureRow(currency, "risk_matrix_margin", value, rmm))
    extra = sum(
        _number_value(details[k], f"{where}.initial_margin_details.{k}")
        for k in _EXTRA_IM
        if k in details
    )
    if "initial_margin" in published:
        value = _number_value(published["initial_margin"], f"{where}.initial_margin")
        label = "initial_margin (pmargin: risk_matrix_margin + published mmp/orders/spot)"
        rows.append(CaptureRow(currency, label, value, rmm + extra))
    if "maintenance_margin" in published:
        value = _number_value(published["maintenance_margin"], f"{where}.maintenance_margin")
        rows.append(
            CaptureRow(currency, "maintenance_margin", value, float(unit.maintenance_margin[0]))
        )
    return rows


def _first_account(portfolio: Portfolio) -> Portfolio:
    if len(portfolio.accounts) != 1:
        raise InputError(
            "portfolio", f"{len(portfolio.accounts)} accounts", "must hold exactly one account"
        )
    return portfolio


def _toml_tables(name: str, table: Mapping[str, Any]) -> list[str]:
    """TOML lines of ``[name]`` and its sub-tables (numbers, booleans, strings only)."""
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    lines = ["", f"[{name}]"] if scalars else []
    for key, value in scalars.items():
        lines.append(f"{key} = {_toml_value(value, f'{name}.{key}')}")
    for key, value in table.items():
        if isinstance(value, Mapping):
            lines += _toml_tables(f"{name}.{key}", value)
    return lines


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise InputError(f"model_params.{where}", _short(value), "must be a number, boolean or text")


def _vectors(data: Mapping[str, Any], key: str, where: str) -> dict[str, tuple[float, ...]]:
    out: dict[str, tuple[float, ...]] = {}
    for name, parts in _table(data, key, where, {}).items():
        here = f"{where}.{key}.{name}"
        if not isinstance(parts, Mapping):
            raise InputError(here, _short(parts), "must be an object with standard and extended")
        cells: list[float] = []
        for part in ("standard", "extended"):
            values = parts.get(part, [])
            if not isinstance(values, list):
                raise InputError(f"{here}.{part}", _short(values), "must be a list of numbers")
            cells += [_number_value(v, f"{here}.{part}[{i}]") for i, v in enumerate(values)]
        out[str(name)] = tuple(cells)
    return out


def _table(data: Mapping[str, Any], key: str, where: str, default: Any = None) -> Mapping[str, Any]:
    value = data.get(key, default)
    if value is None:
        raise InputError(f"{where}.{key}", "missing", "is required in a pme/simulate reply")
    if not isinstance(value, Mapping):
        raise InputError(f"{where}.{key}", _short(value), "must be an object")
    return value


def _check_table(value: Any, where: str) -> bool:
    if not isinstance(value, Mapping):
        raise InputError(where, _short(value), "must be an object")
    return True


def _number(data: Mapping[str, Any], key: str, where: str) -> float:
    if key not in data:
        raise InputError(f"{where}.{key}", "missing", "is required in a pme/simulate reply")
    return _number_value(data[key], f"{where}.{key}")


def _number_value(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(where, _short(value), "must be a finite number")
    return float(value)


def _positive(value: Any, where: str) -> float:
    number = _number_value(value, where)
    if number <= 0.0:
        raise InputError(where, number, "must be a price > 0")
    return number


def _pair_underlying(key: Any, where: str) -> str:
    text = str(key)
    if not text.lower().endswith("_usd") or len(text) <= 4:
        raise InputError(f"{where}.{text}", text, "must name a pair like btc_usd")
    return text[:-4].upper()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None

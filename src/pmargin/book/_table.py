"""Books as columns: a portfolio given as a table becomes the arranged book.

A table of positions (``[account,] instrument, quantity[, unit][, avg_price]``, one row per
position; without ``account`` every row is the account ``main``; rows with ``unit`` =
``balance`` are balances, :mod:`pmargin.book._flat`) and optionally one of balances
(``account, asset, amount``) are read as columns:
NumPy arrays, a pandas DataFrame, an Arrow table, or a CSV, Parquet or Arrow file
(:mod:`pmargin.book._table_file`). :func:`portfolio_table` validates every cell at once and
returns a :class:`PortfolioTable`; :func:`arrange_table` turns it into the
:class:`~pmargin.book.BookArrangement` that :func:`~pmargin.book.arrange` gives for the same
positions, without a Python object per position: the account and symbol columns are
factorised (Arrow's hash encoding), each distinct symbol is parsed and resolved once, units
are converted to base units column-wise, and the CSR matrix is built from the codes directly.

Equal to :func:`arrange` of :meth:`PortfolioTable.to_portfolio` (:func:`arrange_table_reference`,
the slow twin; tests compare them bit for bit):

* accounts in order of first appearance in the positions table, then the accounts that appear
  only in the balances table, in their order there;
* instruments in order of first appearance when the positions are read account by account
  (each account's rows in table order), as :func:`arrange` numbers them;
* units follow :class:`~pmargin.book.Position`: ``native`` (or an empty cell) is the
  instrument's own unit, else ``base``, ``quote`` or ``contracts`` (any case);
* ``avg_price`` gives the unrealised P&L of futures and perpetuals as :func:`arrange` does; an
  empty cell is no price.

Cells follow the portfolio file's rules (``input_limits.toml``, table ``numbers``): numbers
are numeric columns or decimal text, finite and in range; account ids are non-empty text (or
integers, written in decimal); balance assets are upper-cased, one spelling per account. A bad
cell is an :class:`~pmargin.errors.InputError` naming the table, row and column (the first bad
row of the table, cells before symbols); an unknown symbol names its first row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from pmargin._typing import FloatArray, IntArray
from pmargin._validation import DECIMAL_TEXT, abbreviate, input_limits
from pmargin.book._arranged import BookArrangement, arrange
from pmargin.book._flat import BALANCE_UNIT, DEFAULT_ACCOUNT, FLAT_REQUIRED
from pmargin.book._portfolio import NATIVE, Account, Portfolio, Position
from pmargin.book._symbols import symbol_resolver
from pmargin.book._table_file import TableRows, read_table_file
from pmargin.errors import InputError
from pmargin.instruments import Instrument, QuantityUnit
from pmargin.market import MarketSnapshot
from pmargin.pricing import delta_one_pnl
from pmargin.valuation import resolve_instruments

__all__ = [
    "BALANCE_COLUMNS",
    "POSITION_COLUMNS",
    "PortfolioTable",
    "arrange_table",
    "arrange_table_reference",
    "portfolio_table",
    "read_portfolio_table",
]

POSITION_COLUMNS = ("account", "instrument", "quantity", "unit", "avg_price")
"""Columns a positions table may have; ``instrument`` and ``quantity`` are required."""
BALANCE_COLUMNS = ("account", "asset", "amount")
"""Columns of a balances table, all required."""
UNITS = (NATIVE, QuantityUnit.BASE.value, QuantityUnit.QUOTE.value, QuantityUnit.CONTRACTS.value)
"""Unit of each code of :attr:`PortfolioTable.unit` (0 = native)."""
_NATIVE, _BASE, _QUOTE, _CONTRACTS = range(4)
_BALANCE = 4
"""Code of a balance row's unit (never left in a validated table)."""
_DECIMAL = f"^(?:{DECIMAL_TEXT.pattern})$"

Columns: TypeAlias = Any
"""A table in memory: a mapping of column name to array (NumPy, list, Arrow), an Arrow table,
or a pandas DataFrame."""


@dataclass(frozen=True, slots=True, eq=False)
class PortfolioTable:
    """A validated portfolio as columns, positions grouped by account.

    Attributes
    ----------
    account_ids
        Account ids, ``n_accounts`` of them, in book row order (see the module).
    indptr
        Int64 ``(n_accounts + 1,)``: account ``a``'s positions are rows
        ``indptr[a]:indptr[a + 1]`` of the position columns (in table order).
    instruments
        The distinct instruments held, ``n_instruments`` of them, in book column order.
    instrument
        Int64 ``(n_positions,)``: each position's instrument, an index into ``instruments``.
    quantity
        Float64 ``(n_positions,)``: signed quantity in ``unit``.
    unit
        Int8 ``(n_positions,)``: index into :data:`UNITS` (0 = native); ``None``: all native.
    avg_price
        Float64 ``(n_positions,)``: average entry price, NaN where none; ``None``: none given.
    assets
        Balance assets (upper case, sorted).
    balance_account, balance_asset, balance_amount
        One entry per balance given, ``(n_balances,)`` each: the account (row), the asset
        (index into ``assets``) and the amount in units of the asset.
    """

    account_ids: tuple[str, ...]
    indptr: IntArray
    instruments: tuple[Instrument, ...]
    instrument: IntArray
    quantity: FloatArray
    unit: npt.NDArray[np.int8] | None
    avg_price: FloatArray | None
    assets: tuple[str, ...]
    balance_account: IntArray
    balance_asset: IntArray
    balance_amount: FloatArray

    @property
    def n_positions(self) -> int:
        """Number of positions (rows of the positions table)."""
        return int(self.quantity.size)

    def balance_matrix(self) -> FloatArray:
        """Float64 ``(n_accounts, n_assets)``: each account's balance of each asset, 0 if none."""
        matrix = np.zeros((len(self.account_ids), len(self.assets)))
        matrix[self.balance_account, self.balance_asset] = self.balance_amount
        return matrix

    def to_portfolio(self) -> Portfolio:
        """Return the same accounts as a :class:`~pmargin.book.Portfolio` (an object per position).

        For the consumers that take a portfolio, and the reference path of
        :func:`arrange_table`.
        """
        balances: list[dict[str, float]] = [{} for _ in self.account_ids]
        for a, k, amount in zip(
            self.balance_account.tolist(),
            self.balance_asset.tolist(),
            self.balance_amount.tolist(),
            strict=True,
        ):
            balances[a][self.assets[k]] = amount
        n = self.n_positions
        units = [NATIVE] * n if self.unit is None else [UNITS[u] for u in self.unit.tolist()]
        prices = [None] * n if self.avg_price is None else self.avg_price.tolist()
        positions = [
            Position(self.instruments[j], q, u, None if p is None or p != p else p)
            for j, q, u, p in zip(
                self.instrument.tolist(), self.quantity.tolist(), units, prices, strict=True
            )
        ]
        bounds = self.indptr.tolist()
        accounts = tuple(
            Account(account, balances[a], tuple(positions[bounds[a] : bounds[a + 1]]))
            for a, account in enumerate(self.account_ids)
        )
        return Portfolio(accounts, {i.symbol: i for i in self.instruments})


# ------------------------------------------------------------------ reading and validating


def read_portfolio_table(
    path: str | Path,
    balances: str | Path | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> PortfolioTable:
    """Read a positions table file (and a balances table file) into a :class:`PortfolioTable`.

    Parameters
    ----------
    path
        A ``.csv``, ``.parquet``, ``.arrow`` or ``.feather`` file of positions.
    balances
        Optional file of balances (same formats).
    instruments
        Explicit instruments by symbol, looked up before venue symbols are parsed.

    Raises
    ------
    InputError
        Naming the file (and row and column): see :func:`portfolio_table`.
    """
    positions, rows = read_table_file(
        path, "portfolio file", columns=POSITION_COLUMNS, required=FLAT_REQUIRED
    )
    balance_table = None
    if balances is not None:
        balance_table = read_table_file(
            balances, "balances file", columns=BALANCE_COLUMNS, required=BALANCE_COLUMNS
        )
    return _validated(positions, rows, balance_table, instruments)


def portfolio_table(
    positions: Columns,
    balances: Columns | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> PortfolioTable:
    """Validate a table of positions (and one of balances) given in memory.

    Parameters
    ----------
    positions
        Columns ``instrument``, ``quantity`` and optionally ``account`` (default ``main``),
        ``unit`` and ``avg_price``, each of length ``n_positions``: a mapping of name to
        array (NumPy, list or Arrow), an Arrow table or a pandas DataFrame. Numbers may be
        numeric or decimal text; ``unit`` and ``avg_price`` may hold nulls (none given).
        Rows with ``unit`` = ``balance`` are balances (``instrument`` the asset,
        ``quantity`` the amount), refused together with ``balances``.
    balances
        Optional columns ``account``, ``asset``, ``amount`` (``n_balances`` rows).
    instruments
        Explicit instruments by symbol, looked up before venue symbols are parsed.

    Returns
    -------
    PortfolioTable
        Positions grouped by account (see the module for the orders).

    Raises
    ------
    InputError
        Naming ``positions table row N column C`` (or ``balances table ...``): a missing,
        empty, non-numeric, non-finite or out-of-range cell, an unknown unit or symbol, an
        asset given twice for one account; or a column that is unknown, missing, repeated,
        of the wrong type or of another length.
    """
    table = _arrow_table(positions, "positions table", POSITION_COLUMNS, FLAT_REQUIRED)
    balance_table = None
    if balances is not None:
        balance_table = (
            _arrow_table(balances, "balances table", BALANCE_COLUMNS, BALANCE_COLUMNS),
            TableRows("balances table"),
        )
    return _validated(table, TableRows("positions table"), balance_table, instruments)


def _arrow_table(
    columns: Columns, what: str, allowed: tuple[str, ...], required: tuple[str, ...]
) -> pa.Table:
    """Return an in-memory table as an Arrow table, its header checked like a file's."""
    from pmargin._files import check_header

    if isinstance(columns, pa.RecordBatch):
        columns = pa.Table.from_batches([columns])
    if not isinstance(columns, pa.Table):
        if hasattr(columns, "to_numpy") and hasattr(columns, "columns"):  # a pandas DataFrame
            names = [str(c) for c in columns.columns]
            check_header(names, allowed, required, what, what)
            try:
                columns = pa.Table.from_pandas(columns, preserve_index=False)
            except (pa.ArrowException, TypeError, ValueError) as exc:
                reason = str(exc.args[-1] if isinstance(exc.args[-1], str) else exc)
                raise InputError(what, abbreviate(reason), "cannot be read as columns") from None
        elif isinstance(columns, Mapping):
            check_header([str(c) for c in columns], allowed, required, what, what)
            lengths = {len(v) for v in columns.values()}
            if len(lengths) > 1:
                raise InputError(what, sorted(lengths), "has columns of different lengths")
            try:
                columns = pa.table({str(k): _arrow_array(v) for k, v in columns.items()})
            except (pa.ArrowException, TypeError, ValueError) as exc:
                raise InputError(what, abbreviate(str(exc)), "cannot be read as columns") from None
        else:
            raise InputError(
                what,
                type(columns).__name__,
                "must be a mapping of column name to array, an Arrow table or a DataFrame",
            )
    check_header(list(columns.column_names), allowed, required, what, what)
    return columns


def _arrow_array(values: Any) -> Any:
    """Return a column as an Arrow array: NumPy text converted once, NaN as an empty cell."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    array = np.asarray(values)
    if array.dtype.kind == "U":
        return pa.array(array.astype(object))
    return pa.array(array, from_pandas=True)  # NaN (NumPy's empty cell) is null


@dataclass(frozen=True, slots=True)
class _Problem:
    row: int
    column: str
    reason: str


class _Checks:
    """The first bad cell of each check; the earliest row wins (columns in table order)."""

    def __init__(self, table: pa.Table, rows: TableRows) -> None:
        self.table = table
        self.rows = rows
        self.found: list[_Problem] = []

    def note(self, bad: npt.NDArray[np.bool_], column: str, reason: str) -> None:
        where = np.flatnonzero(bad)
        if where.size:
            self.found.append(_Problem(int(where[0]), column, reason))

    def raise_first(self) -> None:
        if not self.found:
            return
        order = list(self.table.column_names)
        first = min(self.found, key=lambda p: (p.row, order.index(p.column)))
        self.raise_at(first.row, first.column, first.reason)

    def raise_at(self, row: int, column: str, reason: str) -> None:
        value = self.table.column(column)[row].as_py()
        raise InputError(self.rows.cell(row, column), abbreviate(value), reason)


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _codes(
    checks: _Checks, column: str, *, integers: bool = False
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Factorise a text (or integer) column: codes by first appearance, and the values.

    Null and empty cells are noted as bad (``must be non-empty``).
    """
    data = checks.table.column(column)
    kind = data.type
    value_type = kind.value_type if pa.types.is_dictionary(kind) else kind
    if not (_is_text(value_type) or (integers and pa.types.is_integer(value_type))):
        allowed = "text or integers" if integers else "text"
        raise InputError(checks.rows.column(column), str(kind), f"must hold {allowed}")
    if pa.types.is_dictionary(kind):
        data = data.unify_dictionaries()
    else:
        data = pc.dictionary_encode(data).unify_dictionaries()
    combined = data.combine_chunks() if data.num_chunks != 1 else data.chunk(0)
    values = [str(v) if v is not None else "" for v in combined.dictionary.to_pylist()]
    indices = combined.indices
    if indices.null_count:
        checks.note(np.asarray(indices.is_null()), column, "is required (an empty cell)")
        indices = indices.fill_null(0)
    codes = indices.to_numpy().astype(np.int64, copy=False)
    empty = [k for k, v in enumerate(values) if v == ""]
    if empty:
        checks.note(np.isin(codes, empty), column, "must be non-empty text")
    if not pa.types.is_dictionary(kind):
        return codes, values
    renumbered = pc.dictionary_encode(pa.array(codes))
    order = renumbered.dictionary.to_numpy()
    return renumbered.indices.to_numpy().astype(np.int64), [values[k] for k in order]


def _numbers(
    checks: _Checks, column: str, *, low: float, high: float, required: bool
) -> FloatArray:
    """Return a numeric or decimal-text column as float64, NaN where empty."""
    data = checks.table.column(column)
    kind = data.type
    n = len(data)
    if _is_text(kind) or (pa.types.is_dictionary(kind) and _is_text(kind.value_type)):
        text = pc.cast(data, pa.string()) if pa.types.is_dictionary(kind) else data
        empty = _mask(pc.or_kleene(pc.is_null(text), pc.equal(text, "")))
        valid = pc.match_substring_regex(text, _DECIMAL)
        bad = ~_mask(valid) & ~empty
        checks.note(bad, column, "must be a decimal number such as 1.5")
        number = pc.cast(pc.if_else(valid, text, pa.scalar(None, pa.string())), pa.float64())
        values = _floats(number)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        empty = _mask(pc.is_null(data))
        bad = np.zeros(n, dtype=bool)
        values = _floats(pc.cast(data, pa.float64()))
    elif pa.types.is_null(kind):
        empty = np.ones(n, dtype=bool)
        bad = np.zeros(n, dtype=bool)
        values = np.full(n, np.nan)
    else:
        raise InputError(checks.rows.column(column), str(kind), "must hold numbers")
    if required:
        checks.note(empty, column, "is required (an empty cell)")
    with np.errstate(invalid="ignore"):
        out = ~empty & ~bad & ~((values >= low) & (values <= high))
    checks.note(out, column, f"must be a finite number in [{low:g}, {high:g}]")
    values[empty | bad] = np.nan
    return values


def _mask(data: Any) -> npt.NDArray[np.bool_]:
    """Return a boolean Arrow (chunked) array as a NumPy mask, null = False."""
    return np.asarray(_numpy(pc.fill_null(data, False)), dtype=bool)


def _floats(data: Any) -> FloatArray:
    """Return a float64 Arrow (chunked) array as a writable NumPy array, null = NaN."""
    return np.array(_numpy(pc.fill_null(data, np.nan)), dtype=np.float64)


def _numpy(data: Any) -> Any:
    """Return an Arrow array or chunked array as one NumPy array."""
    if isinstance(data, pa.ChunkedArray):
        data = data.combine_chunks() if data.num_chunks != 1 else data.chunk(0)
    return data.to_numpy(zero_copy_only=False)


def _units(checks: _Checks) -> npt.NDArray[np.int8] | None:
    """Return the unit column as codes into :data:`UNITS` (empty = native); None if none.

    A balance row (``unit`` = ``balance``) is code :data:`_BALANCE` (see :func:`_validated`).
    """
    if "unit" not in checks.table.column_names:
        return None
    data = checks.table.column("unit")
    if pa.types.is_null(data.type):
        return None
    kind = data.type.value_type if pa.types.is_dictionary(data.type) else data.type
    if not _is_text(kind):
        raise InputError(checks.rows.column("unit"), str(data.type), "must hold text")
    data = data.unify_dictionaries() if pa.types.is_dictionary(data.type) else data
    encoded = data if pa.types.is_dictionary(data.type) else pc.dictionary_encode(data)
    combined = encoded.combine_chunks() if encoded.num_chunks != 1 else encoded.chunk(0)
    codes = combined.indices.fill_null(0).to_numpy().astype(np.int64)
    values = combined.dictionary.to_pylist()
    allowed = {u: k for k, u in enumerate(UNITS)} | {"": _NATIVE, BALANCE_UNIT: _BALANCE}
    mapping = np.zeros(max(len(values), 1), dtype=np.int8)
    unknown = []
    for k, value in enumerate(values):
        code = allowed.get(str(value).strip().lower()) if value is not None else _NATIVE
        if code is None:
            unknown.append(k)
        else:
            mapping[k] = code
    if unknown:
        known = "|".join(sorted((*UNITS, BALANCE_UNIT)))
        checks.note(np.isin(codes, unknown), "unit", f"is not one of {known}")
    unit = mapping[codes]
    if combined.indices.null_count:
        unit[np.asarray(combined.indices.is_null())] = _NATIVE
    return unit if unit.any() else None


def _validated(
    table: pa.Table,
    rows: TableRows,
    balances: tuple[pa.Table, TableRows] | None,
    explicit: Mapping[str, Instrument] | None,
) -> PortfolioTable:
    """Check every cell, then group the positions by account and number the instruments."""
    if table.num_rows == 0 and balances is None:
        raise InputError(rows.name, 0, "has no position rows")
    if "account" not in table.column_names:
        one = pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(table.num_rows, dtype=np.int32)), pa.array([DEFAULT_ACCOUNT])
        )
        table = table.append_column("account", one)
    checks = _Checks(table, rows)
    unit = _units(checks)
    if unit is not None and bool(np.any(unit == _BALANCE)):
        return _with_balance_rows(table, rows, unit == _BALANCE, balances, explicit)
    limits = input_limits()
    max_quantity = limits.number("numbers", "max_quantity")
    account, account_ids = _codes(checks, "account", integers=True)
    symbol, symbols = _codes(checks, "instrument")
    quantity = _numbers(checks, "quantity", low=-max_quantity, high=max_quantity, required=True)
    avg_price = None
    if "avg_price" in table.column_names:
        avg_price = _numbers(
            checks,
            "avg_price",
            low=limits.number("numbers", "min_price"),
            high=limits.number("numbers", "max_price"),
            required=False,
        )
        if np.isnan(avg_price).all():
            avg_price = None
    checks.raise_first()
    instruments = _instruments(checks, symbol, symbols, explicit)

    order = None
    if account.size > 1 and bool(np.any(account[1:] < account[:-1])):
        order = np.argsort(account, kind="stable")
        account = account[order]
        symbol = symbol[order]
        quantity = quantity[order]
        unit = None if unit is None else unit[order]
        avg_price = None if avg_price is None else avg_price[order]
    columns = pc.dictionary_encode(pa.array(symbol))
    instrument = columns.indices.to_numpy().astype(np.int64)
    ids = list(account_ids)
    assets, balance_account, balance_asset, balance_amount = _balances(balances, ids)
    indptr = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(account, minlength=len(ids)), out=indptr[1:])
    return PortfolioTable(
        account_ids=tuple(ids),
        indptr=indptr,
        instruments=tuple(instruments[k] for k in columns.dictionary.to_numpy().tolist()),
        instrument=instrument,
        quantity=quantity,
        unit=unit,
        avg_price=avg_price,
        assets=assets,
        balance_account=balance_account,
        balance_asset=balance_asset,
        balance_amount=balance_amount,
    )


def _with_balance_rows(
    table: pa.Table,
    rows: TableRows,
    is_balance: npt.NDArray[np.bool_],
    balances: tuple[pa.Table, TableRows] | None,
    explicit: Mapping[str, Instrument] | None,
) -> PortfolioTable:
    """Split balance rows (``unit`` = ``balance``) off into the balances table, then validate.

    Their ``instrument`` is the asset and ``quantity`` the amount; ``avg_price`` must be
    empty. Rows keep their names (line or row of the table as given).
    """
    if balances is not None:
        row = int(np.flatnonzero(is_balance)[0])
        raise InputError(
            rows.cell(row, "unit"),
            BALANCE_UNIT,
            "rows and a balances table were both given; give balances one way",
        )
    where = np.flatnonzero(is_balance)
    if "avg_price" in table.column_names:
        price = table.column("avg_price").take(pa.array(where))
        given = ~_mask(pc.is_null(price))
        if _is_text(price.type):
            given &= ~_mask(pc.equal(price, ""))
        if given.any():
            row = int(where[np.flatnonzero(given)[0]])
            raise InputError(
                rows.cell(row, "avg_price"),
                abbreviate(table.column("avg_price")[row].as_py()),
                "must be empty on a balance row",
            )
    balance_table = pa.table(
        {
            "account": table.column("account").take(pa.array(where)),
            "asset": table.column("instrument").take(pa.array(where)),
            "amount": table.column("quantity").take(pa.array(where)),
        }
    )
    balance_rows = rows.taken(where.tolist(), (("asset", "instrument"), ("amount", "quantity")))
    positions = np.flatnonzero(~is_balance)
    kept = table.filter(pa.array(~is_balance))
    return _validated(kept, rows.taken(positions.tolist()), (balance_table, balance_rows), explicit)


def _instruments(
    checks: _Checks,
    codes: IntArray,
    symbols: list[str],
    explicit: Mapping[str, Instrument] | None,
) -> list[Instrument]:
    """Each distinct symbol looked up once; an unknown one names its first row."""
    resolve = symbol_resolver(explicit or {})
    instruments = []
    for k, symbol in enumerate(symbols):
        try:
            instruments.append(resolve(symbol, "instrument"))
        except InputError as err:
            row = int(np.flatnonzero(codes == k)[0])
            raise InputError(checks.rows.cell(row, "instrument"), err.value, err.reason) from None
    return instruments


def _balances(
    balances: tuple[pa.Table, TableRows] | None, ids: list[str]
) -> tuple[tuple[str, ...], IntArray, IntArray, FloatArray]:
    """Check the balances table; its accounts are found in (or appended to) ``ids``."""
    empty = np.zeros(0, dtype=np.int64)
    if balances is None:
        return (), empty, empty, np.zeros(0)
    table, rows = balances
    checks = _Checks(table, rows)
    limit = input_limits().number("numbers", "max_balance")
    account, account_ids = _codes(checks, "account", integers=True)
    asset, asset_names = _codes(checks, "asset")
    amount = _numbers(checks, "amount", low=-limit, high=limit, required=True)
    checks.raise_first()
    upper = [name.upper() for name in asset_names]
    assets = tuple(sorted(set(upper)))
    column = np.asarray([assets.index(u) for u in upper], dtype=np.int64)[asset]
    found = pc.index_in(pa.array(account_ids), value_set=pa.array(ids, pa.string()))
    where = np.asarray(found.fill_null(-1).to_numpy(), dtype=np.int64)
    new = np.flatnonzero(where < 0)
    where[new] = len(ids) + np.arange(new.size)
    ids.extend(account_ids[k] for k in new.tolist())
    row = where[account]
    key = row * max(len(assets), 1) + column
    order = np.argsort(key, kind="stable")
    repeated = np.flatnonzero(key[order][1:] == key[order][:-1])
    if repeated.size:
        second = int(order[1:][repeated].min())
        checks.raise_at(
            second, "asset", "repeats an asset of this account (asset codes ignore case)"
        )
    return assets, row, column, amount


# ------------------------------------------------------------------ arranging


def arrange_table(
    table: PortfolioTable | Columns | str | Path,
    market: MarketSnapshot,
    *,
    balances: Columns | str | Path | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> BookArrangement:
    """Arrange a portfolio given as columns: the book :func:`arrange` gives, column-wise.

    Parameters
    ----------
    table
        A :class:`PortfolioTable`, columns in memory (see :func:`portfolio_table`) or a table
        file (see :func:`read_portfolio_table`).
    market
        The snapshot the instruments are resolved against (and quantities converted with).
    balances, instruments
        With columns or a file: the balances table (columns or a file) and explicit
        instruments by symbol; ignored for a :class:`PortfolioTable`.

    Returns
    -------
    BookArrangement
        Shape ``(n_accounts, n_instruments)``: quantity and unrealised P&L equal to
        :func:`arrange`'s for :meth:`PortfolioTable.to_portfolio` (bit for bit: the same
        operations in the same order), one stored entry per distinct (account, instrument)
        pair held.

    Raises
    ------
    InputError, MarketDataError
        From the table's cells (see :func:`portfolio_table`), from resolving instruments or
        converting quantities, naming the field at fault.
    """
    table = _as_table(table, balances, instruments)
    resolved = resolve_instruments(table.instruments, market)
    price = resolved.underlying_price
    column = table.instrument
    base = _base_quantity(table, price)
    shape = (len(table.account_ids), len(table.instruments))
    upnl = None if table.avg_price is None else _unrealised(table, resolved, base, price)
    quantity, unrealised = _csr(base, upnl, column, table.indptr, shape)
    return BookArrangement(
        account_ids=table.account_ids,
        resolved=resolved,
        quantity=quantity,
        assets=table.assets,
        balances=table.balance_matrix(),
        unrealised=unrealised,
        market=market,
    )


def arrange_table_reference(
    table: PortfolioTable | Columns | str | Path,
    market: MarketSnapshot,
    *,
    balances: Columns | str | Path | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> BookArrangement:
    """:func:`arrange_table` through one object per position and :func:`arrange` (the twin)."""
    return arrange(_as_table(table, balances, instruments).to_portfolio(), market)


def _as_table(
    table: PortfolioTable | Columns | str | Path,
    balances: Columns | str | Path | None,
    instruments: Mapping[str, Instrument] | None,
) -> PortfolioTable:
    """``table`` as a :class:`PortfolioTable`: read from files, or validated from columns."""
    if isinstance(table, PortfolioTable):
        return table
    if isinstance(table, str | Path):
        if balances is not None and not isinstance(balances, str | Path):
            raise InputError("balances", type(balances).__name__, "must be a file with a file")
        return read_portfolio_table(table, balances, instruments)
    return portfolio_table(table, balances, instruments)


def _base_quantity(table: PortfolioTable, price: FloatArray) -> FloatArray:
    """Float64 ``(n_positions,)``: each quantity in base units, as ``Instrument.base_units``.

    ``contracts``: ``q x contract_size``, then ``/ price`` when the contract is a quote
    notional; ``quote``: ``q / price``; ``base``: ``q`` (the scalar's operations, so its bits).
    """
    instruments = table.instruments
    column = table.instrument
    native = np.asarray([UNITS.index(i.quantity_unit.value) for i in instruments], dtype=np.int8)
    unit = native[column]
    if table.unit is not None:
        unit = np.where(table.unit == _NATIVE, unit, table.unit)
    base = table.quantity.copy()
    contracts = np.flatnonzero(unit == _CONTRACTS)
    quote_contract = np.asarray([i.contract_currency != i.underlying for i in instruments])
    if contracts.size:
        size = np.asarray([i.contract_size for i in instruments])
        base[contracts] = base[contracts] * size[column[contracts]]
    needs_price = (unit == _QUOTE) | ((unit == _CONTRACTS) & quote_contract[column])
    rows = np.flatnonzero(needs_price)
    if rows.size:
        at = price[column[rows]]
        bad = ~(np.isfinite(at) & (at > 0))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            symbol = instruments[int(column[rows[k]])].symbol
            raise InputError(
                f"price of {symbol!r}", float(at[k]), "must be a finite number > 0 to convert"
            )
        base[rows] = base[rows] / at
    return base


def _unrealised(
    table: PortfolioTable, resolved: Any, base: FloatArray, price: FloatArray
) -> FloatArray:
    """Float64 ``(n_positions,)``: P&L of futures and perpetuals against ``avg_price``, else 0.

    ``base x delta_one_pnl(F, avg, inverse, base_price=F)`` in the settlement currency, as
    :func:`~pmargin.book.unrealised_pnl` (the same operations per element).
    """
    assert table.avg_price is not None
    column = table.instrument
    futures = np.asarray(resolved.terms.is_futures_style, dtype=bool)
    rows = np.flatnonzero(~np.isnan(table.avg_price) & futures[column])
    out = np.zeros(table.n_positions)
    if rows.size:
        j = column[rows]
        entry = table.avg_price[rows]
        if bool(np.any(entry <= 0.0)):
            k = int(np.flatnonzero(entry <= 0.0)[0])
            symbol = table.instruments[int(j[k])].symbol
            raise InputError(
                f"position {symbol!r}.avg_price", float(entry[k]), "must be > 0 for a future"
            )
        at = price[j]
        out[rows] = base[rows] * delta_one_pnl(
            at, entry, np.asarray(resolved.is_inverse, dtype=bool)[j], base_price=at
        )
    return out


def _csr(
    data: FloatArray,
    upnl: FloatArray | None,
    column: IntArray,
    indptr: IntArray,
    shape: tuple[int, int],
) -> tuple[Any, Any]:
    """Quantity and unrealised CSR: rows ``indptr``, columns sorted, duplicates summed.

    Parameters
    ----------
    data, upnl
        Float64 ``(n_positions,)``: base quantity and unrealised P&L (``None``: all 0).
    column, indptr
        Each position's column, and the row bounds (positions grouped by row).
    shape
        ``(n_accounts, n_instruments)``.

    Returns
    -------
    tuple
        Two ``csr_array`` of ``shape`` with one stored entry per distinct (row, column). The
        entries are sorted once (scipy's per-row sort of their positions, the sort that
        :func:`arrange`'s COO to CSR conversion runs on the same keys in the same order, so
        the same permutation) and both matrices take that order; scipy's
        ``sum_duplicates`` then sums a row's repeated column left to right as it does
        there, so the bits are :func:`arrange`'s.
    """
    n = data.size
    order = sparse.csr_array(
        (np.arange(n, dtype=np.float64), column.copy(), indptr.copy()), shape=shape
    )
    order.sort_indices()
    perm = order.data.astype(np.int64)
    indices = order.indices
    del order
    quantity = sparse.csr_array((data[perm], indices.copy(), indptr.copy()), shape=shape)
    quantity.sum_duplicates()  # sorted already: sums a row's repeated column, in place
    values = np.zeros(n) if upnl is None else upnl[perm]
    unrealised = sparse.csr_array((values, indices, indptr.copy()), shape=shape)
    unrealised.sum_duplicates()
    return quantity, unrealised

"""The ``standard`` margin model: Deribit's standard (non-portfolio) margin, position by position.

Each position is margined on its own, with no offsets between positions:

* futures and perpetuals: a fraction of notional that grows with the net position's size;
* short options: ``max(0.15 - OTM, 0.10)`` of the underlying plus the option's mark (IM),
  ``0.075`` of the underlying plus the mark (MM);
* long options, spot and balances: nothing (a long option's premium is already paid out of
  the cash balance, so it is a debit in equity, not margin).

Risk units are (underlying, settlement currency) pairs: coin for inverse contracts, the quote
currency (USDC, USDT, USD) for linear ones. Every number comes from the parameter file
(``methodologies/standard.toml``); the rules themselves are in
:mod:`pmargin.margin.standard._rules`.

The batch is vectorised: the rates are looked up once per unique instrument, then every
stored entry of the sparse ``(n_accounts, n_instruments)`` quantity matrix is charged at once,
and units are summed with one sparse product.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from scipy import sparse

from pmargin._compiled import compiled_module
from pmargin._params import ParamTable
from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.book import BookArrangement
from pmargin.instruments import Instrument
from pmargin.margin._capabilities import Capabilities
from pmargin.margin._model import IncrementalMargin
from pmargin.margin._result import MarginResult, RiskUnitMargin
from pmargin.margin.standard._incremental import StandardIncremental
from pmargin.margin.standard._parameters import StandardParams
from pmargin.margin.standard._rules import future_margin, otm_fraction, short_option_margin
from pmargin.market import MarketSnapshot
from pmargin.valuation import ResolvedInstruments, columns_by, value_instruments

__all__ = ["StandardModel"]


def _jit() -> ModuleType | None:
    """Return the compiled pass's module, or ``None`` without numba or with ``PMARGIN_JIT=0``."""
    return compiled_module("pmargin.margin.standard._jit")


_BLOCK_ROWS = 65_536
"""Accounts per block of :meth:`StandardModel.compute`: a block's per-entry temporaries (about
1.3 M entries at 20 positions) are reused from the heap instead of page-faulting book-wide
ones."""

FUTURES = "futures"
"""Component: IM of futures and perpetuals."""

SHORT_OPTIONS = "short_options"
"""Component: IM of short options."""


@dataclass(frozen=True, slots=True)
class _Charges:
    """Per-instrument rates, each of shape ``(n_instruments,)`` (0 where they do not apply).

    Futures are charged ``future_margin(q, rate, rate_per_unit, price)``; a short option
    ``-q * option_im`` (``option_mm``), in the settlement currency.
    """

    is_future: BoolArray
    im_rate: FloatArray
    im_rate_per_unit: FloatArray
    mm_rate: FloatArray
    mm_rate_per_unit: FloatArray
    price: FloatArray
    option_im: FloatArray
    option_mm: FloatArray


class StandardModel:
    """Deribit's standard (per-position) margin for every account of a book.

    Parameters
    ----------
    params
        Validated parameters (:meth:`from_params` reads them from a parameter file).

    Examples
    --------
    >>> from pmargin.margin import get_model
    >>> model = get_model("standard")  # doctest: +SKIP
    >>> result = model.compute(book)  # doctest: +SKIP
    """

    name: str = "standard"
    capabilities: ClassVar[Capabilities] = Capabilities(
        scope="underlying", incremental=True, row_prices=True
    )
    """Risk unit (underlying, settlement currency), margined position by position; one order
    changes one position's charge only (:meth:`incremental`); prices read through the book, so
    it margins a book of moved rows."""

    def __init__(self, params: StandardParams) -> None:
        self.params = params

    def __repr__(self) -> str:
        return f"StandardModel(params from {self.params.where!r})"

    @classmethod
    def from_params(cls, params: ParamTable) -> StandardModel:
        """Build the model from a parameter file's top-level table.

        Raises
        ------
        InputError
            Naming the missing, out-of-range or unknown field.
        """
        return cls(StandardParams.from_table(params))

    def compute(self, book: BookArrangement) -> MarginResult:
        """Margin every account of ``book`` at its market.

        Returns
        -------
        MarginResult
            One risk unit per (underlying, settlement currency) held, amounts in that
            currency, components ``"futures"`` and ``"short_options"`` (their sum is the
            unit's IM), no scenarios. ``im_contribution`` holds each position's own IM in USD,
            so each row adds up to the account's IM; ``im_other`` is zero.

        Positions are charged and summed per (account, unit) by one count over their stored
        entries, ``_BLOCK_ROWS`` accounts at a time, or by one compiled pass over the entries
        (``_jit.py``; numba, the ``fast`` extra, unless ``PMARGIN_JIT=0``: the same bits).
        :meth:`compute_reference` is the whole-book, sparse-product twin, same result.

        Raises
        ------
        InputError
            For an instrument whose underlying has no parameters (naming the table to add).
        MarketDataError
            For an index price the parameters ask for and the market lacks.
        """
        market = book.market
        resolved = book.resolved
        charges = self.charges(resolved, market, book.index_usd)
        quantity = sparse.csr_array(book.quantity)
        groups = _unit_columns(resolved)
        n_acc, n_units = quantity.shape[0], len(groups)
        unit_of_column = np.zeros(len(resolved), dtype=np.int64)
        for u, columns in enumerate(groups.values()):
            unit_of_column[columns] = u
        # per (account, unit): futures IM, short options IM, MM, positions held
        sums = np.zeros((4, n_acc, n_units))
        data = np.empty(quantity.nnz)  # each position's own IM in USD
        _charge_entries(
            _jit(), quantity, charges, unit_of_column, resolved.settlement_usd, sums, data
        )
        sums += 0.0  # an empty sum is 0.0 (never -0.0), as in a sparse product
        units = _risk_units(book, groups, sums[0], sums[1], sums[2], sums[3] > 0.0)
        contribution = sparse.csr_array(
            (data, quantity.indices.copy(), quantity.indptr.copy()), shape=quantity.shape
        )
        return MarginResult.from_units(self.name, book, units, contribution)

    def compute_reference(self, book: BookArrangement) -> MarginResult:
        """Margin every account as :meth:`compute` does, units summed by sparse products.

        The reference twin of :meth:`compute`: the same result, returns and errors (tested).
        """
        market = book.market
        resolved = book.resolved
        charges = self.charges(resolved, market, book.index_usd)
        quantity = sparse.csr_array(book.quantity)
        q = np.asarray(quantity.data, dtype=np.float64)
        column = np.asarray(quantity.indices, dtype=np.int64)

        futures_im = np.where(
            charges.is_future[column],
            future_margin(
                q, charges.im_rate[column], charges.im_rate_per_unit[column], charges.price[column]
            ),
            0.0,
        )
        futures_mm = np.where(
            charges.is_future[column],
            future_margin(
                q, charges.mm_rate[column], charges.mm_rate_per_unit[column], charges.price[column]
            ),
            0.0,
        )
        short = np.maximum(-q, 0.0)
        options_im = short * charges.option_im[column]
        options_mm = short * charges.option_mm[column]

        def entries(values: FloatArray) -> Any:
            """Return ``values`` in a matrix with the quantity matrix's structure."""
            return sparse.csr_array(
                (values, quantity.indices.copy(), quantity.indptr.copy()), shape=quantity.shape
            )

        groups = _unit_columns(resolved)
        membership = _membership(groups, len(resolved))

        def by_unit(values: FloatArray) -> FloatArray:
            """Sum ``values`` over each unit's columns: shape ``(n_accounts, n_units)``."""
            return np.asarray((entries(values) @ membership).toarray(), dtype=np.float64)

        units = _risk_units(
            book,
            groups,
            by_unit(futures_im),
            by_unit(options_im),
            by_unit(futures_mm + options_mm),
            by_unit(np.ones_like(q)) > 0.0,
        )
        contribution = entries((futures_im + options_im) * resolved.settlement_usd[column])
        return MarginResult.from_units(self.name, book, units, contribution)

    def charges(
        self,
        resolved: ResolvedInstruments,
        market: MarketSnapshot,
        index_usd: Callable[[IntArray], FloatArray] | None = None,
    ) -> _Charges:
        """Look up each instrument's rates once and price the short-option charge per unit.

        Parameters
        ----------
        resolved, market
            The instruments and the snapshot they are resolved at.
        index_usd
            Columns -> USD index of their underlying (the book's
            :meth:`~pmargin.book.BookArrangement.index_usd`, each column at its own prices in a
            book of moved rows); ``None`` reads ``market``.

        Returns
        -------
        _Charges
            Per-instrument rates, arrays of shape ``(len(resolved),)``.
        """
        n = len(resolved)
        instruments = resolved.instruments
        is_future = resolved.terms.is_futures_style.copy()  # each instrument's
        rates = np.zeros((4, n))
        for first, columns in _by_underlying(resolved, np.flatnonzero(is_future)):
            rule = self.params.future_rule(instruments[first].underlying, instruments[first].symbol)
            rates[:, columns] = np.array(
                [rule.im_rate, rule.im_rate_per_unit, rule.mm_rate, rule.mm_rate_per_unit]
            )[:, None]
        linear_price = (
            resolved.underlying_price
            if self.params.linear_future_price == "mark"
            else _index_in_quote(instruments, resolved, market, is_future, index_usd)
        )
        price = np.where(resolved.is_inverse, 1.0, linear_price)
        option_im, option_mm = self._option_charges(resolved, market, index_usd)
        return _Charges(
            is_future=is_future,
            im_rate=rates[0],
            im_rate_per_unit=rates[1],
            mm_rate=rates[2],
            mm_rate_per_unit=rates[3],
            price=np.where(is_future, price, 0.0),
            option_im=option_im,
            option_mm=option_mm,
        )

    def incremental(self, book: BookArrangement, result: MarginResult) -> IncrementalMargin:
        """One account's margin after an order, O(1) per order: see ``_incremental.py``."""
        return StandardIncremental(self, book, result)

    def _option_charges(
        self,
        resolved: ResolvedInstruments,
        market: MarketSnapshot,
        index_usd: Callable[[IntArray], FloatArray] | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """IM and MM per unit of each option short, in its settlement currency (0 otherwise)."""
        n = len(resolved)
        option_im = np.zeros(n)
        option_mm = np.zeros(n)
        opt = np.flatnonzero(resolved.is_option)
        if opt.size == 0:
            return option_im, option_mm
        instruments = resolved.instruments
        fractions = np.zeros((4, n))
        for first, columns in _by_underlying(resolved, opt):
            rule = self.params.option_rule(instruments[first].underlying, instruments[first].symbol)
            fractions[:, columns] = np.array(
                [rule.im_rate, rule.im_min_rate, rule.mm_rate, rule.mm_put_mark_rate]
            )[:, None]
        fractions = fractions[:, opt]
        underlying = (
            resolved.underlying_price
            if self.params.option_underlying_price == "forward"
            else _index_in_quote(instruments, resolved, market, resolved.is_option, index_usd)
        )[opt]
        is_call = resolved.is_call[opt]
        mark = value_instruments(resolved).price[opt]
        unit_value = np.where(resolved.is_inverse[opt], 1.0, underlying)
        option_im[opt], option_mm[opt] = short_option_margin(
            otm_fraction(resolved.strike[opt], underlying, is_call),
            is_call,
            mark,
            unit_value,
            *fractions,
        )
        return option_im, option_mm


def _risk_units(
    book: BookArrangement,
    groups: dict[tuple[str, str], Any],
    futures: FloatArray,
    options: FloatArray,
    maintenance: FloatArray,
    held: BoolArray,
) -> tuple[RiskUnitMargin, ...]:
    """One risk unit per (underlying, settlement currency) group, in ``groups``' order.

    ``futures``, ``options``, ``maintenance``: shape ``(n_accounts, n_units)``, the unit's
    futures IM, short-option IM and MM in the unit's currency; ``held``: whether the account
    holds anything in the unit.
    """
    return tuple(
        RiskUnitMargin(
            underlying=underlying,
            currency=currency,
            usd_rate=book.usd_price(currency),
            initial_margin=futures[:, u] + options[:, u],
            maintenance_margin=maintenance[:, u],
            components={FUTURES: futures[:, u], SHORT_OPTIONS: options[:, u]},
            held=held[:, u],
        )
        for u, (underlying, currency) in enumerate(groups)
    )


def _charge_entries(
    kernels: ModuleType | None,
    quantity: Any,
    charges: _Charges,
    unit_of_column: IntArray,
    settlement_usd: FloatArray,
    sums: FloatArray,
    data: FloatArray,
) -> None:
    """Charge the stored entries and sum them per (account, unit), in stored order.

    ``kernels``: the compiled pass's module (one pass over the entries, ``_jit.py``, the same
    bits) or ``None`` for NumPy blocks of ``_BLOCK_ROWS`` accounts. ``quantity``: CSR
    ``(n_accounts, n_instruments)``; ``unit_of_column``: each column's unit;
    ``settlement_usd``: USD per settlement unit per column. Writes ``sums`` (``(4, n_accounts,
    n_units)``, zeros: futures IM, short-option IM, MM, positions held) and ``data``
    (``(nnz,)``: each entry's own IM in USD).
    """
    if kernels is not None:
        rates = np.stack(
            [
                charges.im_rate,
                charges.im_rate_per_unit,
                charges.mm_rate,
                charges.mm_rate_per_unit,
                charges.price,
            ]
        )
        kernels.charge_entries(
            quantity.indptr,
            quantity.indices,
            np.asarray(quantity.data, dtype=np.float64),
            unit_of_column,
            charges.is_future,
            rates,
            np.stack([charges.option_im, charges.option_mm]),
            np.ascontiguousarray(settlement_usd, dtype=np.float64),
            sums,
            data,
        )
        return
    n_acc, n_units = sums.shape[1], sums.shape[2]
    for start in range(0, n_acc, _BLOCK_ROWS):
        stop = min(n_acc, start + _BLOCK_ROWS)
        lo, hi = int(quantity.indptr[start]), int(quantity.indptr[stop])
        q = np.asarray(quantity.data[lo:hi], dtype=np.float64)
        column = np.asarray(quantity.indices[lo:hi], dtype=np.int64)
        futures_im, options_im, mm = _entry_charges(charges, q, column)
        owner = np.repeat(np.arange(stop - start), np.diff(quantity.indptr[start : stop + 1]))
        cell = owner * n_units + unit_of_column[column]
        size = (stop - start) * n_units
        # each (account, unit) sums its entries in stored order from 0, as the sparse
        # product with the membership matrix of compute_reference does
        for k, values in enumerate((futures_im, options_im, mm, None)):
            block = np.bincount(cell, values, minlength=size)
            sums[k, start:stop] = block.reshape(stop - start, n_units)
        data[lo:hi] = (futures_im + options_im) * settlement_usd[column]


def _entry_charges(
    charges: _Charges, q: FloatArray, column: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Futures IM, short-option IM and MM (both) of stored positions, settlement currency.

    ``q`` and ``column``: shape ``(n_entries,)``, each entry's base quantity and column.
    """
    is_future = charges.is_future[column]
    price = charges.price[column]
    futures_im = np.where(
        is_future,
        future_margin(q, charges.im_rate[column], charges.im_rate_per_unit[column], price),
        0.0,
    )
    futures_mm = np.where(
        is_future,
        future_margin(q, charges.mm_rate[column], charges.mm_rate_per_unit[column], price),
        0.0,
    )
    short = np.maximum(-q, 0.0)
    options_im = short * charges.option_im[column]
    options_mm = short * charges.option_mm[column]
    return futures_im, options_im, futures_mm + options_mm


def _index_in_quote(
    instruments: tuple[Instrument, ...],
    resolved: ResolvedInstruments,
    market: MarketSnapshot,
    wanted: BoolArray,
    index_usd: Callable[[IntArray], FloatArray] | None = None,
) -> FloatArray:
    """Index price of each ``wanted`` instrument's underlying in its quote currency (else NaN).

    ``index_usd`` (columns -> USD index) gives each column its own index (a book of moved
    rows); ``None`` reads ``market``.
    """
    out = np.full(len(instruments), np.nan)
    if index_usd is not None:
        columns = np.flatnonzero(wanted)
        out[columns] = index_usd(columns) / resolved.quote_usd[columns]
        return out
    for j in np.flatnonzero(wanted).tolist():
        out[j] = market.index_price(instruments[j].underlying) / resolved.quote_usd[j]
    return out


def _by_underlying(resolved: ResolvedInstruments, columns: IntArray) -> list[tuple[int, IntArray]]:
    """``columns`` grouped by underlying: (the group's first column, its columns), in order.

    Groups in order of first appearance in ``columns`` (ascending int64), so a rule looked up
    once per group fails on the same first instrument as a lookup per column would.
    """
    groups = columns_by(resolved.terms.underlying[columns])
    return [(int(columns[rows[0]]), columns[rows]) for rows in groups.values()]


def _unit_columns(resolved: ResolvedInstruments) -> dict[tuple[str, str], IntArray]:
    """Columns of each (underlying, settlement currency) unit, units in order of first appearance.

    What ``group_columns(resolved.instruments, lambda i: (i.underlying,
    i.settlement_currency))`` returns, read from the terms' arrays (no Python call per column).
    """
    terms = resolved.terms
    units: list[tuple[tuple[str, str], IntArray]] = []
    for underlying, columns in columns_by(terms.underlying).items():
        for currency, rows in columns_by(terms.settlement_currency[columns]).items():
            units.append(((underlying, currency), columns[rows]))
    units.sort(key=lambda unit: int(unit[1][0]))
    return dict(units)


def _membership(groups: dict[Any, Any], n_instruments: int) -> Any:
    """Sparse ``(n_instruments, n_units)`` 0/1 matrix: column ``u`` marks unit ``u``'s columns."""
    rows = [columns for columns in groups.values()]
    if not rows:
        return sparse.csr_array((n_instruments, 0), dtype=np.float64)
    row = np.concatenate(rows)
    col = np.concatenate([np.full(c.size, u, dtype=np.int64) for u, c in enumerate(rows)])
    return sparse.csr_array(
        (np.ones(row.size), (row, col)), shape=(n_instruments, len(rows)), dtype=np.float64
    )

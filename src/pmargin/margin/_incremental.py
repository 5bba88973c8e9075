"""The skeleton every model's incremental margin path shares, and its small helpers.

An incremental path caches a margin run's per-account state and answers one account's margin
after some position changes (and balance deltas) without re-margining it
(:class:`~pmargin.margin.IncrementalMargin`). Every model with one (Deribit, ``standard``,
``okx`` without MR8, ``pmargin-es``) margins an account as a sum of independent **units**: a
change of one instrument touches one unit only (Deribit's and OKX's risk unit of the
instrument's underlying, a ``standard`` position alone, the whole account for ``pmargin-es``),
so the account's margin after a change is

    IM_after = IM_now + sum over touched units (unit IM after - unit IM now)     (same for MM)

:class:`UnitIncremental` writes that once: for each touched unit it takes a scratch copy of
the unit's per-account state (the cached vectors, or the state a :meth:`~UnitIncremental.commit`
left), applies the changes one by one, reduces it with the model's own functions and adds the
differences. :meth:`~UnitIncremental.commit_changes` keeps the changed states and the account's
new IM and MM, so later questions about the account start from them. A model supplies four
hooks: which unit a change touches, a unit's state now, how a change moves it, and its margin.

Every path needs the account's current quantity of the traded instrument:
:func:`canonical_quantity` prepares the book's quantity matrix once, :func:`held_quantity`
reads one cell in ``O(log positions of the account)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from scipy import sparse

from pmargin.book import BookArrangement
from pmargin.margin._result import MarginResult
from pmargin.valuation import ResolvedInstruments

__all__ = [
    "PositionChange",
    "UnitIncremental",
    "canonical_csr",
    "canonical_quantity",
    "held_quantity",
]

StateT = TypeVar("StateT")


@dataclass(frozen=True, slots=True)
class PositionChange:
    """Base units added to one position of an account.

    Attributes
    ----------
    instrument
        The instrument, resolved (one entry).
    column
        Its column in the book, ``None`` if the book does not hold it.
    quantity
        Signed base units added.
    """

    instrument: ResolvedInstruments
    column: int | None
    quantity: float

    @property
    def key(self) -> int | str:
        """The position's key: its book column, else its symbol (an instrument the book lacks)."""
        if self.column is not None:
            return self.column
        return self.instrument.instruments[0].symbol


class UnitIncremental(Generic[StateT]):
    """One account's margin after changes, as a sum over independent units (module docstring).

    Subclasses implement :meth:`unit_of`, :meth:`unit_state`, :meth:`apply`, :meth:`copy`
    and :meth:`unit_margin` (and, with ``reads_balances``, :meth:`apply_balances`).

    Parameters
    ----------
    book
        The book the run margined.
    result
        The margin run the cached state comes from (its per-account IM and MM, USD).

    Attributes
    ----------
    reads_balances
        Whether balance deltas move the model's margin (the what-if then passes each change's
        cash); ``False``: balances are ignored.
    market
        ``book.market``.
    quantity
        The book's quantities in canonical CSR (:func:`canonical_quantity`).
    """

    reads_balances: bool = False

    def __init__(self, book: BookArrangement, result: MarginResult) -> None:
        self.result = result
        self.market = book.market
        self.quantity = canonical_quantity(book)
        self._account: dict[int, tuple[float, float]] = {}
        self._units: dict[tuple[int, Hashable], tuple[StateT, float, float]] = {}

    # ------------------------------------------------------------------ hooks
    def unit_of(self, change: PositionChange) -> Hashable:
        """Return the unit a change of this instrument touches."""
        raise NotImplementedError

    def unit_state(
        self, row: int, unit: Hashable, change: PositionChange
    ) -> tuple[StateT, float, float]:
        """Account ``row``'s state in ``unit`` from the cached run (a copy the caller may change).

        Returns the state and the unit's IM and MM now (USD). ``change`` is the first change of
        the unit (it says which instrument made the unit, where the run had none).
        """
        raise NotImplementedError

    def apply(self, state: StateT, row: int, change: PositionChange) -> None:
        """Add ``change`` to ``state`` in place."""
        raise NotImplementedError

    def copy(self, state: StateT) -> StateT:
        """Return an independent copy of ``state`` (a committed state is never changed)."""
        raise NotImplementedError

    def unit_margin(self, state: StateT) -> tuple[float, float]:
        """Return the unit's IM and MM (USD) in ``state``."""
        raise NotImplementedError

    def balance_units(self, balances: Mapping[str, float]) -> Sequence[Hashable]:
        """Units whose margin the balance deltas move (only with ``reads_balances``)."""
        return ()

    def apply_balances(
        self, state: StateT, row: int, unit: Hashable, balances: Mapping[str, float]
    ) -> None:
        """Add the balance deltas (asset -> units of the asset) to ``state`` in place."""

    def balance_state(self, row: int, unit: Hashable) -> tuple[StateT, float, float]:
        """As :meth:`unit_state` for a unit only a balance delta touches."""
        raise NotImplementedError

    # ------------------------------------------------------------------ public
    def account_margin(self, row: int) -> tuple[float, float]:
        """Account ``row``'s IM and MM now (USD): the run's, or the last commit's."""
        committed = self._account.get(row)
        if committed is not None:
            return committed
        return float(self.result.initial_margin[row]), float(self.result.maintenance_margin[row])

    def margin_after(
        self, row: int, instrument: ResolvedInstruments, column: int | None, quantity: float
    ) -> tuple[float, float]:
        """IM and MM (USD) of account ``row`` after adding ``quantity`` base units.

        Arguments as :meth:`pmargin.margin.IncrementalMargin.margin_after`.
        """
        return self._after(row, (PositionChange(instrument, column, quantity),), {})[0]

    def margin_after_changes(
        self, row: int, changes: Sequence[PositionChange], balances: Mapping[str, float]
    ) -> tuple[float, float]:
        """IM and MM (USD) of account ``row`` after ``changes`` (in order) and ``balances``."""
        return self._after(row, changes, balances)[0]

    def commit(
        self, row: int, instrument: ResolvedInstruments, column: int | None, quantity: float
    ) -> tuple[float, float]:
        """Book one change into the cached state; return the account's IM and MM after it."""
        return self.commit_changes(row, (PositionChange(instrument, column, quantity),), {})

    def commit_changes(
        self, row: int, changes: Sequence[PositionChange], balances: Mapping[str, float]
    ) -> tuple[float, float]:
        """Book ``changes`` and ``balances`` into the cached state; return IM and MM after."""
        margin, states = self._after(row, changes, balances)
        self._account[row] = margin
        for unit, state in states.items():
            self._units[(row, unit)] = state
        return margin

    # ------------------------------------------------------------------ the sum over units
    def _start(
        self, row: int, unit: Hashable, change: PositionChange | None
    ) -> tuple[StateT, float, float]:
        committed = self._units.get((row, unit))
        if committed is not None:
            state, im, mm = committed
            return self.copy(state), im, mm
        if change is None:
            return self.balance_state(row, unit)
        return self.unit_state(row, unit, change)

    def _after(
        self, row: int, changes: Sequence[PositionChange], balances: Mapping[str, float]
    ) -> tuple[tuple[float, float], dict[Hashable, tuple[StateT, float, float]]]:
        im, mm = self.account_margin(row)
        touched: dict[Hashable, tuple[StateT, float, float]] = {}
        for change in changes:
            unit = self.unit_of(change)
            start = touched.get(unit)
            if start is None:
                start = touched[unit] = self._start(row, unit, change)
            self.apply(start[0], row, change)
        if self.reads_balances and balances:
            for unit in self.balance_units(balances):
                start = touched.get(unit)
                if start is None:
                    start = touched[unit] = self._start(row, unit, None)
                self.apply_balances(start[0], row, unit, balances)
        after: dict[Hashable, tuple[StateT, float, float]] = {}
        for unit, (state, im_before, mm_before) in touched.items():
            im_unit, mm_unit = self.unit_margin(state)
            im += im_unit - im_before
            mm += mm_unit - mm_before
            after[unit] = (state, im_unit, mm_unit)
        return (im, mm), after


def canonical_csr(matrix: Any) -> sparse.csr_array:
    """Return ``matrix`` copied to canonical CSR: sorted, unique columns in every row."""
    canonical = sparse.csr_array(matrix, copy=True)
    canonical.sum_duplicates()
    return canonical


def canonical_quantity(book: BookArrangement) -> sparse.csr_array:
    """Return ``book.quantity`` in canonical CSR (:func:`canonical_csr`).

    Shape ``(n_accounts, n_instruments)``, base units.
    """
    return canonical_csr(book.quantity)


def held_quantity(quantity: sparse.csr_array, row: int, column: int) -> float:
    """Return the base units account ``row`` holds in instrument ``column`` (0 if none).

    ``quantity`` must be canonical (:func:`canonical_csr`: sorted column indices per row); any
    such ``(n_accounts, n_instruments)`` matrix is read alike (unrealised P&L, too).
    """
    start, end = quantity.indptr[row], quantity.indptr[row + 1]
    indices = quantity.indices[start:end]
    k = int(np.searchsorted(indices, column))
    if k < indices.size and int(indices[k]) == column:
        return float(quantity.data[start + k])
    return 0.0

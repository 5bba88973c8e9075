"""The margin pipeline's shared stages, on arrays: what every scenario margin model calls.

Every model runs the same six stages, in this order (docs/architecture.md, "Margin model
stages", has the table of which model uses which function):

1. **arrange units**: assign each unique instrument to a risk unit (:func:`group_columns`);
2. **precompute per market**: revalue each instrument once per scenario (the kernel,
   :mod:`pmargin.risk`, or a model's own precompute, cached per market where a model says so);
3. **scenario P&L**: aggregate a unit's accounts with one sparse product (:func:`unit_pnl`);
4. **reduce**: scenarios to a loss and the scenario that sets it: :func:`binding_scenario`
   (smallest P&L and its column, ties to the first column of a tie-break order) and
   :func:`worst_loss` (the loss as a positive number, -1 where nothing loses); a tail measure
   (VaR, ES) keeps its tail scenarios and their weights instead;
5. **charges**: the methodology's own add-ons and floors (each model's module);
6. **attribution**: the loss and charges to positions, on a unit's held positions
   (:class:`UnitPositions`), so per-position contributions add up to the unit's IM exactly.

Attribution works on one entry per held (account, instrument) pair: a position's loss averaged
over its account's tail scenarios with their weights (:meth:`UnitPositions.tail_loss`), or in
its account's one binding scenario, optionally weighted per account
(:meth:`UnitPositions.binding_loss`; :meth:`UnitPositions.binding_column` for a model whose
per-unit P&L depends on the account); its share of a charge levied on the gross position,
``|q| x rate``, optionally scaled per account to a target (:meth:`UnitPositions.gross_share`,
:func:`proportional_scale`); the branch that binds a ``max(A, B)``
(:meth:`UnitPositions.binding_branch`). :meth:`UnitPositions.contribution` turns the entries
back into the unit's block and :func:`scatter_columns` assembles the units.

Losses are positive numbers, P&L is signed (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from scipy import sparse

from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.errors import InputError
from pmargin.instruments import Instrument

__all__ = [
    "UnitPositions",
    "binding_contribution",
    "binding_scenario",
    "group_columns",
    "proportional_scale",
    "scatter_columns",
    "unit_pnl",
    "worst_loss",
]

_K = TypeVar("_K", bound=Hashable)


def group_columns(
    instruments: Sequence[Instrument], key: Callable[[Instrument], _K]
) -> dict[_K, IntArray]:
    """Columns of the instruments in each risk unit, units in order of first appearance.

    Parameters
    ----------
    instruments
        The book's unique instruments (its column order).
    key
        Risk-unit key of an instrument, e.g. ``lambda i: (i.underlying, i.settlement_currency)``.

    Returns
    -------
    dict
        Unit key -> int64 array of column indices (ascending).
    """
    groups: dict[_K, list[int]] = {}
    for j, instrument in enumerate(instruments):
        groups.setdefault(key(instrument), []).append(j)
    return {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}


def unit_pnl(quantity: Any, columns: IntArray, instrument_pnl: FloatArray) -> FloatArray:
    """P&L of every account in one unit: ``quantity[:, columns] @ instrument_pnl``.

    Parameters
    ----------
    quantity
        Sparse ``(n_accounts, n_instruments)`` base-unit quantities.
    columns
        The unit's instrument columns, shape ``(n_unit,)``.
    instrument_pnl
        P&L per base unit of the unit's instruments, shape ``(n_unit, n_scenarios)``, in the
        unit's currency.

    Returns
    -------
    FloatArray
        Dense ``(n_accounts, n_scenarios)``, in the unit's currency.
    """
    if instrument_pnl.shape[0] != columns.size:
        raise InputError(
            "instrument_pnl.shape", instrument_pnl.shape, f"must have {columns.size} rows"
        )
    return np.asarray(quantity[:, columns] @ instrument_pnl, dtype=np.float64)


def binding_scenario(pnl: FloatArray, order: IntArray | None = None) -> tuple[FloatArray, IntArray]:
    """Smallest P&L of each row and the scenario (column) that sets it: the reduce stage.

    Parameters
    ----------
    pnl
        Shape ``(n_accounts, n_scenarios)`` with ``n_scenarios >= 1``, signed P&L.
    order
        Shape ``(n_scenarios,)``: the columns in tie-break order (a permutation); ``None`` for
        column order. Ties go to the column that comes first in it.

    Returns
    -------
    smallest
        Shape ``(n_accounts,)``: ``min_s pnl`` (signed).
    column
        Shape ``(n_accounts,)``: the column of ``pnl`` that holds it, int64.

    Raises
    ------
    InputError
        For a matrix without scenarios (no scenario can bind).
    """
    n, n_scenarios = pnl.shape
    if n_scenarios == 0:
        raise InputError("pnl.shape", pnl.shape, "must have at least one scenario column")
    if order is None:
        column = np.argmin(pnl, axis=1).astype(np.int64)
    else:
        column = np.asarray(order, dtype=np.int64)[np.argmin(pnl[:, order], axis=1)]
    return pnl[np.arange(n), column], column


def worst_loss(pnl: FloatArray, order: IntArray | None = None) -> tuple[FloatArray, IntArray]:
    """Largest loss over scenarios and the scenario that sets it.

    Parameters
    ----------
    pnl
        Shape ``(n_accounts, n_scenarios)``, signed P&L.
    order
        Shape ``(n_scenarios,)``: the columns in tie-break order (:func:`binding_scenario`);
        ``None`` for column order.

    Returns
    -------
    loss
        Shape ``(n_accounts,)``: ``max(0, -min_s pnl)`` (positive = loss).
    scenario
        Shape ``(n_accounts,)``: the column of the smallest P&L (first in ``order`` on ties,
        :func:`binding_scenario`), -1 where no scenario loses money or there are no scenarios.
    """
    n = pnl.shape[0]
    if pnl.shape[1] == 0:
        return np.zeros(n), np.full(n, -1, dtype=np.int64)
    smallest, column = binding_scenario(pnl, order)
    loss = np.maximum(-smallest, 0.0)
    return loss, np.where(smallest < 0.0, column, -1).astype(np.int64)


@dataclass(frozen=True, slots=True)
class UnitPositions:
    """One risk unit's held positions, the entries the attribution stage works on.

    One entry per held (account, instrument) pair of the unit, in the CSR order of
    ``quantity[:, columns]``; per-entry arrays are written back as a block with
    :meth:`contribution`.

    Attributes
    ----------
    block
        Sparse CSR ``(n_accounts, n_unit)``: base-unit quantities of the unit's columns.
    account
        Shape ``(n_entries,)``: the account (row) of each entry.
    """

    block: Any
    account: IntArray

    @classmethod
    def of(cls, quantity: Any, columns: IntArray) -> UnitPositions:
        """Entries of ``quantity[:, columns]``.

        Parameters
        ----------
        quantity
            Sparse ``(n_accounts, n_instruments)`` base-unit quantities.
        columns
            The unit's instrument columns, shape ``(n_unit,)``.
        """
        return cls.whole(quantity[:, columns])

    @classmethod
    def whole(cls, quantity: Any) -> UnitPositions:
        """Entries of every column of ``quantity``: a unit spanning the whole book.

        Parameters
        ----------
        quantity
            Sparse ``(n_accounts, n_instruments)`` base-unit quantities (not copied when it is
            already a CSR array); the entries are in its CSR order.
        """
        block = sparse.csr_array(quantity)
        account = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        return cls(block, account)

    @property
    def quantity(self) -> FloatArray:
        """Signed base-unit quantity of each entry, shape ``(n_entries,)``."""
        data: FloatArray = self.block.data
        return data

    @property
    def local(self) -> IntArray:
        """Each entry's column in the unit (its row of ``instrument_pnl``), ``(n_entries,)``."""
        indices: IntArray = self.block.indices
        return indices

    @property
    def held(self) -> BoolArray:
        """Whether each account holds any of the unit's instruments, shape ``(n_accounts,)``."""
        result: BoolArray = np.diff(self.block.indptr) > 0
        return result

    def gross(self, rate: FloatArray) -> FloatArray:
        """Charge levied on gross positions: ``sum_j |q[a, j]| x rate[j]`` per account.

        Parameters
        ----------
        rate
            Charge per base unit held, long or short, shape ``(n_unit,)``.

        Returns
        -------
        FloatArray
            Shape ``(n_accounts,)``, in ``rate``'s currency.
        """
        return np.asarray(abs(self.block) @ rate, dtype=np.float64)

    def gross_share(self, rate: FloatArray, scale: FloatArray | None = None) -> FloatArray:
        """Each entry's part of :meth:`gross`, ``|q| x rate[j]``, times its account's ``scale``.

        Parameters
        ----------
        rate
            Shape ``(n_unit,)``, as in :meth:`gross`.
        scale
            Shape ``(n_accounts,)``, e.g. :func:`proportional_scale` of the charge actually
            levied over :meth:`gross`; ``None`` for 1.

        Returns
        -------
        FloatArray
            Shape ``(n_entries,)``; an account's entries add up to ``scale x gross``.
        """
        share = np.abs(self.quantity) * rate[self.local]
        return share if scale is None else share * scale[self.account]

    def binding_column(self, scenario: IntArray) -> tuple[IntArray, BoolArray]:
        """Each entry's binding column: its account's ``scenario``, and whether one binds.

        Parameters
        ----------
        scenario
            Shape ``(n_accounts,)``: the binding column, -1 for none (:func:`worst_loss`).

        Returns
        -------
        column
            Shape ``(n_entries,)``: ``scenario[account]``, 0 where it is -1 (a valid index).
        binds
            Shape ``(n_entries,)``: ``scenario[account] >= 0``.
        """
        binding = scenario[self.account]
        return np.maximum(binding, 0), binding >= 0

    def tail_loss(
        self, instrument_pnl: FloatArray, index: IntArray, weight: FloatArray | None = None
    ) -> FloatArray:
        """Each entry's loss averaged over its account's tail scenarios, with their weights.

        Entry ``(a, j)`` is ``-q[a, j] x sum_k weight[a, k] x instrument_pnl[j, index[a, k]]``:
        the Euler contribution of the position to a tail measure ``-sum_k weight[a, k] x
        pnl[a, index[a, k]]`` (ES over the account's own tail; VaR and the worst loss are the
        one-scenario case, :meth:`binding_loss`). Memory is ``n_entries x K``; no dense
        accounts x instruments matrix is formed.

        Parameters
        ----------
        instrument_pnl
            Shape ``(n_unit, n_scenarios)``: P&L per base unit of the unit's instruments.
        index
            Shape ``(n_accounts, K)``: each account's tail scenario columns.
        weight
            Shape ``(n_accounts, K)``: their weights (each row summing to 1 for a measure;
            padding 0); ``None`` for 1 (one scenario, ``K == 1``).

        Returns
        -------
        FloatArray
            Shape ``(n_entries,)``, in ``instrument_pnl``'s currency, losses positive. An
            account's entries add up to ``-sum_k weight x`` its P&L at ``index``.
        """
        if self.account.size == 0:
            return np.zeros(0)
        rows = self.account
        if weight is None:  # one scenario of weight 1 (a binding loss)
            if index.shape[1] != 1:
                raise InputError("weight", None, "is needed with more than one tail scenario")
            per_unit = instrument_pnl[self.local, index[rows, 0]]
        elif index.shape[1] == 1:  # one scenario (VaR): the same bits as the sum, faster
            per_unit = weight[rows, 0] * instrument_pnl[self.local, index[rows, 0]]
        else:
            tail_pnl = instrument_pnl[self.local[:, None], index[rows]]
            per_unit = np.sum(weight[rows] * tail_pnl, axis=1)
        result: FloatArray = -self.quantity * per_unit
        return result

    def binding_loss(
        self, instrument_pnl: FloatArray, scenario: IntArray, weight: FloatArray | None = None
    ) -> FloatArray:
        """Each entry's loss in its account's binding scenario, times its account's ``weight``.

        Entry ``(a, j)`` is ``-q[a, j] x instrument_pnl[j, scenario[a]] x weight[a]``, 0 where
        ``scenario[a] == -1``: :meth:`tail_loss` with one tail scenario of weight 1.

        Parameters
        ----------
        instrument_pnl
            Shape ``(n_unit, n_scenarios)``: P&L per base unit of the unit's instruments.
        scenario
            Shape ``(n_accounts,)``: the binding column, -1 for none (:func:`worst_loss`).
        weight
            Shape ``(n_accounts,)``: how much of the account's loss at that scenario counts
            (a product group's offset factor, say); ``None`` for 1.

        Returns
        -------
        FloatArray
            Shape ``(n_entries,)``, in ``instrument_pnl``'s currency. An account's entries add
            up to ``weight x`` its loss at the binding scenario.
        """
        loss = self.tail_loss(instrument_pnl, np.maximum(scenario, 0)[:, None])
        if weight is not None:
            loss = loss * weight[self.account]
        result: FloatArray = np.where(scenario[self.account] >= 0, loss, 0.0)
        return result

    def binding_branch(
        self, first_binds: BoolArray, first: FloatArray, second: FloatArray
    ) -> FloatArray:
        """Attribution of ``max(A, B)``: each entry's part of the branch that binds its account.

        Parameters
        ----------
        first_binds
            Shape ``(n_accounts,)``: ``A >= B`` (or the model's own tie rule).
        first, second
            Shape ``(n_entries,)``: the attributions of ``A`` and ``B``.

        Returns
        -------
        FloatArray
            Shape ``(n_entries,)``.
        """
        result: FloatArray = np.where(first_binds[self.account], first, second)
        return result

    def contribution(self, values: FloatArray) -> Any:
        """Per-entry values as the unit's block.

        Parameters
        ----------
        values
            Shape ``(n_entries,)``.

        Returns
        -------
        scipy.sparse.csr_array
            Shape ``(n_accounts, n_unit)``, the pattern of :attr:`block`.
        """
        block = self.block
        return sparse.csr_array(
            (values, block.indices.copy(), block.indptr.copy()), shape=block.shape
        )


def proportional_scale(target: FloatArray, raw: FloatArray) -> FloatArray:
    """Per-account factor that scales a raw attribution to its target: ``target / raw``.

    Parameters
    ----------
    target, raw
        Shape ``(n_accounts,)``: the charge levied and the sum of the raw attribution.

    Returns
    -------
    FloatArray
        Shape ``(n_accounts,)``: ``target / raw`` where ``raw > 0``, else 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        result: FloatArray = np.where(raw > 0.0, target / raw, 0.0)
    return result


def binding_contribution(
    quantity: Any,
    columns: IntArray,
    instrument_pnl: FloatArray,
    scenario: IntArray,
    weight: FloatArray | None = None,
) -> Any:
    """Each position's loss in its account's binding scenario, as the unit's block.

    Entry ``(a, j)`` is ``-q[a, j] * instrument_pnl[j, scenario[a]]`` (times ``weight[a]``; 0
    where ``scenario[a] == -1``), so each account's entries add up to its worst loss when the
    unit's P&L is the plain sum of its positions' P&L (see :meth:`UnitPositions.binding_loss`).

    Parameters
    ----------
    quantity
        Sparse ``(n_accounts, n_instruments)`` base-unit quantities.
    columns
        The unit's instrument columns, shape ``(n_unit,)``.
    instrument_pnl
        Shape ``(n_unit, n_scenarios)``, per base unit, in the unit's currency.
    scenario
        Shape ``(n_accounts,)``, from :func:`worst_loss`.
    weight
        Shape ``(n_accounts,)`` or ``None`` for 1.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(n_accounts, n_unit)``: loss contributions in the unit's currency.
    """
    positions = UnitPositions.of(quantity, columns)
    return positions.contribution(positions.binding_loss(instrument_pnl, scenario, weight))


def scatter_columns(parts: Sequence[tuple[IntArray, Any]], shape: tuple[int, int]) -> Any:
    """Assemble per-unit ``(n_accounts, n_unit)`` sparse blocks into one full-width matrix.

    Parameters
    ----------
    parts
        ``(columns, block)`` pairs: ``block[:, k]`` lands in column ``columns[k]``.
    shape
        ``(n_accounts, n_instruments)``.

    Returns
    -------
    scipy.sparse.csr_array
        The sum of the scattered blocks.
    """
    rows: list[Any] = []
    cols: list[Any] = []
    data: list[Any] = []
    for columns, block in parts:
        coo = sparse.coo_array(block)
        rows.append(coo.row)
        cols.append(columns[coo.col])
        data.append(coo.data)
    if not data:
        return sparse.csr_array(shape, dtype=np.float64)
    coo = sparse.coo_array(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=shape
    )
    return sparse.csr_array(coo)

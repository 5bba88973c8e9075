"""Machinery shared by the scenario (max-loss) margin models.

The steps every risk-matrix methodology takes, on arrays:

1. assign each unique instrument to a risk unit (:func:`group_columns`);
2. revalue each instrument once per scenario (the kernel, :mod:`pmargin.risk`);
3. aggregate a unit's accounts with one sparse product (:func:`unit_pnl`);
4. reduce scenarios to the worst loss and the scenario that sets it (:func:`worst_loss`; ties
   go to the first scenario column, so a model's column order is its tie-break);
5. attribute that loss to positions (:func:`binding_contribution`), so per-position
   contributions add up to the unit's worst loss exactly.

Attribution works on a unit's held positions, one entry per (account, instrument) pair
(:class:`UnitPositions`): a position's loss in its account's binding scenario, optionally
weighted per account (:meth:`UnitPositions.binding_loss`); its share of a charge levied on the
gross position, ``|q| x rate``, optionally scaled per account to a target
(:meth:`UnitPositions.gross_share`, :func:`proportional_scale`); the branch that binds a
``max(A, B)`` (:meth:`UnitPositions.binding_branch`). Sums of such entries add up to the
charge they attribute, so a model's contributions add up to its IM.

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


def worst_loss(pnl: FloatArray) -> tuple[FloatArray, IntArray]:
    """Largest loss over scenarios and the scenario that sets it.

    Parameters
    ----------
    pnl
        Shape ``(n_accounts, n_scenarios)``, signed P&L.

    Returns
    -------
    loss
        Shape ``(n_accounts,)``: ``max(0, -min_s pnl)`` (positive = loss).
    scenario
        Shape ``(n_accounts,)``: the column of the smallest P&L (first on ties), -1 where no
        scenario loses money or there are no scenarios.
    """
    n = pnl.shape[0]
    if pnl.shape[1] == 0:
        return np.zeros(n), np.full(n, -1, dtype=np.int64)
    column = np.argmin(pnl, axis=1).astype(np.int64)
    smallest = pnl[np.arange(n), column]
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
        block = sparse.csr_array(quantity[:, columns])
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

    def binding_loss(
        self, instrument_pnl: FloatArray, scenario: IntArray, weight: FloatArray | None = None
    ) -> FloatArray:
        """Each entry's loss in its account's binding scenario, times its account's ``weight``.

        Entry ``(a, j)`` is ``-q[a, j] x instrument_pnl[j, scenario[a]] x weight[a]``, 0 where
        ``scenario[a] == -1``.

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
        binding = scenario[self.account]
        column = np.maximum(binding, 0)
        loss = -self.quantity * instrument_pnl[self.local, column]
        if weight is not None:
            loss = loss * weight[self.account]
        result: FloatArray = np.where(binding >= 0, loss, 0.0)
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

"""Scenario P&L, tail and tail attribution fused per block of accounts (``pmargin-es``).

The scenario-risk model's aggregation and reduce stages, one block of accounts (CSR rows) at a
time, so that the block's ``(m, n_scenarios)`` P&L and the instrument rows its positions read
stay in cache and no book-wide temporary is formed::

    pnl[block]  = quantity[block] @ unit_pnl + balance_pnl(exposure[block])        (USD)
    tail        = the k worst scenarios of each row (equally weighted scenarios)
    worst       = each row's smallest P&L column (-1 without a loss)
    entry_loss  = -q x sum_k weight_k unit_pnl[j, tail[a, k]]   per stored position (a, j)

With numba (the ``fast`` extra, ``PMARGIN_JIT`` not ``0``) the product, the selection of the
tail and the per-position gathers are compiled loops (:mod:`._fused_jit`); without it the same
blocks run through SciPy and NumPy. Both give the bits of the whole-book twins
:func:`tail_stage_reference` (one dense ``(n_accounts, n_scenarios)`` matrix, then
:func:`~._tail.account_tail`, :func:`~pmargin.margin._scenario_margin.worst_loss` and
:meth:`~pmargin.margin._scenario_margin.UnitPositions.tail_loss`): the product adds the same
terms in the same order, the tail is the same stable selection and the sums are NumPy's own.
Scenario sets with unequal weights take the reference path (no speed-up there).

:func:`measure_stage` is the measure-only variant for the correlation-stressed and floor sets;
its compiled path sums each row's tail in ascending order where :func:`measure_stage_reference`
sums a partition's order: equal within ``k x 2**-52`` of the tail's largest loss
(``k = tail_count``), tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from scipy import sparse

from pmargin._compiled import compiled_module
from pmargin._typing import FloatArray, IntArray
from pmargin.margin._scenario_margin import UnitPositions, worst_loss
from pmargin.margin.scenario_risk._tail import (
    AccountTail,
    account_tail,
    equal_tail,
    tail_count,
    tail_measure,
    tail_measure_of_smallest,
    tail_of,
)

__all__ = [
    "SetPnl",
    "TailRule",
    "TailStage",
    "balance_pnl",
    "fused_kernel_name",
    "measure_stage",
    "measure_stage_reference",
    "tail_stage",
    "tail_stage_reference",
]

_JIT_BLOCK_CELLS = 1 << 18
"""Accounts x scenarios per block of the compiled path: 16 MiB of float64, in L3."""

_NUMPY_BLOCK_CELLS = 1 << 22
"""Accounts x scenarios per block of the NumPy path (32 MiB): fewer SciPy calls per book."""

_REFERENCE_CHUNK_CELLS = 20_000_000
"""Cells per chunk of :func:`measure_stage_reference` (160 MB of float64)."""


@dataclass(frozen=True, slots=True)
class TailStage:
    """The scenario set's P&L (optional), tail, worst scenario and each position's tail loss.

    Attributes
    ----------
    pnl
        Shape ``(n_accounts, n_scenarios)``, USD, or ``None`` when not kept.
    tail
        Each account's tail columns, weights and measure (:class:`~._tail.AccountTail`).
    worst
        Shape ``(n_accounts,)``: the column of the smallest P&L, -1 where none loses.
    entry_loss
        Shape ``(n_entries,)`` in the quantity matrix's CSR order: each position's loss
        averaged over its account's tail (USD, losses positive), before any scaling.
    """

    pnl: FloatArray | None
    tail: AccountTail
    worst: IntArray
    entry_loss: FloatArray


def _jit() -> ModuleType | None:
    """Return the compiled kernels' module; ``None`` without numba or with ``PMARGIN_JIT=0``."""
    return compiled_module("pmargin.margin.scenario_risk._fused_jit")


def fused_kernel_name() -> str:
    """Name the path :func:`tail_stage` runs: ``"numba"`` (compiled) or ``"numpy"``."""
    return "numpy" if _jit() is None else "numba"


def _kernels(jit: bool | None) -> ModuleType | None:
    """Return the compiled kernels if wanted (``jit`` not ``False``) and importable."""
    return None if jit is False else _jit()


def _csr(quantity: Any) -> Any:
    """``quantity`` as a CSR array with int64 indices and float64 data (no copy when it is)."""
    q = sparse.csr_array(quantity)
    if q.indptr.dtype != np.int64 or q.indices.dtype != np.int64 or q.data.dtype != np.float64:
        q = sparse.csr_array(
            (
                np.asarray(q.data, dtype=np.float64),
                np.asarray(q.indices, dtype=np.int64),
                np.asarray(q.indptr, dtype=np.int64),
            ),
            shape=q.shape,
        )
    return q


def balance_pnl(exposure: FloatArray, balance_move: FloatArray) -> FloatArray:
    """USD P&L of the moving coin balances: ``sum_c exposure[:, c] x balance_move[c]``.

    Parameters
    ----------
    exposure
        Shape ``(m, n_moving)`` with ``n_moving >= 1``: USD exposure per moving coin.
    balance_move
        Shape ``(n_moving, n_scenarios)``: each coin's multiplier minus 1.

    Returns
    -------
    FloatArray
        Shape ``(m, n_scenarios)``, USD. The coins are added in their order, one rounding per
        product and per sum, so a row's bits do not depend on the rows computed with it (a BLAS
        matrix product's may: its kernels fuse and group the terms by the block's shape).
    """
    out: FloatArray = exposure[:, 0:1] * balance_move[0]
    for c in range(1, exposure.shape[1]):
        out += exposure[:, c : c + 1] * balance_move[c]
    return out


@dataclass(frozen=True, slots=True)
class SetPnl:
    """What a scenario set's account P&L is made of (USD).

    ``pnl = quantity @ unit_pnl + balance_pnl(exposure, balance_move)``.

    Attributes
    ----------
    quantity
        Sparse ``(n_accounts, n_instruments)`` base-unit quantities.
    exposure
        Shape ``(n_accounts, n_moving)``: USD exposure of the moving coin balances.
    unit_pnl
        Shape ``(n_instruments, n_scenarios)``: USD P&L per base unit.
    balance_move
        Shape ``(n_moving, n_scenarios)``: each moving coin's multiplier minus 1.
    """

    quantity: Any
    exposure: FloatArray
    unit_pnl: FloatArray
    balance_move: FloatArray


@dataclass(frozen=True, slots=True)
class TailRule:
    """Which tail measure of a scenario set.

    Attributes
    ----------
    weights
        Shape ``(n_scenarios,)``: scenario probability weights.
    level, measure, boundary
        As :func:`~._tail.account_tail` (``measure`` ``"es"`` or ``"var"``).
    """

    weights: FloatArray
    level: float
    measure: str
    boundary: str = "whole"

    @property
    def equal(self) -> bool:
        """Whether every scenario has the same weight (the fused paths' case)."""
        w = self.weights
        return bool(w.size == 0 or np.all(w == w[0]))


def tail_stage(
    book: SetPnl, rule: TailRule, *, keep_pnl: bool = True, jit: bool | None = None
) -> TailStage:
    """Scenario P&L, tail, worst scenario and tail attribution, one block of accounts at a time.

    Parameters
    ----------
    book
        The set's P&L parts.
    rule
        The tail measure.
    keep_pnl
        Return the ``(n_accounts, n_scenarios)`` P&L (written block by block, once) or not.
    jit
        ``None``: the compiled kernels when numba is available; ``False``: the NumPy blocks.

    Returns
    -------
    TailStage
        The same bits as :func:`tail_stage_reference` (module docstring).
    """
    q = _csr(book.quantity)
    unit_pnl = np.ascontiguousarray(book.unit_pnl, dtype=np.float64)
    n_acc, n_s = q.shape[0], unit_pnl.shape[1]
    if n_acc == 0 or n_s == 0 or not rule.equal:
        return tail_stage_reference(book, rule)
    book = SetPnl(q, book.exposure, unit_pnl, book.balance_move)
    kernels = _kernels(jit)
    k = tail_count(n_s, rule.level)
    n_tail = 1 if rule.measure == "var" else k
    pnl = np.empty((n_acc, n_s)) if keep_pnl else None
    index = np.empty((n_acc, n_tail), dtype=np.int64)
    weight = np.empty((n_acc, n_tail))
    value = np.empty(n_acc)
    worst = np.empty(n_acc, dtype=np.int64)
    entry_loss = np.empty(q.nnz)
    cells = _NUMPY_BLOCK_CELLS if kernels is None else _JIT_BLOCK_CELLS
    step = max(1, cells // n_s)
    scratch = np.empty((min(step, n_acc), n_s))
    for start in range(0, n_acc, step):
        stop = min(n_acc, start + step)
        block = pnl[start:stop] if pnl is not None else scratch[: stop - start]
        _block_pnl(kernels, book, start, block)
        if kernels is None:
            part = account_tail(block, rule.level, rule.weights, rule.measure, rule.boundary)
            lo, hi = int(q.indptr[start]), int(q.indptr[stop])
            positions = UnitPositions.whole(q[start:stop])
            entry_loss[lo:hi] = positions.tail_loss(unit_pnl, part.index, part.weight)
        else:
            part = _jit_tail(kernels, block, k, rule)
            _jit_entry_loss(kernels, q, unit_pnl, start, stop, part, entry_loss)
        index[start:stop] = part.index
        weight[start:stop] = part.weight
        value[start:stop] = part.measure
        worst[start:stop] = worst_loss(block)[1]
    return TailStage(pnl, AccountTail(index, weight, value), worst, entry_loss)


def _block_pnl(kernels: ModuleType | None, book: SetPnl, start: int, out: FloatArray) -> None:
    """Write rows ``start:start + len(out)``'s USD P&L into ``out`` (as the reference sums).

    ``book.quantity`` is CSR with int64 indices and ``book.unit_pnl`` C-contiguous float64.
    """
    stop = start + out.shape[0]
    q = book.quantity
    if kernels is None:
        out[...] = q[start:stop] @ book.unit_pnl
    else:
        kernels.product_rows(q.indptr, q.indices, q.data, book.unit_pnl, start, out)
    if book.exposure.shape[1]:
        out += balance_pnl(book.exposure[start:stop], book.balance_move)


def _jit_tail(kernels: ModuleType, block: FloatArray, k: int, rule: TailRule) -> AccountTail:
    """:func:`~._tail.account_tail` of an equally weighted block, selection compiled."""
    m, n_s = block.shape
    worst = np.empty((m, k), dtype=np.int64)
    kernels.k_worst_rows(block, k, worst, np.empty((m, k)))
    index, weight = equal_tail(worst, n_s, rule.level, rule.measure, rule.boundary)
    return tail_of(block, index, weight)


def _jit_entry_loss(
    kernels: ModuleType,
    q: Any,
    unit_pnl: FloatArray,
    start: int,
    stop: int,
    tail: AccountTail,
    out: FloatArray,
) -> None:
    """Write the block's positions' tail loss (:meth:`UnitPositions.tail_loss`) into ``out``."""
    lo, hi = int(q.indptr[start]), int(q.indptr[stop])
    n_tail = tail.index.shape[1]
    products = np.empty((hi - lo, n_tail))
    # equal weights: every row of the block has the same weights
    row_weight = np.ascontiguousarray(tail.weight[0]) if stop > start else np.ones(n_tail)
    kernels.tail_products(q.indptr, q.indices, unit_pnl, start, tail.index, row_weight, products)
    per_unit = products[:, 0] if n_tail == 1 else np.sum(products, axis=1)
    out[lo:hi] = -q.data[lo:hi] * per_unit


def tail_stage_reference(book: SetPnl, rule: TailRule) -> TailStage:
    """:func:`tail_stage` over the whole book at once: the dense P&L matrix, then its tail.

    Same parameters (the P&L is always kept) and returns; the reference twin.
    """
    q = sparse.csr_array(book.quantity)
    pnl = np.asarray(q @ book.unit_pnl, dtype=np.float64)
    if book.exposure.shape[1]:
        pnl += balance_pnl(book.exposure, book.balance_move)
    tail = account_tail(pnl, rule.level, rule.weights, rule.measure, rule.boundary)
    _, worst = worst_loss(pnl)
    entry_loss = UnitPositions.whole(q).tail_loss(book.unit_pnl, tail.index, tail.weight)
    return TailStage(pnl, tail, worst, entry_loss)


def measure_stage(book: SetPnl, rule: TailRule, *, jit: bool | None = None) -> FloatArray:
    """``max(0, measure)`` per account of a scenario set, blocks fused, no P&L kept.

    Parameters as :func:`tail_stage`. Returns shape ``(n_accounts,)``, USD, >= 0. Without the
    compiled kernels, or with unequal weights, it is :func:`measure_stage_reference`.
    """
    q = _csr(book.quantity)
    unit_pnl = np.ascontiguousarray(book.unit_pnl, dtype=np.float64)
    n_acc, n_s = q.shape[0], unit_pnl.shape[1]
    kernels = _kernels(jit)
    if kernels is None or n_acc == 0 or n_s == 0 or not rule.equal:
        return measure_stage_reference(book, rule)
    book = SetPnl(q, book.exposure, unit_pnl, book.balance_move)
    k = tail_count(n_s, rule.level)
    out = np.empty(n_acc)
    step = max(1, _JIT_BLOCK_CELLS // n_s)
    scratch = np.empty((min(step, n_acc), n_s))
    index = np.empty((min(step, n_acc), k), dtype=np.int64)
    smallest = np.empty((min(step, n_acc), k))
    for start in range(0, n_acc, step):
        stop = min(n_acc, start + step)
        m = stop - start
        _block_pnl(kernels, book, start, scratch[:m])
        kernels.k_worst_rows(scratch[:m], k, index[:m], smallest[:m])
        value = tail_measure_of_smallest(smallest[:m], n_s, rule.level, rule.measure, rule.boundary)
        out[start:stop] = np.maximum(value, 0.0)
    return out


def measure_stage_reference(book: SetPnl, rule: TailRule) -> FloatArray:
    """:func:`measure_stage` by SciPy products and :func:`~._tail.tail_measure` per chunk.

    The reference twin (the model's previous implementation, chunks of 20 M cells).
    """
    q = sparse.csr_array(book.quantity)
    n_acc = q.shape[0]
    out = np.zeros(n_acc)
    step = max(1, _REFERENCE_CHUNK_CELLS // max(1, book.unit_pnl.shape[1]))
    for start in range(0, n_acc, step):
        stop = min(n_acc, start + step)
        whole = start == 0 and stop == n_acc
        part = q if whole else q[start:stop]  # the same entries either way
        pnl = np.asarray(part @ book.unit_pnl, dtype=np.float64)
        if book.exposure.shape[1]:
            pnl += balance_pnl(book.exposure[start:stop], book.balance_move)
        value = tail_measure(pnl, rule.level, rule.weights, rule.measure, rule.boundary)
        out[start:stop] = np.maximum(value, 0.0)
    return out

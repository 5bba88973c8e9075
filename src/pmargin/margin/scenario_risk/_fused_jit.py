"""Compiled kernels of the fused scenario P&L + tail stage (numba, the ``fast`` extra).

Three loops over one block of accounts (CSR rows), each giving the same bits as the NumPy
operation it replaces (:mod:`pmargin.margin.scenario_risk._fused` calls them and keeps the NumPy
path as their twin):

- :func:`product_rows`: ``quantity[rows] @ unit_pnl`` as SciPy's ``csr_matvecs`` computes it
  (each row starts at 0 and adds ``q x row`` of every stored entry in CSR order, one rounding
  per multiplication and per addition: no fused multiply-add);
- :func:`k_worst_rows`: the ``k`` smallest P&L of each row, worst first, ties ranked as a stable
  sort ranks them (the earlier column first), by insertion into a sorted buffer of ``k``;
- :func:`tail_products`: ``weight[k] x unit_pnl[j, index[a, k]]`` per stored entry ``(a, j)``,
  while the block's instrument rows are still in cache.

Importing this module needs numba; ``_fused`` imports it lazily unless numba is missing or
``PMARGIN_JIT=0``.
"""

from __future__ import annotations

from pmargin._compiled import njit
from pmargin._typing import FloatArray, IntArray

__all__ = ["k_worst_rows", "product_rows", "tail_products"]


@njit
def product_rows(
    indptr: IntArray,
    indices: IntArray,
    data: FloatArray,
    unit_pnl: FloatArray,
    start: int,
    out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """Write ``quantity[start:start + m] @ unit_pnl`` into ``out`` (shape ``(m, n_scenarios)``).

    ``indptr``, ``indices``, ``data``: the CSR quantity matrix (base units); ``unit_pnl``:
    ``(n_instruments, n_scenarios)`` USD per base unit, C-contiguous.
    """
    m, n_s = out.shape
    for r in range(m):
        row = out[r]
        for s in range(n_s):
            row[s] = 0.0
        for e in range(indptr[start + r], indptr[start + r + 1]):
            q = data[e]
            src = unit_pnl[indices[e]]
            for s in range(n_s):
                row[s] += q * src[s]


@njit
def k_worst_rows(
    pnl: FloatArray, k: int, index: IntArray, values: FloatArray
) -> None:  # pragma: no cover - compiled
    """Write each row's ``k`` smallest values (ascending) and their columns, stable on ties.

    ``pnl``: shape ``(m, n)`` with ``n >= k >= 1``; ``index`` (int64) and ``values``: shape
    ``(m, k)``, written. A value enters the buffer only when strictly below its largest kept
    value, and goes after the kept values equal to it: the earlier column ranks worse, as with
    ``argsort(kind="stable")``.
    """
    m, n = pnl.shape
    for r in range(m):
        row = pnl[r]
        val = values[r]
        idx = index[r]
        count = 0
        for s in range(n):
            v = row[s]
            if count == k:
                if not v < val[k - 1]:
                    continue
                pos = k - 1
            else:
                pos = count
                count += 1
            while pos > 0 and val[pos - 1] > v:
                val[pos] = val[pos - 1]
                idx[pos] = idx[pos - 1]
                pos -= 1
            val[pos] = v
            idx[pos] = s


@njit
def tail_products(
    indptr: IntArray,
    indices: IntArray,
    unit_pnl: FloatArray,
    start: int,
    index: IntArray,
    weight: FloatArray,
    out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """Write ``weight[k] x unit_pnl[j, index[r, k]]`` for every entry of rows ``start + r``.

    ``index``: shape ``(m, K)`` tail columns of the block's rows; ``weight``: shape ``(K,)``
    (the same for every row: equally weighted scenarios); ``out``: shape ``(n_entries, K)``
    for the block's entries, in CSR order from ``indptr[start]``.
    """
    m, kk = index.shape
    base = indptr[start]
    for r in range(m):
        idx = index[r]
        for e in range(indptr[start + r], indptr[start + r + 1]):
            src = unit_pnl[indices[e]]
            o = out[e - base]
            for c in range(kk):
                o[c] = weight[c] * src[idx[c]]

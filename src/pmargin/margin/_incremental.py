"""Pieces the models' incremental (one-order) margin paths share.

An incremental path caches a margin run's per-account state and answers one account's margin
after one order without re-margining it (:class:`~pmargin.margin.IncrementalMargin`). Each
needs the account's current quantity of the traded instrument: :func:`canonical_quantity`
prepares the book's quantity matrix once, :func:`held_quantity` reads one cell in
``O(log positions of the account)``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from pmargin.book import BookArrangement

__all__ = ["canonical_quantity", "held_quantity"]


def canonical_quantity(book: BookArrangement) -> sparse.csr_array:
    """Return ``book.quantity`` copied to canonical CSR: sorted, unique columns in every row.

    Shape ``(n_accounts, n_instruments)``, base units.
    """
    quantity = sparse.csr_array(book.quantity, copy=True)
    quantity.sum_duplicates()
    return quantity


def held_quantity(quantity: sparse.csr_array, row: int, column: int) -> float:
    """Return the base units account ``row`` holds in instrument ``column`` (0 if none).

    ``quantity`` must come from :func:`canonical_quantity` (sorted column indices per row).
    """
    start, end = quantity.indptr[row], quantity.indptr[row + 1]
    indices = quantity.indices[start:end]
    k = int(np.searchsorted(indices, column))
    if k < indices.size and int(indices[k]) == column:
        return float(quantity.data[start + k])
    return 0.0

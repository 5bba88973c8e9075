"""A book whose rows sit at their own price moves: many what-ifs margined in one computation.

:func:`moved_rows` takes rows of an arranged book (a row may be taken several times) and puts
row ``k`` at its own relative moves ``moves[k]`` of some underlyings, by the rule of
:meth:`~pmargin.book.BookArrangement.moved` (every USD price of ``u`` times ``1 + m``, sticky
strike unless ``vol_beta``, inverse futures keep their USD notional, futures P&L into
``unrealised``, balances at the moved prices). Rows that share a move vector share columns; a
row with a move vector of its own gets columns of its own (a block-diagonal book: column ``j``
is one instrument resolved at one move vector). So one model computation margins every row
at its own prices.

The prices a model reads beyond the resolved columns (a balance's USD price, the index of a
column's underlying, a risk unit's USD rate) go through the book
(:meth:`~pmargin.book.BookArrangement.usd_price`, :meth:`~pmargin.book.BookArrangement.index_usd`),
which reads :class:`RowMoves`: a float for an ordinary book, one value per row (or column) for a
book of moved rows. Only models that declare ``Capabilities(row_prices=True)`` read every price
that way; the others must not be given such a book.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray, IntArray
from pmargin.book._moved import resolved_at
from pmargin.errors import InputError

if TYPE_CHECKING:
    from pmargin.book._arranged import BookArrangement

__all__ = ["RowMoves", "moved_rows"]


@dataclass(frozen=True, slots=True)
class RowMoves:
    """Each row's and each column's multipliers ``1 + move`` of the moved underlyings.

    Attributes
    ----------
    names
        The moved underlyings (upper case), ``n_names`` of them; an underlying not named does
        not move.
    rows
        Shape ``(n_rows, n_names)``: row ``a``'s multiplier of each name.
    columns
        Shape ``(n_columns, n_names)``: the multipliers column ``j``'s instrument is resolved
        at (those of every row holding it).
    """

    names: tuple[str, ...]
    rows: FloatArray
    columns: FloatArray

    def row_multiplier(self, name: str) -> FloatArray | None:
        """Shape ``(n_rows,)``: every row's multiplier of ``name``; ``None`` if it does not move."""
        if name not in self.names:
            return None
        out: FloatArray = self.rows[:, self.names.index(name)]
        return out

    def column_multiplier(self, name: str) -> FloatArray | None:
        """Shape ``(n_columns,)``: every column's multiplier of ``name``; ``None`` if fixed."""
        if name not in self.names:
            return None
        out: FloatArray = self.columns[:, self.names.index(name)]
        return out


def moved_rows(
    book: BookArrangement,
    rows: Sequence[int] | IntArray,
    names: Sequence[str],
    moves: FloatArray,
    vol_beta: float = 0.0,
) -> BookArrangement:
    """Return rows ``rows`` of ``book``, row ``k`` after its own relative moves ``moves[k]``.

    Parameters
    ----------
    book
        An ordinary arranged book (not itself a book of moved rows).
    rows
        Shape ``(n,)``: rows of ``book``, repeats allowed (one account at several moves).
    names
        The underlyings that move, ``n_names`` of them.
    moves
        Shape ``(n, n_names)``: relative moves (-0.2 = down 20 %), each finite and > -1.
    vol_beta
        Vol response (0: sticky strike), as :meth:`~pmargin.book.BookArrangement.moved`.

    Returns
    -------
    BookArrangement
        ``n`` rows (account ids repeated where rows repeat), one column per (distinct move
        vector, instrument held by a row with it), the book's assets and market, and
        :attr:`~pmargin.book.BookArrangement.row_moves` set. Row ``k`` margins and values as
        ``book.take_accounts([rows[k]]).moved(dict(zip(names, moves[k])), vol_beta)`` does.

    Raises
    ------
    InputError
        Field ``moves``: a move not finite or not > -1, or the wrong shape.
    """
    index = np.asarray(rows, dtype=np.int64).reshape(-1)
    n, k = index.size, len(names)
    move = np.asarray(moves, dtype=np.float64)
    if move.shape != (n, k):
        raise InputError("moves", move.shape, f"must have shape (len(rows), len(names)) = {n, k}")
    if not np.all(np.isfinite(move) & (move > -1.0)):
        raise InputError("moves", "non-finite or <= -1", "must be finite relative moves > -1")
    vectors, group = np.unique(move, axis=0, return_inverse=True)
    group = group.reshape(n).astype(np.int64)
    mult = np.concatenate([1.0 + vectors, np.ones((vectors.shape[0], 1))], axis=1)
    q = sparse.csr_array(book.quantity)
    n_cols = q.shape[1]
    owner, picked = _entries(q.indptr, index)
    keys, local = np.unique(group[owner] * n_cols + q.indices[picked], return_inverse=True)
    column, column_group = keys % n_cols, keys // n_cols
    indptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n))]).astype(np.int64)
    shape = (n, keys.size)
    quantity = sparse.csr_array((q.data[picked], local.reshape(-1), indptr), shape=shape)
    u = sparse.csr_array(book.unrealised)
    u_owner, u_picked = _entries(u.indptr, index)
    u_keys = group[u_owner] * n_cols + u.indices[u_picked]
    at = np.minimum(np.searchsorted(keys, u_keys), max(keys.size - 1, 0))
    kept = keys[at] == u_keys if keys.size else np.zeros(u_keys.size, dtype=bool)
    unrealised = sparse.coo_array(
        (u.data[u_picked][kept], (u_owner[kept], at[kept])), shape=shape
    ).tocsr()
    code = _name_codes(book, tuple(names))
    m_under, m_quote, m_settle = (mult[column_group, c[column]] for c in code)
    base = book.resolved.take(column)
    flat = type(book)(
        account_ids=tuple(book.account_ids[int(r)] for r in index),
        resolved=base,
        quantity=quantity,
        assets=book.assets,
        balances=book.balance_matrix[index],
        unrealised=unrealised,
        market=book.market,
    )
    at_moves = flat.rebased(book.market, resolved_at(base, m_under, m_quote, m_settle, vol_beta))
    row_moves = RowMoves(tuple(names), mult[group, :k], mult[column_group, :k])
    return at_moves.with_row_moves(row_moves)


def _entries(indptr: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """Return the stored entries of CSR ``rows``: ``(owner k of each, its position)``."""
    start, stop = indptr[rows], indptr[rows + 1]
    counts = (stop - start).astype(np.int64)
    offsets = np.repeat(start - np.cumsum(counts) + counts, counts)
    picked = (offsets + np.arange(counts.sum())).astype(np.int64)
    return np.repeat(np.arange(rows.size, dtype=np.int64), counts), picked


def _name_codes(
    book: BookArrangement, names: tuple[str, ...]
) -> tuple[IntArray, IntArray, IntArray]:
    """Per book column: position in ``names`` of its underlying, quote, settlement (else n)."""
    where = {u: i for i, u in enumerate(names)}
    n = len(names)
    instruments = book.instruments
    return (
        np.array([where.get(i.underlying, n) for i in instruments], dtype=np.int64),
        np.array([where.get(i.quote, n) for i in instruments], dtype=np.int64),
        np.array([where.get(i.settlement_currency, n) for i in instruments], dtype=np.int64),
    )

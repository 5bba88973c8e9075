"""A book whose rows sit at their own price moves: many what-ifs margined in one computation.

:func:`moved_rows` takes rows of an arranged book (a row may be taken several times) and puts
row ``k`` at its own relative moves ``moves[k]`` of some underlyings, by the rule of
:meth:`~pmargin.book.BookArrangement.moved` (every USD price of ``u`` times ``1 + m``, sticky
strike unless ``vol_beta``, inverse futures keep their USD notional, futures P&L into
``unrealised``, balances at the moved prices). Column ``j`` is one instrument resolved at one
set of multipliers of the names it depends on (its underlying, quote and settlement currency):
rows that hold the instrument at the same multipliers share the column, whatever their moves of
other underlyings (an ETH option of a row whose BTC alone moves sits in the ETH option's unmoved
column); a row with moves of its own gets columns of its own. So one model computation margins
every row at its own prices, each instrument revalued once per distinct price it is held at.

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

from pmargin._typing import FloatArray, IntArray, StrArray
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
        at, for the names it depends on (its underlying, quote, settlement currency: those of
        every row holding it); 1 for the others.
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

    def take(self, rows: IntArray | None, columns: IntArray | None) -> RowMoves:
        """Return the multipliers of ``rows`` and ``columns`` (int64 indices; ``None``: all).

        What :meth:`~pmargin.book.BookArrangement.take_accounts` and
        :meth:`~pmargin.book.BookArrangement.take_columns` carry to the book they return.
        """
        return RowMoves(
            self.names,
            self.rows if rows is None else self.rows[rows],
            self.columns if columns is None else self.columns[columns],
        )

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
        ``n`` rows (account ids repeated where rows repeat), one column per (instrument,
        distinct multipliers of its underlying, quote and settlement currency among the rows
        holding it), in book column order, the book's assets and market, and
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
    vectors, group = _unique_rows(move)
    mult = np.concatenate([1.0 + vectors, np.ones((vectors.shape[0], 1))], axis=1)
    code = _name_codes(book, tuple(names))
    key = _ColumnKey(code, mult, group)
    q = sparse.csr_array(book.quantity)
    owner, picked = _entries(q.indptr, index)
    keys, first, local = np.unique(
        key(owner, q.indices[picked]), return_index=True, return_inverse=True
    )
    column = keys // key.n_groups
    column_group = group[owner[first]]  # a row whose moves the column is resolved at
    indptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n))]).astype(np.int64)
    shape = (n, keys.size)
    quantity = sparse.csr_array((q.data[picked], local.reshape(-1), indptr), shape=shape)
    u = sparse.csr_array(book.unrealised)
    u_owner, u_picked = _entries(u.indptr, index)
    u_keys = key(u_owner, u.indices[u_picked])
    at = np.minimum(np.searchsorted(keys, u_keys), max(keys.size - 1, 0))
    kept = keys[at] == u_keys if keys.size else np.zeros(u_keys.size, dtype=bool)
    unrealised = sparse.coo_array(
        (u.data[u_picked][kept], (u_owner[kept], at[kept])), shape=shape
    ).tocsr()
    m_under, m_quote, m_settle = (mult[column_group, c[column]] for c in code)
    base = book.resolved.take(column)
    flat = type(book)(
        account_ids=tuple(map(book.account_ids.__getitem__, index.tolist())),
        resolved=base,
        quantity=quantity,
        assets=book.assets,
        balances=book.balance_matrix[index],
        unrealised=unrealised,
        market=book.market,
    )
    at_moves = flat.rebased(book.market, resolved_at(base, m_under, m_quote, m_settle, vol_beta))
    named = np.arange(k)[None, :]
    depends = np.zeros((column.size, k), dtype=bool)
    for c in code:
        depends |= c[column][:, None] == named
    columns = np.where(depends, mult[column_group, :k], 1.0)
    row_moves = RowMoves(tuple(names), mult[group, :k], columns)
    return at_moves.with_row_moves(row_moves)


class _ColumnKey:
    """The column of the book of moved rows an entry (row ``k``, book column ``j``) goes to.

    Two entries share a column when they hold the same instrument at the same multipliers of
    its underlying, quote and settlement currency (whatever the other names' moves): the key
    is ``j x n_groups + id``, ``id`` numbering the distinct multiplier triples that the move
    vectors give the instruments with ``j``'s (underlying, quote, settlement) codes.
    """

    def __init__(
        self, code: tuple[IntArray, IntArray, IntArray], mult: FloatArray, group: IntArray
    ) -> None:
        base = mult.shape[1]  # codes run from 0 to n_names (not moved)
        patterns, pattern = np.unique(
            (code[0] * base + code[1]) * base + code[2], return_inverse=True
        )
        self.pattern = pattern.reshape(-1).astype(np.int64)
        self.n_groups = mult.shape[0]
        self.ids = np.empty((patterns.size, self.n_groups), dtype=np.int64)
        for p, packed in enumerate(patterns.tolist()):
            cols = [packed // (base * base), packed // base % base, packed % base]
            self.ids[p] = _unique_rows(mult[:, cols])[1]
        self.group = group

    def __call__(self, owner: IntArray, columns: IntArray) -> IntArray:
        """Shape ``(n_entries,)``: the key of each entry (row ``owner``, book column)."""
        ids = self.ids[self.pattern[columns], self.group[owner]]
        out: IntArray = columns.astype(np.int64) * self.n_groups + ids
        return out


def _unique_rows(a: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distinct rows of ``a`` (shape ``(m, c)``) and the distinct row of each, shape ``(m,)``.

    As ``np.unique(a, axis=0, return_inverse=True)`` (rows in lexicographic order), by one
    lexsort.
    """
    m = a.shape[0]
    if m == 0 or a.shape[1] == 0:
        return a[: min(m, 1)].copy(), np.zeros(m, dtype=np.int64)
    order = np.lexsort(a.T[::-1])
    ordered = a[order]
    new = np.ones(m, dtype=bool)
    new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    inverse = np.empty(m, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse


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
    terms = book.resolved.terms

    def code(codes: StrArray) -> IntArray:
        out = np.full(codes.size, len(names), dtype=np.int64)
        for i, name in reversed(list(enumerate(names))):  # the first of a repeated name wins
            out[codes == name] = i
        return out

    return code(terms.underlying), code(terms.quote), code(terms.settlement_currency)

"""Where the distance search's gaps come from: two worlds that margin moved accounts.

A *request* is (account row, move vector): the gap ``equity - MM`` (USD) of that account after
those relative moves of its underlyings. Each round of the search (:mod:`._distance_search`)
asks for many requests at once.

* :class:`SharedMoveWorld` and :func:`run_packed` (the reference, any model): requests that
  need the same moves share one computation on a book of those accounts, moved together
  (:meth:`~pmargin.book.BookArrangement.moved`); requests of accounts exposed to disjoint
  underlyings are packed into one market. After the shared grid every account needs its own
  move, so a round costs about one computation per account still searching.
* :class:`RowMovesWorld` and :func:`run_rows` (models with ``Capabilities(row_prices=True)``):
  every request of a round is one row of one book of moved rows
  (:meth:`~pmargin.book.BookArrangement.moved_rows`), so a round is one computation whatever
  the number of distinct moves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pmargin._typing import BoolArray, FloatArray
from pmargin.book import BookArrangement
from pmargin.health._distance_search import BracketSearch
from pmargin.health._requirement import Requirement
from pmargin.health._whatif import margin_book
from pmargin.margin import MarginModel

__all__ = [
    "RowMovesWorld",
    "SharedMoveWorld",
    "run_packed",
    "run_rows",
]


class _World:
    """A book, a model, the underlyings a move vector names and the vol rule; a counter."""

    def __init__(
        self,
        book: BookArrangement,
        model: MarginModel,
        underlyings: tuple[str, ...],
        vol_beta: float,
    ) -> None:
        self.book = book
        self.model = model
        self.underlyings = underlyings
        self.vol_beta = vol_beta
        self.evaluations = 0


class SharedMoveWorld(_World):
    """One computation per move vector: a book of some accounts, moved together (the reference)."""

    def gap(self, rows: npt.NDArray[np.int64], moves: FloatArray) -> FloatArray:
        """``equity - MM`` (USD) of accounts ``rows`` after ``moves``; shape ``(len(rows),)``."""
        if rows.size == 0:
            return np.zeros(0)
        move = dict(zip(self.underlyings, moves.tolist(), strict=True))
        book = self.book.take_accounts(rows).moved(move, self.vol_beta)
        self.evaluations += 1
        return margin_book(self.model, book).surplus(Requirement.MAINTENANCE)


def run_packed(
    world: SharedMoveWorld, searches: Sequence[BracketSearch], exposed: BoolArray
) -> None:
    """Drive ``searches`` to the end, packing their requests into few model computations.

    Each round, every request (row, scale) needs the moves ``scale x direction`` on the
    underlyings its row is exposed to, and does not care about the others. Requests with the
    same needs share one computation; requests of rows exposed to disjoint sets of
    underlyings are packed into one market (each row sees only its own underlyings' moves).
    """
    n_und = exposed.shape[1]
    bits = exposed.astype(np.int64) @ (1 << np.arange(n_und, dtype=np.int64))
    while True:
        groups: dict[tuple[int, tuple[float | None, ...]], list[tuple[int, int, int]]] = {}
        for s, search in enumerate(searches):
            local, scale = search.requests()
            for i, t in zip(local.tolist(), scale.tolist(), strict=True):
                row = int(search.rows[i])
                need = tuple(
                    float(t * search.direction[u]) if exposed[row, u] else None
                    for u in range(n_und)
                )
                groups.setdefault((int(bits[row]), need), []).append((s, i, row))
        if not groups:
            return
        gaps: list[list[float]] = [[math.nan] * search.pending.size for search in searches]
        position = [
            {int(i): p for p, i in enumerate(search.pending.tolist())} for search in searches
        ]
        buckets: dict[int, list[tuple[tuple[float | None, ...], list[tuple[int, int, int]]]]] = {}
        for (mask, need), members in groups.items():
            buckets.setdefault(mask, []).append((need, members))
        while buckets:
            used = 0
            moves = np.zeros(n_und)
            batch: list[tuple[int, int, int]] = []
            for mask in list(buckets):
                if mask & used:
                    continue
                need, members = buckets[mask].pop()
                if not buckets[mask]:
                    del buckets[mask]
                used |= mask
                for u, value in enumerate(need):
                    if value is not None:
                        moves[u] = value
                batch += members
            rows, where = np.unique([row for _, _, row in batch], return_inverse=True)
            gap = world.gap(rows.astype(np.int64), moves)
            for (s, i, _), k in zip(batch, where.tolist(), strict=True):
                gaps[s][position[s][i]] = float(gap[k])
        for search, values in zip(searches, gaps, strict=True):
            if search.pending.size:
                search.receive(np.asarray(values, dtype=np.float64))


class RowMovesWorld(_World):
    """One computation per round: every request is one row of a book of moved rows."""

    def gaps(self, rows: npt.NDArray[np.int64], moves: FloatArray) -> FloatArray:
        """``equity - MM`` (USD) of account ``rows[k]`` after ``moves[k]``, shape ``(n,)``.

        ``moves`` has shape ``(n, n_underlyings)`` (relative moves of :attr:`underlyings`).
        """
        if rows.size == 0:
            return np.zeros(0)
        book = self.book.moved_rows(rows, self.underlyings, moves, self.vol_beta)
        self.evaluations += 1
        return margin_book(self.model, book).surplus(Requirement.MAINTENANCE)


def run_rows(world: RowMovesWorld, searches: Sequence[BracketSearch], exposed: BoolArray) -> None:
    """Drive ``searches`` to the end, one model computation per round.

    Each request (row, scale) moves the underlyings its row is exposed to by ``scale x
    direction`` (the others stay put, as in :func:`run_packed`); all requests of a round are
    margined together.
    """
    while True:
        asked = [search.requests() for search in searches]
        sizes = [local.size for local, _ in asked]
        if not any(sizes):
            return
        rows = np.concatenate(
            [search.rows[local] for search, (local, _) in zip(searches, asked, strict=True)]
        ).astype(np.int64)
        moves = np.concatenate(
            [
                scale[:, None] * search.direction[None, :]
                for search, (_, scale) in zip(searches, asked, strict=True)
            ]
        )
        moves = np.where(exposed[rows], moves, 0.0)
        gaps = world.gaps(rows, moves)
        start = 0
        for search, size in zip(searches, sizes, strict=True):
            if size:
                search.receive(gaps[start : start + size])
            start += size

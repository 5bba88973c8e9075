"""VaR / ES margin (``pmargin-es``, ``-var``, ``-mc``) of one account after changes, cached.

The model margins each account as one unit (``"*"``, USD) from its P&L vectors: one per
scenario set it reads (the base set; each correlation-stressed set; the floor set when the
anti-procyclicality tool is ``floor``). Each vector is a sum over the account's positions and
moving coin balances, so a change adds to it:

* ``q`` base units of instrument ``i``: ``q x`` the instrument's USD P&L row under the set
  (the model's revaluation, sharing the precompute stage's kept rows; an instrument the book
  does not hold is revalued alone, once, and cached);
* ``d`` units of a coin balance that moves with its underlying: ``d x`` its USD price ``x``
  the coin's scenario move (stablecoins do not move).

The tail is then taken again with the model's own functions (:func:`tail_measure` of each
set, :meth:`ScenarioRiskModel.charges` for correlation stress, APC, IM and MM). Per
account the state is ``O(n_scenarios)`` per set; a change costs one row product per set and
one tail per set, instead of revaluing and margining the account
(:class:`~pmargin.margin._incremental.UnitIncremental`, one unit per account).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.margin._incremental import PositionChange, UnitIncremental
from pmargin.margin._result import MarginResult
from pmargin.margin.scenario_risk._params import ApcMethod
from pmargin.margin.scenario_risk._sources import JointScenarios
from pmargin.margin.scenario_risk._tail import (
    smallest,
    tail_count,
    tail_measure,
    tail_measure_of_smallest,
)
from pmargin.market import MarketSnapshot
from pmargin.valuation import ResolvedInstruments

if TYPE_CHECKING:  # _model imports this module: the model is a type here, never imported
    from pmargin.margin.scenario_risk._model import ScenarioRiskModel

__all__ = ["ScenarioRiskIncremental"]

_UNIT = "*"


@dataclass(slots=True)
class _Account:
    """One account's P&L under every set the model reads, end to end (USD), changed in place."""

    pnl: FloatArray  # (n_cells,): set k's scenarios at ``ScenarioRiskIncremental.cells[k]``


class ScenarioRiskIncremental(UnitIncremental[_Account]):
    """Cached P&L vectors of a VaR / ES margin run, for position and balance changes.

    Parameters
    ----------
    model
        The model.
    book, market
        The book and the snapshot ``result`` was computed on.
    result
        ``model.compute(book)`` (with the model's cached precompute stage).

    Attributes
    ----------
    sources
        The sets the model reads: the base set, the correlation-stressed sets, the floor set
        (with the ``floor`` APC tool).
    cells
        Set ``k``'s scenarios are ``slice(*cells[k])`` of an account's P&L vector.
    """

    reads_balances = True

    def __init__(
        self,
        model: ScenarioRiskModel,
        book: BookArrangement,
        market: MarketSnapshot,
        result: MarginResult,
    ) -> None:
        super().__init__(book, result)
        self.model = model
        moving, self.exposure = model._moving_balances(book, market)
        stage = model.precompute(market.timestamp)
        sets = stage.sets
        floor = model.params.apc_method is ApcMethod.FLOOR and sets.floor is not None
        self.sources: tuple[JointScenarios, ...] = (
            sets.base,
            *(source for _, source in sets.stressed),
            *([sets.floor] if floor and sets.floor is not None else []),
        )
        self.n_stressed = len(sets.stressed)
        ends = np.cumsum([0, *(source.weights.size for source in self.sources)]).tolist()
        self.cells = list(itertools.pairwise(ends))
        self._tails = [
            _SetTail.of(source, cells, model)
            for source, cells in zip(self.sources, self.cells, strict=True)
        ]
        self._store = stage.rows
        rows, self._moving = self._revalue(book.resolved, moving)
        self._rows = rows  # (n_instruments, n_cells): USD P&L per base unit, every set
        self._n_base = self.sources[0].weights.size
        (unit,) = result.risk_units
        self.base = np.asarray(unit.scenario_pnl, dtype=np.float64)  # (n_accounts, n_base)
        self._nothing = book.resolved.take(np.zeros(0, dtype=np.int64))
        self._new: dict[str, FloatArray] = {}
        self._moves: dict[str, FloatArray] = {}

    def unit_of(self, change: PositionChange) -> Hashable:
        """Return the account's one unit."""
        return _UNIT

    def unit_state(
        self, row: int, unit: Hashable, change: PositionChange
    ) -> tuple[_Account, float, float]:
        """Return the account's P&L under every set, and its IM and MM now (USD)."""
        return self.balance_state(row, unit)

    def balance_state(self, row: int, unit: Hashable) -> tuple[_Account, float, float]:
        """Return the account's P&L under every set, and its IM and MM now (USD).

        The base set's from the run, the others summed over its positions and balances.
        """
        start, end = self.quantity.indptr[row], self.quantity.indptr[row + 1]
        columns = self.quantity.indices[start:end]
        n_base = self._n_base
        pnl = np.empty(self._rows.shape[1])
        pnl[:n_base] = self.base[row]  # the run's own sums (the same terms)
        rest = pnl[n_base:]
        np.dot(self.quantity.data[start:end], self._rows[columns, n_base:], out=rest)
        exposure = self.exposure[row]
        if exposure.size:
            rest += exposure @ self._moving[:, n_base:]
        im, mm = self.account_margin(row)
        return _Account(pnl), im, mm

    def apply(self, state: _Account, row: int, change: PositionChange) -> None:
        """Add the quantity times the instrument's row under every set."""
        if change.column is not None:
            state.pnl += change.quantity * self._rows[change.column]
        else:
            state.pnl += change.quantity * self._alone(change)

    def balance_units(self, balances: Mapping[str, float]) -> Sequence[Hashable]:
        """Return the one unit when a balance delta is not a stablecoin's (it may move)."""
        stable = self.model.params.stablecoins
        return [_UNIT] if any(a.upper() not in stable for a in balances) else []

    def apply_balances(
        self, state: _Account, row: int, unit: Hashable, balances: Mapping[str, float]
    ) -> None:
        """Add each moving coin's delta x USD price x its move under every set."""
        stable = self.model.params.stablecoins
        for asset, amount in balances.items():
            if asset.upper() in stable or not amount:
                continue
            state.pnl += (amount * self.market.usd_price(asset)) * self._coin_moves(asset)

    def copy(self, state: _Account) -> _Account:
        """Return an independent copy."""
        return _Account(state.pnl.copy())

    def unit_margin(self, state: _Account) -> tuple[float, float]:
        """Return IM and MM (USD) of the account's P&L, reduced as the model reduces.

        The measure of each set (the value the model's
        :func:`~pmargin.margin.scenario_risk._tail.account_tail` gives, summed in another
        order): of equally weighted scenarios from the set's ``k`` smallest P&L
        (:func:`smallest`, :func:`tail_measure_of_smallest`), else :func:`tail_measure`; then
        :meth:`ScenarioRiskModel.charges`.
        """
        measures = [max(float(tail.measure(state.pnl)), 0.0) for tail in self._tails]
        measure = np.array(measures[:1])
        stressed = np.array([max([0.0, *measures[1 : 1 + self.n_stressed]])])
        has_floor = len(measures) > 1 + self.n_stressed
        floor = np.array(measures[1 + self.n_stressed :]) if has_floor else None
        _, _, im, mm = self.model.charges(measure, stressed, floor)
        return float(im[0]), float(mm[0])

    def _revalue(
        self, resolved: ResolvedInstruments, moving: tuple[str, ...]
    ) -> tuple[FloatArray, FloatArray]:
        """Rows of ``resolved`` and moves of ``moving`` under every set, end to end.

        Shapes ``(n_instruments, n_cells)`` (USD per base unit, the model's revaluation with
        the stage's kept rows) and ``(n_moving, n_cells)`` (multiplier - 1).
        """
        keys = self._store.signatures(resolved) if self._store is not None else []
        tags = (0, *range(1, 1 + self.n_stressed), -1)
        revalued = [
            self.model._revalue(resolved, source, moving, self._store, tag, keys)
            for tag, source in zip(tags, self.sources, strict=False)
        ]
        rows = np.hstack([r.unit_pnl for r in revalued])
        moves = np.hstack([r.balance_move for r in revalued])
        return np.ascontiguousarray(rows), np.ascontiguousarray(moves)

    def _alone(self, change: PositionChange) -> FloatArray:
        """Row of an instrument the book does not hold (every set), revalued once and cached."""
        symbol = change.instrument.instruments[0].symbol
        if symbol not in self._new:
            book = BookArrangement(
                account_ids=("order",),
                resolved=change.instrument,
                quantity=sparse.csr_array(np.ones((1, 1))),
                market=self.market,
            )
            self.model._check_underlyings(book)
            self._new[symbol] = self._revalue(change.instrument, ())[0][0]
        return self._new[symbol]

    def _coin_moves(self, asset: str) -> FloatArray:
        """Return the coin's scenario move (multiplier - 1) under every set, cached.

        Raises
        ------
        InputError
            A coin the model has no history for (as :meth:`ScenarioRiskModel.compute`).
        """
        code = asset.upper()
        if code not in self._moves:
            book = BookArrangement(
                account_ids=("balance",),
                resolved=self._nothing,
                quantity=sparse.csr_array((1, 0)),
                assets=(code,),
                balances=np.ones((1, 1)),
                market=self.market,
            )
            self.model._moving_balances(book, self.market)  # checks the coin has a history
            self._moves[code] = np.concatenate(
                [s.spot_multiplier[s.names.index(code)] - 1.0 for s in self.sources]
            )
        return self._moves[code]


@dataclass(frozen=True, slots=True)
class _SetTail:
    """How to take one scenario set's measure from an account's P&L vector."""

    start: int
    stop: int
    k: int  # tail size of equally weighted scenarios; 0: weighted (tail_measure)
    weights: FloatArray
    level: float
    kind: str
    boundary: str

    @classmethod
    def of(
        cls, source: JointScenarios, cells: tuple[int, int], model: ScenarioRiskModel
    ) -> _SetTail:
        p = model.params
        w = source.weights
        equal = bool(np.all(w == w[0]))
        k = tail_count(w.size, p.confidence) if equal else 0
        return cls(*cells, k, w, p.confidence, p.measure.value, p.boundary)

    def measure(self, pnl: FloatArray) -> float:
        """VaR or ES of the set's cells of ``pnl`` (``(n_cells,)``, USD), a loss > 0."""
        cells = pnl[self.start : self.stop]
        if self.k:
            part = smallest(cells, self.k)
            n = self.stop - self.start
            return float(tail_measure_of_smallest(part, n, self.level, self.kind, self.boundary))
        value = tail_measure(
            cells[np.newaxis, :], self.level, self.weights, self.kind, self.boundary
        )
        return float(value[0])

"""OKX portfolio margin of one account after an order, from cached per-unit vectors.

An order of ``q`` base units of instrument ``i`` changes one risk unit only (the unit of its
underlying; OKX's units are per underlying and, with MR8 off, nothing spans them). The
account's vectors in that unit are sums over its positions, so each gains ``q`` times the
instrument's row: the scenario P&L (MR1 grid | MR2 | weighted MR6), the basis (MR4) and rate
(MR5) P&L, the MR3 vol-span P&L of the option's expiry bucket; the gross MR7 charge changes
by ``(|q_old + q| - |q_old|) x rate``. The unit is then reduced with the same functions as
:meth:`OkxModel.compute` (``worst_loss``, ``term_structure_charge``, ``progressive_scale``),
and every other unit keeps its margin. An instrument the book does not hold is revalued
alone, once, and cached. With the borrowing charge MR8 on, a trade's cash moves the
account's currency equities and so MR8: :meth:`OkxModel.incremental` then gives ``None``.
Each underlying is a unit of :class:`~pmargin.margin._incremental.UnitIncremental`; its
per-account state is the vectors above and the quantities held of the instruments changed.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.margin._incremental import (
    PositionChange,
    UnitIncremental,
    held_quantity,
)
from pmargin.margin._result import MarginResult
from pmargin.margin._scenario_margin import group_columns, unit_pnl, worst_loss
from pmargin.margin.okx._components import term_structure_charge
from pmargin.margin.okx._scaling import progressive_scale
from pmargin.valuation import ResolvedInstruments

if TYPE_CHECKING:  # _model imports this module: the model is a type here, never imported
    from pmargin.margin.okx._model import OkxModel, _Matrices

__all__ = ["OkxIncremental"]


@dataclass(frozen=True, slots=True)
class _UnitVectors:
    """One risk unit's per-account vectors (USD), rows = accounts of the book."""

    scenario: FloatArray  # (n_accounts, n_scenarios)
    basis: FloatArray  # (n_accounts, 2)
    rate: FloatArray  # (n_accounts, 2)
    bucket: FloatArray  # (n_accounts, n_buckets): MR3 vol-span P&L per expiry bucket
    buckets: dict[object, int]  # option expiry -> column of ``bucket``
    mr7_raw: FloatArray  # (n_accounts,)
    initial_margin: FloatArray  # (n_accounts,)
    maintenance_margin: FloatArray  # (n_accounts,)


@dataclass(slots=True)
class _Unit:
    """One account's state in one unit (USD), changed in place by :meth:`OkxIncremental.apply`."""

    underlying: str
    scenario: FloatArray  # (n_scenarios,)
    basis: FloatArray  # (2,)
    rate: FloatArray  # (2,)
    bucket: FloatArray  # (n_buckets,)
    buckets: dict[object, int]
    mr7_raw: float
    held: dict[int | str, float] = field(default_factory=dict)  # position key -> base units


class OkxIncremental(UnitIncremental[_Unit]):
    """Cached per-unit vectors of an OKX margin run (MR8 off), for position changes.

    Parameters
    ----------
    model
        The model (borrowing charge MR8 off).
    book
        The book ``result`` was computed on (at its market).
    result
        ``model.compute(book)``.
    """

    def __init__(
        self,
        model: OkxModel,
        book: BookArrangement,
        result: MarginResult,
    ) -> None:
        super().__init__(book, result)
        self.model = model
        self.matrices = model.matrices(book.resolved, book.market)
        quantity = self.quantity
        by_name = {u.underlying: u for u in result.risk_units}
        m = self.matrices
        self.units: dict[str, _UnitVectors] = {}
        for underlying, columns in group_columns(book.instruments, lambda i: i.underlying).items():
            unit = by_name[underlying]
            expiries: dict[object, int] = {}
            for j in columns.tolist():
                if m.expiry_bucket[j] >= 0:
                    expiries.setdefault(book.instruments[j].expiry, len(expiries))
            one_hot = np.zeros((columns.size, len(expiries)))
            for k, j in enumerate(columns.tolist()):
                if m.expiry_bucket[j] >= 0:
                    one_hot[k, expiries[book.instruments[j].expiry]] = m.vol_span[j]
            self.units[underlying] = _UnitVectors(
                scenario=np.asarray(unit.pnl, dtype=np.float64),
                basis=unit_pnl(quantity, columns, m.basis[columns]),
                rate=unit_pnl(quantity, columns, m.rate[columns]),
                bucket=unit_pnl(quantity, columns, one_hot),
                buckets=expiries,
                mr7_raw=unit.components["mr7_raw"],
                initial_margin=unit.initial_margin,
                maintenance_margin=unit.maintenance_margin,
            )
        self._new: dict[str, _Matrices] = {}

    def unit_of(self, change: PositionChange) -> Hashable:
        """Return the instrument's underlying."""
        return change.instrument.instruments[0].underlying

    def unit_state(
        self, row: int, unit: Hashable, change: PositionChange
    ) -> tuple[_Unit, float, float]:
        """Return the account's vectors in the underlying's unit (zeros where it has none)."""
        underlying = str(unit)
        vectors = self.units.get(underlying)
        if vectors is None:
            n_s = self._rows(change)[0].scenario.shape[1]
            state = _Unit(underlying, np.zeros(n_s), np.zeros(2), np.zeros(2), np.zeros(0), {}, 0.0)
            return state, 0.0, 0.0
        state = _Unit(
            underlying,
            vectors.scenario[row].copy(),
            vectors.basis[row].copy(),
            vectors.rate[row].copy(),
            vectors.bucket[row].copy(),
            vectors.buckets,
            float(vectors.mr7_raw[row]),
        )
        im = float(vectors.initial_margin[row])
        mm = float(vectors.maintenance_margin[row])
        return state, im, mm

    def apply(self, state: _Unit, row: int, change: PositionChange) -> None:
        """Add the instrument's rows times the quantity; MR7's gross by the change of |q|."""
        m, j = self._rows(change)
        key, quantity = change.key, change.quantity
        held = state.held.get(key)
        if held is None:
            held = 0.0 if change.column is None else held_quantity(self.quantity, row, j)
        state.held[key] = held + quantity
        state.scenario += quantity * m.scenario[j]
        state.basis += quantity * m.basis[j]
        state.rate += quantity * m.rate[j]
        if m.expiry_bucket[j] >= 0:
            expiry = change.instrument.instruments[0].expiry
            k = state.buckets.get(expiry)
            if k is None:
                state.buckets = {**state.buckets, expiry: state.bucket.size}
                k = state.bucket.size
                state.bucket = np.append(state.bucket, 0.0)
            state.bucket[k] += quantity * m.vol_span[j]
        gross = (abs(held + quantity) - abs(held)) * float(m.mr7_rate[j])
        state.mr7_raw = max(state.mr7_raw + gross, 0.0)

    def copy(self, state: _Unit) -> _Unit:
        """Return an independent copy (vectors copied; the bucket map replaced, never changed)."""
        return _Unit(
            state.underlying,
            state.scenario.copy(),
            state.basis.copy(),
            state.rate.copy(),
            state.bucket.copy(),
            state.buckets,
            state.mr7_raw,
            dict(state.held),
        )

    def unit_margin(self, state: _Unit) -> tuple[float, float]:
        """Reduce the unit as :meth:`OkxModel.compute` does: IM and MM (USD)."""
        p = self.model.params
        worst, _ = worst_loss(state.scenario[np.newaxis, :])
        mr4, _ = worst_loss(state.basis[np.newaxis, :])
        mr5, _ = worst_loss(state.rate[np.newaxis, :])
        mr3 = term_structure_charge(state.bucket[np.newaxis, :])
        scale = p.mr7_scaling.lookup(state.underlying)
        mr7 = progressive_scale(np.array([state.mr7_raw]), scale.bounds, scale.multipliers)
        mmr = float(np.maximum(worst + mr3 + mr4 + mr5, mr7)[0])
        return p.im_factor * mmr, mmr

    def _rows(self, change: PositionChange) -> tuple[_Matrices, int]:
        """Return the matrices holding the instrument and its row in them."""
        if change.column is not None:
            return self.matrices, change.column
        return self._alone(change.instrument), 0

    def _alone(self, instrument: ResolvedInstruments) -> _Matrices:
        """Matrices of an instrument the book does not hold, revalued once and cached."""
        symbol = instrument.instruments[0].symbol
        if symbol not in self._new:
            self._new[symbol] = self.model.matrices(instrument, self.market)
        return self._new[symbol]

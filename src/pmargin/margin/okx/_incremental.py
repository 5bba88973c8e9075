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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.margin._incremental import canonical_quantity, held_quantity
from pmargin.margin._result import MarginResult
from pmargin.margin._scenario_margin import group_columns, unit_pnl, worst_loss
from pmargin.margin.okx._components import term_structure_charge
from pmargin.margin.okx._scaling import progressive_scale
from pmargin.market import MarketSnapshot
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


class OkxIncremental:
    """Cached per-unit vectors of an OKX margin run (MR8 off), for one-order updates.

    Parameters
    ----------
    model
        The model (borrowing charge MR8 off).
    book, market
        The book and the snapshot ``result`` was computed on.
    result
        ``model.compute(book, market)``.
    """

    def __init__(
        self,
        model: OkxModel,
        book: BookArrangement,
        market: MarketSnapshot,
        result: MarginResult,
    ) -> None:
        self.model = model
        self.market = market
        self.result = result
        self.matrices = model.matrices(book.resolved, market)
        self.quantity = quantity = canonical_quantity(book)
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
                scenario=np.asarray(unit.scenario_pnl, dtype=np.float64),
                basis=unit_pnl(quantity, columns, m.basis[columns]),
                rate=unit_pnl(quantity, columns, m.rate[columns]),
                bucket=unit_pnl(quantity, columns, one_hot),
                buckets=expiries,
                mr7_raw=unit.components["mr7_raw"],
                initial_margin=unit.initial_margin,
                maintenance_margin=unit.maintenance_margin,
            )
        self._new: dict[str, _Matrices] = {}

    def margin_after(
        self, row: int, instrument: ResolvedInstruments, column: int | None, quantity: float
    ) -> tuple[float, float]:
        """IM and MM (USD) of account ``row`` after adding ``quantity`` base units.

        Arguments as :meth:`pmargin.margin.IncrementalMargin.margin_after`.
        """
        if column is not None:
            m, j, held = self.matrices, column, held_quantity(self.quantity, row, column)
        else:
            m, j, held = self._alone(instrument), 0, 0.0
        inst = instrument.instruments[0]
        unit = self.units.get(inst.underlying)
        if unit is None:
            scenario = np.zeros(m.scenario.shape[1])
            basis, rate, bucket = np.zeros(2), np.zeros(2), np.zeros(0)
            buckets: dict[object, int] = {}
            mr7_raw = im_before = mm_before = 0.0
        else:
            scenario, basis, rate = unit.scenario[row], unit.basis[row], unit.rate[row]
            bucket, buckets = unit.bucket[row], unit.buckets
            mr7_raw = float(unit.mr7_raw[row])
            im_before = float(unit.initial_margin[row])
            mm_before = float(unit.maintenance_margin[row])
        scenario = scenario + quantity * m.scenario[j]
        basis = basis + quantity * m.basis[j]
        rate = rate + quantity * m.rate[j]
        if m.expiry_bucket[j] >= 0:
            k = buckets.get(inst.expiry, bucket.size)
            bucket = np.append(bucket, 0.0) if k == bucket.size else bucket.copy()
            bucket[k] += quantity * m.vol_span[j]
        gross = (abs(held + quantity) - abs(held)) * float(m.mr7_rate[j])
        mr7_raw = max(mr7_raw + gross, 0.0)

        p = self.model.params
        worst, _ = worst_loss(scenario[np.newaxis, :])
        mr4, _ = worst_loss(basis[np.newaxis, :])
        mr5, _ = worst_loss(rate[np.newaxis, :])
        mr3 = term_structure_charge(bucket[np.newaxis, :])
        scale = p.mr7_scaling.lookup(inst.underlying)
        mr7 = progressive_scale(np.array([mr7_raw]), scale.bounds, scale.multipliers)
        mmr = float(np.maximum(worst + mr3 + mr4 + mr5, mr7)[0])
        im = float(self.result.initial_margin[row]) - im_before + p.im_factor * mmr
        mm = float(self.result.maintenance_margin[row]) - mm_before + mmr
        return im, mm

    def _alone(self, instrument: ResolvedInstruments) -> _Matrices:
        """Matrices of an instrument the book does not hold, revalued once and cached."""
        symbol = instrument.instruments[0].symbol
        if symbol not in self._new:
            self._new[symbol] = self.model.matrices(instrument, self.market)
        return self._new[symbol]

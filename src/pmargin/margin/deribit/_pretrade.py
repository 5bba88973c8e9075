"""Deribit S:PM margin of one account after an order, from the cached risk vectors.

An order of ``q`` base units of instrument ``i`` changes one risk unit only: the unit's
pre-aggregated vector of the account gains ``q`` times the instrument's row of the unit's
instrument P&L matrix; its roll shock changes with ``|position|``; its net delta by ``q``
times the instrument's USD delta. The unit is then aggregated and reduced exactly as
:meth:`DeribitModel.compute` does (the same methods), and every other unit keeps its margin.
An instrument the book does not hold is revalued alone, once, and cached.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from pmargin.book import BookArrangement
from pmargin.margin._result import MarginResult
from pmargin.market import MarketSnapshot
from pmargin.valuation import ResolvedInstruments

if TYPE_CHECKING:  # _model imports this module: the model is a type here, never imported
    from pmargin.margin.deribit._model import DeribitModel, DeribitUnitVectors

__all__ = ["DeribitIncremental"]


class DeribitIncremental:
    """Cached per-account vectors of a segregated (S:PM) Deribit margin run.

    Parameters
    ----------
    model
        The model (segregated mode).
    book, market, result
        The book, the snapshot and ``model.compute(book, market)``.
    """

    def __init__(
        self,
        model: DeribitModel,
        book: BookArrangement,
        market: MarketSnapshot,
        result: MarginResult,
    ) -> None:
        self.model = model
        self.market = market
        self.result = result
        self.vectors = model.risk_vectors(book, market)
        self.quantity = sparse.csr_array(book.quantity)
        self._unit_index = {(v.underlying, v.currency): k for k, v in enumerate(self.vectors)}
        self._column = {
            int(j): (k, local)
            for k, v in enumerate(self.vectors)
            for local, j in enumerate(v.columns.tolist())
        }
        self._unit_im = {(u.underlying, u.currency): u.initial_margin for u in result.risk_units}
        self._new: dict[str, DeribitUnitVectors] = {}

    def margin_after(
        self, row: int, instrument: ResolvedInstruments, column: int | None, quantity: float
    ) -> tuple[float, float]:
        """IM and MM (USD) of account ``row`` after adding ``quantity`` base units."""
        if column is not None and column in self._column:
            k, local = self._column[column]
            unit = self.vectors[k]
            single = self._account(unit, row)
            q_row = self._row_quantities(unit, row)
        else:
            alone = self._alone(instrument)
            k_or_none = self._unit_index.get((alone.underlying, alone.currency))
            if k_or_none is None:
                unit, single = alone, _zero_account(alone)
                q_row = np.zeros((1, 1))
            else:
                unit = self.vectors[k_or_none]
                single = _append(self._account(unit, row), alone)
                q_row = np.hstack([self._row_quantities(unit, row), np.zeros((1, 1))])
            local = q_row.shape[1] - 1
        q_after = q_row.copy()
        q_after[0, local] += quantity
        pre = single.pre_aggregated + quantity * single.instrument_pnl[local][np.newaxis, :]
        part = self.model.part(pre, unit.underlying, unit.currency, unit.usd_rate, coin=unit.coin)
        after = replace(
            single,
            pre_aggregated=pre,
            aggregated=self.model.aggregate([part], single.n_standard),
            net_delta_usd=single.net_delta_usd + quantity * single.delta_usd[local],
        )
        rmm_after = float(self.model.reduce(after, q_after).risk_matrix_margin[0])
        before = self._unit_im.get((unit.underlying, unit.currency))
        rmm_before = 0.0 if before is None else float(before[row])
        change = (rmm_after - rmm_before) * unit.usd_rate
        mm_factor = self.model.params.general.mm_factor
        im = float(self.result.initial_margin[row]) + change
        mm = float(self.result.maintenance_margin[row]) + mm_factor * change
        return im, mm

    def _row_quantities(self, unit: DeribitUnitVectors, row: int) -> np.ndarray:
        """Dense ``(1, n_unit)`` quantities of the account in the unit's instruments."""
        start, end = self.quantity.indptr[row], self.quantity.indptr[row + 1]
        q_row = np.zeros((1, unit.columns.size))
        k = self._unit_index[(unit.underlying, unit.currency)]
        for j, q in zip(
            self.quantity.indices[start:end], self.quantity.data[start:end], strict=True
        ):
            unit_k, local = self._column[int(j)]
            if unit_k == k:
                q_row[0, local] += q
        return q_row

    @staticmethod
    def _account(unit: DeribitUnitVectors, row: int) -> DeribitUnitVectors:
        """Restrict the unit's vectors to one account (1-row arrays)."""
        return replace(
            unit,
            net_delta_usd=unit.net_delta_usd[row : row + 1],
            collateral_pnl=unit.collateral_pnl[row : row + 1],
            pre_aggregated=unit.pre_aggregated[row : row + 1],
            aggregated=unit.aggregated[row : row + 1],
            held=np.ones(1, dtype=bool),
        )

    def _alone(self, instrument: ResolvedInstruments) -> DeribitUnitVectors:
        """Vectors of an instrument the book does not hold, revalued once and cached."""
        symbol = instrument.instruments[0].symbol
        if symbol not in self._new:
            book = BookArrangement(
                account_ids=("order",),
                resolved=instrument,
                quantity=sparse.csr_array(np.ones((1, 1))),
                market=self.market,
            )
            (vectors,) = self.model.risk_vectors(book, self.market)
            self._new[symbol] = vectors
        return self._new[symbol]


def _zero_account(alone: DeribitUnitVectors) -> DeribitUnitVectors:
    """Return a one-account unit holding nothing yet, with ``alone``'s instrument."""
    n_s = alone.instrument_pnl.shape[1]
    return replace(
        alone,
        net_delta_usd=np.zeros(1),
        collateral_pnl=np.zeros((1, n_s)),
        pre_aggregated=np.zeros((1, n_s)),
        aggregated=np.zeros((1, n_s)),
    )


def _append(single: DeribitUnitVectors, alone: DeribitUnitVectors) -> DeribitUnitVectors:
    """Add ``alone``'s instrument as the last instrument of the account's unit."""
    return replace(
        single,
        columns=np.append(single.columns, -1),
        instrument_pnl=np.vstack([single.instrument_pnl, alone.instrument_pnl]),
        roll_rate=np.append(single.roll_rate, alone.roll_rate),
        roll_delta=np.append(single.roll_delta, alone.roll_delta),
        roll_key=np.append(single.roll_key, alone.roll_key),
        delta_usd=np.append(single.delta_usd, alone.delta_usd),
    )

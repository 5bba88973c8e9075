"""OKX's IM and MM of one book structure at market after market: a monitor's ticks.

:class:`OkxTotals` keeps what :meth:`~pmargin.margin.okx.OkxModel.matrices` reads of the
instruments that no price moves (:meth:`~pmargin.margin.okx.OkxModel.static_columns`: kinds,
expiry buckets, the MR1/MR6 spot multipliers, the MR4 basis multipliers, the raw MR7 rates,
the vol scenario sets) for books of one structure (:class:`~pmargin.margin._structure.
BookStructure`), and runs the model's own compiled passes without attribution on each call:
:meth:`~pmargin.margin.okx.OkxModel.margin_totals` bit for bit (tested). A book of another
structure reads them again; where the passes decline (no numba, a non-canonical book) the
model's ``margin_totals`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from pmargin._compiled import compiled_module
from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.margin._structure import BookStructure
from pmargin.margin.okx._components import minimum_charge_rates, rate_shift_factors
from pmargin.margin.okx._rows import (
    CompiledRows,
    UnitBuffers,
    UnitPlan,
    row_matrix,
    unit_plans,
)
from pmargin.risk import instrument_pnl
from pmargin.scenarios import KeptVols
from pmargin.timeutil import DAYS_PER_YEAR

if TYPE_CHECKING:
    from pmargin.margin.okx._model import OkxModel, _Static

__all__ = ["OkxTotals"]


class OkxTotals:
    """Every account's IM and MM (USD) of books sharing one structure, static columns kept.

    Parameters
    ----------
    model
        The OKX model.
    book
        A book of the structure to keep.

    Examples
    --------
    >>> totals = OkxTotals(get_model("okx"), block)  # doctest: +SKIP
    >>> im, mm = totals(block.rebased(market))  # == margin_totals(...)  # doctest: +SKIP
    """

    def __init__(self, model: OkxModel, book: BookArrangement) -> None:
        self._model = model
        self._structure: BookStructure | None = None
        self._kept: _Kept | None = None
        self.builds = 0
        """How many times the static columns were read (1 + rebuilds for a new structure)."""
        self._build(book)

    def __call__(self, book: BookArrangement) -> tuple[FloatArray, FloatArray]:
        """Return ``(initial_margin, maintenance_margin)`` of ``book``, shape ``(n_accounts,)``.

        USD, bit for bit ``model.margin_totals(book)``'s.
        """
        if self._structure is None or not self._structure.holds(book):
            self._build(book)
        kernel = compiled_module("pmargin.margin.okx._jit")
        if kernel is not None and self._kept is not None:
            try:
                totals = self._compute(book, self._kept, kernel)
            except InputError:  # the model's own path raises its error
                totals = None
            if totals is not None:
                return totals
        return self._model.margin_totals(book)

    def _build(self, book: BookArrangement) -> None:
        self.builds += 1
        moved = book.row_moves is not None
        self._structure = None if moved else BookStructure.of(book)
        canonical = sparse.csr_array(book.quantity).has_canonical_format
        self._kept = None if moved or not canonical else _Kept.of(self._model, book)

    def _compute(
        self, book: BookArrangement, kept: _Kept, kernel: ModuleType
    ) -> tuple[FloatArray, FloatArray] | None:
        """:meth:`OkxModel.margin_totals` by the kept plan, ``None`` where it declines.

        :meth:`OkxModel.matrices`' P&L written into the kept scenario-major buffers by three
        :func:`~pmargin.risk.instrument_pnl` calls (the grid; the basis and vol-span moves;
        the time decay; each cell computed as alone) from the MR1 and MR6 vol shocks'
        :class:`~pmargin.scenarios.KeptVols` (:meth:`~pmargin.scenarios.ScenarioSet.apply`'s
        vols, each cell computed as alone) and converted to the compiled passes' rows by
        :func:`~pmargin.margin.okx._jit.fill_matrix`: the same operations on each cell; the
        units' passes write into kept buffers (``OkxModel._totals_rows``).
        """
        model = self._model
        p = model.params
        resolved = book.resolved
        static = kept.static
        n_mr1 = static.n_mr1
        n = len(resolved)
        n_k1 = len(p.mr1_vol_scenarios)
        vols = kept.vols(resolved)  # (n_k1 + n_k6, n)
        vol1, vol6 = vols[:n_k1], vols[n_k1:]
        n_k6 = vol6.shape[0]
        kept.grid_vol[:n_mr1].reshape(n_mr1 // n_k1, n_k1, n)[...] = vol1
        kept.grid_vol[n_mr1:].reshape(2, n_k6, n)[...] = vol6  # the MR6 moves: -x, +x
        shocked = model._shock_prices(resolved, book.market, static.kinds)
        instrument_pnl(shocked, kept.grid_mult.T, kept.grid_vol.T, out=kept.grid.T)
        kept.pair_vol[0] = resolved.vol
        kept.pair_vol[1] = resolved.vol
        np.add(resolved.vol, p.mr3_vol_shift, out=kept.pair_vol[2])
        instrument_pnl(resolved, kept.pair_mult.T, kept.pair_vol.T, out=kept.pair.T)
        shift = p.mr2_days / DAYS_PER_YEAR
        instrument_pnl(
            resolved, kept.ones.T, resolved.vol[np.newaxis, :].T, time_shift=shift,
            out=kept.decay.T,
        )  # fmt: skip
        value = np.nan_to_num(model._option_value_usd(resolved))  # rate_shift_pnl's value
        gross_rate = minimum_charge_rates(resolved.underlying_usd, static.mr7_rates)
        kernel.fill_matrix(
            kept.grid, kept.grid_mult, kept.decay[0], kept.pair, value, kept.rate_factor,
            gross_rate, resolved.is_inverse, resolved.settlement_usd, resolved.quote_usd,
            resolved.is_option, n_mr1, p.mr6_weight, kept.matrix, kept.vol_span,
        )  # fmt: skip
        rows = CompiledRows(
            matrix=kept.matrix,
            vol_span=kept.vol_span,
            gross_rate=gross_rate,
            n_scenarios=kept.grid.shape[0] + 1,
            n_mr1=n_mr1,
        )
        quantity = book.quantity
        if not isinstance(quantity, sparse.csr_array):
            quantity = sparse.csr_array(quantity)
        return model._totals_rows(book, quantity, rows, kept.plans, kernel, kept.buffers)


@dataclass(frozen=True, slots=True)
class _Kept:
    """What a plan keeps across ticks: the static columns, unit plans and buffers.

    Scenario-major buffers (one scenario per row, ``n`` instruments per row) so that
    :func:`~pmargin.risk.instrument_pnl` runs its compiled pass with no transposed copies.
    """

    static: _Static
    plans: list[UnitPlan]
    buffers: list[UnitBuffers]  # one per plan: its first pass's outputs
    vols: KeptVols  # the MR1 then the MR6 vol shocks (ScenarioSet.apply's vols), per tick
    grid_mult: FloatArray  # (n_grid, n): MR1 grid then MR6 spot multipliers
    grid_vol: FloatArray  # (n_grid, n): their vols (written per tick)
    grid: FloatArray  # (n_grid, n): their P&L (settlement currency)
    pair_mult: FloatArray  # (3, n): the two MR4 basis multipliers, then 1 (MR3's vol shift)
    pair_vol: FloatArray  # (3, n)
    pair: FloatArray  # (3, n)
    ones: FloatArray  # (1, n)
    decay: FloatArray  # (1, n): MR2's P&L
    rate_factor: FloatArray  # (n, 2): MR5's rate_shift_factors
    matrix: FloatArray  # (n, width): the compiled passes' rows (USD), zero padding
    vol_span: FloatArray  # (n,)

    @classmethod
    def of(cls, model: OkxModel, book: BookArrangement) -> _Kept:
        """Read the static columns of ``book``'s instruments and allocate the buffers."""
        resolved = book.resolved
        static = model.static_columns(resolved)
        plans = unit_plans(resolved, static.buckets)
        n = len(resolved)
        n_grid = static.mult.shape[1]
        pair_mult = np.ones((3, n))
        pair_mult[:2] = static.basis_mult.T
        return cls(
            static=static,
            plans=plans,
            buffers=[UnitBuffers.of(book.shape[0], plan.n_buckets) for plan in plans],
            vols=model._vol_set(
                model.params.mr1_vol_scenarios + model.params.mr6_vol_scenarios
            ).kept_vols(resolved),
            grid_mult=np.ascontiguousarray(static.mult.T),
            grid_vol=np.empty((n_grid, n)),
            grid=np.empty((n_grid, n)),
            pair_mult=pair_mult,
            pair_vol=np.empty((3, n)),
            pair=np.empty((3, n)),
            ones=np.ones((1, n)),
            decay=np.empty((1, n)),
            rate_factor=rate_shift_factors(resolved.time, model.params.mr5_rate_shift),
            matrix=row_matrix(n, n_grid + 1),
            vol_span=np.empty(n),
        )

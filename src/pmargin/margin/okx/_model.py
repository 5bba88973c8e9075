"""The OKX portfolio margin model: one USD risk unit per underlying, plus borrowing.

Per risk unit and account (all USD)::

    MR       = max(MR1, MR2, MR6) + MR3 + MR4 + MR5
    MMR_unit = max(MR, MR7_scaled)
    IMR_unit = im_factor x MMR_unit          (1.3)

and per account ``MMR = sum MMR_unit + MR8``, ``IMR = sum IMR_unit + MR8_imr``, MR8 being the
borrowing charge on currencies whose equity is negative (one account-level unit ``"*"``).

MR1, MR2 and MR6 are columns of one scenario matrix, revalued once per instrument: the MR1
spot x vol grid, the MR2 time-decay column and the MR6 extreme moves (times their weight), so
``max(MR1, MR2, MR6)`` is the unit's worst loss over that matrix and its binding column (ties
go to the first column: the MR1 grid in move-then-vol order, then MR2, then MR6). MR3
(volatility span), MR4 (basis) and MR5 (interest rate) are added; MR7 is the progressively
scaled raw minimum charge. The MR1/MR6 spot moves multiply the index (or a contract's own
mark, per ``mr1.shock_price``); MR4 and MR7 are sized on the mark. The reduce and attribution
steps are the shared stages of :mod:`pmargin.margin._scenario_margin`; only MR3's Euler share
is OKX's own. See docs/margin-okx.md and ``methodologies/okx.toml``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import numpy as np
from scipy import sparse

from pmargin._compiled import compiled_module
from pmargin._params import ParamTable
from pmargin._typing import FloatArray, IntArray, StrArray
from pmargin.book import BookArrangement
from pmargin.collateral import account_equity
from pmargin.instruments import Kind
from pmargin.margin._capabilities import Capabilities
from pmargin.margin._model import IncrementalMargin
from pmargin.margin._result import MarginResult, RiskUnitMargin
from pmargin.margin._scenario_margin import (
    UnitPositions,
    proportional_scale,
    scatter_columns,
    unit_pnl,
    worst_loss,
)
from pmargin.margin.okx._components import (
    basis_multipliers,
    minimum_charge_rates,
    rate_shift_pnl,
    term_structure_charge,
    term_structure_weights,
)
from pmargin.margin.okx._incremental import OkxIncremental
from pmargin.margin.okx._params import CoinTable, OkxParams
from pmargin.margin.okx._rows import (
    CompiledRows,
    UnitBuffers,
    UnitPlan,
    row_matrix,
    unit_plans,
)
from pmargin.margin.okx._scaling import progressive_scale
from pmargin.margin.okx._static import instrument_columns
from pmargin.market import MarketSnapshot
from pmargin.pricing import black76_value
from pmargin.risk import instrument_pnl, settlement_to_usd
from pmargin.scenarios import RiskMatrixScenario, ScenarioSet, VolShockKind
from pmargin.timeutil import DAYS_PER_YEAR
from pmargin.valuation import ResolvedInstruments, columns_by

__all__ = ["BORROW_COMPONENTS", "COMPONENTS", "OkxModel"]

COMPONENTS = ("mr1", "mr2", "mr3", "mr4", "mr5", "mr6", "mr7_raw", "mr7", "mr", "mmr")
"""Component names of each risk unit (USD): the seven MRs (``mr7`` scaled), MR and MMR."""

BORROW_COMPONENTS = ("borrowed", "mr8", "mr8_imr")
"""Components of the account-level unit ``"*"`` (USD): amount borrowed, its MMR and IMR."""

BORROW_UNIT = "*"
"""Underlying name of the account-level borrowing unit."""


@dataclass(frozen=True, slots=True)
class _Matrices:
    """Per-instrument USD P&L (per base unit) of every OKX ingredient, rows = instruments."""

    scenario: FloatArray  # (n, n_mr1 + 1 + n_mr6): MR1 grid | MR2 | weighted MR6
    n_mr1: int
    basis: FloatArray  # (n, 2)
    rate: FloatArray  # (n, 2)
    vol_span: FloatArray  # (n,): P&L of the MR3 vol shift, options only
    expiry_bucket: IntArray  # (n,): index of the option's (underlying, expiry); -1 otherwise
    mr7_rate: FloatArray  # (n,): raw MR7 per base unit held


@dataclass(frozen=True, slots=True)
class _Static:
    """What :meth:`OkxModel.matrices` reads of the instruments that no price moves."""

    kinds: StrArray  # (n,) kind.value
    buckets: IntArray  # (n,) option expiry bucket, -1 otherwise
    mult: FloatArray  # (n, n_mr1 + 2 n_mr6 vols): MR1 grid then MR6 spot multipliers
    n_mr1: int
    basis_mult: FloatArray  # (n, 2): MR4 basis multipliers
    mr7_rates: FloatArray  # (n,): raw MR7 rate per kind and coin
    mr1_vols: ScenarioSet
    mr6_vols: ScenarioSet


@dataclass(frozen=True, slots=True)
class OkxModel:
    """OKX portfolio margin (published components; see ``methodologies/okx.toml``).

    Attributes
    ----------
    params
        The validated parameter file.
    name
        ``"okx"``.
    """

    params: OkxParams
    name: str = "okx"

    @property
    def capabilities(self) -> Capabilities:
        """One USD risk unit per underlying; with the borrowing charge (MR8) on, the account.

        MR8 charges what an account borrows in any currency, which every underlying's P&L
        moves, so a tick on one underlying can change it: the monitor must then re-margin the
        whole account (scope ``"account"``).
        """
        return Capabilities(
            scope="account" if self.params.mr8_enabled else "underlying",
            incremental=not self.params.mr8_enabled,
        )

    def incremental(self, book: BookArrangement, result: MarginResult) -> IncrementalMargin | None:
        """One account's margin after an order, from cached per-unit vectors (MR8 off).

        ``None`` with the borrowing charge MR8 on; see ``_incremental.py``.
        """
        if self.params.mr8_enabled:
            return None
        return OkxIncremental(self, book, result)

    @classmethod
    def from_params(cls, params: ParamTable) -> OkxModel:
        """Build the model from a parsed ``okx.toml`` (validated here)."""
        return cls(OkxParams.from_table(params))

    def compute(self, book: BookArrangement) -> MarginResult:
        """Margin every account of ``book``: IMR and MMR in USD, per unit and in total.

        Parameters
        ----------
        book
            Accounts x instruments (base-unit quantities), at its market: the market's index
            prices (the MR1/MR6 shock price of perpetuals) and asset prices (borrowed amounts)
            are read there.

        Returns
        -------
        MarginResult
            One USD risk unit per underlying; components ``mr1`` .. ``mr7`` (``mr7`` scaled,
            ``mr7_raw`` before scaling), ``mr`` and ``mmr``, shape ``(n_accounts,)`` each. When
            MR8 is enabled and an account borrows, one more unit ``"*"`` with components
            ``borrowed``, ``mr8`` (its MM) and ``mr8_imr`` (its IM). Position contributions
            plus ``im_other`` (the borrowing IMR) add up to IM per account.

        Each unit's columns are taken out of the book once and its scenario, basis, rate and
        expiry-bucket P&L come from one sparse product (the columns of one matrix: each is summed
        exactly as alone, so the same bits as :meth:`compute_reference`, tested).
        """
        kernel = compiled_module("pmargin.margin.okx._jit")
        if kernel is not None:
            compiled = self._compute_compiled(book, kernel)
            if compiled is not None:
                return compiled
        return self._compute(book, fused=True)

    def margin_totals(self, book: BookArrangement) -> tuple[FloatArray, FloatArray]:
        """Return every account's IM and MM (USD), without attribution: :meth:`compute`'s totals.

        The monitor's per-tick path: the compiled first passes and charges without the
        attribution pass, no units built (``_totals_rows``); the units' charges (MR8 included)
        and their USD sums are :meth:`compute`'s, so the same bits (tested). Where the passes
        decline (no numba), :meth:`compute`'s own.

        Returns
        -------
        tuple
            ``(initial_margin, maintenance_margin)``, each of shape ``(n_accounts,)``, USD.
        """
        kernel = compiled_module("pmargin.margin.okx._jit")
        if kernel is not None:
            inputs = self._compiled_inputs(book)
            if inputs is not None:
                totals = self._totals_rows(book, *inputs, kernel)
                if totals is not None:
                    return totals
        result = self.compute(book)
        return result.initial_margin, result.maintenance_margin

    def totals_plan(
        self, book: BookArrangement
    ) -> Callable[[BookArrangement], tuple[FloatArray, FloatArray]]:
        """Return a callable giving :meth:`margin_totals` of books of ``book``'s structure.

        A monitor's block (:class:`~pmargin.margin.okx._totals.OkxTotals`): the instruments'
        :meth:`static_columns` are kept between calls; same bits as :meth:`margin_totals`.
        """
        from pmargin.margin.okx._totals import OkxTotals

        return OkxTotals(self, book)

    def _compute_compiled(
        self,
        book: BookArrangement,
        kernel: ModuleType,
        *,
        static: _Static | None = None,
    ) -> MarginResult | None:
        """:meth:`compute` by the compiled passes (``_jit.py``), ``None`` where they decline.

        They read the book's entries in place, so its quantity matrix must be canonical (each
        row's columns sorted, no duplicates): the contributions then sit on its own pattern.
        ``static``: the instruments' :meth:`static_columns`, where the caller keeps them.
        """
        inputs = self._compiled_inputs(book, static)
        if inputs is None:
            return None
        return self._compute_rows(book, *inputs, kernel)

    def _compiled_inputs(
        self, book: BookArrangement, static: _Static | None = None
    ) -> tuple[Any, CompiledRows, list[UnitPlan]] | None:
        """Return the compiled passes' inputs: the CSR quantity, the rows and the unit plans.

        ``None`` where the book's quantity matrix is not canonical (the passes decline).
        """
        quantity = sparse.csr_array(book.quantity)
        if not quantity.has_canonical_format:
            return None
        m = self.matrices(book.resolved, book.market, static)
        n, n_s = m.scenario.shape
        matrix = row_matrix(n, n_s)
        matrix[:, :n_s] = m.scenario
        matrix[:, n_s : n_s + 2] = m.basis
        matrix[:, n_s + 2 : n_s + 4] = m.rate
        matrix[:, n_s + 4] = m.vol_span
        matrix[:, n_s + 5] = m.mr7_rate
        rows = CompiledRows(
            matrix=matrix, vol_span=m.vol_span, gross_rate=m.mr7_rate, n_scenarios=n_s,
            n_mr1=m.n_mr1,
        )  # fmt: skip
        return quantity, rows, unit_plans(book.resolved, m.expiry_bucket)

    def _totals_rows(
        self,
        book: BookArrangement,
        quantity: Any,
        rows: CompiledRows,
        plans: list[UnitPlan],
        kernel: ModuleType,
        buffers: list[UnitBuffers] | None = None,
    ) -> tuple[FloatArray, FloatArray] | None:
        """:meth:`margin_totals` from the ingredient rows and unit plans, ``None`` if declined.

        Each unit's first pass and charges (:meth:`_unit_compiled`'s), summed as
        :meth:`~pmargin.margin.MarginResult.from_units` sums the units (USD, MR8 last): the
        same bits, with no unit or result built. ``buffers``: one per plan, kept by the
        caller (else allocated).
        """
        if any(plan.n_buckets > kernel.MAX_BUCKETS for plan in plans):
            return None
        n_acc = quantity.shape[0]
        data = np.asarray(quantity.data, dtype=np.float64)
        no_pnl = np.empty((0, rows.n_scenarios))  # not kept
        im = np.zeros(n_acc)
        mm = np.zeros(n_acc)
        for k, plan in enumerate(plans):
            out = UnitBuffers.of(n_acc, plan.n_buckets) if buffers is None else buffers[k]
            clean = kernel.unit_reduce(
                quantity.indptr, quantity.indices, data, plan.column_row, rows.matrix,
                plan.bucket, rows.n_scenarios, plan.n_buckets, rows.n_mr1, False, no_pnl,
                out.charges, out.binding, out.weights, out.held,
            )  # fmt: skip
            if not clean:
                return None
            _mr1, _mr2, _mr6, worst, mr4, mr5, mr3, mr7_raw = out.charges
            mmr = self._charges(plan.underlying, worst, mr3, mr4, mr5, mr7_raw)[2]
            im += self.params.im_factor * mmr  # the unit's IM (usd_rate 1: x 1.0 is exact)
            mm += mmr
        borrowing = self._borrowing(book)
        if borrowing is not None:
            im += borrowing.initial_margin
            mm += borrowing.maintenance_margin
        return im, mm

    def _compute_rows(
        self,
        book: BookArrangement,
        quantity: Any,
        rows: CompiledRows,
        plans: list[UnitPlan],
        kernel: ModuleType,
    ) -> MarginResult | None:
        """:meth:`_compute_compiled` from the instruments' ingredient rows and unit plans."""
        if any(plan.n_buckets > kernel.MAX_BUCKETS for plan in plans):
            return None
        values = np.zeros(quantity.nnz)
        units: list[RiskUnitMargin] = []
        for plan in plans:
            unit = self._unit_compiled(plan, quantity, rows, values, kernel)
            if unit is None:
                return None
            units.append(unit)
        contribution = sparse.csr_array(
            (values, quantity.indices.copy(), quantity.indptr.copy()), shape=book.shape
        )
        return self._result(book, units, contribution)

    def compute_reference(self, book: BookArrangement) -> MarginResult:
        """Margin every account as :meth:`compute` does: its reference twin (same bits).

        Each ingredient's P&L by its own column selection and sparse product
        (:func:`~pmargin.margin._scenario_margin.unit_pnl`).
        """
        return self._compute(book, fused=False)

    def _compute(self, book: BookArrangement, *, fused: bool) -> MarginResult:
        """:meth:`compute` (``fused``) or :meth:`compute_reference`."""
        market = book.market
        n_accounts, n_inst = book.shape
        quantity = sparse.csr_array(book.quantity)
        matrices = self.matrices(book.resolved, market)
        units: list[RiskUnitMargin] = []
        parts: list[tuple[IntArray, Any]] = []
        for underlying, columns in columns_by(book.resolved.terms.underlying).items():
            unit, contribution = self._unit(underlying, columns, quantity, matrices, fused=fused)
            units.append(unit)
            parts.append((columns, contribution))
        return self._result(book, units, scatter_columns(parts, (n_accounts, n_inst)))

    def _result(
        self, book: BookArrangement, units: list[RiskUnitMargin], contribution: Any
    ) -> MarginResult:
        """Return the result of the position units, with the borrowing unit (MR8) if it charges."""
        borrowing = self._borrowing(book)
        im_other = None
        if borrowing is not None:
            units.append(borrowing)
            im_other = borrowing.initial_margin
        return MarginResult.from_units(self.name, book, units, contribution, im_other)

    # -- instrument level: revalue each instrument once ---------------------------------------

    def matrices(
        self,
        resolved: ResolvedInstruments,
        market: MarketSnapshot,
        static: _Static | None = None,
    ) -> _Matrices:
        """Revalue each instrument once: its USD P&L per base unit in every OKX ingredient.

        ``static``: :meth:`static_columns` of these instruments, kept by a caller that revalues
        them at market after market (:class:`~pmargin.margin.okx._totals.OkxTotals`); ``None``
        reads them here.

        Returns
        -------
        _Matrices
            Rows = the ``len(resolved)`` instruments (see its fields for the columns).
        """
        p = self.params
        n = len(resolved)
        s = self.static_columns(resolved) if static is None else static
        n_grid = s.n_mr1 // len(p.mr1_vol_scenarios)
        vol1 = np.tile(self._vols(resolved, s.mr1_vols, len(p.mr1_vol_scenarios)), (1, n_grid))
        vol6 = np.tile(self._vols(resolved, s.mr6_vols, len(p.mr6_vol_scenarios)), (1, 2))
        vol = np.concatenate([vol1, vol6], axis=1)
        shocked = self._shock_prices(resolved, market, s.kinds)
        grid_pnl = settlement_to_usd(shocked, instrument_pnl(shocked, s.mult, vol), s.mult)
        ones = np.ones((n, 1))
        base_vol = resolved.vol[:, np.newaxis]
        decay = instrument_pnl(resolved, ones, base_vol, time_shift=p.mr2_days / DAYS_PER_YEAR)
        decay = settlement_to_usd(resolved, decay, ones)
        n_mr1 = s.n_mr1
        scenario = np.concatenate(
            [grid_pnl[:, :n_mr1], decay, p.mr6_weight * grid_pnl[:, n_mr1:]], axis=1
        )
        basis = settlement_to_usd(
            resolved,
            instrument_pnl(resolved, s.basis_mult, base_vol),
            np.ones_like(s.basis_mult),  # a basis move does not move the coin's spot price
        )
        span = settlement_to_usd(
            resolved, instrument_pnl(resolved, ones, base_vol + p.mr3_vol_shift), ones
        )[:, 0]
        return _Matrices(
            scenario=scenario,
            n_mr1=n_mr1,
            basis=basis,
            rate=rate_shift_pnl(self._option_value_usd(resolved), resolved.time, p.mr5_rate_shift),
            vol_span=np.where(resolved.is_option, span, 0.0),
            expiry_bucket=s.buckets,
            mr7_rate=minimum_charge_rates(resolved.underlying_usd, s.mr7_rates),
        )

    def static_columns(self, resolved: ResolvedInstruments) -> _Static:
        """Return what :meth:`matrices` reads of the instruments that no price moves.

        Kinds and expiry buckets, the MR1/MR6 spot multipliers, the MR4 basis multipliers (by
        time to expiry) and the raw MR7 rates, each of shape ``(n,)`` or ``(n, columns)``, and
        the vol scenario sets: the same for these instruments at any market with this
        valuation time.
        """
        p = self.params
        n = len(resolved)
        groups = columns_by(resolved.terms.underlying)  # each table looked up once per coin
        kinds, buckets = instrument_columns(
            resolved.instruments, lambda: self._expiry_buckets(resolved)
        )
        n_moves = len(p.mr1_moves.default)  # every group has as many moves (checked on load)
        steps = _per_coin(p.mr1_moves, groups, (n, n_moves))
        grid = np.concatenate([-steps[:, ::-1], np.zeros((n, 1)), steps], axis=1)
        extreme = _per_coin(p.mr6_moves, groups, (n,))
        n_k1, n_k6 = len(p.mr1_vol_scenarios), len(p.mr6_vol_scenarios)
        mult1 = np.repeat(1.0 + grid, n_k1, axis=1)
        mult6 = np.repeat(1.0 + np.stack([-extreme, extreme], axis=1), n_k6, axis=1)
        annual = _per_coin(p.mr4_annual_move, groups, (n,))
        perpetual = np.where(
            kinds == Kind.PERPETUAL.value, _per_coin(p.mr4_perpetual_move, groups, (n,)), 0.0
        )
        rates = np.zeros(n)
        for kind, table in p.mr7_rates.items():
            rates = np.where(kinds == kind, _per_coin(table, groups, (n,)), rates)
        return _Static(
            kinds=kinds,
            buckets=buckets,
            mult=np.concatenate([mult1, mult6], axis=1),
            n_mr1=mult1.shape[1],
            basis_mult=basis_multipliers(resolved.time, annual, perpetual),
            mr7_rates=rates,
            mr1_vols=self._vol_set(p.mr1_vol_scenarios),
            mr6_vols=self._vol_set(p.mr6_vol_scenarios),
        )

    def _shock_prices(
        self, resolved: ResolvedInstruments, market: MarketSnapshot, kinds: StrArray
    ) -> ResolvedInstruments:
        """Return ``resolved`` valued off the price MR1/MR6 moves multiply (``mr1.shock_price``).

        Linear perpetuals and futures whose kind is set to ``"index"`` are valued off the
        underlying's index in their quote currency instead of their mark; coin-settled
        contracts lose ``q x coin price x move`` whatever the price, so they are left as is.
        ``kinds``: each instrument's ``kind.value``.
        """
        index_kinds = {
            kind for kind, price in self.params.mr1_shock_price.items() if price == "index"
        }
        price = resolved.underlying_price.copy()
        for j in np.flatnonzero(np.isin(kinds, sorted(index_kinds))).tolist():
            instrument = resolved.instruments[j]
            if instrument.is_inverse:
                continue
            price[j] = market.index_price(instrument.underlying) / resolved.quote_usd[j]
        return replace(resolved, underlying_price=price)

    def _vol_set(self, kinds: tuple[VolShockKind, ...]) -> ScenarioSet:
        """Return the scenario set shocking vols by ``kinds`` (spot unmoved)."""
        scenarios = tuple(RiskMatrixScenario(0.0, kind) for kind in kinds)
        return ScenarioSet(scenarios, self.params.vol_rule)

    @staticmethod
    def _vols(resolved: ResolvedInstruments, vols: ScenarioSet, n_kinds: int) -> FloatArray:
        """Shocked vols, shape ``(n, n_kinds)`` (NaN rows for non-options)."""
        if len(resolved) == 0:
            return np.zeros((0, n_kinds))
        return vols.apply(resolved).vol

    @staticmethod
    def _option_value_usd(resolved: ResolvedInstruments) -> FloatArray:
        """USD value of one base unit of each option (0 for other rows)."""
        value = np.zeros(len(resolved))
        opt = resolved.is_option
        if opt.any():
            f = resolved.underlying_price[opt]
            quote = black76_value(
                f,
                resolved.strike[opt],
                resolved.time[opt],
                resolved.vol[opt],
                resolved.is_call[opt],
                resolved.rate[opt],
            )
            inverse = resolved.is_inverse[opt]
            value[opt] = np.where(
                inverse,
                quote / f * resolved.settlement_usd[opt],
                quote * resolved.quote_usd[opt],
            )
        return value

    @staticmethod
    def _expiry_buckets(resolved: ResolvedInstruments) -> IntArray:
        buckets: dict[tuple[str, object], int] = {}
        index = np.full(len(resolved), -1, dtype=np.int64)
        instruments = resolved.instruments
        for j in np.flatnonzero(resolved.is_option).tolist():  # its instruments' is_option
            key = (instruments[j].underlying, instruments[j].expiry)
            index[j] = buckets.setdefault(key, len(buckets))
        return index

    # -- one risk unit -------------------------------------------------------------------------

    def _unit(
        self, underlying: str, columns: IntArray, quantity: Any, m: _Matrices, *, fused: bool
    ) -> tuple[RiskUnitMargin, Any]:
        p = self.params
        positions = UnitPositions.of(quantity, columns)
        q = positions.quantity

        scen, basis, rate, one_hot = self._ingredients(columns, m)
        bucket = m.expiry_bucket[columns]
        used = np.unique(bucket[bucket >= 0])
        if fused:  # one product of the unit's block; each column summed as alone
            ingredients = (scen, basis, rate, one_hot)
            whole = np.asarray(positions.block @ np.hstack(ingredients), dtype=np.float64)
            edges = np.cumsum([0, *(x.shape[1] for x in ingredients)])
            pnl, basis_pnl, rate_pnl, bucket_pnl = (
                whole[:, a:b] for a, b in itertools.pairwise(edges.tolist())
            )
        else:
            pnl = unit_pnl(quantity, columns, scen)
            basis_pnl = unit_pnl(quantity, columns, basis)
            rate_pnl = unit_pnl(quantity, columns, rate)
            bucket_pnl = unit_pnl(quantity, columns, one_hot)

        # reduce: worst loss (first column on ties) and binding column of each matrix
        n1 = m.n_mr1
        mr1, _ = worst_loss(pnl[:, :n1])
        mr2, _ = worst_loss(pnl[:, n1 : n1 + 1])
        mr6, _ = worst_loss(pnl[:, n1 + 1 :])
        worst, binding = worst_loss(pnl)
        mr4, basis_binding = worst_loss(basis_pnl)
        mr5, rate_binding = worst_loss(rate_pnl)
        mr3 = term_structure_charge(bucket_pnl)

        mr7_rate = m.mr7_rate[columns]
        mr7_raw = positions.gross(mr7_rate)
        mr7, mr, mmr = self._charges(underlying, worst, mr3, mr4, mr5, mr7_raw)

        # attribution: each term's own, the binding branch of max(MR, MR7), times im_factor
        rows, local = positions.account, positions.local
        position_bucket = np.searchsorted(used, bucket[local])
        span_weight = np.zeros_like(q)
        has_bucket = bucket[local] >= 0
        if used.size:
            weights = term_structure_weights(bucket_pnl)
            span_weight[has_bucket] = weights[rows[has_bucket], position_bucket[has_bucket]]
        mr_part = (
            positions.binding_loss(scen, binding)
            + positions.binding_loss(basis, basis_binding)
            + positions.binding_loss(rate, rate_binding)
            + q * m.vol_span[columns][local] * span_weight
        )
        mr7_part = positions.gross_share(mr7_rate, proportional_scale(mr7, mr7_raw))
        values = p.im_factor * positions.binding_branch(mr >= mr7, mr_part, mr7_part)
        contribution = positions.contribution(values)
        charges = (mr1, mr2, mr3, mr4, mr5, mr6, mr7_raw, mr7, mr, mmr)
        return self._unit_margin(underlying, charges, pnl, binding, positions.held), contribution

    @staticmethod
    def _ingredients(columns: IntArray, m: _Matrices) -> tuple[FloatArray, ...]:
        """Return the unit's scenario, basis, rate and expiry-bucket (vol span) P&L per base unit.

        Rows are the unit's instruments; the buckets are the unit's expiries in increasing
        bucket number (shapes ``(n_unit, n_scenarios)``, ``(n_unit, 2)`` twice,
        ``(n_unit, n_expiries)``).
        """
        bucket = m.expiry_bucket[columns]
        used = np.unique(bucket[bucket >= 0])
        one_hot = (bucket[:, np.newaxis] == used[np.newaxis, :]) * m.vol_span[columns, None]
        return m.scenario[columns], m.basis[columns], m.rate[columns], one_hot

    def _charges(
        self,
        underlying: str,
        worst: FloatArray,
        mr3: FloatArray,
        mr4: FloatArray,
        mr5: FloatArray,
        mr7_raw: FloatArray,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(mr7, mr, mmr)`` of a unit, shape ``(n,)`` each (USD): MR7 scaled, MR, MMR."""
        scale = self.params.mr7_scaling.lookup(underlying)
        mr7 = progressive_scale(mr7_raw, scale.bounds, scale.multipliers)
        mr = worst + mr3 + mr4 + mr5
        return mr7, mr, np.maximum(mr, mr7)

    def _unit_margin(
        self,
        underlying: str,
        charges: tuple[FloatArray, ...],
        pnl: FloatArray | None,
        binding: IntArray,
        held: Any,
        source: Callable[[], FloatArray] | None = None,
    ) -> RiskUnitMargin:
        """Return a unit's result from its ``COMPONENTS`` ``(n,)`` and P&L ``(n, cells)``."""
        mmr = charges[-1]
        return RiskUnitMargin(
            underlying=underlying,
            currency="USD",
            usd_rate=1.0,
            initial_margin=self.params.im_factor * mmr,
            maintenance_margin=mmr,
            components=dict(zip(COMPONENTS, charges, strict=True)),
            scenario_labels=self._labels(underlying),
            scenario_pnl=pnl,
            worst_scenario=binding,
            held=held,
            pnl_source=source,
        )

    def _unit_compiled(
        self,
        plan: UnitPlan,
        quantity: Any,
        rows: CompiledRows,
        values: FloatArray,
        kernel: ModuleType,
    ) -> RiskUnitMargin | None:
        """:meth:`_unit` by the compiled passes, contributions written into ``values``.

        ``values`` has one slot per stored entry of the book's ``quantity``; ``None`` where the
        passes do not apply (a NaN, a quantity or vol span not finite). The scenario P&L is not
        kept: the unit's ``pnl_source`` reruns the first pass, keeping it, when first read.
        """
        n_acc = quantity.shape[0]
        n_s = rows.n_scenarios
        n_buckets = plan.n_buckets
        data = np.asarray(quantity.data, dtype=np.float64)
        out = UnitBuffers.of(n_acc, n_buckets)
        reduced, binding, weights, held = out.charges, out.binding, out.weights, out.held
        args = (
            quantity.indptr, quantity.indices, data, plan.column_row, rows.matrix, plan.bucket,
            n_s, n_buckets, rows.n_mr1,
        )  # fmt: skip

        def scenario_pnl() -> FloatArray:
            """Return the unit's scenario P&L ``(n_accounts, n_scenarios)``: the pass rerun."""
            pnl = np.empty((n_acc, n_s))
            spare = UnitBuffers.of(n_acc, n_buckets)
            kernel.unit_reduce(
                *args, True, pnl, spare.charges, spare.binding, spare.weights, spare.held
            )
            return pnl

        clean = kernel.unit_reduce(
            *args, False, np.empty((0, n_s)), reduced, binding, weights, held
        )
        if not clean:
            return None
        mr1, mr2, mr6, worst, mr4, mr5, mr3, mr7_raw = reduced
        mr7, mr, mmr = self._charges(plan.underlying, worst, mr3, mr4, mr5, mr7_raw)
        kernel.unit_attribute(
            quantity.indptr, quantity.indices, data, plan.column_row, rows.matrix,
            rows.vol_span, plan.bucket, rows.gross_rate, n_s, binding, weights, mr >= mr7,
            proportional_scale(mr7, mr7_raw), self.params.im_factor, values,
        )  # fmt: skip
        charges = (mr1, mr2, mr3, mr4, mr5, mr6, mr7_raw, mr7, mr, mmr)
        return self._unit_margin(plan.underlying, charges, None, binding[0], held, scenario_pnl)

    def _borrowing(self, book: BookArrangement) -> RiskUnitMargin | None:
        """MR8: MMR and IMR on every currency an account borrows (its equity there < 0).

        A currency's equity is its balance plus the value and unrealised P&L of what settles in
        it (:func:`pmargin.collateral.account_equity`); the borrowed USD amount is
        ``max(-equity, 0) x price``. ``None`` when MR8 is off or no account borrows.
        """
        p = self.params
        if not p.mr8_enabled or book.shape[0] == 0:
            return None
        n = book.shape[0]
        borrowed, mmr, imr = np.zeros(n), np.zeros(n), np.zeros(n)
        for currency, amount in account_equity(book).by_currency.items():
            debt = np.maximum(-amount, 0.0)
            if not debt.any():
                continue
            usd = debt * book.market.usd_price(currency)
            borrowed += usd
            mmr += p.mr8_mmr_rate.lookup(currency) * usd
            imr += p.mr8_imr_rate.lookup(currency) * usd
        if not borrowed.any():
            return None
        components = dict(zip(BORROW_COMPONENTS, (borrowed, mmr, imr), strict=True))
        return RiskUnitMargin(
            underlying=BORROW_UNIT,
            currency="USD",
            usd_rate=1.0,
            initial_margin=imr,
            maintenance_margin=mmr,
            components=components,
            held=borrowed > 0.0,
        )

    def _labels(self, underlying: str) -> tuple[str, ...]:
        p = self.params
        steps = p.mr1_moves.lookup(underlying)
        moves = [-s for s in reversed(steps)] + [0.0, *steps]
        labels = [
            f"MR1 {underlying} {move * 100:+g}% vol {kind.value}"
            for move in moves
            for kind in p.mr1_vol_scenarios
        ]
        labels.append(f"MR2 {underlying} time decay {p.mr2_days:g}d")
        extreme = p.mr6_moves.lookup(underlying)
        labels += [
            f"MR6 {underlying} {move * 100:+g}% x{p.mr6_weight:g} vol {kind.value}"
            for move in (-extreme, extreme)
            for kind in p.mr6_vol_scenarios
        ]
        return tuple(labels)


def _per_coin(
    table: CoinTable[Any], groups: dict[str, IntArray], shape: tuple[int, ...]
) -> FloatArray:
    """``table.lookup`` of each instrument's underlying, shape ``shape`` (``(n,)`` or ``(n, k)``).

    ``groups``: underlying -> its instruments' rows (:func:`~pmargin.valuation.columns_by`); the
    table is looked up once per underlying.
    """
    out = np.zeros(shape)
    for underlying, rows in groups.items():
        out[rows] = table.lookup(underlying)
    return out

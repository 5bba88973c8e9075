"""Deribit portfolio margin (S:PM and X:PM) as a :class:`~pmargin.margin.MarginModel`.

Per underlying, every instrument is revalued once per scenario of Deribit's risk matrix (27
standard cells + 8 extended, see :mod:`pmargin.margin.deribit._risk_matrix`); accounts are
aggregated per risk unit with one sparse product; then, per unit::

    aggregated        = offset(pre_aggregated) with extended cells dampened
    worst_case        = max(0, -min aggregated)
    roll_shock        = sum_e |sum_{i in e} q_i delta_i r_i|,  r_i = max(min_annualised_move,
                        annualised_move_risk * T_i) * u_i   (e: expiries; "abs_size": sum |q_i| r_i)
    risk_matrix_margin = worst_case + roll_shock + delta_shock + correlation_contingency (0)
    initial_margin    = risk_matrix_margin   (no open orders, MMP or spot margin in a book)
    maintenance_margin = mm_factor * risk_matrix_margin

Units. S:PM: one risk unit per (underlying, settlement currency), every amount in that
currency (coin for inverse units: P&L per base unit is ``1 - 1/m`` for futures and ``V/F``
changes for options; ``u_i = 1`` coin). Extended cells (shipped reading ``"distance"``) count
``extended_table_factor * price_range / |m|`` of the USD P&L at move ``m`` converted to coin at
the edge price; the dampener grows as ``(|m| / price_range - 1) * extended_dampener``.
X:PM: one unit per underlying in USD, each position's P&L being the change of its USD value
and ``u_i`` the USD value of one base unit; balances of
the underlying's coin with ``equity_side_impact = "both"`` move with the scenarios, valued with
``(1 - haircut)``. USD parameters (dampener, offset cap, delta threshold) are converted to the
unit's currency at the snapshot's USD price of that currency.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

import numpy as np
from scipy import sparse

from pmargin._params import ParamTable
from pmargin._typing import FloatArray, IntArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.margin._capabilities import Capabilities
from pmargin.margin._model import IncrementalMargin
from pmargin.margin._params import load_parameter_file
from pmargin.margin._result import MarginResult, RiskUnitMargin
from pmargin.margin._scenario_margin import (
    binding_contribution,
    scatter_columns,
)
from pmargin.margin.deribit._account_pass import account_pass, jit_kernel
from pmargin.margin.deribit._grid import extended_factor, grid_of, segregated_unit_value
from pmargin.margin.deribit._params import (
    DampenerMode,
    DeribitMode,
    DeribitParams,
    ExtendedWeighting,
    RollShockBasis,
)
from pmargin.margin.deribit._pretrade import DeribitIncremental
from pmargin.margin.deribit._risk_matrix import (
    aggregate_risk_vector,
    clamp_delta_one,
    delta_shock,
    extended_dampener_cells,
    roll_shock,
    roll_shock_contribution,
    roll_shock_entries,
    roll_shock_rate,
    worst_case,
)
from pmargin.risk import instrument_pnl
from pmargin.scenarios import RiskMatrixScenario, VolShockKind
from pmargin.valuation import ResolvedInstruments, columns_by, value_instruments

__all__ = ["DeribitModel", "DeribitUnitVectors", "UnitCharges"]

COMPONENTS = (
    "worst_case",
    "roll_shock",
    "delta_shock",
    "correlation_contingency",
    "risk_matrix_margin",
)
"""Component names of every Deribit risk unit, in the order they add up."""


@dataclass(frozen=True, slots=True)
class DeribitUnitVectors:
    """The risk vectors of one risk unit, as ``private/pme/simulate`` reports them.

    Attributes
    ----------
    underlying, currency
        The unit (``"BTC"``, ``"BTC"`` for S:PM ``btc_btc``; ``"BTC"``, ``"USD"`` for X:PM).
    usd_rate
        USD per one unit of ``currency`` (shape ``(n_accounts,)`` in a book of moved rows).
    labels
        Scenario labels, ``n_scenarios`` long (standard cells then extended).
    vol_kinds
        Vol direction of each scenario.
    n_standard
        Number of standard cells.
    columns
        Book columns of the unit's instruments, shape ``(n_unit,)``.
    instrument_pnl
        Shape ``(n_unit, n_scenarios)``: P&L per base unit in ``currency`` (extended cells
        weighted, see :func:`~pmargin.margin.deribit.extended_weights`); a position's
        ``initial_risk_vector`` is its base quantity times its row.
    roll_rate
        Shape ``(n_unit,)``: roll shock per base unit of delta, in ``currency``.
    roll_delta
        Shape ``(n_unit,)``: delta per base unit the roll shock nets (Black delta; 1 for
        delta-one instruments).
    roll_key
        Shape ``(n_unit,)``: years to expiry, -1 for perpetuals and spot: instruments with
        equal keys net in the roll shock.
    coin
        The unit's amounts are in a coin (S:PM inverse unit): extended P&L and the distance
        dampener are converted at the edge price.
    net_delta_usd
        Shape ``(n_accounts,)``: net USD delta of each account's unit (collateral included).
    collateral_pnl
        Shape ``(n_accounts, n_scenarios)``: P&L of the balances that move with the unit (X:PM;
        zeros otherwise), in ``currency``.
    pre_aggregated
        Shape ``(n_accounts, n_scenarios)``: summed P&L before offsets and the dampener.
    aggregated
        Shape ``(n_accounts, n_scenarios)``: after them (X:PM: the sum over settlement
        currencies of each currency's aggregated vector).
    held
        Shape ``(n_accounts,)``: the account holds a position or moving balance in the unit.
    scenarios
        The risk-matrix scenario of each cell (spot move, vol shock), ``n_scenarios`` long.
    delta_usd
        Shape ``(n_unit,)``: USD delta of one base unit of each instrument.
    """

    underlying: str
    currency: str
    usd_rate: float | FloatArray
    labels: tuple[str, ...]
    vol_kinds: tuple[VolShockKind, ...]
    n_standard: int
    columns: IntArray
    instrument_pnl: FloatArray
    roll_rate: FloatArray
    roll_delta: FloatArray
    roll_key: FloatArray
    coin: bool
    net_delta_usd: FloatArray
    collateral_pnl: FloatArray
    pre_aggregated: FloatArray
    aggregated: FloatArray
    held: Any
    scenarios: tuple[RiskMatrixScenario, ...]
    delta_usd: FloatArray


@dataclass(frozen=True, slots=True)
class UnitCharges:
    """A unit's margin components per account, shape ``(n,)``, in the unit's currency.

    ``risk_matrix_margin = worst_case + roll_shock + delta_shock + correlation_contingency``;
    ``worst_cell`` is the binding cell's index, -1 where no cell loses.
    """

    worst_case: FloatArray
    worst_cell: IntArray
    roll_shock: FloatArray
    delta_shock: FloatArray
    correlation_contingency: FloatArray
    risk_matrix_margin: FloatArray


@dataclass(frozen=True, slots=True)
class _Matrix:
    """One underlying's scenarios and instrument P&L (settlement currency per base unit)."""

    underlying: str
    scenarios: tuple[Any, ...]
    n_standard: int
    columns: IntArray
    resolved: ResolvedInstruments
    multiplier: FloatArray
    pnl: FloatArray
    delta_usd: FloatArray
    price_coin: FloatArray
    delta: FloatArray
    weights: FloatArray
    conversion: FloatArray


_BLOCK_ROWS = 65_536
"""Accounts per block of :meth:`DeribitModel.compute`'s account stages: a block's
``(rows, cells)`` temporaries (18 MB at 35 cells) are reused from the heap, where book-wide
ones page-fault fresh memory on every step."""


@dataclass(frozen=True, slots=True)
class _Part:
    """One settlement currency's part of a unit (:meth:`DeribitModel.part`), on arrays."""

    quantity: Any  # CSR (n_accounts, n_part): the part's columns of the unit
    pnl: FloatArray  # (n_part, n_scenarios)
    pnl_offset: float
    cap: float | FloatArray  # scalar, or (n_accounts, 1) in a book of moved rows
    dampener: FloatArray  # (n_extended,), or (n_accounts, n_extended)
    collateral: bool  # the unit's moving collateral P&L is added to this part (X:PM coin)


@dataclass(frozen=True, slots=True)
class _Unit:
    """A risk unit's account-independent inputs, its columns taken out of the book once."""

    matrix: _Matrix
    currency: str
    usd_rate: float | FloatArray
    columns: IntArray  # (n_unit,) book columns
    rows: IntArray  # (n_unit,) rows of the matrix
    pnl: FloatArray  # (n_unit, n_scenarios), the unit's currency per base unit
    roll_rate: FloatArray
    delta_usd: FloatArray
    quantity: Any  # CSR (n_accounts, n_unit)
    parts: tuple[_Part, ...]
    collateral: FloatArray | None  # (n_accounts,) USD value of the moving coin after haircut
    entries: IntArray  # (quantity.nnz,) each stored entry's index in the book's stored entries
    coin: bool = field(kw_only=True)
    cross: bool = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class _Block:
    """The account stages of one unit for a block of ``n`` accounts."""

    q: Any  # CSR (n, n_unit)
    pre: FloatArray  # (n, n_scenarios)
    aggregated: FloatArray  # (n, n_scenarios)
    collateral_pnl: FloatArray | None  # (n, n_scenarios), X:PM with moving collateral
    net_delta: FloatArray  # (n,)
    held: Any  # (n,) bool


@dataclass(frozen=True, slots=True)
class DeribitModel:
    """Deribit portfolio margin; see the module docstring and ``docs/margin-deribit.md``.

    Attributes
    ----------
    params
        Validated parameters (``methodologies/deribit.toml`` by default).
    name
        ``"deribit"``.
    """

    params: DeribitParams
    name: str = "deribit"

    @classmethod
    def from_params(cls, params: ParamTable) -> DeribitModel:
        """Build the model from a parameter table (the registry's entry point).

        The name says the mode: ``"deribit"`` for S:PM, ``"deribit-cross"`` for X:PM.
        """
        parsed = DeribitParams.from_table(params)
        return cls(parsed, _name(parsed.mode))

    @classmethod
    def load(
        cls, path: str | None = None, *, mode: DeribitMode | str | None = None
    ) -> DeribitModel:
        """Read the shipped (or a user's) parameter file; ``mode`` overrides ``[model] mode``."""
        model = cls.from_params(load_parameter_file("deribit", path))
        return model if mode is None else model.with_mode(mode)

    def with_mode(self, mode: DeribitMode | str) -> DeribitModel:
        """Return the same parameters under S:PM (``"segregated"``) or X:PM (``"cross"``)."""
        try:
            chosen = DeribitMode(str(mode).lower())
        except ValueError:
            raise InputError("mode", mode, "must be segregated or cross") from None
        return DeribitModel(replace(self.params, mode=chosen), _name(chosen))

    @property
    def capabilities(self) -> Capabilities:
        """Per underlying; S:PM and X:PM have the incremental what-if path (:meth:`incremental`).

        Risk units: S:PM (underlying, settlement currency), in the coin or USDC; X:PM one
        unit per underlying in USD, holding that coin's balance.
        """
        return Capabilities(
            scope="underlying",
            incremental=True,
            row_prices=True,
        )

    # ------------------------------------------------------------------ public API

    def compute(self, book: BookArrangement) -> MarginResult:
        """Margin every account of ``book`` (see :class:`~pmargin.margin.MarginResult`).

        Risk units carry amounts in their currency (coin for S:PM inverse units, USD for X:PM);
        account totals are in USD. ``im_contribution``: each position's loss in its unit's
        worst cell, scaled so the positions of the unit add up to ``worst_case`` less the share
        of moving collateral, plus its own roll shock; the rest (delta shock, collateral) is
        ``im_other``.

        Each unit's instruments are revalued and its columns taken out of the book once; the
        account stages (aggregation, offsets and dampener, worst cell, roll shock,
        contributions) then run on blocks of ``_BLOCK_ROWS`` accounts, so their temporaries
        stay small; contributions are per-entry arrays assembled into one matrix at the end.
        :meth:`compute_reference` is the whole-book twin (same bits, tested).
        """
        kernel = jit_kernel()
        if kernel is not None and self.params.mode is DeribitMode.SEGREGATED:
            compiled = self._compute_compiled(book, kernel)
            if compiled is not None:
                return compiled
        n_acc = book.shape[0]
        units: list[RiskUnitMargin] = []
        quantity = sparse.csr_array(book.quantity)
        value = np.zeros(quantity.nnz)  # USD contribution of each stored position
        kept = np.zeros(quantity.nnz, dtype=bool)  # sparse addition keeps nonzero sums only
        for unit in self._units(book):
            m = unit.matrix
            n_s = len(m.scenarios)
            aggregated = np.empty((n_acc, n_s))
            held = np.empty(n_acc, dtype=bool)
            worst = np.empty(n_acc, dtype=np.int64)
            parts = np.empty((5, n_acc))  # loss, roll, delta shock, contingency, margin
            for start in range(0, n_acc, _BLOCK_ROWS):
                stop = min(n_acc, start + _BLOCK_ROWS)
                block = self._block(unit, start, stop, out=aggregated[start:stop])
                charges, roll_shares = self._unit_charges(unit, block, start, stop)
                held[start:stop] = block.held
                worst[start:stop] = charges.worst_cell
                parts[:, start:stop] = (
                    charges.worst_case, charges.roll_shock, charges.delta_shock,
                    charges.correlation_contingency, charges.risk_matrix_margin,
                )  # fmt: skip
                ids, values = self._block_contribution(unit, block, charges, roll_shares, start)
                value[ids] = values
                kept[ids] = True
            units.append(
                self._unit_margin(
                    m.underlying, unit.currency, unit.usd_rate, tuple(parts), aggregated,
                    worst, held, tuple(m.scenarios),
                )
            )  # fmt: skip
        return self._assemble(book, units, _kept_entries(quantity, value, kept))

    def _compute_compiled(self, book: BookArrangement, kernel: ModuleType) -> MarginResult | None:
        """:meth:`compute` by the compiled account pass (S:PM), ``None`` where it does not apply.

        The pass (:func:`~pmargin.margin.deribit._account_pass.account_pass`) reads the book's
        entries in place and margins every unit of an account at once; the delta shock and the
        sums of the components are NumPy's, as on the block path. The aggregated vectors are not
        kept: each unit's ``scenario_pnl`` comes from a ``pnl_source`` that reruns the pass,
        keeping them, the first time one is read (``RiskUnitMargin.pnl``, pickling).
        """
        compiled = self._compiled_units(book, kernel, attribute=True)
        if compiled is None:
            return None
        margins, contribution = compiled
        return self._assemble(book, margins, _canonical(contribution))

    def _compiled_units(
        self, book: BookArrangement, kernel: ModuleType, *, attribute: bool
    ) -> tuple[list[RiskUnitMargin], Any] | None:
        """Each unit's margin by the compiled pass, and the contributions (``attribute``).

        ``None`` where the pass does not apply; without ``attribute`` the contributions are an
        empty matrix of the book's shape (the units are the same bits).
        """
        assumptions = self.params.assumptions
        units = self._units(book, take=False)
        quantity = sparse.csr_array(book.quantity)
        run = functools.partial(
            account_pass, units, quantity, kernel=kernel,
            threshold=assumptions.extended_dampener_mode is DampenerMode.THRESHOLD,
            abs_size=assumptions.roll_shock_basis is RollShockBasis.ABS_SIZE,
        )  # fmt: skip
        out = run(vectors=False, attribute=attribute)
        if out is None:
            return None
        vectors = _Vectors(run)
        margins: list[RiskUnitMargin] = []
        for k, unit in enumerate(units):
            m = unit.matrix
            loss, roll = out.loss[k], out.roll[k]
            shock = self.delta_shock(m.underlying, out.net_delta[k], unit.usd_rate)
            contingency = np.zeros(book.shape[0])
            charges = (loss, roll, shock, contingency, loss + roll + shock + contingency)
            margins.append(
                self._unit_margin(
                    m.underlying, unit.currency, unit.usd_rate, charges, None, out.worst[k],
                    out.held[k], tuple(m.scenarios), source=functools.partial(vectors.unit, k),
                )
            )  # fmt: skip
        return margins, out.contribution

    def margin_totals(self, book: BookArrangement) -> tuple[FloatArray, FloatArray]:
        """Return every account's IM and MM (USD), without attribution: :meth:`compute`'s totals.

        The monitor's per-tick path: the compiled pass without the position contributions and
        the result's assembly; the units and their USD sums are :meth:`compute`'s, so the same
        bits (tested). Where the pass does not apply (X:PM, no numba), :meth:`compute`'s own.

        Returns
        -------
        tuple
            ``(initial_margin, maintenance_margin)``, each of shape ``(n_accounts,)``, USD.
        """
        kernel = jit_kernel()
        if kernel is not None and self.params.mode is DeribitMode.SEGREGATED:
            compiled = self._compiled_units(book, kernel, attribute=False)
            if compiled is not None:
                totals = MarginResult.from_units(self.name, book, compiled[0], compiled[1])
                return totals.initial_margin, totals.maintenance_margin
        result = self.compute(book)
        return result.initial_margin, result.maintenance_margin

    def totals_plan(
        self, book: BookArrangement
    ) -> Callable[[BookArrangement], tuple[FloatArray, FloatArray]]:
        """Return a callable giving :meth:`margin_totals` of books of ``book``'s structure.

        A monitor's block: the same instrument terms, stored entries and times to expiry at
        market after market. The callable (:class:`~pmargin.margin.deribit._totals.DeribitTotals`)
        keeps the units, scenario grids and the compiled pass's layout and arrays between
        calls; same bits as :meth:`margin_totals` (tested).
        """
        from pmargin.margin.deribit._totals import DeribitTotals

        return DeribitTotals(self, book)

    def compute_reference(self, book: BookArrangement) -> MarginResult:
        """Margin every account as :meth:`compute` does, whole-book: its reference twin.

        Every unit's vectors for every account at once (:meth:`risk_vectors`), then
        :meth:`reduce`, then each unit's contribution block built with sparse operations and
        scattered into the book's columns. Same result as :meth:`compute` (same bits on a
        canonical quantity matrix, tested).
        """
        units: list[RiskUnitMargin] = []
        blocks: list[tuple[IntArray, Any]] = []
        for vectors in self.risk_vectors(book):
            q = book.quantity[:, vectors.columns]
            c = self.reduce(vectors, q)
            loss, worst, rmm = c.worst_case, c.worst_cell, c.risk_matrix_margin
            values = (loss, c.roll_shock, c.delta_shock, c.correlation_contingency, rmm)
            units.append(
                self._unit_margin(
                    vectors.underlying, vectors.currency, vectors.usd_rate, values,
                    vectors.aggregated, worst, vectors.held, vectors.scenarios,
                )
            )  # fmt: skip
            blocks.append((vectors.columns, self._contribution_reference(vectors, q, loss, worst)))
        return self._assemble(book, units, scatter_columns(blocks, book.shape))

    def _unit_margin(
        self,
        underlying: str,
        currency: str,
        usd_rate: float | FloatArray,
        charges: tuple[FloatArray, ...],
        aggregated: FloatArray | None,
        worst: IntArray,
        held: Any,
        scenarios: tuple[RiskMatrixScenario, ...],
        source: Callable[[], FloatArray] | None = None,
    ) -> RiskUnitMargin:
        """One unit's result from its ``COMPONENTS`` arrays ``(n,)`` and vectors ``(n, cells)``.

        ``aggregated`` ``None``: the vectors come from ``source`` when first read.
        """
        rmm = charges[-1]
        return RiskUnitMargin(
            underlying=underlying,
            currency=currency,
            usd_rate=usd_rate,
            initial_margin=rmm,
            maintenance_margin=self.params.general.mm_factor * rmm,
            components=dict(zip(COMPONENTS, charges, strict=True)),
            scenario_labels=tuple(s.label for s in scenarios),
            scenario_pnl=aggregated,
            worst_scenario=worst,
            held=held,
            scenarios=scenarios,
            pnl_source=source,
        )

    def _assemble(
        self, book: BookArrangement, units: list[RiskUnitMargin], contribution: Any
    ) -> MarginResult:
        """Return the result of ``units`` and USD contributions ``(n_accounts, n_instruments)``."""
        result = MarginResult.from_units(self.name, book, units, contribution)
        attributed = np.asarray(contribution.sum(axis=1), dtype=np.float64).reshape(book.shape[0])
        notes = (self.reading(),) if bool(np.any(book.resolved.is_option)) else ()
        return replace(result, im_other=result.initial_margin - attributed, notes=notes)

    def reading(self) -> str:
        """One line naming the reading of Deribit's unpublished parts this model uses."""
        return self.params.assumptions.reading().replace("deribit", self.name, 1)

    def reduce(self, vectors: DeribitUnitVectors, q: Any) -> UnitCharges:
        """Reduce a unit's aggregated vectors to its margin components.

        Parameters
        ----------
        vectors
            The unit's vectors for ``n`` accounts.
        q
            Sparse ``(n, n_unit)`` base-unit quantities of the unit's instruments.

        Returns
        -------
        UnitCharges
            Arrays of shape ``(n,)`` in the unit's currency.
        """
        roll = roll_shock(
            q,
            vectors.roll_rate,
            vectors.roll_delta,
            vectors.roll_key,
            self.params.assumptions.roll_shock_basis,
        )
        return self._charges(
            vectors.underlying, vectors.aggregated, vectors.vol_kinds, roll,
            vectors.net_delta_usd, vectors.usd_rate,
        )  # fmt: skip

    def _charges(
        self,
        underlying: str,
        aggregated: FloatArray,
        vol_kinds: tuple[VolShockKind, ...],
        roll: FloatArray,
        net_delta_usd: FloatArray,
        usd_rate: float | FloatArray,
    ) -> UnitCharges:
        """:meth:`reduce` on arrays of ``n`` accounts, given their roll shock ``(n,)``."""
        n = aggregated.shape[0]
        loss, worst = worst_case(aggregated, vol_kinds)
        shock = self.delta_shock(underlying, net_delta_usd, usd_rate)
        contingency = np.zeros(n)
        return UnitCharges(loss, worst, roll, shock, contingency, loss + roll + shock + contingency)

    def delta_shock(
        self, underlying: str, net_delta_usd: FloatArray, usd_rate: float | FloatArray
    ) -> FloatArray:
        """Delta shock of a unit of ``underlying``, shape ``(n,)``, in the unit's currency.

        Parameters
        ----------
        underlying
            Whose ``[currency_pair]`` threshold and maximum shock.
        net_delta_usd
            Shape ``(n,)``: net USD delta of each account's unit.
        usd_rate
            USD per unit of the unit's currency: a float, or shape ``(n,)``.
        """
        pair = self.params.pair(underlying)
        shock: FloatArray = (
            delta_shock(
                net_delta_usd,
                pair.delta_total_liq_shock_threshold,
                pair.max_delta_shock,
                self.params.assumptions.delta_shock,
            )
            / usd_rate
        )
        return shock

    def incremental(self, book: BookArrangement, result: MarginResult) -> IncrementalMargin | None:
        """One account's margin after changes from cached vectors (S:PM, X:PM): ``_pretrade.py``."""
        return DeribitIncremental(self, book, result)

    def aggregate(
        self, parts: list[tuple[FloatArray, float, float | FloatArray, FloatArray]], n_standard: int
    ) -> FloatArray:
        """Offset and dampen each settlement currency's pre-aggregated part, and sum them.

        Parameters
        ----------
        parts
            ``(pre_aggregated, pnl_offset, max_offsetable, dampener)`` per settlement currency
            (:meth:`part`): ``pre_aggregated`` of shape ``(n, n_scenarios)``, the cap and the
            ``(n_extended,)`` dampener, all in the unit's currency.
        n_standard
            Number of standard cells.

        Returns
        -------
        FloatArray
            Shape ``(n, n_scenarios)``: the aggregated risk vector.
        """
        mode = self.params.assumptions.extended_dampener_mode
        aggregated: FloatArray | None = None
        for pre, offset, cap, dampener in parts:
            vector = aggregate_risk_vector(
                pre, n_standard, pnl_offset=offset, max_offsetable=cap, dampener=dampener,
                mode=mode,
            )  # fmt: skip
            if aggregated is None:
                aggregated = vector  # a new array: the other parts are added into it
            else:
                aggregated += vector
        assert aggregated is not None, "a unit has at least one part"
        return aggregated

    def part(
        self,
        pre: FloatArray,
        underlying: str,
        currency: str,
        usd_rate: float | FloatArray,
        *,
        coin: bool,
    ) -> tuple[FloatArray, float, float | FloatArray, FloatArray]:
        """One settlement currency's part of a unit, with its USD amounts in the unit's currency.

        Parameters
        ----------
        pre
            Shape ``(n, n_scenarios)``: the currency's pre-aggregated P&L.
        underlying, currency
            Whose ``[currency_pair]`` (moves, ``price_range``) and ``[currency]`` parameters.
        usd_rate
            USD per unit of the unit's currency: a float, or shape ``(n,)`` (each row's own).
        coin
            The unit is in coin: the ``"distance"`` dampener is converted at the edge price
            ``usd_rate * (1 +- price_range)``, as the extended P&L is.

        Returns
        -------
        tuple
            ``(pre, pnl_offset, max_offsetable, dampener)``, the last of shape
            ``(n_extended,)``; see :meth:`aggregate`.
        """
        return (pre, *self._part_terms(underlying, currency, usd_rate, coin=coin))

    def _part_terms(
        self, underlying: str, currency: str, usd_rate: float | FloatArray, *, coin: bool
    ) -> tuple[float, float | FloatArray, FloatArray]:
        """``(pnl_offset, max_offsetable, dampener)`` of :meth:`part`."""
        cp = self.params.currency(currency)
        pair = self.params.pair(underlying)
        moves = self.params.general.extended_moves
        mode = self.params.assumptions.extended_dampener_mode
        cells = extended_dampener_cells(moves, pair.price_range, cp.extended_dampener, mode)
        per_row = np.ndim(usd_rate) > 0
        rate = np.multiply.outer(usd_rate, np.ones(len(moves)))  # (n_extended,) or (n, ...)
        if coin and mode is DampenerMode.DISTANCE:
            m = np.asarray(moves, dtype=np.float64)
            rate = rate * (1.0 + np.sign(m) * np.minimum(np.abs(m), pair.price_range))
        cap = cp.max_offsetable_pnl / (np.asarray(usd_rate)[:, None] if per_row else usd_rate)
        return cp.pnl_offset, cap, cells / rate

    def risk_vectors(self, book: BookArrangement) -> tuple[DeribitUnitVectors, ...]:
        """Each risk unit's vectors (initial, pre-aggregated, aggregated), for every account.

        At the book's market (``book.market``).

        Raises
        ------
        InputError
            For an underlying or currency without parameters, naming the table to add.
        """
        return tuple(self._unit_vectors(unit) for unit in self._units(book))

    def _units(self, book: BookArrangement, *, take: bool = True) -> list[_Unit]:
        """Each risk unit's account-independent inputs, its columns taken out once.

        ``take=False`` (S:PM only): the columns are not taken out (``quantity`` is ``None``,
        ``entries`` empty), for the compiled pass that reads the book's entries in place.
        """
        matrices = [self._matrix(book, u, cols) for u, cols in self._underlyings(book)]
        if self.params.mode is DeribitMode.SEGREGATED:
            return [unit for m in matrices for unit in self._segregated(book, m, take=take)]
        moving = self._moving_collateral(book)
        held = {m.underlying for m in matrices}
        for asset in moving:
            if asset not in held:
                matrices.append(self._matrix(book, asset, np.zeros(0, dtype=np.int64)))
        return [self._cross(book, m, moving.get(m.underlying)) for m in matrices]

    # ------------------------------------------------------------------ revaluation

    @staticmethod
    def _underlyings(book: BookArrangement) -> Iterator[tuple[str, IntArray]]:
        yield from columns_by(book.resolved.terms.underlying).items()

    def _matrix(self, book: BookArrangement, underlying: str, columns: IntArray) -> _Matrix:
        """Revalue one underlying's instruments once per scenario."""
        pair = self.params.pair(underlying)
        weighting = self.params.assumptions.extended_weighting
        grid = grid_of(
            underlying, pair, self.params.general, self.params.vol_rule(underlying), weighting
        )
        scenarios, n_standard, weights, conversion = (
            grid.scenarios, grid.n_standard, grid.weights, grid.conversion,
        )  # fmt: skip
        n = columns.size
        whole = n == len(book.resolved) and bool(np.all(columns == np.arange(n)))
        resolved = book.resolved if whole else book.resolved.take(columns)  # a block: whole
        if n == 0:
            empty = np.zeros((0, len(scenarios)))
            return _Matrix(
                underlying, scenarios, n_standard, columns, resolved, empty, empty,
                np.zeros(0), np.zeros(0), np.zeros(0), weights, conversion,
            )  # fmt: skip
        arrays = grid.scenario_set.apply(resolved)
        mult = arrays.spot_multiplier
        if weighting is ExtendedWeighting.FULL:
            mult = clamp_delta_one(mult, resolved.is_option, pair.price_range, n_standard)
        pnl = instrument_pnl(resolved, mult, arrays.vol)
        valuation = value_instruments(resolved)
        delta_usd = valuation.delta * resolved.underlying_usd
        price_coin = np.where(resolved.is_inverse & resolved.is_option, valuation.price, 0.0)
        return _Matrix(
            underlying, scenarios, n_standard, columns, resolved, mult, pnl, delta_usd,
            price_coin, valuation.delta, weights, conversion,
        )  # fmt: skip

    # ------------------------------------------------------------------ S:PM

    def _segregated(
        self, book: BookArrangement, m: _Matrix, *, take: bool = True
    ) -> Iterator[_Unit]:
        """One coin- or stablecoin-denominated unit per settlement currency of ``m``."""
        currencies = m.resolved.terms.settlement_currency
        for currency in dict.fromkeys(currencies.tolist()):
            rows = np.flatnonzero(currencies == currency)
            cp = self.params.currency(currency)
            usd_rate = book.usd_price(currency)
            res = m.resolved
            unit_value = segregated_unit_value(res, rows)
            rate = roll_shock_rate(res.time[rows], cp.min_annualised_move, cp.annualised_move_risk)
            inverse = res.is_inverse[rows]
            pnl = m.pnl[rows].copy()
            pnl[:, m.n_standard :] *= extended_factor(m, inverse)
            cols = m.columns[rows]
            q, entries = _take_columns(book, cols) if take else (None, np.zeros(0, np.int64))
            coin = bool(np.any(inverse))
            terms = self._part_terms(m.underlying, currency, usd_rate, coin=coin)
            yield _Unit(
                m, currency, usd_rate, cols, rows, pnl, rate * unit_value, m.delta_usd[rows], q,
                (_Part(q, pnl, *terms, collateral=False),), None, entries, coin=coin, cross=False,
            )  # fmt: skip

    # ------------------------------------------------------------------ X:PM

    def _moving_collateral(
        self, book: BookArrangement
    ) -> dict[str, tuple[FloatArray, float | FloatArray, float]]:
        """Balances that move with their coin: asset -> (balances, USD price, haircut)."""
        balances = book.balances if book.balances is not None else np.zeros((book.shape[0], 0))
        moving: dict[str, tuple[FloatArray, float | FloatArray, float]] = {}
        for k, asset in enumerate(book.assets):
            amounts = balances[:, k]
            if not np.any(amounts):
                continue
            cp = self.params.currency(asset)
            if cp.equity_side_impact == "both":
                self.params.pair(asset)  # a moving balance needs its price grid
                moving[asset] = (amounts, book.usd_price(asset), cp.haircut)
        return moving

    def _cross(
        self,
        book: BookArrangement,
        m: _Matrix,
        collateral: tuple[FloatArray, float | FloatArray, float] | None,
    ) -> _Unit:
        """Build the USD unit of one underlying: per settlement currency offsets, then summed."""
        res = m.resolved
        # USD value change per base unit: settlement P&L at the scenario's settlement price,
        # plus the revaluation of an inverse option's coin premium.
        settle_rate = np.where(
            res.is_inverse[:, None], res.settlement_usd[:, None] * m.multiplier,
            res.quote_usd[:, None],
        )  # fmt: skip
        premium = (m.price_coin * res.settlement_usd)[:, None] * (m.multiplier - 1.0)
        usd = m.pnl * settle_rate + premium
        usd[:, m.n_standard :] *= m.weights[None, :]
        unit_value = np.where(res.is_inverse, res.settlement_usd, res.underlying_usd)
        currencies = res.terms.settlement_currency
        rate = np.zeros(m.columns.size)
        q, entries = _take_columns(book, m.columns)
        # Collateral moves with every scenario, extended cells included: Deribit's cross-collateral
        # article lets a coin balance offset the upside risk of short options on that coin, which
        # a balance held at the +-price_range edge (as futures are) could not do.
        coin = m.underlying.upper()
        value = None
        if collateral is not None:
            amounts, price, haircut = collateral
            value = amounts * price * (1.0 - haircut)
        extra = [coin] if collateral is not None else []
        keys = list(dict.fromkeys([*currencies.tolist(), *extra]))
        parts: list[_Part] = []
        for currency in keys:
            cp = self.params.currency(currency)
            rows = np.flatnonzero(currencies == currency)
            rate[rows] = unit_value[rows] * roll_shock_rate(
                res.time[rows], cp.min_annualised_move, cp.annualised_move_risk
            )
            part_q = q if rows.size == m.columns.size else sparse.csr_array(q[:, rows])
            terms = self._part_terms(m.underlying, currency, 1.0, coin=False)
            parts.append(_Part(part_q, usd[rows], *terms, collateral=currency == coin))
        every = np.arange(m.columns.size)
        return _Unit(
            m, "USD", 1.0, m.columns, every, usd, rate, m.delta_usd, q, tuple(parts), value,
            entries, coin=False, cross=True,
        )  # fmt: skip

    # ------------------------------------------------------------------ shared

    def _block(self, unit: _Unit, start: int, stop: int, out: FloatArray | None = None) -> _Block:
        """Run the account stages of ``unit`` on rows ``start:stop``: P&L, offsets, dampener.

        ``out``: where to write the aggregated vectors (a ``(stop - start, n_scenarios)`` view
        of the whole result), ``None`` for a new array.
        """
        m = unit.matrix
        q = unit.quantity[start:stop]
        n = stop - start
        collateral_pnl = None
        if unit.collateral is not None:
            moves = np.array([s.spot_move for s in m.scenarios])
            collateral_pnl = np.outer(unit.collateral[start:stop], moves)
            collateral_pnl[:, m.n_standard :] *= m.weights[None, :]
        mode = self.params.assumptions.extended_dampener_mode
        pre: FloatArray | None = np.zeros((n, len(m.scenarios))) if unit.cross else None
        aggregated: FloatArray | None = None
        for part in unit.parts:
            part_q = q if part.quantity is unit.quantity else part.quantity[start:stop]
            pre_c = np.asarray(part_q @ part.pnl, dtype=np.float64)
            if part.collateral and collateral_pnl is not None:
                pre_c = pre_c + collateral_pnl
            vector = aggregate_risk_vector(
                pre_c, m.n_standard, pnl_offset=part.pnl_offset,
                max_offsetable=_rows(part.cap, start, stop),
                dampener=_rows(part.dampener, start, stop), mode=mode,
                out=out if aggregated is None else None,
            )  # fmt: skip
            if aggregated is None:
                aggregated = vector  # a new array: the other parts are added into it
            else:
                aggregated += vector
            pre = pre_c if pre is None else pre + pre_c
        assert pre is not None, "a unit has at least one part"
        assert aggregated is not None, "a unit has at least one part"
        net_delta = np.asarray(q @ unit.delta_usd, dtype=np.float64).reshape(n)
        held = np.diff(q.indptr) > 0
        if unit.collateral is not None and collateral_pnl is not None:
            net_delta = net_delta + unit.collateral[start:stop]
            held = held | np.any(collateral_pnl != 0.0, axis=1)
        return _Block(q, pre, aggregated, collateral_pnl, net_delta, held)

    def _unit_vectors(self, unit: _Unit) -> DeribitUnitVectors:
        """Return the unit's vectors for every account (:meth:`_block` over all rows)."""
        m = unit.matrix
        block = self._block(unit, 0, unit.quantity.shape[0])
        collateral_pnl = block.collateral_pnl
        if collateral_pnl is None:
            collateral_pnl = np.zeros(block.pre.shape)  # calloc'd: never touched
        rows = unit.rows
        return DeribitUnitVectors(
            underlying=m.underlying,
            currency=unit.currency,
            usd_rate=unit.usd_rate,
            labels=tuple(s.label for s in m.scenarios),
            vol_kinds=tuple(s.vol_shock for s in m.scenarios),
            n_standard=m.n_standard,
            columns=unit.columns,
            instrument_pnl=unit.pnl,
            roll_rate=unit.roll_rate,
            roll_delta=m.delta[rows],
            roll_key=np.nan_to_num(m.resolved.time[rows], nan=-1.0),
            coin=unit.coin,
            net_delta_usd=block.net_delta,
            collateral_pnl=collateral_pnl,
            pre_aggregated=block.pre,
            aggregated=block.aggregated,
            held=block.held,
            scenarios=tuple(m.scenarios),
            delta_usd=unit.delta_usd,
        )

    def _unit_charges(
        self, unit: _Unit, block: _Block, start: int, stop: int
    ) -> tuple[UnitCharges, FloatArray]:
        """:meth:`reduce` of one block of accounts, and each stored entry's roll share."""
        m = unit.matrix
        roll, shares = roll_shock_entries(
            block.q, unit.roll_rate, m.delta[unit.rows],
            np.nan_to_num(m.resolved.time[unit.rows], nan=-1.0),
            self.params.assumptions.roll_shock_basis,
        )  # fmt: skip
        charges = self._charges(
            m.underlying, block.aggregated, tuple(s.vol_shock for s in m.scenarios), roll,
            block.net_delta, _row_rate(unit.usd_rate, start, stop),
        )  # fmt: skip
        return charges, shares

    def _block_contribution(
        self,
        unit: _Unit,
        block: _Block,
        charges: UnitCharges,
        roll_shares: FloatArray,
        start: int,
    ) -> tuple[IntArray, FloatArray]:
        """USD IM contribution of one block's stored entries: (book entry, value).

        Book entries are indices into the stored positions of ``book.quantity``.

        The entries of :meth:`_contribution_reference` (same bits), computed on the block's
        entry arrays; entries whose sum is 0 are left out, as sparse addition leaves them.
        """
        q = block.q
        n = q.shape[0]
        loss, worst = charges.worst_case, charges.worst_cell
        account = np.repeat(np.arange(n), np.diff(q.indptr))
        local = q.indices
        cell = np.maximum(worst, 0)
        raw = -q.data * unit.pnl[local, cell[account]]
        raw = np.where(worst[account] >= 0, raw, 0.0)
        raw_loss = -block.pre[np.arange(n), cell]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where((worst >= 0) & (raw_loss > 0.0), loss / raw_loss, 0.0)
        total = raw * scale[account] + roll_shares
        kept = total != 0.0
        rate = _row_rate(unit.usd_rate, start, start + n)
        if np.ndim(rate) > 0:  # a book of moved rows: each row's own rate
            value = total[kept] * np.asarray(rate)[account[kept]]
        else:
            value = total[kept] * rate
        ids = unit.entries[unit.quantity.indptr[start] : unit.quantity.indptr[start + n]]
        return ids[kept], value

    def _contribution_reference(
        self, vectors: DeribitUnitVectors, q: Any, loss: FloatArray, worst: IntArray
    ) -> Any:
        """USD IM contribution of the unit's positions, shape ``(n_accounts, n_unit)``.

        The reference twin of :meth:`_block_contribution` (sparse operations on the whole unit).
        """
        n_acc = loss.shape[0]
        local = np.arange(vectors.columns.size, dtype=np.int64)
        raw = binding_contribution(q, local, vectors.instrument_pnl, worst)
        cell = np.maximum(worst, 0)
        raw_loss = -vectors.pre_aggregated[np.arange(n_acc), cell]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where((worst >= 0) & (raw_loss > 0.0), loss / raw_loss, 0.0)
        scaled = sparse.csr_array(raw.multiply(scale[:, None]))
        roll = roll_shock_contribution(
            q,
            vectors.roll_rate,
            vectors.roll_delta,
            vectors.roll_key,
            self.params.assumptions.roll_shock_basis,
        )
        if np.ndim(vectors.usd_rate) > 0:  # a book of moved rows: each row's own rate
            rate = np.asarray(vectors.usd_rate)[:, None]
            return sparse.csr_array((scaled + roll).multiply(rate))
        return sparse.csr_array((scaled + roll) * vectors.usd_rate)


class _Vectors:
    """The aggregated vectors of every unit of a compiled pass, computed once when first asked.

    ``run(vectors=True)`` reruns the pass keeping them (same inputs: same bits); one rerun
    serves every unit.
    """

    def __init__(self, run: Callable[..., Any]) -> None:
        self._run: Callable[..., Any] | None = run
        self._aggregated: FloatArray | None = None

    def unit(self, k: int) -> FloatArray:
        """Return unit ``k``'s aggregated vectors, shape ``(n_accounts, n_scenarios)``."""
        if self._aggregated is None:
            assert self._run is not None
            out = self._run(vectors=True)
            assert out is not None, "the pass ran on these inputs before"
            self._aggregated = out.aggregated
            self._run = None  # the inputs are no longer needed
        aggregated: FloatArray = self._aggregated[k]
        return aggregated


def _name(mode: DeribitMode) -> str:
    """Registry name of the model in ``mode``."""
    return "deribit" if mode is DeribitMode.SEGREGATED else "deribit-cross"


def _rows(value: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of a per-row ``(n, k)`` amount (a cap, a dampener), else as is."""
    return value[start:stop] if np.ndim(value) == 2 else value


def _row_rate(usd_rate: float | FloatArray, start: int, stop: int) -> float | FloatArray:
    """Rows ``start:stop`` of a per-row ``(n,)`` USD rate (a book of moved rows), else as is."""
    return np.asarray(usd_rate)[start:stop] if np.ndim(usd_rate) > 0 else usd_rate


def _take_columns(book: BookArrangement, columns: IntArray) -> tuple[Any, IntArray]:
    """``book.quantity[:, columns]`` and the index of each of its entries in the book's.

    Returns
    -------
    quantity
        CSR ``(n_accounts, columns.size)``: the entries of ``columns``, in the order column
        selection leaves them.
    entries
        Shape ``(quantity.nnz,)``: each entry's index in ``book.quantity``'s stored entries.
    """
    whole = sparse.csr_array(book.quantity)
    index = sparse.csr_array(
        (np.arange(whole.nnz, dtype=np.int64), whole.indices, whole.indptr), shape=whole.shape
    )[:, columns]
    entries: IntArray = index.data
    taken = sparse.csr_array(
        (whole.data[entries], index.indices, index.indptr), shape=(whole.shape[0], columns.size)
    )
    return taken, entries


def _kept_entries(quantity: Any, value: FloatArray, kept: Any) -> Any:
    """CSR matrix of ``value`` on the ``kept`` stored entries of ``quantity``, canonical.

    Rows hold their entries sorted by column (duplicates summed), as the units' blocks
    scattered into the book's columns and converted to CSR do.
    """
    counts = np.concatenate(([0], np.cumsum(kept)))
    return _canonical(
        sparse.csr_array(
            (value[kept], quantity.indices[kept], counts[quantity.indptr]), shape=quantity.shape
        )
    )


def _canonical(matrix: Any) -> Any:
    """``matrix`` (CSR) with each row's entries sorted by column, duplicates summed, in place."""
    if not matrix.has_canonical_format:
        matrix.sum_duplicates()  # sorts each row's entries
    return matrix

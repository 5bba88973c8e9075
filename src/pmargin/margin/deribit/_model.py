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

from collections.abc import Iterator
from dataclasses import dataclass, replace
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
    unit_pnl,
)
from pmargin.margin.deribit._params import (
    DampenerMode,
    DeribitMode,
    DeribitParams,
    ExtendedWeighting,
)
from pmargin.margin.deribit._pretrade import DeribitIncremental
from pmargin.margin.deribit._risk_matrix import (
    aggregate_risk_vector,
    clamp_delta_one,
    delta_shock,
    deribit_scenarios,
    edge_conversion,
    extended_dampener_cells,
    extended_weights,
    roll_shock,
    roll_shock_contribution,
    roll_shock_rate,
    worst_case,
)
from pmargin.market import MarketSnapshot
from pmargin.risk import instrument_pnl
from pmargin.scenarios import RiskMatrixScenario, ScenarioSet, VolShockKind
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
        """
        market = book.market
        n_acc, n_inst = book.shape
        general = self.params.general
        units: list[RiskUnitMargin] = []
        blocks: list[tuple[IntArray, Any]] = []
        for vectors in self.risk_vectors(book, market):
            q = book.quantity[:, vectors.columns]
            c = self.reduce(vectors, q)
            loss, worst, rmm = c.worst_case, c.worst_cell, c.risk_matrix_margin
            values = (loss, c.roll_shock, c.delta_shock, c.correlation_contingency, rmm)
            units.append(
                RiskUnitMargin(
                    underlying=vectors.underlying,
                    currency=vectors.currency,
                    usd_rate=vectors.usd_rate,
                    initial_margin=rmm,
                    maintenance_margin=general.mm_factor * rmm,
                    components=dict(zip(COMPONENTS, values, strict=True)),
                    scenario_labels=vectors.labels,
                    scenario_pnl=vectors.aggregated,
                    worst_scenario=worst,
                    held=vectors.held,
                    scenarios=vectors.scenarios,
                )
            )
            blocks.append((vectors.columns, self._contribution(vectors, q, loss, worst)))
        contribution = scatter_columns(blocks, (n_acc, n_inst))
        result = MarginResult.from_units(self.name, book, market, units, contribution)
        attributed = np.asarray(contribution.sum(axis=1), dtype=np.float64).reshape(n_acc)
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
        n = vectors.aggregated.shape[0]
        loss, worst = worst_case(vectors.aggregated, vectors.vol_kinds)
        roll = roll_shock(
            q,
            vectors.roll_rate,
            vectors.roll_delta,
            vectors.roll_key,
            self.params.assumptions.roll_shock_basis,
        )
        pair = self.params.pair(vectors.underlying)
        shock = (
            delta_shock(
                vectors.net_delta_usd,
                pair.delta_total_liq_shock_threshold,
                pair.max_delta_shock,
                self.params.assumptions.delta_shock,
            )
            / vectors.usd_rate
        )
        contingency = np.zeros(n)
        return UnitCharges(loss, worst, roll, shock, contingency, loss + roll + shock + contingency)

    def incremental(self, book: BookArrangement, result: MarginResult) -> IncrementalMargin | None:
        """One account's margin after changes from cached vectors (S:PM, X:PM): ``_pretrade.py``."""
        return DeribitIncremental(self, book, book.market, result)

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
        return pre, cp.pnl_offset, cap, cells / rate

    def risk_vectors(
        self, book: BookArrangement, market: MarketSnapshot
    ) -> tuple[DeribitUnitVectors, ...]:
        """Each risk unit's vectors (initial, pre-aggregated, aggregated), for every account.

        Raises
        ------
        InputError
            For an underlying or currency without parameters, naming the table to add.
        """
        matrices = [self._matrix(book, u, cols) for u, cols in self._underlyings(book)]
        if self.params.mode is DeribitMode.SEGREGATED:
            return tuple(v for m in matrices for v in self._segregated(book, m))
        moving = self._moving_collateral(book, market)
        held = {m.underlying for m in matrices}
        for asset in moving:
            if asset not in held:
                matrices.append(self._matrix(book, asset, np.zeros(0, dtype=np.int64)))
        return tuple(self._cross(book, m, moving.get(m.underlying)) for m in matrices)

    # ------------------------------------------------------------------ revaluation

    @staticmethod
    def _underlyings(book: BookArrangement) -> Iterator[tuple[str, IntArray]]:
        yield from columns_by(book.resolved.terms.underlying).items()

    def _matrix(self, book: BookArrangement, underlying: str, columns: IntArray) -> _Matrix:
        """Revalue one underlying's instruments once per scenario."""
        pair = self.params.pair(underlying)
        scenarios = deribit_scenarios(underlying, pair, self.params.general)
        n_standard = len(scenarios) - len(self.params.general.extended_moves)
        resolved = book.resolved.take(columns)
        n = columns.size
        moves = self.params.general.extended_moves
        weighting = self.params.assumptions.extended_weighting
        weights = extended_weights(moves, pair.price_range, pair.extended_table_factor, weighting)
        conversion = edge_conversion(moves, pair.price_range, weighting)
        if n == 0:
            empty = np.zeros((0, len(scenarios)))
            return _Matrix(
                underlying, scenarios, n_standard, columns, resolved, empty, empty,
                np.zeros(0), np.zeros(0), np.zeros(0), weights, conversion,
            )  # fmt: skip
        arrays = ScenarioSet(scenarios, self.params.vol_rule(underlying)).apply(resolved)
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

    def _segregated(self, book: BookArrangement, m: _Matrix) -> Iterator[DeribitUnitVectors]:
        """One coin- or stablecoin-denominated unit per settlement currency of ``m``."""
        currencies = m.resolved.terms.settlement_currency
        for currency in dict.fromkeys(currencies.tolist()):
            rows = np.flatnonzero(currencies == currency)
            cp = self.params.currency(currency)
            usd_rate = book.usd_price(currency)
            res = m.resolved
            unit_value = np.where(
                res.is_inverse[rows],
                1.0,
                res.underlying_usd[rows] / res.settlement_usd[rows],
            )
            rate = roll_shock_rate(res.time[rows], cp.min_annualised_move, cp.annualised_move_risk)
            inverse = res.is_inverse[rows]
            pnl = m.pnl[rows].copy()
            pnl[:, m.n_standard :] *= m.weights[None, :] * np.where(
                inverse[:, None], m.conversion[None, :], 1.0
            )
            cols = m.columns[rows]
            pre = unit_pnl(book.quantity, cols, pnl)
            coin = bool(np.any(inverse))
            yield self._vectors(
                book, m, currency, usd_rate, cols, pnl, rate * unit_value, rows,
                m.delta_usd[rows], np.zeros(pre.shape), pre,
                [self.part(pre, m.underlying, currency, usd_rate, coin=coin)], coin=coin,
            )  # fmt: skip

    # ------------------------------------------------------------------ X:PM

    def _moving_collateral(
        self, book: BookArrangement, market: MarketSnapshot
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
    ) -> DeribitUnitVectors:
        """Build the USD unit of one underlying: per settlement currency offsets, then summed."""
        n_acc = book.shape[0]
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
        parts: list[tuple[FloatArray, float, float | FloatArray, FloatArray]] = []
        n_s = len(m.scenarios)
        collateral_pnl = np.zeros((n_acc, n_s))
        net_delta = np.asarray(book.quantity[:, m.columns] @ m.delta_usd, dtype=np.float64)
        net_delta = net_delta.reshape(n_acc)
        # Collateral moves with every scenario, extended cells included: Deribit's cross-collateral
        # article lets a coin balance offset the upside risk of short options on that coin, which
        # a balance held at the +-price_range edge (as futures are) could not do.
        moves = np.array([s.spot_move for s in m.scenarios])
        coin = m.underlying.upper()
        if collateral is not None:
            amounts, price, haircut = collateral
            collateral_pnl = np.outer(amounts * price * (1.0 - haircut), moves)
            collateral_pnl[:, m.n_standard :] *= m.weights[None, :]
            net_delta = net_delta + amounts * price * (1.0 - haircut)
        extra = [coin] if collateral is not None else []
        keys = list(dict.fromkeys([*currencies.tolist(), *extra]))
        for currency in keys:
            cp = self.params.currency(currency)
            rows = np.flatnonzero(currencies == currency)
            rate[rows] = unit_value[rows] * roll_shock_rate(
                res.time[rows], cp.min_annualised_move, cp.annualised_move_risk
            )
            pre_c = unit_pnl(book.quantity, m.columns[rows], usd[rows])
            if currency == coin:
                pre_c = pre_c + collateral_pnl
            parts.append(self.part(pre_c, m.underlying, currency, 1.0, coin=False))
        pre = sum((p[0] for p in parts), np.zeros((n_acc, n_s)))
        every = np.arange(m.columns.size)
        return self._vectors(
            book, m, "USD", 1.0, m.columns, usd, rate, every, m.delta_usd, collateral_pnl, pre,
            parts, net_delta=net_delta, coin=False,
        )  # fmt: skip

    # ------------------------------------------------------------------ shared

    def _vectors(
        self,
        book: BookArrangement,
        m: _Matrix,
        currency: str,
        usd_rate: float | FloatArray,
        columns: IntArray,
        pnl: FloatArray,
        roll_rate: FloatArray,
        rows: IntArray,
        delta_usd: FloatArray,
        collateral_pnl: FloatArray,
        pre: FloatArray,
        parts: list[tuple[FloatArray, float, float | FloatArray, FloatArray]],
        *,
        net_delta: FloatArray | None = None,
        coin: bool,
    ) -> DeribitUnitVectors:
        """Offset and dampen each currency's part (:meth:`part`) and sum; ``rows`` of ``m``."""
        aggregated = self.aggregate(parts, m.n_standard)
        q = book.quantity[:, columns]
        n_acc = book.shape[0]
        if net_delta is None:
            net_delta = np.asarray(q @ delta_usd, dtype=np.float64).reshape(n_acc)
        held = np.diff(sparse.csr_array(q).indptr) > 0
        held = held | np.any(collateral_pnl != 0.0, axis=1)
        return DeribitUnitVectors(
            underlying=m.underlying,
            currency=currency,
            usd_rate=usd_rate,
            labels=tuple(s.label for s in m.scenarios),
            vol_kinds=tuple(s.vol_shock for s in m.scenarios),
            n_standard=m.n_standard,
            columns=columns,
            instrument_pnl=pnl,
            roll_rate=roll_rate,
            roll_delta=m.delta[rows],
            roll_key=np.nan_to_num(m.resolved.time[rows], nan=-1.0),
            coin=coin,
            net_delta_usd=net_delta,
            collateral_pnl=collateral_pnl,
            pre_aggregated=pre,
            aggregated=aggregated,
            held=held,
            scenarios=tuple(m.scenarios),
            delta_usd=delta_usd,
        )

    def _contribution(
        self, vectors: DeribitUnitVectors, q: Any, loss: FloatArray, worst: IntArray
    ) -> Any:
        """USD IM contribution of the unit's positions, shape ``(n_accounts, n_unit)``."""
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


def _name(mode: DeribitMode) -> str:
    """Registry name of the model in ``mode``."""
    return "deribit" if mode is DeribitMode.SEGREGATED else "deribit-cross"

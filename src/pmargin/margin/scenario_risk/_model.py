"""VaR / ES margin over joint scenarios of every underlying: ``pmargin-es``, ``-var``, ``-mc``.

Per account, all USD, one risk unit spanning every underlying (``underlying = "*"``)::

    measure            = ES or VaR of the account's P&L over the base scenario set
    correlation_stress = max(0, max over stressed sets of max(0, measure_s) - max(0, measure))
    apc                = buffer x (max(0, measure) + correlation_stress)          (buffer)
                       | max(0, max(0, measure_floor) - max(0, measure) - corr)   (floor)
                       | 0 (stressed weighting: inside the measure) | 0 (none)
    IM                 = max(0, measure) + correlation_stress + apc
    MM                 = mm_fraction x IM

The account's P&L in a scenario is the sum of its positions' USD P&L (each instrument revalued
once per scenario with :func:`~pmargin.risk.instrument_pnl` and converted at the scenario's
coin prices, :func:`~pmargin.risk.settlement_to_usd`) and of its coin balances' USD P&L (the
balance times its USD price times the coin's scenario move, as
:func:`~pmargin.collateral.balance_scenario_pnl`); stablecoin balances are not shocked. See
docs/margin-scenario-risk.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, ClassVar

import numpy as np
from scipy import sparse

from pmargin._params import ParamTable
from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.history import PriceHistory
from pmargin.margin._capabilities import Capabilities
from pmargin.margin._result import MarginResult, RiskUnitMargin
from pmargin.margin._scenario_margin import UnitPositions, proportional_scale
from pmargin.margin.scenario_risk._fused import (
    SetPnl,
    TailRule,
    measure_stage,
    measure_stage_reference,
    tail_stage,
    tail_stage_reference,
)
from pmargin.margin.scenario_risk._incremental import ScenarioRiskIncremental
from pmargin.margin.scenario_risk._params import ApcMethod, ScenarioRiskParams
from pmargin.margin.scenario_risk._precompute import (
    MarketScenarios,
    RevaluedRows,
    market_scenarios,
    market_scenarios_reference,
)
from pmargin.margin.scenario_risk._sources import JointScenarios
from pmargin.margin.scenario_risk._tail import AccountTail
from pmargin.market import MarketSnapshot
from pmargin.risk import instrument_pnl, settlement_to_usd
from pmargin.scenarios import instrument_rows
from pmargin.timeutil import HOURS_PER_YEAR
from pmargin.valuation import ResolvedInstruments

__all__ = ["COMPONENTS", "ScenarioRiskModel"]

COMPONENTS = ("correlation_stress", "apc")
"""Component names besides the measure's own (``"es"`` or ``"var"``), USD each."""


@dataclass(frozen=True, slots=True)
class _Revalued:
    """One scenario set revalued: instrument USD P&L and the moving balances' multipliers."""

    unit_pnl: FloatArray  # (n_instruments, n_scenarios), USD per base unit
    balance_move: FloatArray  # (n_moving_assets, n_scenarios): multiplier - 1


@dataclass(frozen=True, slots=True)
class ScenarioRiskModel:
    """VaR / ES margin over historical, filtered historical or Monte Carlo joint scenarios.

    Attributes
    ----------
    params
        The validated parameter file.
    name
        Registered name (``"pmargin-es"``, ``"pmargin-var"``, ``"pmargin-mc"``).
    history
        A price history to use instead of the shared data folder (tests, what-ifs); ``None``
        loads ``params.underlyings`` from the folder on first use.
    """

    params: ScenarioRiskParams
    name: str = "pmargin-es"
    capabilities: ClassVar[Capabilities] = Capabilities(
        scope="account", incremental=True, needs_history=True
    )
    """Joint scenarios of every underlying: one account-level tail measure, from history."""
    history: PriceHistory | None = field(default=None, repr=False)

    @classmethod
    def from_params(cls, params: ParamTable) -> ScenarioRiskModel:
        """Build the model from a parsed parameter file (validated here; no data is read)."""
        parsed = ScenarioRiskParams.from_table(params)
        return cls(parsed, parsed.name)

    def with_history(self, history: PriceHistory) -> ScenarioRiskModel:
        """Return the same model reading ``history`` instead of the shared data folder."""
        return replace(self, history=history)

    def with_params(self, **changes: Any) -> ScenarioRiskModel:
        """Return the same model with some parameters replaced (``lookback_days=365``, ...)."""
        return replace(self, params=replace(self.params, **changes))

    # ------------------------------------------------------------------ compute

    def compute(
        self,
        book: BookArrangement,
        scenarios: MarketScenarios | None = None,
    ) -> MarginResult:
        """Margin every account of ``book`` at its market.

        The aggregation and reduce stages run fused per block of accounts
        (:func:`~pmargin.margin.scenario_risk._fused.tail_stage`, compiled with numba when
        available): :meth:`compute_reference` is the whole-book twin (same result; the
        stressed and floor sets' measures within ``k x 2**-52`` of their tail's largest loss).

        Parameters
        ----------
        book
            Accounts x instruments (base units) and balances, at its market: the market's
            ``timestamp`` is the as-of date of the history (no later close is read).
        scenarios
            The precompute stage at ``book.market.timestamp`` (:meth:`precompute`, or its uncached
            twin :meth:`precompute_reference`); ``None`` takes :meth:`precompute`'s cached one.

        Returns
        -------
        MarginResult
            One USD risk unit ``"*"`` with components ``es`` (or ``var``),
            ``correlation_stress`` and ``apc``, the base set's labels and the
            ``(n_accounts, n_scenarios)`` account P&L; Euler contributions per position, the
            balances' share in ``im_other``.

        Raises
        ------
        InputError
            A missing history folder (naming ``PMARGIN_SHARED_DATA``), an instrument or coin
            balance whose underlying the model's history lacks (naming it), a history that
            ends too long before the market timestamp.
        """
        return self._compute(book, scenarios, reference=False)

    def compute_reference(
        self,
        book: BookArrangement,
        scenarios: MarketScenarios | None = None,
    ) -> MarginResult:
        """Margin every account as :meth:`compute` does, from the dense ``(n, S)`` P&L matrix.

        The reference twin of :meth:`compute` (the previous implementation): the whole book's
        scenario P&L at once, then its tail (:func:`~._fused.tail_stage_reference`), and the
        stressed and floor sets' measures by SciPy products and partitions
        (:func:`~._fused.measure_stage_reference`). Same parameters, returns and errors.
        """
        return self._compute(book, scenarios, reference=True)

    def _compute(
        self, book: BookArrangement, scenarios: MarketScenarios | None, *, reference: bool
    ) -> MarginResult:
        """:meth:`compute` (``reference=False``) or :meth:`compute_reference`."""
        market = book.market
        p = self.params
        n_acc = book.shape[0]
        # arrange units: one unit "*" (joint scenarios of every underlying) with the moving
        # balances
        moving, exposure = self._moving_balances(book, market)
        self._check_underlyings(book)
        # precompute per market: the scenario sets and revalued rows (cached)
        if scenarios is None:
            scenarios = self.precompute(market.timestamp)
        sets = scenarios.sets
        quantity = sparse.csr_array(book.quantity)
        store = scenarios.rows
        keys = store.signatures(book.resolved) if store is not None else []
        base = self._revalue(book.resolved, sets.base, moving, store, 0, keys)
        # scenario P&L, then reduce: the tail measure, its tail scenarios and each position's
        # loss over them (fused per block of accounts, or the dense twin)
        parts = SetPnl(quantity, exposure, base.unit_pnl, base.balance_move)
        rule = self._rule(sets.base)
        fused = tail_stage_reference(parts, rule) if reference else tail_stage(parts, rule)
        tail, pnl = fused.tail, fused.pnl
        assert pnl is not None  # kept: the result carries it
        measure = np.maximum(tail.measure, 0.0)

        # charges: correlation stress and anti-procyclicality
        stressed = np.zeros(n_acc)
        for tag, (_, source) in enumerate(sets.stressed, start=1):
            revalued = self._revalue(book.resolved, source, moving, store, tag, keys)
            other = self._measure(quantity, exposure, revalued, source, reference)
            stressed = np.maximum(stressed, other)
        floor_margin = None
        if p.apc_method is ApcMethod.FLOOR and sets.floor is not None:
            revalued = self._revalue(book.resolved, sets.floor, moving, store, -1, keys)
            floor_margin = self._measure(quantity, exposure, revalued, sets.floor, reference)
        correlation_stress, apc, im, mm = self.charges(measure, stressed, floor_margin)

        # attribution: Euler shares over each account's tail, scaled to IM
        positions = UnitPositions.whole(quantity)
        contribution, im_other = self._attribution(
            positions, exposure, base, tail, fused.entry_loss, im
        )
        worst = fused.worst
        held = positions.held | np.any(exposure != 0.0, axis=1)
        unit = RiskUnitMargin(
            underlying="*",
            currency="USD",
            usd_rate=1.0,
            initial_margin=im,
            maintenance_margin=mm,
            components={
                p.measure.value: measure,
                "correlation_stress": correlation_stress,
                "apc": apc,
            },
            scenario_labels=scenarios.labels,
            scenario_pnl=pnl,
            worst_scenario=worst,
            held=held,
        )
        return MarginResult.from_units(self.name, book, [unit], contribution, im_other)

    def precompute(self, timestamp: object) -> MarketScenarios:
        """Return the book-independent stage at ``timestamp``: the scenario sets (cached).

        Built once per parameters, history and last close known at ``timestamp`` and kept in
        a bounded cache (:func:`~pmargin.margin.scenario_risk.market_scenarios`); every later
        :meth:`compute` at a timestamp before the next close reuses it (the history's age is
        still checked against ``timestamp``).

        Raises
        ------
        InputError
            As :meth:`compute` for the history and the timestamp.
        """
        return market_scenarios(self.params, self.history, timestamp)

    def precompute_reference(self, timestamp: object) -> MarketScenarios:
        """Build the stage anew, uncached: the reference twin of :meth:`precompute`."""
        return market_scenarios_reference(self.params, self.history, timestamp)

    # ------------------------------------------------------------------ inputs

    def _check_underlyings(self, book: BookArrangement) -> None:
        known = self.params.underlyings
        for instrument in book.instruments:
            if instrument.underlying.upper() not in known:
                raise InputError(
                    "underlying",
                    instrument.underlying,
                    f"of instrument {instrument.symbol!r} has no price history in the model "
                    f"(scenarios.underlyings = {list(known)} in {self.params.source}); add it "
                    "there with its binance_<NAME>USDT_<frequency>.csv in the data folder",
                )

    def _moving_balances(
        self, book: BookArrangement, market: MarketSnapshot
    ) -> tuple[tuple[str, ...], FloatArray]:
        """Coin balances that move with their underlying: names and USD exposures ``(n, m)``."""
        p = self.params
        balances = book.balance_matrix
        names: list[str] = []
        columns: list[int] = []
        for k, asset in enumerate(book.assets):
            if not np.any(balances[:, k]):
                continue
            code = asset.upper()
            if code in p.stablecoins:
                continue
            if code not in p.underlyings:
                raise InputError(
                    "underlying",
                    asset,
                    f"(a balance) has no price history in the model (scenarios.underlyings = "
                    f"{list(p.underlyings)}) and is not a listed stablecoin "
                    f"(scenarios.stablecoins = {list(p.stablecoins)}) in {p.source}",
                )
            names.append(code)
            columns.append(k)
        prices = np.array([market.usd_price(a) for a in names], dtype=np.float64)
        exposure = balances[:, columns] * prices if columns else np.zeros((book.shape[0], 0))
        return tuple(names), np.ascontiguousarray(exposure)

    # ------------------------------------------------------------------ kernel

    def _revalue(
        self,
        resolved: ResolvedInstruments,
        source: JointScenarios,
        moving: tuple[str, ...],
        store: RevaluedRows | None,
        tag: int,
        signatures: list[tuple[str, bytes]],
    ) -> _Revalued:
        """Revalue every instrument once per scenario (USD per base unit).

        Instruments are revalued at their forward's multiplier (``m exp(dc T)`` on dated rows
        when the set moves the carry); a coin-settled row's coin P&L is converted at the
        coin's own move ``m`` (the settlement coin's price is the spot, not the forward).
        Rows the stage's ``store`` holds for set ``tag`` are taken from it (same bits);
        ``signatures`` are the instruments' row keys (:meth:`RevaluedRows.signatures`).
        """
        if store is None:
            unit = self._unit_pnl(source, resolved)
        else:
            unit = store.unit_pnl(tag, signatures, resolved, partial(self._unit_pnl, source))
        rows = [source.names.index(a) for a in moving]
        move = source.spot_multiplier[rows] - 1.0 if rows else np.zeros((0, source.weights.size))
        return _Revalued(unit, move)

    def _unit_pnl(self, source: JointScenarios, resolved: ResolvedInstruments) -> FloatArray:
        """Return the USD P&L per base unit of ``resolved`` under ``source``.

        Shape ``(n_instruments, n_scenarios)``; row ``i`` depends on instrument ``i`` only.
        """
        arrays = source.apply(resolved)
        shift = self.params.mpor_hours / HOURS_PER_YEAR if self.params.time_decay else 0.0
        raw = instrument_pnl(resolved, arrays.spot_multiplier, arrays.vol, time_shift=shift)
        spot = source.spot_multiplier[instrument_rows(source.names, resolved)]
        return np.ascontiguousarray(settlement_to_usd(resolved, raw, spot))

    def _measure(
        self,
        quantity: Any,
        exposure: FloatArray,
        rev: _Revalued,
        source: JointScenarios,
        reference: bool,
    ) -> FloatArray:
        """``max(0, measure)`` per account under ``source`` (revalued), fused per block."""
        parts = SetPnl(quantity, exposure, rev.unit_pnl, rev.balance_move)
        stage = measure_stage_reference if reference else measure_stage
        return stage(parts, self._rule(source))

    def _rule(self, source: JointScenarios) -> TailRule:
        """Return the parameters' tail measure over ``source``'s weights."""
        p = self.params
        return TailRule(source.weights, p.confidence, p.measure.value, p.boundary)

    def charges(
        self, measure: FloatArray, stressed: FloatArray, floor: FloatArray | None
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Correlation stress, anti-procyclicality, IM and MM from the sets' measures (USD).

        Parameters
        ----------
        measure
            Shape ``(n,)``: ``max(0, measure)`` over the base set.
        stressed
            Shape ``(n,)``: the largest ``max(0, measure)`` over the correlation-stressed sets
            (0 without any).
        floor
            Shape ``(n,)``: ``max(0, measure)`` over the floor set, given when the APC tool is
            ``floor`` (else ``None``).

        Returns
        -------
        tuple
            ``(correlation_stress, apc, initial_margin, maintenance_margin)``, shape ``(n,)``
            each, >= 0 (module docstring).
        """
        p = self.params
        correlation_stress = np.maximum(stressed - measure, 0.0)
        margin = measure + correlation_stress
        if p.apc_method is ApcMethod.BUFFER:
            apc: FloatArray = p.apc_buffer * margin
        elif p.apc_method is ApcMethod.FLOOR and floor is not None:
            apc = np.maximum(floor - margin, 0.0)
        else:
            apc = np.zeros(margin.shape)
        im = measure + correlation_stress + apc
        return correlation_stress, apc, im, p.mm_fraction * im

    def incremental(self, book: BookArrangement, result: MarginResult) -> ScenarioRiskIncremental:
        """One account's margin after changes from its cached P&L vectors: ``_incremental.py``."""
        return ScenarioRiskIncremental(self, book, book.market, result)

    def _attribution(
        self,
        positions: UnitPositions,
        exposure: FloatArray,
        rev: _Revalued,
        tail: AccountTail,
        entry_loss: FloatArray,
        im: FloatArray,
    ) -> tuple[Any, FloatArray]:
        """Euler contributions scaled pro rata to IM; the balances' share goes to im_other.

        Each position's Euler contribution is its loss averaged over its account's tail,
        ``entry_loss`` (shape ``(n_entries,)``, :meth:`UnitPositions.tail_loss`, from the fused
        stage). Where the measure is
        > 0, every contribution (positions and balances) is multiplied by ``IM / measure``, so
        the add-ons are spread in proportion to the Euler contributions. Where it is <= 0 (no
        tail loss) positions get 0 and the add-ons (if any) go to ``im_other``.
        """
        n_acc = positions.block.shape[0]
        values = entry_loss
        balance = np.zeros(n_acc)
        if exposure.shape[1]:
            # (n_moving, n_acc, K): each coin's move in each account's tail scenarios
            moves = rev.balance_move[:, tail.index]
            balance = -np.einsum("am,mak,ak->a", exposure, moves, tail.weight)
        scale = proportional_scale(im, tail.measure)
        values = values * scale[positions.account]
        im_other = np.where(tail.measure > 0.0, balance * scale, im)
        return positions.contribution(values), im_other

"""Deribit margin (S:PM and X:PM) of one account after position changes, from cached vectors.

A change of ``q`` base units of instrument ``i`` touches one risk unit only (S:PM: the unit
of its underlying and settlement currency; X:PM: the USD unit of its underlying). The
account's state in that unit is what :meth:`DeribitModel.compute` reduces, kept as sums that
a change updates in O(n_scenarios):

* the pre-aggregated P&L vector of each settlement currency's part (S:PM: one part; X:PM: one
  per settlement currency, the coin's part holding the moving coin balance): ``+ q x`` the
  instrument's row of the unit's instrument P&L matrix;
* the roll shock's sums: ``sum_{i in e} q_i delta_i r_i`` per expiry ``e`` (basis
  ``"net_delta_per_expiry"``) or ``sum_i |q_i| r_i`` (``"abs_size"``, with the quantities
  held), ``+ q delta_i r_i`` or ``+ (|q_old + q| - |q_old|) r_i``;
* the net USD delta, ``+ q x`` the instrument's USD delta.

The unit is then reduced with the model's functions (:meth:`DeribitModel.part`'s offsets and
dampener, :func:`aggregate_risk_vector`, the worst loss, :func:`delta_shock`) and every other
unit keeps its margin (:class:`~pmargin.margin._incremental.UnitIncremental`). X:PM reads
balances: a delta of a coin whose balance moves with the scenarios (``equity_side_impact =
"both"``) adds ``delta x price x (1 - haircut)`` times the scenario moves to the coin's part
and to the net delta. An instrument the book does not hold is revalued alone, once, and
cached.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray, IntArray
from pmargin.book import BookArrangement
from pmargin.margin._incremental import (
    PositionChange,
    UnitIncremental,
    held_quantity,
)
from pmargin.margin._result import MarginResult
from pmargin.margin.deribit._params import DeribitMode, RollShockBasis
from pmargin.margin.deribit._risk_matrix import (
    aggregate_risk_vector,
    delta_shock,
    extended_weights,
)
from pmargin.valuation import ResolvedInstruments

if TYPE_CHECKING:  # _model imports this module: the model is a type here, never imported
    from pmargin.margin.deribit._model import DeribitModel, DeribitUnitVectors

__all__ = ["DeribitIncremental"]

_Part = tuple[float, float, FloatArray]
"""A part's ``(pnl_offset, max_offsetable, dampener)`` in the unit's currency."""


@dataclass(slots=True)
class _Unit:
    """One risk unit's data shared by every account (never changed after it is built)."""

    underlying: str
    currency: str
    usd_rate: float
    coin: bool
    n_standard: int
    vectors: DeribitUnitVectors
    group: IntArray  # (n_unit,): each instrument's expiry group
    groups: dict[float, int]  # roll key -> group
    dr: FloatArray  # (n_unit,): roll delta x roll rate
    part_of: tuple[str, ...]  # (n_unit,): the part (settlement currency) of each instrument
    moves: FloatArray  # (n_scenarios,): spot move of each cell, extended cells weighted
    parts: dict[str, _Part] = field(default_factory=dict)
    in_book: bool = True  # the book holds the unit (its per-account arrays are the book's)


@dataclass(slots=True)
class _State:
    """One account's state in one unit, changed in place by :meth:`DeribitIncremental.apply`."""

    unit: _Unit
    pre: dict[str, FloatArray]  # part -> (n_scenarios,) pre-aggregated P&L
    roll: FloatArray  # net: (n_groups,) sums per expiry; abs: (1,) sum |q| r
    groups: dict[float, int]  # roll key -> index in ``roll`` (the unit's, plus new keys)
    net_delta: float  # USD
    held: dict[int | str, float]  # position key -> base units (abs_size basis only)


class DeribitIncremental(UnitIncremental[_State]):
    """Cached per-account vectors of a Deribit margin run (S:PM or X:PM).

    Parameters
    ----------
    model
        The model.
    book, result
        The book (at its market) and ``model.compute(book)``.
    """

    def __init__(
        self,
        model: DeribitModel,
        book: BookArrangement,
        result: MarginResult,
    ) -> None:
        super().__init__(book, result)
        self.model = model
        self.book = book
        self.cross = model.params.mode is DeribitMode.CROSS
        self.reads_balances = self.cross
        self.abs_size = model.params.assumptions.roll_shock_basis is RollShockBasis.ABS_SIZE
        n_inst = book.shape[1]
        self._unit_of_column = np.full(n_inst, -1, dtype=np.int64)
        self._local = np.full(n_inst, -1, dtype=np.int64)
        self.units: list[_Unit] = []
        self._index: dict[Hashable, int] = {}
        for k, vectors in enumerate(model.risk_vectors(book)):
            self._unit_of_column[vectors.columns] = k
            self._local[vectors.columns] = np.arange(vectors.columns.size)
            self._index[self._key(vectors.underlying, vectors.currency)] = k
            self.units.append(self._unit(vectors))
        usd = {(u.underlying, u.currency): u for u in result.risk_units}
        self._before = [
            (usd[(u.underlying, u.currency)].initial_margin * u.usd_rate,
             usd[(u.underlying, u.currency)].maintenance_margin * u.usd_rate)
            for u in self.units
        ]  # fmt: skip
        self._new: dict[str, DeribitUnitVectors] = {}
        self._new_units: dict[Hashable, _Unit] = {}

    # ------------------------------------------------------------------ UnitIncremental hooks
    def unit_of(self, change: PositionChange) -> Hashable:
        """Return the instrument's unit: (underlying, settlement currency) S:PM, underlying X:PM."""
        inst = change.instrument.instruments[0]
        return self._key(inst.underlying, inst.settlement_currency)

    def unit_state(
        self, row: int, unit: Hashable, change: PositionChange
    ) -> tuple[_State, float, float]:
        """Return the account's sums in the unit, from the book's vectors (zeros outside it)."""
        k = self._index.get(unit)
        if k is None:
            alone = self._alone(change.instrument)
            return self._empty(self._unit_alone(unit, alone)), 0.0, 0.0
        return self._from_book(row, k)

    def balance_units(self, balances: Mapping[str, float]) -> Sequence[Hashable]:
        """X:PM: the units of the coins whose balance moves with the scenarios."""
        return [self._key(asset, "USD") for asset in balances if self._moving(asset) is not None]

    def balance_state(self, row: int, unit: Hashable) -> tuple[_State, float, float]:
        """Return the account's sums in a coin's unit that only a balance delta touches."""
        k = self._index.get(unit)
        if k is None:
            assert isinstance(unit, tuple)  # a unit key is (underlying, currency)
            return self._empty(self._unit_balance(str(unit[0]))), 0.0, 0.0
        return self._from_book(row, k)

    def apply(self, state: _State, row: int, change: PositionChange) -> None:
        """Add the change to the unit's sums (module docstring)."""
        unit, quantity = state.unit, change.quantity
        inst = change.instrument.instruments[0]
        if change.column is not None:  # a book column: the unit is the book's
            local = int(self._local[change.column])
            source, part = unit.vectors, unit.part_of[local]
        else:
            source, local, part = self._alone(change.instrument), 0, inst.settlement_currency
        pnl = source.instrument_pnl[local]
        pre = state.pre.get(part)
        if pre is None:
            state.pre[part] = quantity * pnl
        else:
            pre += quantity * pnl
        state.net_delta += quantity * float(source.delta_usd[local])
        rate = float(source.roll_rate[local])
        if self.abs_size:
            key = change.key
            held = state.held.get(key)
            if held is None:
                column = change.column
                held = 0.0 if column is None else held_quantity(self.quantity, row, column)
            state.held[key] = held + quantity
            state.roll[0] += (abs(held + quantity) - abs(held)) * rate
            return
        roll_key = float(source.roll_key[local])
        g = state.groups.get(roll_key)
        if g is None:
            state.groups = {**state.groups, roll_key: state.roll.size}
            g = state.roll.size
            state.roll = np.append(state.roll, 0.0)
        state.roll[g] += quantity * (float(source.roll_delta[local]) * rate)

    def apply_balances(
        self, state: _State, row: int, unit: Hashable, balances: Mapping[str, float]
    ) -> None:
        """X:PM: a moving coin balance's delta moves the coin's part and the net delta."""
        coin = state.unit.underlying
        moving = self._moving(coin)
        amount = balances.get(coin, 0.0)
        if moving is None or not amount:
            return
        usd = amount * moving
        pnl = usd * state.unit.moves
        pre = state.pre.get(coin)
        if pre is None:
            state.pre[coin] = pnl
        else:
            pre += pnl
        state.net_delta += usd

    def copy(self, state: _State) -> _State:
        """Return an independent copy (sums copied; maps replaced, never changed in place)."""
        return _State(
            state.unit,
            {part: pre.copy() for part, pre in state.pre.items()},
            state.roll.copy(),
            state.groups,
            state.net_delta,
            dict(state.held),
        )

    def unit_margin(self, state: _State) -> tuple[float, float]:
        """Reduce the unit as :meth:`DeribitModel.compute` does: IM and MM (USD)."""
        unit = state.unit
        mode = self.model.params.assumptions.extended_dampener_mode
        aggregated: FloatArray | None = None
        for part, pre in state.pre.items():
            offset, cap, dampener = self._part(unit, part)
            one = aggregate_risk_vector(
                pre[np.newaxis, :], unit.n_standard, pnl_offset=offset, max_offsetable=cap,
                dampener=dampener, mode=mode,
            )  # fmt: skip
            aggregated = one if aggregated is None else aggregated + one
        loss = 0.0 if aggregated is None else max(-float(aggregated.min()), 0.0)
        roll = float(state.roll[0]) if self.abs_size else float(np.abs(state.roll).sum())
        pair = self.model.params.pair(unit.underlying)
        shock = float(
            delta_shock(
                np.array([state.net_delta]),
                pair.delta_total_liq_shock_threshold,
                pair.max_delta_shock,
                self.model.params.assumptions.delta_shock,
            )[0]
        )
        rmm = loss + roll + shock / unit.usd_rate + 0.0
        mm_factor = self.model.params.general.mm_factor
        return rmm * unit.usd_rate, mm_factor * rmm * unit.usd_rate

    # ------------------------------------------------------------------ building states
    def _key(self, underlying: str, currency: str) -> Hashable:
        """Return a unit's key: (underlying, currency) for S:PM, (underlying, "USD") for X:PM."""
        return (underlying, "USD" if self.cross else currency)

    def _from_book(self, row: int, k: int) -> tuple[_State, float, float]:
        """Return the account's state in book unit ``k`` and the unit's IM and MM now (USD)."""
        unit = self.units[k]
        vectors = unit.vectors
        start, end = self.quantity.indptr[row], self.quantity.indptr[row + 1]
        columns = self.quantity.indices[start:end]
        mine = self._unit_of_column[columns] == k
        local = self._local[columns[mine]]
        q = self.quantity.data[start:end][mine]
        if self.cross:
            pre = self._cross_parts(unit, row, local, q)
        else:
            pre = {unit.currency: vectors.pre_aggregated[row].copy()}
        if self.abs_size:
            roll = np.array([float(np.abs(q) @ vectors.roll_rate[local])])
        else:
            roll = np.bincount(unit.group[local], q * unit.dr[local], minlength=len(unit.groups))
            roll = roll.astype(np.float64)
        state = _State(unit, pre, roll, unit.groups, float(vectors.net_delta_usd[row]), {})
        im, mm = self._before[k]
        return state, float(im[row]), float(mm[row])

    def _cross_parts(
        self, unit: _Unit, row: int, local: IntArray, q: FloatArray
    ) -> dict[str, FloatArray]:
        """X:PM: the account's pre-aggregated P&L of each settlement currency (plus the coin's)."""
        vectors = unit.vectors
        parts: dict[str, FloatArray] = {}
        for part in dict.fromkeys(unit.part_of):
            mask = np.fromiter((unit.part_of[i] == part for i in local), bool, local.size)
            parts[part] = q[mask] @ vectors.instrument_pnl[local[mask]]
        collateral = vectors.collateral_pnl[row]
        if np.any(collateral != 0.0):
            coin = unit.underlying
            parts[coin] = parts.get(coin, np.zeros(collateral.size)) + collateral
        return parts

    def _empty(self, unit: _Unit) -> _State:
        """Return a state holding nothing in ``unit``."""
        n_groups = 1 if self.abs_size else len(unit.groups)
        return _State(unit, {}, np.zeros(n_groups), unit.groups, 0.0, {})

    def _unit(self, vectors: DeribitUnitVectors, *, in_book: bool = True) -> _Unit:
        """Build the shared data of one unit."""
        keys = np.asarray(vectors.roll_key, dtype=np.float64)
        groups: dict[float, int] = {}
        group = np.array([groups.setdefault(float(x), len(groups)) for x in keys], dtype=np.int64)
        instruments = self.book.instruments
        part_of = (
            tuple(instruments[int(j)].settlement_currency for j in vectors.columns)
            if in_book
            else ()
        )
        moves = np.array([s.spot_move for s in vectors.scenarios], dtype=np.float64)
        pair = self.model.params.pair(vectors.underlying)
        weights = extended_weights(
            self.model.params.general.extended_moves, pair.price_range,
            pair.extended_table_factor, self.model.params.assumptions.extended_weighting,
        )  # fmt: skip
        moves[vectors.n_standard :] *= weights
        return _Unit(
            underlying=vectors.underlying,
            currency=vectors.currency,
            usd_rate=float(vectors.usd_rate),
            coin=vectors.coin,
            n_standard=vectors.n_standard,
            vectors=vectors,
            group=group,
            groups=groups,
            dr=np.asarray(vectors.roll_delta * vectors.roll_rate, dtype=np.float64),
            part_of=part_of,
            moves=moves,
            in_book=in_book,
        )

    def _unit_alone(self, key: Hashable, alone: DeribitUnitVectors) -> _Unit:
        """Return a unit the book lacks, built from the first instrument that opens it."""
        unit = self._new_units.get(key)
        if unit is None:
            unit = self._new_units[key] = self._unit(alone, in_book=False)
            unit.groups = {}
            unit.group = np.zeros(0, dtype=np.int64)
        return unit

    def _unit_balance(self, coin: str) -> _Unit:
        """X:PM: a coin's unit the book lacks, opened by a moving balance of that coin."""
        key = self._key(coin, "USD")
        unit = self._new_units.get(key)
        if unit is None:
            book = BookArrangement(
                account_ids=("balance",),
                resolved=self.book.resolved.take(np.zeros(0, dtype=np.int64)),
                quantity=sparse.csr_array((1, 0)),
                assets=(coin,),
                balances=np.ones((1, 1)),
                market=self.market,
            )
            (vectors,) = self.model.risk_vectors(book)
            unit = self._new_units[key] = self._unit(vectors, in_book=False)
        return unit

    def _part(self, unit: _Unit, part: str) -> _Part:
        """``(pnl_offset, max_offsetable, dampener)`` of one part of ``unit``, cached."""
        cached = unit.parts.get(part)
        if cached is None:
            if self.cross:
                one = self.model.part(np.zeros((1, 0)), unit.underlying, part, 1.0, coin=False)
            else:
                one = self.model.part(
                    np.zeros((1, 0)), unit.underlying, unit.currency, unit.usd_rate,
                    coin=unit.coin,
                )  # fmt: skip
            cached = unit.parts[part] = (float(one[1]), float(one[2]), one[3])
        return cached

    def _moving(self, asset: str) -> float | None:
        """X:PM: USD value of one unit of ``asset`` after haircut, if its balance moves."""
        if not self.cross:
            return None
        cp = self.model.params.currency(asset)
        if cp.equity_side_impact != "both":
            return None
        return self.market.usd_price(asset) * (1.0 - cp.haircut)

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
            (vectors,) = self.model.risk_vectors(book)
            self._new[symbol] = vectors
        return self._new[symbol]

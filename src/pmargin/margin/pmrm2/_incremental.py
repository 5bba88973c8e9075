"""Derive PMRM_2 margin of one account after changes, from cached per-unit state.

The model margins each underlying of an account as one PMRM_2 market (a USD risk unit), plus
one account-level unit ``"*"`` for the haircuts of non-risk-cancelling collateral
(:meth:`DerivePmrm2Model.compute`). A unit's margin is a function of a few sums over the
account's holdings in it:

* per expiry group (underlying, expiry, settlement currency): the quantity-weighted option
  values ``x = sum q x values_j``, ``(n_s + 3,)`` (every scenario, then spot 1, basis up and
  down), and the net quantity per strike (for the naked shorts);
* the gross option quantity ``sum |q|`` (oracle contingency);
* the perpetuals' USD delta-one value ``sum q x price`` and net quantity;
* the USD value of each risk-cancelling collateral (a coin balance of the underlying).

PMRM_2's P&L is not linear in the holdings (the static discount follows the sign of each
shocked expiry value, skew scenarios turn gains into losses), so a change of ``q`` in option
``j`` adds ``q x values_j`` to its expiry's ``x`` and the unit is reduced again with the
model's own stages: :func:`expiry_pnl` of each expiry (a changed one recomputed, the others
kept), :func:`delta_one_pnl`, :func:`worst_loss`, :func:`contingencies`,
:func:`requirements`. A perpetual changes the perp sums, a balance delta of a risk-cancelling
coin its collateral value, of other collateral the ``"*"`` unit (cash changes no
requirement). Each unit is a unit of :class:`~pmargin.margin._incremental.UnitIncremental`;
an instrument the book does not hold is revalued alone, once, with its expiry group's
parameters (the book's group where it has one), and cached.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.margin._incremental import PositionChange, UnitIncremental
from pmargin.margin._result import MarginResult, RiskUnitMargin
from pmargin.margin.pmrm2._book import (
    CollateralRole,
    ExpiryGroup,
    collateral_roles,
    group_precompute,
    stable_price,
    unit_columns,
)
from pmargin.margin.pmrm2._stages import (
    ScenarioArrays,
    contingencies,
    delta_one_pnl,
    expiry_pnl,
    im_loss_factor,
    requirements,
    worst_loss,
)
from pmargin.valuation import ResolvedInstruments

if TYPE_CHECKING:  # _model imports this module: the model is a type here, never imported
    from pmargin.margin.pmrm2._model import DerivePmrm2Model

__all__ = ["Pmrm2Incremental"]

_OTHER = "*"
"""The account-level unit of non-risk-cancelling collateral."""

_GroupKey = tuple[str, object, str]  # (underlying, expiry, settlement currency)


@dataclass(frozen=True, slots=True)
class _Leg:
    """What a change of one instrument moves: its unit, kind and per-unit values."""

    unit: str  # the underlying (upper case)
    option: bool  # an option (else a perpetual)
    group: _GroupKey | None  # the option's expiry group
    values: FloatArray | None  # the option's values, (n_s + 3,) USD per base unit
    strike: float  # the option's strike, USD
    price: float  # the perpetual's price, USD per base unit


@dataclass(frozen=True, slots=True)
class _GroupParams:
    """An expiry group's static discounts and forward contingency factor."""

    disc_pos: float
    disc_neg: float
    factor: float


@dataclass(slots=True)
class _Expiry:
    """One account's options of one expiry group (USD), changed in place."""

    params: _GroupParams
    x: FloatArray  # (n_s + 3,): sum of q x values
    net: dict[float, float]  # strike (USD) -> net quantity
    pnl: FloatArray | None = None  # expiry_pnl of x, (n_s,); None until computed
    forward: float = 0.0  # its forward contingency (USD, <= 0)

    def copy(self) -> _Expiry:
        return _Expiry(self.params, self.x.copy(), dict(self.net), self.pnl, self.forward)


@dataclass(slots=True)
class _Unit:
    """One account's state in one underlying's unit (or ``"*"``), USD, changed in place."""

    underlying: str
    expiries: dict[_GroupKey, _Expiry] = field(default_factory=dict)
    gross_options: float = 0.0
    perp_value: float = 0.0
    net_perp: float = 0.0
    collateral: dict[str, float] = field(default_factory=dict)  # asset -> USD value
    held: dict[int | str, float] = field(default_factory=dict)  # position key -> base units


class Pmrm2Incremental(UnitIncremental[_Unit]):
    """Cached per-unit state of a PMRM_2 margin run, for position and balance changes.

    Parameters
    ----------
    model
        The model.
    book
        The book ``result`` was computed on (at its market).
    result
        ``model.compute(book)``.
    """

    reads_balances = True

    def __init__(
        self, model: DerivePmrm2Model, book: BookArrangement, result: MarginResult
    ) -> None:
        super().__init__(book, result)
        self.model = model
        market = book.market
        p = model.params
        self.scen = ScenarioArrays.of(p)
        self.peg_factor = im_loss_factor(p, stable_price(market, model.settings))
        self.oracle_rate = model._oracle_rate()
        self.balances = book.balance_matrix
        roles = collateral_roles(book.assets, market, p, model.settings)
        self._roles: dict[str, CollateralRole] = {r.asset: r for r in roles}
        self._book_roles = roles
        self._margins: dict[str, RiskUnitMargin] = {u.underlying: u for u in result.risk_units}
        self._groups: dict[_GroupKey, tuple[ExpiryGroup, _GroupParams]] = {}
        self._legs: dict[int | str, _Leg] = {}
        res = book.resolved
        for uc in unit_columns(book, roles):
            for j in uc.perps.tolist():
                self._legs[j] = _Leg(
                    uc.underlying, False, None, None, 0.0, float(res.underlying_usd[j])
                )
            if not uc.groups:
                continue
            pre = group_precompute(res, uc.groups, p, self.scen)
            values, disc_pos, disc_neg, factor = (
                pre.values,
                pre.disc_pos,
                pre.disc_neg,
                pre.forward_factor,
            )
            k = 0
            for i, g in enumerate(uc.groups):
                key = self._group_key(uc.underlying, g.columns[0], res)
                params = _GroupParams(float(disc_pos[i]), float(disc_neg[i]), float(factor[i]))
                self._groups[key] = (g, params)
                for j in g.columns.tolist():
                    strike = float(res.strike[j] * res.quote_usd[j])
                    self._legs[j] = _Leg(uc.underlying, True, key, values[k], strike, 0.0)
                    k += 1
        self._spot: dict[str, float] = {}

    @staticmethod
    def _group_key(underlying: str, j: int, resolved: ResolvedInstruments) -> _GroupKey:
        instrument = resolved.instruments[int(j)]
        return underlying, instrument.expiry, instrument.settlement_currency

    # ------------------------------------------------------------------ hooks
    def unit_of(self, change: PositionChange) -> Hashable:
        """Return the underlying of the instrument (upper case)."""
        return self._leg(change).unit

    def unit_state(
        self, row: int, unit: Hashable, change: PositionChange
    ) -> tuple[_Unit, float, float]:
        """Return the account's sums in the unit from the book, and its IM and MM now."""
        return self.balance_state(row, unit)

    def balance_state(self, row: int, unit: Hashable) -> tuple[_Unit, float, float]:
        """Return the account's sums in the unit from the book, and its IM and MM now (USD)."""
        name = str(unit)
        state = _Unit(name)
        q = self.quantity
        start, end = q.indptr[row], q.indptr[row + 1]
        for j, held in zip(q.indices[start:end].tolist(), q.data[start:end].tolist(), strict=True):
            leg = self._legs[j]
            if leg.unit == name:
                self._add(state, j, leg, held, 0.0)
        market = self.market
        for k, role in enumerate(self._book_roles):
            amount = float(self.balances[row, k])
            if amount and self._role_unit(role) == name:
                state.collateral[role.asset] = amount * market.usd_price(role.asset)
        margin = self._margins.get(name)
        if margin is None:
            return state, 0.0, 0.0
        im, mm = float(margin.initial_margin[row]), float(margin.maintenance_margin[row])
        return state, im, mm

    def apply(self, state: _Unit, row: int, change: PositionChange) -> None:
        """Add the change to its expiry group's values (or the perp sums) in place."""
        # a unit's state holds every position of the account in it (from the book, or a
        # commit): a key it lacks is not held
        held = state.held.get(change.key, 0.0)
        self._add(state, change.key, self._leg(change), change.quantity, held)

    def balance_units(self, balances: Mapping[str, float]) -> Sequence[Hashable]:
        """Units whose collateral the deltas move: an underlying's or ``"*"`` (not cash)."""
        units: list[Hashable] = []
        for asset, amount in balances.items():
            unit = self._role_unit(self._role(asset))
            if amount and unit is not None and unit not in units:
                units.append(unit)
        return units

    def apply_balances(
        self, state: _Unit, row: int, unit: Hashable, balances: Mapping[str, float]
    ) -> None:
        """Add each delta of the unit's collateral at its USD price."""
        for asset, amount in balances.items():
            role = self._role(asset)
            if amount and self._role_unit(role) == unit:
                value = amount * self.market.usd_price(role.asset)
                state.collateral[role.asset] = state.collateral.get(role.asset, 0.0) + value

    def copy(self, state: _Unit) -> _Unit:
        """Return an independent copy."""
        return _Unit(
            state.underlying,
            {key: e.copy() for key, e in state.expiries.items()},
            state.gross_options,
            state.perp_value,
            state.net_perp,
            dict(state.collateral),
            dict(state.held),
        )

    def unit_margin(self, state: _Unit) -> tuple[float, float]:
        """Reduce the unit as :meth:`DerivePmrm2Model.compute` does: IM and MM (USD)."""
        if state.underlying == _OTHER:
            return self._other_margin(state)
        p = self.model.params
        scen = self.scen
        pnl = delta_one_pnl(np.array([state.perp_value]), scen)[0]
        forward = 0.0
        shorts = 0.0
        for e in state.expiries.values():
            if e.pnl is None:
                g = e.params
                ep = expiry_pnl(e.x[np.newaxis, :], g.disc_pos, g.disc_neg, g.factor, scen)
                e.pnl, e.forward = ep.pnl[0], float(ep.forward_contingency[0])
            pnl = pnl + e.pnl
            forward += e.forward
            shorts += sum(max(-n, 0.0) for n in e.net.values())
        coll_total = float(sum(state.collateral.values()))
        pnl = pnl + delta_one_pnl(np.array([coll_total]), scen)[0]
        worst, _ = worst_loss(pnl[np.newaxis, :], np.array([forward]), scen.order)
        mm_haircut, im_haircut, positive = self._haircuts(state)
        spot = self._index(state.underlying)
        perp_notional = abs(state.net_perp) * spot
        oracle = self.oracle_rate * (perp_notional + state.gross_options * spot + positive)
        charges = contingencies(
            perp_notional, shorts * spot, mm_haircut, im_haircut, oracle, p.other_contingency
        )
        im, mm = requirements(float(worst[0]), self.peg_factor, p.margin.mm_factor, charges)
        return max(float(im), 0.0), max(float(mm), 0.0)

    # ------------------------------------------------------------------ pieces
    def _other_margin(self, state: _Unit) -> tuple[float, float]:
        """Return the ``"*"`` unit's IM and MM: other collateral's haircuts and oracle charge."""
        mm, im, positive = self._haircuts(state)
        return mm + im + self.oracle_rate * positive, mm

    def _haircuts(self, state: _Unit) -> tuple[float, float, float]:
        """MM and IM haircuts of the unit's collateral and its positive value (USD)."""
        mm = im = positive = 0.0
        for asset, value in state.collateral.items():
            if value > 0.0:
                params = self._roles[asset].params
                mm += value * params.mm_haircut
                im += value * params.im_haircut
                positive += value
        return mm, im, positive

    def _add(self, state: _Unit, key: int | str, leg: _Leg, quantity: float, held: float) -> None:
        """Add ``quantity`` base units of ``leg`` to a position holding ``held``."""
        state.held[key] = held + quantity
        if not leg.option:
            state.perp_value += quantity * leg.price
            state.net_perp += quantity
            return
        assert leg.group is not None
        assert leg.values is not None
        expiry = state.expiries.get(leg.group)
        if expiry is None:
            params = self._groups[leg.group][1]
            expiry = state.expiries[leg.group] = _Expiry(params, np.zeros(self.scen.size + 3), {})
        expiry.x += quantity * leg.values
        expiry.net[leg.strike] = expiry.net.get(leg.strike, 0.0) + quantity
        expiry.pnl = None
        state.gross_options += abs(held + quantity) - abs(held)

    def _leg(self, change: PositionChange) -> _Leg:
        """Return the leg of a change: the book's, else the instrument revalued alone (cached)."""
        leg = self._legs.get(change.key)
        if leg is None:
            leg = self._legs[change.key] = self._alone(change.instrument)
        return leg

    def _alone(self, one: ResolvedInstruments) -> _Leg:
        """Leg of an instrument the book does not hold, in the book's expiry group if any."""
        self.model.capabilities.check(one.instruments)
        book = BookArrangement(
            account_ids=("order",),
            resolved=one,
            quantity=sparse.csr_array(np.ones((1, 1))),
            market=self.market,
        )
        (uc,) = unit_columns(book, ())
        if uc.perps.size:
            return _Leg(uc.underlying, False, None, None, 0.0, float(one.underlying_usd[0]))
        key = self._group_key(uc.underlying, 0, one)
        known = self._groups.get(key)
        group = (
            uc.groups[0]
            if known is None
            else ExpiryGroup(
                known[0].expiry,
                np.zeros(1, dtype=np.int64),
                known[0].seconds,
                known[0].forward,
                known[0].rate,
            )
        )
        pre = group_precompute(one, [group], self.model.params, self.scen)
        values, disc_pos, disc_neg, factor = (
            pre.values,
            pre.disc_pos,
            pre.disc_neg,
            pre.forward_factor,
        )
        if known is None:
            params = _GroupParams(float(disc_pos[0]), float(disc_neg[0]), float(factor[0]))
            self._groups[key] = (group, params)
        strike = float(one.strike[0] * one.quote_usd[0])
        return _Leg(uc.underlying, True, key, values[0], strike, 0.0)

    def _role(self, asset: str) -> CollateralRole:
        """Return the collateral role of a balance asset (classified once, as the model does)."""
        code = asset.upper()
        role = self._roles.get(code)
        if role is None:
            (role,) = collateral_roles((code,), self.market, self.model.params, self.model.settings)
            self._roles[code] = role
        return role

    @staticmethod
    def _role_unit(role: CollateralRole) -> str | None:
        """Return the unit a balance sits in: its underlying's, ``"*"``, or none (cash)."""
        if role.kind == "risk_cancelling":
            return role.underlying
        if role.kind == "other":
            return _OTHER
        return None

    def _index(self, underlying: str) -> float:
        spot = self._spot.get(underlying)
        if spot is None:
            spot = self._spot[underlying] = self.market.index_price(underlying)
        return spot

"""Derive's PMRM_2 on a general pmargin book, as a :class:`~pmargin.margin.MarginModel`.

One risk unit per underlying, in USD (``usd_rate`` 1), mapped as :mod:`._book` describes, plus
one account-level unit (underlying ``"*"``) for the haircuts of non-risk-cancelling collateral.
The engine (:func:`~pmargin.margin.pmrm2.compute_pmrm2`) margins one portfolio at a time; here
the same stages (:mod:`._stages`) run over accounts: every option of an (underlying, expiry,
settlement currency) group is revalued once per scenario for the whole book, and accounts are
aggregated per expiry with one sparse product, since the static discount depends on the sign
of each account's shocked expiry value.

Requirements, not balances. PMRM_2's IM and MM are balances (healthy when >= 0)::

    IM_balance = worst x im_factor' - MM contingencies - IM contingencies + MtM + cash

pmargin compares a requirement with equity, so each unit reports::

    IM = max(0, -worst x im_factor' + MM contingencies + IM contingencies)
    MM = max(0, -worst x mm_factor  + MM contingencies)

that is ``MtM + cash - balance``. Since ``worst <= 0`` and every contingency is >= 0, the
floor never binds (it only turns a ``-0.0`` into ``0.0``), so ``equity >= IM`` exactly when
``IM_balance >= 0`` whenever pmargin's equity equals Derive's ``MtM + cash``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy import sparse

from pmargin._params import ParamTable
from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.margin._capabilities import Capabilities
from pmargin.margin._params import load_parameter_file
from pmargin.margin._result import MarginResult, RiskUnitMargin
from pmargin.margin._scenario_margin import UnitPositions, proportional_scale, scatter_columns
from pmargin.margin.pmrm2._book import (
    PMRM2_LIMIT,
    BookSettings,
    CollateralRole,
    UnitColumns,
    collateral_roles,
    group_precompute,
    pmrm2_margins,
    stable_price,
    unit_columns,
    unit_portfolio,
)
from pmargin.margin.pmrm2._engine import compute_pmrm2
from pmargin.margin.pmrm2._incremental import Pmrm2Incremental
from pmargin.margin.pmrm2._parameters import Pmrm2Parameters
from pmargin.margin.pmrm2._result import Pmrm2Result
from pmargin.margin.pmrm2._stages import (
    ScenarioArrays,
    confidence_charge,
    contingencies,
    delta_one_pnl,
    expiry_pnl,
    im_loss_factor,
    requirements,
    worst_loss,
)

__all__ = ["COLLATERAL_COMPONENTS", "COMPONENTS", "DerivePmrm2Model"]

COMPONENTS = (
    "worst_loss",
    "forward_contingency",
    "mm_scenario_margin",
    "im_scenario_margin",
    "peg_loss",
    "mm_perp_contingency",
    "im_perp_contingency",
    "mm_option_contingency",
    "im_option_contingency",
    "mm_collateral_haircut",
    "im_collateral_haircut",
    "oracle_contingency",
    "mark_to_market",
)
"""Components of an underlying's unit, USD, each shape ``(n_accounts,)``.

``worst_loss = -min(forward contingency, scenario P&L) >= 0``; ``forward_contingency`` is the
summed forward contingency as a loss (>= 0; it binds when ``worst_scenario`` is its column);
``mm_scenario_margin = worst_loss x mm_factor``, ``im_scenario_margin = worst_loss x
im_factor`` and ``peg_loss = worst_loss x (im_factor' - im_factor)``; contingencies and
haircuts are positive charges; ``mark_to_market`` is Derive's MtM of the unit without cash
(options, risk-cancelling collateral, perp unrealised P&L). Then::

    IM = im_scenario_margin + peg_loss + mm_* + im_* + oracle_contingency
    MM = mm_scenario_margin + mm_*
"""

COLLATERAL_COMPONENTS = (
    "mm_collateral_haircut",
    "im_collateral_haircut",
    "oracle_contingency",
    "mark_to_market",
)
"""Components of the account-level ``"*"`` unit (non-risk-cancelling collateral), USD."""


@dataclass(frozen=True, slots=True)
class _Group:
    """One expiry group's aggregated values, kept for the attribution."""

    columns: IntArray  # the group's book columns, (n_g,)
    positions: UnitPositions  # the group's held positions (one entry per account x option)
    rows: IntArray  # accounts holding the group, (n_r,), ascending
    values: FloatArray  # (n_g, n_s + 3): shocked values, then at spot 1, up, down
    disc: FloatArray  # (n_r, n_s): static discount applied
    sign: FloatArray  # (n_r, n_s): -1 where a skew scenario's P&L was flipped
    side: IntArray  # (n_r,): column of values binding the forward contingency, -1 none
    factor: float  # add + mult T
    naked: FloatArray  # (n_r, n_k): naked shorts per strike
    shorts: FloatArray  # (n_r, n_k): short quantity per strike
    strike_index: IntArray  # (n_g,): strike column of each option


@dataclass(frozen=True, slots=True)
class DerivePmrm2Model:
    """Derive PMRM_2 on a general book; see the module docstring and the docs page.

    Attributes
    ----------
    params
        Validated PMRM_2 parameters (``methodologies/derive-pmrm2.toml`` by default).
    settings
        How balances and feeds map to PMRM_2 (the optional ``[book]`` table).
    name
        ``"derive-pmrm2"``.
    """

    params: Pmrm2Parameters
    settings: BookSettings = field(default_factory=BookSettings)
    name: str = "derive-pmrm2"
    capabilities: ClassVar[Capabilities] = Capabilities(
        scope="account", incremental=True, margins=pmrm2_margins, limit=PMRM2_LIMIT
    )
    """Per underlying plus an account unit ``"*"`` (collateral, oracle contingency) over all
    of them; linear options and perpetuals only; one account's margin after a change from its
    cached per-unit sums (:meth:`incremental`)."""

    @classmethod
    def from_params(cls, params: ParamTable) -> DerivePmrm2Model:
        """Build the model from a parameter table (the registry's entry point)."""
        try:
            parsed = Pmrm2Parameters.from_mapping(params.data)
        except InputError as exc:
            raise InputError(params.field(exc.field), exc.value, exc.reason) from None
        return cls(parsed, BookSettings.from_table(params))

    @classmethod
    def load(cls, path: str | None = None) -> DerivePmrm2Model:
        """Read the shipped (or a user's) parameter file."""
        return cls.from_params(load_parameter_file("derive-pmrm2", path))

    # ------------------------------------------------------------------ public API

    def compute(self, book: BookArrangement) -> MarginResult:
        """Margin every account of ``book`` (see :class:`~pmargin.margin.MarginResult`).

        ``im_contribution``: each position's loss in its unit's binding scenario (or forward
        contingency) times ``im_factor'``, plus its own perp, option and oracle charges; risk-
        cancelling collateral's loss, haircuts and collateral oracle charges are ``im_other``.

        Raises
        ------
        InputError
            For an instrument PMRM_2 cannot margin (inverse, dated future, spot) or a balance
            without collateral parameters.
        """
        self.capabilities.check(book.instruments)
        n_acc, n_inst = book.shape
        roles = collateral_roles(book.assets, book.market, self.params, self.settings)
        scen = ScenarioArrays.of(self.params)
        qc = sparse.csc_array(book.quantity)
        units: list[RiskUnitMargin] = []
        blocks: list[tuple[IntArray, Any]] = []
        im_other = np.zeros(n_acc)
        for columns in unit_columns(book, roles):
            unit, unit_blocks, other = self._unit(book, qc, columns, roles, scen)
            units.append(unit)
            blocks.extend(unit_blocks)
            im_other += other
        collateral = self._collateral_unit(book, roles)
        if collateral is not None:
            units.append(collateral)
            im_other += collateral.initial_margin
        contribution = scatter_columns(blocks, (n_acc, n_inst))
        return MarginResult.from_units(self.name, book, units, contribution, im_other)

    def incremental(self, book: BookArrangement, result: MarginResult) -> Pmrm2Incremental:
        """One account's margin after changes from its cached per-unit sums.

        See ``_incremental.py``; ``result`` is ``self.compute(book)``.
        """
        return Pmrm2Incremental(self, book, result)

    def engine_result(self, book: BookArrangement, account: str, underlying: str) -> Pmrm2Result:
        """Run the one-portfolio engine on one account's market, with every intermediate.

        At the book's market (``book.market``).

        The engine reports Derive's balances (``initial_margin``, ``maintenance_margin``,
        ``mark_to_market`` including the account's cash); the unit's requirement is
        ``mark_to_market - initial_margin``.

        Raises
        ------
        InputError
            For an unknown account, an underlying the book does not hold, or a portfolio the
            engine cannot hold (two perpetuals of one underlying).
        """
        self.capabilities.check(book.instruments)
        row = book.row(account)
        market = book.market
        roles = collateral_roles(book.assets, market, self.params, self.settings)
        for columns in unit_columns(book, roles):
            if columns.underlying == underlying.upper():
                portfolio = unit_portfolio(book, market, row, columns, roles, self.settings)
                return compute_pmrm2(portfolio, self.params)
        raise InputError("underlying", underlying, "is not held in the book")

    # ------------------------------------------------------------------ one underlying

    def _unit(
        self,
        book: BookArrangement,
        qc: Any,
        uc: UnitColumns,
        roles: tuple[CollateralRole, ...],
        scen: ScenarioArrays,
    ) -> tuple[RiskUnitMargin, list[tuple[IntArray, Any]], FloatArray]:
        """Margin, contribution blocks ``(columns, block)`` and ``im_other`` of one underlying.

        One block for the perpetuals and one per expiry group (``(n_acc, n_cols)`` each).
        """
        p = self.params
        other = p.other_contingency
        market = book.market
        res = book.resolved
        n_acc = book.shape[0]
        n_s = scen.size
        spot = market.index_price(uc.underlying)
        move = scen.move  # (n_s,) P&L per USD of delta-one value
        pnl = np.zeros((n_acc, n_s))
        fwd = np.zeros(n_acc)
        mtm = np.zeros(n_acc)
        shorts = np.zeros(n_acc)
        gross_options = np.zeros(n_acc)
        held = np.zeros(n_acc, dtype=bool)

        # precompute and scenario P&L of the options, expiry group by expiry group
        groups = self._options(book, qc, uc, scen, pnl, fwd, mtm, shorts, gross_options, held)

        # scenario P&L of the perpetuals: P&L of the USD notional, net position for the contingency
        perps = UnitPositions.of(qc, uc.perps) if uc.perps.size else None
        perp_price = res.underlying_usd[uc.perps]
        net_perp = np.zeros(n_acc)
        gross_perp = np.zeros(n_acc)
        if perps is not None:
            perp = perps.block
            held |= perps.held
            pnl += delta_one_pnl(_dense(perp @ perp_price, n_acc), scen)
            net_perp = _dense(perp.sum(axis=1), n_acc)
            gross_perp = _dense(abs(perp).sum(axis=1), n_acc)
            upnl = sparse.csr_array(book.unrealised)[:, uc.perps] @ res.settlement_usd[uc.perps]
            mtm += _dense(upnl, n_acc)

        # scenario P&L of risk-cancelling collateral, shocked with spot
        coll_value = np.zeros((n_acc, uc.collateral.size))
        if uc.collateral.size:
            prices = np.array([market.usd_price(roles[int(k)].asset) for k in uc.collateral])
            coll_value = book.balance_matrix[:, uc.collateral] * prices
            held |= np.any(coll_value != 0.0, axis=1)
        coll_total = coll_value.sum(axis=1)
        pnl += delta_one_pnl(coll_total, scen)
        mtm += coll_total
        coll_pos = np.maximum(coll_value, 0.0)
        coll_params = [roles[int(k)].params for k in uc.collateral]
        mm_haircut = coll_pos @ np.array([c.mm_haircut for c in coll_params])
        im_haircut = coll_pos @ np.array([c.im_haircut for c in coll_params])

        # aggregate (reduce, then charges): worst loss x factor plus contingencies
        worst, binding = worst_loss(pnl, fwd, scen.order)
        binding = np.where(worst < 0.0, binding, -1).astype(np.int64)
        peg_factor = im_loss_factor(p, stable_price(market, self.settings))
        oracle_rate = self._oracle_rate()
        perp_notional = np.abs(net_perp) * spot
        charges = contingencies(
            perp_notional,
            shorts * spot,
            mm_haircut,
            im_haircut,
            oracle_rate * (perp_notional + gross_options * spot + coll_pos.sum(axis=1)),
            other,
        )
        im, mm = requirements(worst, peg_factor, p.margin.mm_factor, charges)
        im, mm = np.maximum(im, 0.0), np.maximum(mm, 0.0)
        loss = -worst
        base_factor = p.margin.im_factor
        components = {
            "worst_loss": loss,
            "forward_contingency": -fwd,
            "mm_scenario_margin": loss * p.margin.mm_factor,
            "im_scenario_margin": loss * base_factor,
            "peg_loss": loss * (peg_factor - base_factor),
            "mm_perp_contingency": charges.mm_perp,
            "im_perp_contingency": charges.im_perp,
            "mm_option_contingency": charges.mm_option,
            "im_option_contingency": charges.im_option,
            "mm_collateral_haircut": mm_haircut,
            "im_collateral_haircut": im_haircut,
            "oracle_contingency": charges.oracle,
            "mark_to_market": mtm,
        }
        unit = RiskUnitMargin(
            underlying=uc.underlying,
            currency="USD",
            usd_rate=1.0,
            initial_margin=im,
            maintenance_margin=mm,
            components={k: components[k] for k in COMPONENTS},
            scenario_labels=scen.labels,
            scenario_pnl=np.column_stack([pnl, fwd]),
            worst_scenario=binding,
            held=held,
        )

        # attribution (the shared stage): each position's loss in its account's binding
        # scenario (or forward contingency) x im_factor', plus its own charges
        blocks: list[tuple[IntArray, Any]] = []
        weight = np.full(n_acc, peg_factor)
        scenario_move = np.append(move, 0.0)  # the forward contingency's column: no move
        if perps is not None:
            perp_pnl = np.outer(perp_price, scenario_move)  # (n_perps, n_s + 1) per base unit
            own = (other.mm_perp_percent + other.im_perp_percent + oracle_rate) * perp_notional
            values = perps.binding_loss(perp_pnl, binding, weight) + perps.gross_share(
                np.ones(uc.perps.size), proportional_scale(own, gross_perp)
            )
            blocks.append((uc.perps, perps.contribution(values)))
        option_pct = other.mm_option_percent + other.im_option_percent
        for g in groups:
            positions = g.positions
            values = -peg_factor * _option_binding_pnl(g, positions, binding, scen)
            k = g.strike_index[positions.local]
            holder = np.searchsorted(g.rows, positions.account)
            q = positions.quantity
            at_strike = g.shorts[holder, k]
            naked_share = np.divide(
                g.naked[holder, k] * np.maximum(-q, 0.0),
                at_strike,
                out=np.zeros_like(q),
                where=at_strike > 0,
            )
            oracle = positions.gross_share(np.full(g.columns.size, oracle_rate * spot))
            own = option_pct * spot * naked_share + oracle
            blocks.append((g.columns, positions.contribution(values + own)))
        in_scenario = np.where(binding >= 0, scenario_move[np.maximum(binding, 0)], 0.0)
        im_other = (
            -peg_factor * coll_total * in_scenario
            + mm_haircut
            + im_haircut
            + oracle_rate * coll_pos.sum(axis=1)
        )
        return unit, blocks, im_other

    def _options(
        self,
        book: BookArrangement,
        qc: Any,
        uc: UnitColumns,
        scen: ScenarioArrays,
        pnl: FloatArray,
        fwd: FloatArray,
        mtm: FloatArray,
        shorts: FloatArray,
        gross: FloatArray,
        held: BoolArray,
    ) -> list[_Group]:
        """Revalue the unit's options once per scenario; add each account's expiry P&L.

        Updates ``pnl``, ``fwd`` (forward contingency), ``mtm``, ``shorts`` (naked short
        quantity), ``gross`` (sum of |amount|) and ``held`` in place.
        """
        if not uc.groups:
            return []
        res = book.resolved
        cols = np.concatenate([g.columns for g in uc.groups])
        strike = res.strike[cols] * res.quote_usd[cols]
        pre = group_precompute(res, uc.groups, self.params, scen)
        groups = []
        start = 0
        for i, g in enumerate(uc.groups):
            n_g = g.columns.size
            vals = pre.values[start : start + n_g]
            positions = UnitPositions.of(qc, g.columns)
            a = positions.block
            rows = np.flatnonzero(positions.held)
            if rows.size:
                held[rows] = True
                ar = sparse.csr_array(a[rows])
                x = np.asarray(ar @ vals, dtype=np.float64)
                ep = expiry_pnl(x, pre.disc_pos[i], pre.disc_neg[i], pre.forward_factor[i], scen)
                pnl[rows] += ep.pnl
                fwd[rows] += ep.forward_contingency
                mtm[rows] += ep.mtm
                unique, strike_index = np.unique(strike[start : start + n_g], return_inverse=True)
                onehot = sparse.csr_array(
                    (np.ones(n_g), (np.arange(n_g), strike_index)), shape=(n_g, unique.size)
                )
                net = (ar @ onehot).toarray()
                short = (sparse.csr_array(ar.minimum(0.0)) @ onehot).toarray() * -1.0
                naked = np.maximum(-net, 0.0)
                shorts[rows] += naked.sum(axis=1)
                gross[rows] += _dense(abs(ar).sum(axis=1), rows.size)
                groups.append(
                    _Group(
                        g.columns,
                        positions,
                        rows,
                        vals,
                        ep.disc,
                        ep.sign,
                        ep.side,
                        float(pre.forward_factor[i]),
                        naked,
                        short,
                        strike_index.astype(np.int64),
                    )
                )
            start += n_g
        return groups

    # ------------------------------------------------------------------ other collateral

    def _oracle_rate(self) -> float:
        """Oracle contingency per USD of notional: one feed confidence for every feed."""
        other = self.params.other_contingency
        conf = self.settings.feed_confidence
        return float(confidence_charge(conf, 1.0, other.conf_threshold, other.conf_margin))

    def _collateral_unit(
        self,
        book: BookArrangement,
        roles: tuple[CollateralRole, ...],
    ) -> RiskUnitMargin | None:
        """Haircuts (and oracle charge) of non-risk-cancelling collateral, or None."""
        market = book.market
        cols = np.array([k for k, r in enumerate(roles) if r.kind == "other"], dtype=np.int64)
        if not cols.size:
            return None
        prices = np.array([market.usd_price(roles[int(k)].asset) for k in cols])
        value = book.balance_matrix[:, cols] * prices
        positive = np.maximum(value, 0.0)
        mm = positive @ np.array([roles[int(k)].params.mm_haircut for k in cols])
        im = positive @ np.array([roles[int(k)].params.im_haircut for k in cols])
        oracle = self._oracle_rate() * positive.sum(axis=1)
        components = dict(
            zip(COLLATERAL_COMPONENTS, (mm, im, oracle, value.sum(axis=1)), strict=True)
        )
        return RiskUnitMargin(
            underlying="*",
            currency="USD",
            usd_rate=1.0,
            initial_margin=mm + im + oracle,
            maintenance_margin=mm,
            components=components,
            held=np.any(value != 0.0, axis=1),
        )


def _option_binding_pnl(
    group: _Group, positions: UnitPositions, binding: IntArray, scen: ScenarioArrays
) -> FloatArray:
    """Each option position's P&L where its account's loss binds, USD, ``(n_entries,)``.

    In a scenario ``s`` (binding ``< n_s``): ``sign x (disc x q x value_s - q x mtm) x damp``
    with the account's own expiry discount and skew sign there; at the forward contingency
    (binding ``== n_s``): ``q x (value at the binding basis side - mtm) x factor``, 0 where no
    side binds; 0 where nothing binds (-1). PMRM_2's P&L per unit depends on the account (the
    static discount follows the sign of its expiry value), so the binding column comes from
    the shared stage (:meth:`UnitPositions.binding_column`) and the P&L is computed here.
    """
    n_s = scen.size
    column, binds = positions.binding_column(binding)
    holder = np.searchsorted(group.rows, positions.account)
    col, q = positions.local, positions.quantity
    values = group.values
    s = np.minimum(column, n_s - 1)
    in_scenario = binds & (column < n_s)
    scenario_pnl = (
        group.sign[holder, s]
        * (group.disc[holder, s] * q * values[col, s] - q * values[col, n_s])
        * scen.damp[s]
    )
    side = group.side[holder]
    side_c = np.where(side >= 0, side, n_s)
    forward_pnl = np.where(
        side >= 0, q * (values[col, side_c] - values[col, n_s]) * group.factor, 0.0
    )
    result: FloatArray = np.where(
        in_scenario, scenario_pnl, np.where(binds & (column == n_s), forward_pnl, 0.0)
    )
    return result


def _dense(value: Any, n: int) -> FloatArray:
    """Return a sparse or dense product/sum as a flat float64 array of length ``n``."""
    if sparse.issparse(value):
        value = value.toarray()
    return np.asarray(value, dtype=np.float64).reshape(n)

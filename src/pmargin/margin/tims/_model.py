"""The TIMS model: US customer portfolio margin on class groups of one underlying each.

For each account and class group (all positions on one underlying; USD)::

    P&L_k       = sum of the positions' P&L at valuation point k (10 points, zero excluded)
    largest_loss = max(0, -min_k P&L_k)
    minimum      = sum over option/future positions of 0.375 x multiplier x |contracts|
    standalone   = max(largest_loss, minimum)

Class groups of one product group are margined together: at each point a member's loss counts
in full and its gain at the group's ``offset``; the group requirement is
``max(largest group loss, sum of the members' minimums)``, shared among the members in
proportion to their standalone requirements. The binding point is the first on ties (the
largest fall first). Reduce and attribution are the shared stages of
:mod:`pmargin.margin._scenario_margin` (a position's loss at the binding point is weighted by
its class group's offset factor there). Initial = maintenance margin. Parameters:
``methodologies/tims.toml``; see docs/margin-tims.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import sparse

from pmargin._params import ParamTable
from pmargin._typing import FloatArray, IntArray
from pmargin.book import BookArrangement
from pmargin.margin._capabilities import Capabilities
from pmargin.margin._result import MarginResult, RiskUnitMargin
from pmargin.margin._scenario_margin import (
    UnitPositions,
    group_columns,
    proportional_scale,
    scatter_columns,
    unit_pnl,
    worst_loss,
)
from pmargin.margin.tims._incremental import TimsIncremental
from pmargin.margin.tims._params import TimsParams
from pmargin.margin.tims._pieces import (
    offset_factors,
    offset_pnl,
    per_contract_minimum,
    valuation_points,
)
from pmargin.risk import instrument_pnl, settlement_to_usd
from pmargin.valuation import ResolvedInstruments

__all__ = ["COMPONENTS", "TimsModel"]

COMPONENTS = ("largest_loss", "minimum", "standalone", "offset_credit", "requirement")
"""Component names of each class group (USD): ``requirement = standalone - offset_credit``."""


@dataclass(frozen=True, slots=True)
class _ClassGroup:
    """One class group's arrays for every account."""

    underlying: str
    columns: IntArray
    positions: UnitPositions
    pnl: FloatArray  # (n_accounts, n_points)
    loss: FloatArray
    worst: IntArray
    minimum: FloatArray


@dataclass(frozen=True, slots=True)
class TimsModel:
    """US customer portfolio margin (OCC TIMS / Cboe 10.4 / FINRA 4210(g)).

    Attributes
    ----------
    params
        The validated parameter file.
    name
        ``"tims"``.
    """

    params: TimsParams
    name: str = "tims"
    capabilities: ClassVar[Capabilities] = Capabilities(scope="account", incremental=True)
    """Class groups, offset within product groups that can span underlyings; one account's
    margin after an order from its cached class-group vectors (:meth:`incremental`)."""

    @classmethod
    def from_params(cls, params: ParamTable) -> TimsModel:
        """Build the model from a parsed ``tims.toml`` (validated here)."""
        return cls(TimsParams.from_table(params))

    def compute(self, book: BookArrangement) -> MarginResult:
        """Margin every account of ``book`` (USD; IM = MM).

        Parameters
        ----------
        book
            Accounts x instruments (base-unit quantities), at its market (only its timestamp
            is read here).

        Returns
        -------
        MarginResult
            One risk unit per class group with the components of :data:`COMPONENTS`; IM
            contributions add up to IM per account (``im_other`` is 0).
        """
        n_accounts, n_inst = book.shape
        quantity = sparse.csr_array(book.quantity)
        resolved = book.resolved
        # precompute: each instrument's P&L at its points; arrange units: class groups, each
        # with its scenario P&L and standalone reduce
        pnl = self._instrument_pnl(resolved)
        minimum_rate = self._minimum_rate(resolved)
        classes = [
            self._class_group(u, cols, quantity, pnl, minimum_rate)
            for u, cols in group_columns(book.instruments, lambda i: i.underlying).items()
        ]
        by_product: dict[str, list[_ClassGroup]] = {}
        for group in classes:
            product = self.params.product_group(group.underlying)
            by_product.setdefault(group.underlying if product is None else product.name, []).append(
                group
            )
        units: dict[str, RiskUnitMargin] = {}
        parts: list[tuple[IntArray, Any]] = []
        for members in by_product.values():
            product = self.params.product_group(members[0].underlying)
            offset = 1.0 if product is None else product.offset
            # reduce, charges and attribution of one product group
            for unit, part in self._product_group(members, offset, quantity, pnl, minimum_rate):
                units[unit.underlying] = unit
                parts.append(part)
        ordered = tuple(units[g.underlying] for g in classes)
        contribution = scatter_columns(parts, (n_accounts, n_inst))
        return MarginResult.from_units(self.name, book, ordered, contribution)

    def incremental(self, book: BookArrangement, result: MarginResult) -> TimsIncremental:
        """One account's margin after changes from its cached class-group vectors.

        See ``_incremental.py``; ``result`` is ``self.compute(book)``.
        """
        return TimsIncremental(self, book, result)

    def points(self, underlying: str) -> FloatArray:
        """Valuation points (relative moves) of an underlying, shape ``(2 * per_side,)``."""
        kind = self.params.portfolio_type(underlying)
        return valuation_points(kind.down, kind.up, self.params.points_per_side)

    def _instrument_pnl(self, resolved: ResolvedInstruments) -> FloatArray:
        """USD P&L per base unit at each instrument's points, vols unchanged."""
        n_points = 2 * self.params.points_per_side
        if len(resolved) == 0:
            return np.zeros((0, n_points))
        moves = np.stack([self.points(i.underlying) for i in resolved.instruments])
        mult = 1.0 + moves
        pnl = instrument_pnl(resolved, mult, resolved.vol[:, np.newaxis])
        return settlement_to_usd(resolved, pnl, mult)

    def _minimum_rate(self, resolved: ResolvedInstruments) -> FloatArray:
        """Minimum per base unit held (USD): ``per_contract`` for charged kinds, else 0.

        A contract of ``multiplier`` units of underlying held ``c`` times is ``c x multiplier``
        base units, so ``0.375 x multiplier x |contracts|`` is ``0.375`` per base unit.
        """
        kinds = self.params.minimum_kinds
        charged = np.array([i.kind in kinds for i in resolved.instruments], dtype=bool)
        multiplier = np.ones(len(resolved))
        return np.where(
            charged, per_contract_minimum(1.0, multiplier, self.params.per_contract), 0.0
        )

    def _class_group(
        self,
        underlying: str,
        columns: IntArray,
        quantity: Any,
        pnl: FloatArray,
        minimum_rate: FloatArray,
    ) -> _ClassGroup:
        group_pnl = unit_pnl(quantity, columns, pnl[columns])
        loss, worst = worst_loss(group_pnl)
        positions = UnitPositions.of(quantity, columns)
        minimum = positions.gross(minimum_rate[columns])
        return _ClassGroup(underlying, columns, positions, group_pnl, loss, worst, minimum)

    def _product_group(
        self,
        members: list[_ClassGroup],
        offset: float,
        quantity: Any,
        pnl: FloatArray,
        minimum_rate: FloatArray,
    ) -> list[tuple[RiskUnitMargin, tuple[IntArray, Any]]]:
        # reduce: the product group's worst offset loss (first point on ties) and its point
        stacked = np.stack([m.pnl for m in members])  # (n_members, n_accounts, n_points)
        group_loss, group_worst = worst_loss(offset_pnl(stacked, offset))
        # charges: max(loss, minimum), shared in proportion to the standalone requirements
        group_minimum = np.sum([m.minimum for m in members], axis=0)
        requirement = np.maximum(group_loss, group_minimum)
        loss_binds = group_loss >= group_minimum
        standalone = [np.maximum(m.loss, m.minimum) for m in members]
        share = proportional_scale(requirement, np.sum(standalone, axis=0))
        factors = offset_factors(stacked, offset)
        accounts = np.arange(quantity.shape[0])
        point = np.maximum(group_worst, 0)
        result = []
        for k, member in enumerate(members):
            allocated = standalone[k] * share
            # attribution: each position's loss at the group's binding point, times its class
            # group's offset factor there, or its own minimum when the minimum binds
            positions = member.positions
            rate = minimum_rate[member.columns]
            at_point = positions.binding_loss(
                pnl[member.columns], group_worst, factors[k, accounts, point]
            )
            values = positions.binding_branch(loss_binds, at_point, positions.gross_share(rate))
            contribution = positions.contribution(values)
            components = dict(
                zip(
                    COMPONENTS,
                    (
                        member.loss,
                        member.minimum,
                        standalone[k],
                        standalone[k] - allocated,
                        allocated,
                    ),
                    strict=True,
                )
            )
            labels = tuple(
                f"{member.underlying} {m * 100:+.4g}%" for m in self.points(member.underlying)
            )
            unit = RiskUnitMargin(
                underlying=member.underlying,
                currency="USD",
                usd_rate=1.0,
                initial_margin=allocated,
                maintenance_margin=allocated.copy(),
                components=components,
                scenario_labels=labels,
                scenario_pnl=member.pnl,
                worst_scenario=member.worst,
                held=member.positions.held,
            )
            result.append((unit, (member.columns, contribution)))
        return result

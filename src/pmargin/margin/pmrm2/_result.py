"""The result of one PMRM_2 market: IM, MM and every intermediate.

Amounts are USD (cash in stablecoin units). Contingencies and haircuts are positive charges
that margin subtracts; scenario P&L is signed (a loss is negative), as in Derive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pmargin._typing import FloatArray
from pmargin.margin._scenario_margin import binding_scenario
from pmargin.margin.pmrm2._parameters import Scenario
from pmargin.margin.pmrm2._precompute import SkewMultipliers
from pmargin.margin.pmrm2._stages import Contingencies, ScenarioKind, requirements

__all__ = ["Pmrm2Result"]


@dataclass(frozen=True, slots=True)
class Pmrm2Result:
    """IM, MM and intermediates of one account in one PMRM_2 market.

    Shapes: ``n_s`` scenarios, ``n_e`` expiries, ``n_o`` options (in the portfolio's order),
    ``n_c`` collaterals.

    Attributes
    ----------
    scenarios, scenario_kinds
        The scenarios and their reporting group, length ``n_s``.
    scenario_pnl
        Shape ``(n_s,)``: P&L of each scenario relative to the MtM, dampened, USD.
    worst_loss
        ``min(forward contingency, scenario P&L)``, USD, <= 0.
    worst_scenario
        Index into ``scenarios`` of the worst, or -1 when the forward contingency is worst.
    forward_contingency_per_expiry
        Shape ``(n_e,)``: forward (basis) contingency, USD, <= 0.
    expiry_mtm, expiry_mtm_discounted
        Shape ``(n_e,)``: option value per expiry, and it times its static discount, USD.
    expiry_basis_up_mtm, expiry_basis_down_mtm
        Shape ``(n_e,)``: option value per expiry at the basis spot multipliers, USD.
    discount
        Shape ``(n_e,)``: ``exp(-max(r, 0) T)``.
    static_discount_pos, static_discount_neg
        Shape ``(n_e,)``: factors on positive / negative shocked expiry values.
    vol_shock_up, vol_shock_down
        Shape ``(n_e,)``: vol multipliers of the up / down scenarios.
    option_vol_up, option_vol_down
        Shape ``(n_o,)``: vols used in the up / down scenarios (up floored at the minimum).
    option_expiry_index
        Shape ``(n_o,)``: expiry row of each option.
    skew
        Per-option skew quantities, shape ``(n_o,)`` each.
    collateral_value
        Shape ``(n_c,)``: collateral value in stablecoin units (``amount * price / stable``).
    cash, perp_unrealised_pnl, perp_unrealised_funding
        As in the portfolio.
    mark_to_market
        Options + collaterals + perp P&L and funding + cash.
    mm_factor, im_factor
        Factors on the worst loss; ``im_factor`` includes the peg loss.
    mm_perp_contingency, im_perp_contingency
        ``|perp| * spot * percent`` (IM's is on top of MM's).
    mm_option_contingency, im_option_contingency
        ``naked shorts * spot * percent``.
    mm_collateral_haircut, im_collateral_haircut
        ``sum(value * haircut)``.
    oracle_contingency
        Confidence contingency of perp, expiries and collaterals (IM only).
    """

    scenarios: tuple[Scenario, ...]
    scenario_kinds: tuple[ScenarioKind, ...]
    scenario_pnl: FloatArray
    worst_loss: float
    worst_scenario: int
    forward_contingency_per_expiry: FloatArray
    expiry_mtm: FloatArray
    expiry_mtm_discounted: FloatArray
    expiry_basis_up_mtm: FloatArray
    expiry_basis_down_mtm: FloatArray
    discount: FloatArray
    static_discount_pos: FloatArray
    static_discount_neg: FloatArray
    vol_shock_up: FloatArray
    vol_shock_down: FloatArray
    option_vol_up: FloatArray
    option_vol_down: FloatArray
    option_expiry_index: npt.NDArray[np.int64]
    skew: SkewMultipliers
    collateral_value: FloatArray
    cash: float
    perp_unrealised_pnl: float
    perp_unrealised_funding: float
    mark_to_market: float
    mm_factor: float
    im_factor: float
    mm_perp_contingency: float
    im_perp_contingency: float
    mm_option_contingency: float
    im_option_contingency: float
    mm_collateral_haircut: float
    im_collateral_haircut: float
    oracle_contingency: float

    @property
    def forward_contingency(self) -> float:
        """Total forward contingency, USD, <= 0."""
        return float(self.forward_contingency_per_expiry.sum())

    @property
    def contingencies(self) -> Contingencies:
        """The positive charges, USD, as the aggregate stage takes them."""
        return Contingencies(
            self.mm_perp_contingency,
            self.im_perp_contingency,
            self.mm_option_contingency,
            self.im_option_contingency,
            self.mm_collateral_haircut,
            self.im_collateral_haircut,
            self.oracle_contingency,
        )

    @property
    def mm_contingency(self) -> float:
        """Charges subtracted from MM (and IM): perp, option, collateral haircut."""
        return float(self.contingencies.mm)

    @property
    def im_contingency(self) -> float:
        """Charges subtracted from IM on top of MM's: perp, option, haircut, oracle."""
        return float(self.contingencies.im)

    @property
    def requirements(self) -> tuple[float, float]:
        """``(IM, MM)`` requirements: ``-worst x factor + contingencies``, USD, >= 0."""
        im, mm = requirements(self.worst_loss, self.im_factor, self.mm_factor, self.contingencies)
        return float(im), float(mm)

    @property
    def maintenance_margin(self) -> float:
        """``worst * mm_factor - MM contingencies + MtM`` (healthy when >= 0), USD."""
        return self.mark_to_market - self.requirements[1]

    @property
    def initial_margin(self) -> float:
        """``worst * im_factor - MM and IM contingencies + MtM`` (trades need >= 0), USD."""
        return self.mark_to_market - self.requirements[0]

    @property
    def option_mtm(self) -> float:
        """Total option value, USD."""
        return float(self.expiry_mtm.sum())

    @property
    def worst_kind(self) -> str:
        """Group of the worst: ``"regular"``, ``"tail"``, ``"skew"`` or ``"forward"``."""
        if self.worst_scenario < 0:
            return "forward"
        return self.scenario_kinds[self.worst_scenario].value

    def indices(self, kind: ScenarioKind) -> list[int]:
        """Scenario indices of one group, in order."""
        return [i for i, k in enumerate(self.scenario_kinds) if k is kind]

    def worst_of(self, kind: ScenarioKind) -> int:
        """Index of the worst scenario of one group (first on ties), -1 if the group is empty."""
        idx = self.indices(kind)
        if not idx:
            return -1
        _, column = binding_scenario(self.scenario_pnl[np.newaxis, idx])
        return idx[int(column[0])]

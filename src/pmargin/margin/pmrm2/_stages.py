"""The stages of PMRM_2, shared by the one-portfolio engine and the batched model.

Named as Derive's ``PMRMLib_2`` runs them, for one market (underlying):

1. **arrange**: options grouped by expiry (the engine's :class:`Pmrm2Portfolio`, the model's
   :class:`~pmargin.margin.pmrm2._book.UnitColumns`); not here.
2. **precompute** (:func:`precompute_options`, :class:`ScenarioArrays`): what does not depend
   on the holdings: per expiry the discount, vol shocks, static discounts and forward
   contingency factor, per option the skew multipliers, scenario vols and its value in every
   scenario and at the spot, basis-up and basis-down forwards.
3. **scenario P&L** (:func:`expiry_pnl`, :func:`delta_one_pnl`): each holder's expiry values
   discounted, dampened and (skew scenarios) turned into losses, with the forward (basis)
   contingency; perpetuals and risk-cancelling collateral move with spot.
4. **aggregate** (:func:`worst_loss`, :func:`contingencies`, :func:`requirements`): worst loss
   times the factor (raised by the peg loss, :func:`im_loss_factor`) plus the contingencies;
   Derive's balance is the mark-to-market minus that requirement.
5. **report**: the engine's :class:`~pmargin.margin.pmrm2.Pmrm2Result`, the model's risk units.

Every function takes arrays with a leading "holder" axis: the model's accounts, or one
portfolio's expiries, so that both call the same code. Amounts are USD; P&L is signed (a
loss is negative); contingencies are positive charges.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.margin._scenario_margin import binding_scenario
from pmargin.margin.pmrm2._parameters import (
    OtherContingencyParameters,
    Pmrm2Parameters,
    Scenario,
    VolShockDirection,
)
from pmargin.margin.pmrm2._precompute import (
    SkewMultipliers,
    skew_multipliers,
    static_discounts,
    vol_shock_multipliers,
)
from pmargin.pricing import black76_value
from pmargin.timeutil import SECONDS_PER_YEAR

__all__ = [
    "FORWARD_LABEL",
    "Contingencies",
    "ExpiryPnl",
    "OptionPrecompute",
    "ScenarioArrays",
    "ScenarioKind",
    "confidence_charge",
    "contingencies",
    "delta_one_pnl",
    "expiry_pnl",
    "im_loss_factor",
    "precompute_options",
    "requirements",
    "worst_loss",
]

FORWARD_LABEL = "forward contingency"
"""Label of the column after the scenarios: the summed forward contingency, which competes
with the scenarios for the worst loss."""


class ScenarioKind(StrEnum):
    """Reporting group of a scenario, in tie-break order."""

    REGULAR = "regular"
    TAIL = "tail"
    SKEW = "skew"


@dataclass(frozen=True, slots=True)
class ScenarioArrays:
    """The scenario list as arrays, built once per parameter set.

    Attributes
    ----------
    shocks, damp
        Shape ``(n_s,)``: spot multipliers and dampening factors.
    is_skew
        Shape ``(n_s,)``: skew scenarios (priced at the unshocked forward, P&L made a loss).
    kinds
        Reporting group of each scenario: skew, regular (``|shock - 1| <=
        regular_max_spot_move``) or tail.
    order
        Shape ``(n_s,)``: scenario indices in tie-break order (regular, tail, skew).
    labels
        ``n_s + 1`` labels, :data:`FORWARD_LABEL` last.
    """

    shocks: FloatArray
    damp: FloatArray
    is_skew: BoolArray
    kinds: tuple[ScenarioKind, ...]
    order: IntArray
    labels: tuple[str, ...]

    @classmethod
    def of(cls, params: Pmrm2Parameters) -> ScenarioArrays:
        """Arrays of ``params.scenarios``, built once per scenario list (cached, read-only)."""
        return _scenario_arrays(params.scenarios, params.regular_max_spot_move)

    @property
    def size(self) -> int:
        """Number of scenarios ``n_s``."""
        return int(self.shocks.shape[0])

    @property
    def move(self) -> FloatArray:
        """Shape ``(n_s,)``: dampened relative spot move, the P&L of 1 USD of delta-one value."""
        result: FloatArray = (self.shocks - 1.0) * self.damp
        return result


@lru_cache(maxsize=16)
def _scenario_arrays(scen: tuple[Scenario, ...], regular_max_spot_move: float) -> ScenarioArrays:
    """Build :class:`ScenarioArrays` (cached per scenario list; its arrays are read-only)."""
    kinds = []
    for s in scen:
        if s.vol_shock.is_skew:
            kinds.append(ScenarioKind.SKEW)
        elif abs(s.spot_shock - 1.0) <= regular_max_spot_move + 1e-12:
            kinds.append(ScenarioKind.REGULAR)
        else:
            kinds.append(ScenarioKind.TAIL)
    order = [i for kind in ScenarioKind for i in range(len(scen)) if kinds[i] is kind]
    arrays = (
        np.array([s.spot_shock for s in scen], dtype=np.float64),
        np.array([s.dampening for s in scen], dtype=np.float64),
        np.array([s.vol_shock.is_skew for s in scen], dtype=bool),
        np.asarray(order, dtype=np.int64),
    )
    for array in arrays:
        array.flags.writeable = False
    shocks, damp, is_skew, order_array = arrays
    labels = (*(s.label for s in scen), FORWARD_LABEL)
    return ScenarioArrays(shocks, damp, is_skew, tuple(kinds), order_array, labels)


class OptionPrecompute(NamedTuple):
    """What PMRM_2 computes before any holding: per expiry ``(n_e,)``, per option ``(n_o,)``."""

    year: FloatArray
    """Time to expiry, years (``seconds / SECONDS_PER_YEAR``), ``(n_e,)``."""
    rate: FloatArray
    """Rate floored at 0, decimal per year, ``(n_e,)``."""
    discount: FloatArray
    """``exp(-rate * year)``, ``(n_e,)``."""
    vol_up: FloatArray
    """Vol multiplier of the up scenarios, ``(n_e,)``."""
    vol_down: FloatArray
    """Vol multiplier of the down scenarios, ``(n_e,)``."""
    disc_pos: FloatArray
    """Static discount of a positive shocked expiry value, ``(n_e,)``."""
    disc_neg: FloatArray
    """Static discount of a negative shocked expiry value, ``(n_e,)``."""
    forward_factor: FloatArray
    """``add_factor + mult_factor * year``, the forward contingency's factor, ``(n_e,)``."""
    skew: SkewMultipliers
    """Skew quantities of each option, ``(n_o,)`` each."""
    option_vol_up: FloatArray
    """Vol of each option in the up scenarios (floored at ``min_vol_up_shock``), ``(n_o,)``."""
    option_vol_down: FloatArray
    """Vol of each option in the down scenarios, ``(n_o,)``."""
    values: FloatArray
    """``(n_o, n_s + 3)``: value of one unit of each option (USD) in every scenario, then at
    spot 1, basis up and basis down with unshocked vols."""


def precompute_options(
    seconds: FloatArray,
    forward_fixed: FloatArray,
    forward_variable: FloatArray,
    rate: FloatArray,
    expiry_index: IntArray,
    strike: FloatArray,
    is_call: BoolArray,
    vol: FloatArray,
    params: Pmrm2Parameters,
    scen: ScenarioArrays,
) -> OptionPrecompute:
    """Precompute stage: revalue every option once per scenario, before any holding.

    The forward of a spot multiplier ``s`` is ``forward_fixed + forward_variable * s``; skew
    scenarios are priced at ``s = 1`` (Derive moves only perps and collateral in them).

    Parameters
    ----------
    seconds, forward_fixed, forward_variable, rate
        Shape ``(n_e,)``: seconds to expiry, the fixed and spot-moving parts of the forward
        (USD), the rate (decimal per year, floored at 0 here).
    expiry_index
        Shape ``(n_o,)``: expiry of each option.
    strike, is_call, vol
        Shape ``(n_o,)``: strike (USD), right, mark vol (decimal).
    params
        PMRM_2 parameters.
    scen
        The scenarios as arrays.

    Returns
    -------
    OptionPrecompute
        Every scenario-independent intermediate and the value matrix ``(n_o, n_s + 3)``.
    """
    p = params
    e = expiry_index
    year = seconds / SECONDS_PER_YEAR
    rate = np.maximum(rate, 0.0)
    discount = np.exp(-rate * year)
    up, down = vol_shock_multipliers(seconds, p.vol_shock)
    disc_pos, disc_neg = static_discounts(year, rate, discount, p.margin)
    basis = p.basis_contingency
    factor = basis.add_factor + basis.mult_factor * year
    skew = skew_multipliers(strike, (forward_fixed + forward_variable)[e], year[e], p.skew_shock)
    vol_up = np.maximum(p.vol_shock.min_vol_up_shock, vol * up[e])
    vol_down = vol * down[e]
    by_direction = {
        VolShockDirection.UP: vol_up,
        VolShockDirection.DOWN: vol_down,
        VolShockDirection.LINEAR: vol * np.maximum(skew.linear, 0.0),
        VolShockDirection.ABS: vol * np.maximum(skew.abs, 0.0),
        VolShockDirection.NONE: vol,
    }
    vols = np.stack([*(by_direction[s.vol_shock] for s in p.scenarios), vol, vol, vol])
    shocks = np.concatenate(
        [
            np.where(scen.is_skew, 1.0, scen.shocks),
            [1.0, basis.scenario_spot_up, basis.scenario_spot_down],
        ]
    )
    forward = forward_fixed[e] + forward_variable[e] * shocks[:, None]
    values = black76_value(forward, strike, year[e], vols, is_call, rate[e]).T
    return OptionPrecompute(
        year, rate, discount, up, down, disc_pos, disc_neg, factor, skew, vol_up, vol_down, values
    )


class ExpiryPnl(NamedTuple):
    """Scenario stage of one expiry for ``n_r`` holders (accounts, or a portfolio's expiries)."""

    pnl: FloatArray
    """``(n_r, n_s)``: discounted, dampened P&L against the mark; skew scenarios as losses."""
    mtm: FloatArray
    """``(n_r,)``: mark-to-market (value at spot 1), USD."""
    up_mtm: FloatArray
    """``(n_r,)``: value at the basis-up spot."""
    down_mtm: FloatArray
    """``(n_r,)``: value at the basis-down spot."""
    forward_contingency: FloatArray
    """``(n_r,)``: ``min(up - mtm, down - mtm, 0) * factor``, USD, <= 0."""
    disc: FloatArray
    """``(n_r, n_s)``: the static discount applied to each shocked value."""
    sign: FloatArray
    """``(n_r, n_s)``: -1 where a skew scenario's gain was turned into a loss, else 1."""
    side: IntArray
    """``(n_r,)``: column of the value matrix setting the forward contingency (``n_s + 1`` up,
    ``n_s + 2`` down), -1 where it is 0."""


def expiry_pnl(
    values: FloatArray,
    disc_pos: FloatArray | float,
    disc_neg: FloatArray | float,
    factor: FloatArray | float,
    scen: ScenarioArrays,
) -> ExpiryPnl:
    """Scenario P&L stage of expiry values.

    ``pnl = (shocked x disc - mtm) x damp`` with ``disc`` the positive or negative static
    discount by the sign of the shocked value; a skew scenario's P&L is ``-|pnl|``.

    Parameters
    ----------
    values
        ``(n_r, n_s + 3)``: each holder's expiry value (quantity-weighted option values of
        :attr:`OptionPrecompute.values`), USD.
    disc_pos, disc_neg, factor
        The expiry's static discounts and forward contingency factor: scalars, or shape
        ``(n_r, 1)`` for (``factor``: ``(n_r,)``) one expiry per holder.
    scen
        The scenarios as arrays.

    Returns
    -------
    ExpiryPnl
        P&L, mark-to-market, basis values and forward contingency per holder.
    """
    n_s = scen.size
    shocked, mtm = values[:, :n_s], values[:, n_s]
    disc = np.where(shocked >= 0.0, disc_pos, disc_neg)
    pnl = (shocked * disc - mtm[:, None]) * scen.damp
    sign = np.where(scen.is_skew & (pnl > 0.0), -1.0, 1.0)
    up, down = values[:, n_s + 1], values[:, n_s + 2]
    up_loss, down_loss = up - mtm, down - mtm
    side = np.where(
        (up_loss <= down_loss) & (up_loss < 0.0),
        n_s + 1,
        np.where(down_loss < 0.0, n_s + 2, -1),
    ).astype(np.int64)
    forward = np.minimum(np.minimum(up_loss, down_loss), 0.0) * factor
    return ExpiryPnl(pnl * sign, mtm, up, down, forward, disc, sign, side)


def delta_one_pnl(usd_value: FloatArray, scen: ScenarioArrays) -> FloatArray:
    """Scenario P&L of delta-one holdings (perpetuals, risk-cancelling collateral).

    Parameters
    ----------
    usd_value
        Shape ``(n_r,)``: each holder's USD value moving one-for-one with spot.
    scen
        The scenarios as arrays.

    Returns
    -------
    FloatArray
        Shape ``(n_r, n_s)``: ``usd_value x (shock - 1) x damp``.
    """
    return np.outer(usd_value, scen.move)


def worst_loss(
    pnl: FloatArray, forward: FloatArray, order: IntArray
) -> tuple[FloatArray, IntArray]:
    """Aggregate stage: the worst of the scenarios and the forward contingency.

    The shared reduce stage (:func:`~pmargin.margin._scenario_margin.binding_scenario`) over
    the scenarios and the forward contingency as one last column: ties go to the first
    scenario in ``order`` (regular, tail, skew), and the forward contingency is the worst only
    when strictly below every scenario.

    Parameters
    ----------
    pnl
        Shape ``(n_r, n_s)``: scenario P&L, USD.
    forward
        Shape ``(n_r,)``: summed forward contingency, USD, <= 0.
    order
        Shape ``(n_s,)``: the tie-break order (:attr:`ScenarioArrays.order`).

    Returns
    -------
    worst
        Shape ``(n_r,)``: ``min(forward, min_s pnl)``, USD (signed, <= 0).
    binding
        Shape ``(n_r,)``: the scenario setting it, ``n_s`` for the forward contingency.
    """
    n_s = pnl.shape[1]
    return binding_scenario(np.column_stack([pnl, forward]), np.append(order, n_s))


def im_loss_factor(params: Pmrm2Parameters, stable_price: float) -> float:
    """IM factor on the worst loss, raised by the peg loss below the peg threshold.

    ``im_factor + (peg_loss_threshold - stable_price) x peg_loss_factor`` when the stablecoin
    trades below the threshold, else ``im_factor`` (dimensionless).
    """
    factor = params.margin.im_factor
    other = params.other_contingency
    if stable_price < other.peg_loss_threshold:
        factor += (other.peg_loss_threshold - stable_price) * other.peg_loss_factor
    return factor


def confidence_charge(
    confidence: FloatArray | float, notional: FloatArray | float, threshold: float, margin: float
) -> FloatArray:
    """Oracle contingency: ``(1 - conf) x margin x notional`` where ``conf < threshold``, else 0.

    Parameters
    ----------
    confidence, notional
        Broadcastable: feed confidence in [0, 1], notional (USD).
    threshold, margin
        ``conf_threshold`` and ``conf_margin``.

    Returns
    -------
    FloatArray
        The charge, USD, >= 0, broadcast shape.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    charge = (1.0 - conf) * margin * np.asarray(notional, dtype=np.float64)
    return np.where(conf < threshold, charge, 0.0)


class Contingencies(NamedTuple):
    """Positive charges of the aggregate stage, USD, scalars or shape ``(n_r,)`` each."""

    mm_perp: FloatArray | float
    im_perp: FloatArray | float
    mm_option: FloatArray | float
    im_option: FloatArray | float
    mm_haircut: FloatArray | float
    im_haircut: FloatArray | float
    oracle: FloatArray | float

    @property
    def mm(self) -> FloatArray | float:
        """Charged to MM (and IM): perp, option, collateral haircut."""
        return self.mm_perp + self.mm_option + self.mm_haircut

    @property
    def im(self) -> FloatArray | float:
        """Charged to IM on top of MM's: perp, option, haircut, oracle."""
        return self.im_perp + self.im_option + self.im_haircut + self.oracle


def contingencies(
    perp_notional: FloatArray | float,
    short_notional: FloatArray | float,
    mm_haircut: FloatArray | float,
    im_haircut: FloatArray | float,
    oracle: FloatArray | float,
    other: OtherContingencyParameters,
) -> Contingencies:
    """Aggregate stage's charges from the notionals they are percentages of.

    Parameters
    ----------
    perp_notional
        ``|net perp| x spot``, USD.
    short_notional
        Naked short option quantity x spot, USD.
    mm_haircut, im_haircut
        Collateral haircuts ``sum(value x haircut)``, USD.
    oracle
        The oracle (confidence) contingency, USD.
    other
        The contingency percentages.

    Returns
    -------
    Contingencies
        Every charge, in the inputs' shape.
    """
    return Contingencies(
        perp_notional * other.mm_perp_percent,
        perp_notional * other.im_perp_percent,
        short_notional * other.mm_option_percent,
        short_notional * other.im_option_percent,
        mm_haircut,
        im_haircut,
        oracle,
    )


def requirements(
    worst: FloatArray | float, im_factor: float, mm_factor: float, charges: Contingencies
) -> tuple[FloatArray | float, FloatArray | float]:
    """Aggregate stage: IM and MM requirements (Derive's balance is ``MtM + cash`` minus them).

    ``IM = -worst x im_factor' + MM charges + IM charges``, ``MM = -worst x mm_factor + MM
    charges``, USD, >= 0 since ``worst <= 0``.

    Parameters
    ----------
    worst
        Worst loss (signed, <= 0), USD.
    im_factor, mm_factor
        Factors on the loss (``im_factor'`` includes the peg loss, :func:`im_loss_factor`).
    charges
        The contingencies.

    Returns
    -------
    tuple
        ``(IM, MM)`` requirements, USD, in ``worst``'s shape.
    """
    loss = -worst
    return loss * im_factor + charges.mm + charges.im, loss * mm_factor + charges.mm

"""Derive's PMRM_2 portfolio case files: JSON -> (portfolio arrays, parameters), and back.

A case file (derivexyz/v2-core, ``test/risk-managers/unit-tests/PMRM_2/portfolio_cases``) has
``Scenario`` (portfolio and market), ``Parameters`` (scenarios and parameter groups) and
``Result`` (expected IM, MM and intermediates). Inputs read from ``Scenario``: cash, spot and
its confidence, stable price, perp position/price/confidence/unrealised P&L and funding, per
option ``Expiry`` (seconds), ``Strike``, ``IsCall``, ``Amount``, ``MarkVol``, per expiry feed
``Forward``, ``Rate`` and the forward, rate and vol confidences, per collateral ``Amount``,
``Price``, ``Confidence``, haircuts and ``IsRiskCancelling``. The per-option fields ``k``,
``linear_mult_cap``, ``abs_mult_cap``, ``k_star``, ``linear_multiplier``,
``abs_multiplier`` and ``MarkDiscount`` are outputs of the upstream model and are never read
as inputs; :func:`case_outputs` computes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pmargin.errors import InputError
from pmargin.margin.pmrm2._parameters import (
    BasisContingencyParameters,
    MarginParameters,
    OtherContingencyParameters,
    Pmrm2Parameters,
    Scenario,
    SkewShockParameters,
    VolShockParameters,
)
from pmargin.margin.pmrm2._portfolio import Collaterals, ExpiryArrays, OptionArrays, Pmrm2Portfolio
from pmargin.margin.pmrm2._result import Pmrm2Result
from pmargin.margin.pmrm2._stages import ScenarioKind

__all__ = [
    "CASE_PARAMETER_KEYS",
    "OPTION_OUTPUT_KEYS",
    "case_outputs",
    "parameters_from_case",
    "portfolio_from_case",
    "read_case",
    "skew_case_name",
]

SETTLEMENT_WINDOW_S = 1800.0
"""Seconds before expiry in which part of the forward is fixed (Derive's test feeds): with
``t`` seconds left, ``t / 1800`` of the forward moves with spot, the rest is fixed."""

CASE_PARAMETER_KEYS: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "vol_shock": (
        "VolShock",
        {
            "vol_range_up": "VOLRANGEUP",
            "vol_range_down": "VOLRANGEDOWN",
            "short_term_power": "SHORTTERMPOWER",
            "long_term_power": "LONGTERMPOWER",
            "dte_floor_days": "DTE_FLOOR",
            "min_vol_up_shock": "MIN_VOL_EVAL_SHOCKED",
        },
    ),
    "margin": (
        "Margin",
        {
            "im_factor": "IM_LOSS_FACTOR",
            "mm_factor": "MM_LOSS_FACTOR",
            "short_rate_mult_scale": "SHORT_RATE_MULTSCALE",
            "long_rate_mult_scale": "LONG_RATE_MULTSCALE",
            "short_rate_add_scale": "SHORT_RATE_ADDSCALE",
            "long_rate_add_scale": "LONG_RATE_ADDSCALE",
            "short_base_static_discount": "BASE_STATIC_DISCOUNT_NEG",
            "long_base_static_discount": "BASE_STATIC_DISCOUNT",
        },
    ),
    "basis_contingency": (
        "BasisContingency",
        {
            "scenario_spot_up": "SCENARIO_SPOT_UP",
            "scenario_spot_down": "SCENARIO_SPOT_DOWN",
            "add_factor": "BASIS_CONT_ADD_FACTOR",
            "mult_factor": "BASIS_CONT_MULT_FACTOR",
        },
    ),
    "other_contingency": (
        "OtherContingency",
        {
            "peg_loss_threshold": "PEG_LOSS_THRESHOLD",
            "peg_loss_factor": "PEG_LOSS_FACTOR",
            "conf_threshold": "CONF_THRESHOLD",
            "conf_margin": "CONF_MARGIN",
            "mm_perp_percent": "MM_PERP_PERCENT",
            "im_perp_percent": "IM_PERP_PERCENT",
            "mm_option_percent": "MM_OPTION_PERCENT",
            "im_option_percent": "IM_OPTION_PERCENT",
        },
    ),
    "skew_shock": (
        "SkewShock",
        {
            "linear_base_cap": "LINEAR_SCALE_CAP",
            "abs_base_cap": "ABS_SCALE_CAP",
            "linear_c_base": "LINEAR_CBASE",
            "abs_c_base": "ABS_CBASE",
            "min_k_star": "MIN_K_STAR",
            "width_scale": "MIN_WIDTH_SCALE",
            "vol_param_static": "VOL_PARAM_STATIC",
            "vol_param_scale": "VOL_PARAM_SCALE",
        },
    ),
}
"""Our group -> (case group, our field -> case key). The case keys ``IM_PERP_PERCENT_NORMAL``
and ``IM_OPTION_PERCENT_NORMAL`` are the IM totals (MM + IM percent) and are not read."""

OPTION_OUTPUT_KEYS = (
    "k",
    "linear_mult_cap",
    "abs_mult_cap",
    "k_star",
    "linear_multiplier",
    "abs_multiplier",
)
"""Per-option fields of ``Scenario.Options`` computed by the model (outputs, not inputs)."""

_GROUPS: Mapping[str, Any] = {
    "vol_shock": VolShockParameters,
    "margin": MarginParameters,
    "basis_contingency": BasisContingencyParameters,
    "other_contingency": OtherContingencyParameters,
    "skew_shock": SkewShockParameters,
}


def read_case(path: str | Path) -> dict[str, Any]:
    """Load one case file as a dict (``Scenario``, ``Parameters``, ``Result``)."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(str(file), None, f"cannot be read as JSON: {exc}") from None
    for key in ("Scenario", "Parameters"):
        if not isinstance(data.get(key), Mapping):
            raise InputError(f"{file.name}: {key}", data.get(key), "must be an object")
    return dict(data)


def _get(table: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise InputError(f"{where}.{key}", None, "is missing")
    return table[key]


def _num(table: Mapping[str, Any], key: str, where: str) -> float:
    value = _get(table, key, where)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}.{key}", value, "must be a number") from None


def parameters_from_case(case: Mapping[str, Any]) -> Pmrm2Parameters:
    """Build the parameters from a case's ``Parameters`` (every value comes from the file).

    Raises
    ------
    InputError
        Naming the case key (``Parameters.VolShock.VOLRANGEUP``) that is missing or out of
        range.
    """
    raw = _get(case, "Parameters", "")
    if not isinstance(raw, Mapping):
        raise InputError("Parameters", raw, "must be an object")
    scen_raw = _get(raw, "Scenarios", "Parameters")
    if not isinstance(scen_raw, list) or not scen_raw:
        raise InputError("Parameters.Scenarios", scen_raw, "must be a non-empty list")
    scenarios = tuple(
        Scenario.from_mapping(s, f"Parameters.Scenarios[{i}]") for i, s in enumerate(scen_raw)
    )
    groups: dict[str, Any] = {}
    for ours, (theirs, keys) in CASE_PARAMETER_KEYS.items():
        where = f"Parameters.{theirs}"
        table = _get(raw, theirs, "Parameters")
        if not isinstance(table, Mapping):
            raise InputError(where, table, "must be an object")
        renamed = {field: table[key] for field, key in keys.items() if key in table}
        try:
            groups[ours] = _GROUPS[ours].from_mapping(renamed, where)
        except InputError as exc:
            field = exc.field.rsplit(".", 1)[-1]
            raise InputError(f"{where}.{keys.get(field, field)}", exc.value, exc.reason) from None
    return Pmrm2Parameters(scenarios=scenarios, **groups)


def portfolio_from_case(case: Mapping[str, Any]) -> Pmrm2Portfolio:
    """Build the portfolio arrays from a case's ``Scenario``.

    Expiries are ordered by first appearance among the options; each takes its feed from
    ``OptionFeeds`` (matched on ``FeedExpiry``). Expired options (``Expiry <= 0``) have 0
    seconds left. Inside the last 30 minutes the forward is split into a fixed and a
    spot-driven part as Derive's test feeds do.
    """
    s = _get(case, "Scenario", "")
    w = "Scenario"
    feeds = {
        int(_num(f, "FeedExpiry", f"{w}.OptionFeeds[{i}]")): (i, f)
        for i, f in enumerate(_get(s, "OptionFeeds", w))
    }
    raw_options = _get(s, "Options", w)
    order: list[int] = []
    for i, o in enumerate(raw_options):
        expiry = int(_num(o, "Expiry", f"{w}.Options[{i}]"))
        if expiry not in feeds:
            raise InputError(f"{w}.Options[{i}].Expiry", expiry, "has no entry in OptionFeeds")
        if expiry not in order:
            order.append(expiry)
    secs, fixed, var, rate, conf = [], [], [], [], []
    for expiry in order:
        i, f = feeds[expiry]
        where = f"{w}.OptionFeeds[{i}]"
        sec = float(max(expiry, 0))
        fwd = _num(f, "Forward", where)
        moving = min(sec, SETTLEMENT_WINDOW_S) / SETTLEMENT_WINDOW_S
        secs.append(sec)
        fixed.append(fwd * (1.0 - moving) if sec < SETTLEMENT_WINDOW_S else 0.0)
        var.append(fwd * moving if sec < SETTLEMENT_WINDOW_S else fwd)
        rate.append(_num(f, "Rate", where))
        conf.append(
            min(
                _num(f, k, where)
                for k in ("ForwardConfidence", "RateConfidence", "OptionVolConfidences")
            )
        )
    expiries = ExpiryArrays(
        np.array(secs), np.array(fixed), np.array(var), np.array(rate), np.array(conf)
    )
    ow = [f"{w}.Options[{i}]" for i in range(len(raw_options))]
    options = OptionArrays(
        np.array(
            [order.index(int(_num(o, "Expiry", ow[i]))) for i, o in enumerate(raw_options)],
            dtype=np.int64,
        ),
        np.array([_num(o, "Strike", ow[i]) for i, o in enumerate(raw_options)]),
        np.array([bool(_num(o, "IsCall", ow[i])) for i, o in enumerate(raw_options)]),
        np.array([_num(o, "Amount", ow[i]) for i, o in enumerate(raw_options)]),
        np.array([_num(o, "MarkVol", ow[i]) for i, o in enumerate(raw_options)]),
    )
    raw_coll = _get(s, "Collaterals", w)
    cw = [f"{w}.Collaterals[{i}]" for i in range(len(raw_coll))]

    def column(key: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.array([_num(c, key, cw[i]) for i, c in enumerate(raw_coll)], dtype=np.float64)

    collaterals = Collaterals(
        tuple(str(_get(c, "Name", cw[i])) for i, c in enumerate(raw_coll)),
        column("Amount"),
        column("Price"),
        column("Confidence"),
        column("MMHaircut"),
        column("IMHaircut"),
        np.array(
            [bool(_get(c, "IsRiskCancelling", cw[i])) for i, c in enumerate(raw_coll)],
            dtype=np.bool_,
        ),
    )
    return Pmrm2Portfolio(
        spot=_num(s, "SpotPrice", w),
        spot_confidence=_num(s, "SpotConfidence", w),
        stable_price=_num(s, "StablePrice", w),
        cash=_num(s, "Cash", w),
        expiries=expiries,
        options=options,
        perp_position=_num(s, "NumPerps", w),
        perp_price=_num(s, "PerpPrice", w),
        perp_confidence=_num(s, "PerpConfidence", w),
        perp_unrealised_pnl=_num(s, "UnrealisedPerpPNL", w),
        perp_unrealised_funding=_num(s, "UnrealisedFunding", w),
        collaterals=collaterals,
    )


def _scenario_row(result: Pmrm2Result, i: int, with_damp: bool = False) -> list[Any]:
    s = result.scenarios[i]
    row: list[Any] = [s.spot_shock - 1.0, s.vol_shock.code]
    if with_damp:
        row.append(s.dampening)
    return row


def skew_case_name(scenario: Scenario) -> str:
    """Name a skew scenario as case files do.

    ``"LINEAR"`` or ``"ABS"``, with ``"_SPOT_SHOCK"`` appended when it also moves spot.
    """
    name = scenario.vol_shock.value.upper()
    return name if scenario.spot_shock == 1.0 else f"{name}_SPOT_SHOCK"


def _skew_name(result: Pmrm2Result, i: int) -> str:
    return skew_case_name(result.scenarios[i])


def case_outputs(result: Pmrm2Result) -> dict[str, Any]:
    """Lay the result out as a case file's ``Result`` (same keys, signs and shapes).

    Contingencies are reported negative, as in the case files. Two extra keys hold the
    per-option outputs of ``Scenario.Options``: ``"Options"`` (a list of dicts with
    :data:`OPTION_OUTPUT_KEYS`).
    """
    reg = result.indices(ScenarioKind.REGULAR)
    tail = result.indices(ScenarioKind.TAIL)
    skew = result.indices(ScenarioKind.SKEW)
    pnl = result.scenario_pnl

    def worst(idx: list[int]) -> float:
        return float(min(pnl[idx])) if idx else 0.0

    w_reg, w_tail, w_skew = (result.worst_of(k) for k in ScenarioKind)
    e = result.option_expiry_index
    sk = result.skew
    return {
        "worst_reg_loss": worst(reg),
        "worst_tail_loss": worst(tail),
        "worst_skew_loss": worst(skew),
        "reg_losses": [[*_scenario_row(result, i), float(pnl[i])] for i in reg],
        "tail_losses": [[*_scenario_row(result, i), float(pnl[i])] for i in tail],
        "skew_losses": [[_skew_name(result, i), float(pnl[i])] for i in skew],
        "worst_reg_scenario": _scenario_row(result, w_reg) if w_reg >= 0 else None,
        "worst_tail_scenario": _scenario_row(result, w_tail, True) if w_tail >= 0 else None,
        "worst_skew_scenario": _skew_name(result, w_skew) if w_skew >= 0 else None,
        "worst_all_scenarios": result.worst_kind,
        "ForwardContingency": result.forward_contingency,
        "Cash": result.cash,
        "PortfolioMTM": result.mark_to_market,
        "OptionMTM": result.option_mtm,
        "OptionMTMPerExpiry": result.expiry_mtm.tolist(),
        "OptionMTMPerExpiryDiscounted": result.expiry_mtm_discounted.tolist(),
        "CollateralMTM": float(result.collateral_value.sum()),
        "PerpMTM": result.perp_unrealised_pnl,
        "UnrealisedPerpPNL": result.perp_unrealised_pnl,
        "UnrealisedFunding": result.perp_unrealised_funding,
        "MMLossFactor": result.mm_factor,
        "IMLossFactor": result.im_factor,
        "im_loss_factor": result.im_factor,
        "MMPerpCont": -result.mm_perp_contingency,
        "IMPerpCont": -result.im_perp_contingency,
        "IMPerpContNormal": -(result.mm_perp_contingency + result.im_perp_contingency),
        "MMBaseCont": -result.mm_collateral_haircut,
        "IMBaseCont": -result.im_collateral_haircut,
        "IMBaseContNormal": -(result.mm_collateral_haircut + result.im_collateral_haircut),
        "MMOptionCont": -result.mm_option_contingency,
        "IMOptionCont": -result.im_option_contingency,
        "IMOptionContNormal": -(result.mm_option_contingency + result.im_option_contingency),
        "OracleCont": -result.oracle_contingency,
        "discount_factors": np.column_stack(
            [result.static_discount_pos, result.static_discount_neg]
        ).tolist(),
        "VolShockUpMultiplier": result.vol_shock_up[e].tolist(),
        "VolShockDownMultiplier": result.vol_shock_down[e].tolist(),
        "VolShockUpEvaluated": result.option_vol_up.tolist(),
        "VolShockDownEvaluated": result.option_vol_down.tolist(),
        "IM": result.initial_margin,
        "MM": result.maintenance_margin,
        "IMHand": result.initial_margin,
        "MMHand": result.maintenance_margin,
        "Options": [
            {
                "k": float(sk.k[j]),
                "linear_mult_cap": float(sk.linear_cap[j]),
                "abs_mult_cap": float(sk.abs_cap[j]),
                "k_star": float(sk.k_star[j]),
                "linear_multiplier": float(sk.linear[j]),
                "abs_multiplier": float(sk.abs[j]),
            }
            for j in range(e.shape[0])
        ],
    }

"""PMRM_2 parameters: the shipped file loads; a missing or out-of-range field names itself."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pmargin.errors import InputError
from pmargin.margin.pmrm2 import (
    Pmrm2Parameters,
    default_parameters,
    load_parameters,
    parameters_from_case,
)
from pmargin.margin.pmrm2._parameters import DEFAULT_FILE


def _table() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_FILE.read_text(encoding="utf-8"))


def test_default_file_loads() -> None:
    p = default_parameters()
    assert len(p.scenarios) == 33
    assert p.vol_shock.min_vol_up_shock == 0.4
    assert p.basis_contingency.scenario_spot_up == 1.045


@pytest.mark.parametrize(
    ("group", "key", "value"),
    [
        ("vol_shock", "vol_range_up", 11.0),
        ("vol_shock", "dte_floor_days", 401.0),
        ("margin", "im_factor", 0.4),
        ("margin", "long_base_static_discount", 5.0),
        ("basis_contingency", "scenario_spot_up", 1.0),
        ("basis_contingency", "scenario_spot_down", 1.2),
        ("other_contingency", "conf_threshold", 1.5),
        ("other_contingency", "mm_option_percent", -0.1),
        ("skew_shock", "vol_param_scale", 25.0),
        ("skew_shock", "min_k_star", "abc"),
    ],
)
def test_out_of_range_names_field(group: str, key: str, value: object) -> None:
    table = _table()
    table[group][key] = value
    with pytest.raises(InputError) as info:
        Pmrm2Parameters.from_mapping(table)
    assert info.value.field == f"{group}.{key}"


@pytest.mark.parametrize(("group", "key"), [("margin", "mm_factor"), ("skew_shock", "abs_c_base")])
def test_missing_names_field(group: str, key: str) -> None:
    table = _table()
    del table[group][key]
    with pytest.raises(InputError, match=f"{group}.{key}"):
        Pmrm2Parameters.from_mapping(table)


def test_bad_scenario_names_field() -> None:
    table = _table()
    table["scenarios"][3]["vol_shock"] = "sideways"
    with pytest.raises(InputError) as info:
        Pmrm2Parameters.from_mapping(table)
    assert info.value.field == "scenarios[3].vol_shock"


def test_two_linear_scenarios_rejected() -> None:
    table = _table()
    table["scenarios"].append({"spot_shock": 1.0, "vol_shock": "linear", "dampening": 1.0})
    with pytest.raises(InputError, match="linear"):
        Pmrm2Parameters.from_mapping(table)


def test_user_file_error_names_file(tmp_path: Path) -> None:
    text = DEFAULT_FILE.read_text(encoding="utf-8").replace("im_factor = 1.0", "im_factor = 99.0")
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_parameters(path)
    assert info.value.field == "mine.toml: margin.im_factor"


CASE = {
    "Parameters": {
        "Scenarios": [{"SpotShock": 1.1, "VolShockDirection": "Up", "DampeningFactor": 1}],
        "VolShock": {
            "VOLRANGEUP": 0.5,
            "VOLRANGEDOWN": 0.3,
            "SHORTTERMPOWER": 0.3,
            "LONGTERMPOWER": 0.13,
            "DTE_FLOOR": 1.0,
            "MIN_VOL_EVAL_SHOCKED": 0.4,
        },
        "Margin": {
            "IM_LOSS_FACTOR": 1.0,
            "MM_LOSS_FACTOR": 0.8,
            "SHORT_RATE_MULTSCALE": 0,
            "LONG_RATE_MULTSCALE": 0,
            "SHORT_RATE_ADDSCALE": 0.1,
            "LONG_RATE_ADDSCALE": 0.1,
            "BASE_STATIC_DISCOUNT": 0.95,
            "BASE_STATIC_DISCOUNT_NEG": 1.04,
        },
        "BasisContingency": {
            "SCENARIO_SPOT_UP": 1.045,
            "SCENARIO_SPOT_DOWN": 0.955,
            "BASIS_CONT_ADD_FACTOR": 0.5,
            "BASIS_CONT_MULT_FACTOR": 2.0,
        },
        "OtherContingency": {
            "PEG_LOSS_THRESHOLD": 0.98,
            "PEG_LOSS_FACTOR": 2.0,
            "CONF_THRESHOLD": 0.55,
            "CONF_MARGIN": 1.0,
            "MM_PERP_PERCENT": 0.015,
            "IM_PERP_PERCENT": 0.005,
            "MM_OPTION_PERCENT": 0.003,
            "IM_OPTION_PERCENT": 0.002,
        },
        "SkewShock": {
            "LINEAR_SCALE_CAP": 4,
            "LINEAR_CBASE": -0.05,
            "ABS_SCALE_CAP": 0.15,
            "ABS_CBASE": -0.05,
            "MIN_K_STAR": 0.01,
            "MIN_WIDTH_SCALE": 3.0,
            "VOL_PARAM_STATIC": 2.5,
            "VOL_PARAM_SCALE": -0.9,
        },
    }
}


def test_case_parameters_read() -> None:
    p = parameters_from_case(json.loads(json.dumps(CASE)))
    assert p.margin.short_base_static_discount == 1.04
    assert p.skew_shock.width_scale == 3.0


@pytest.mark.parametrize(
    ("group", "key", "value"),
    [
        ("VolShock", "VOLRANGEUP", None),
        ("Margin", "MM_LOSS_FACTOR", 20.0),
        ("SkewShock", "MIN_WIDTH_SCALE", -1.0),
    ],
)
def test_case_parameter_error_names_case_key(group: str, key: str, value: object) -> None:
    case = copy.deepcopy(CASE)
    if value is None:
        del case["Parameters"][group][key]
    else:
        case["Parameters"][group][key] = value
    with pytest.raises(InputError) as info:
        parameters_from_case(case)
    assert info.value.field == f"Parameters.{group}.{key}"

"""Derive's PMRM_2 portfolio margin model (``derive-pmrm2``).

One market (underlying) at a time: :class:`Pmrm2Portfolio` holds the arrays,
:class:`Pmrm2Parameters` the validated parameters (:func:`load_parameters` reads a TOML file,
:func:`default_parameters` the shipped mainnet file), and :func:`compute_pmrm2` returns a
:class:`Pmrm2Result` with IM, MM and every intermediate. :func:`read_case` and friends read
Derive's peer case files. :class:`DerivePmrm2Model` margins a general pmargin book (one
USD risk unit per underlying) and reports requirements rather than Derive's balances.
"""

from pmargin.margin.pmrm2._book import BookSettings
from pmargin.margin.pmrm2._case import (
    OPTION_OUTPUT_KEYS,
    case_outputs,
    parameters_from_case,
    portfolio_from_case,
    read_case,
    skew_case_name,
)
from pmargin.margin.pmrm2._engine import compute_pmrm2
from pmargin.margin.pmrm2._model import DerivePmrm2Model
from pmargin.margin.pmrm2._parameters import (
    BasisContingencyParameters,
    CollateralParameters,
    MarginParameters,
    OtherContingencyParameters,
    Pmrm2Parameters,
    Scenario,
    SkewShockParameters,
    VolShockDirection,
    VolShockParameters,
    default_parameters,
    load_parameters,
)
from pmargin.margin.pmrm2._portfolio import Collaterals, ExpiryArrays, OptionArrays, Pmrm2Portfolio
from pmargin.margin.pmrm2._precompute import (
    naked_shorts,
    skew_multipliers,
    static_discounts,
    vol_shock_multipliers,
)
from pmargin.margin.pmrm2._result import Pmrm2Result
from pmargin.margin.pmrm2._stages import ScenarioKind

__all__ = [
    "OPTION_OUTPUT_KEYS",
    "BasisContingencyParameters",
    "BookSettings",
    "CollateralParameters",
    "Collaterals",
    "DerivePmrm2Model",
    "ExpiryArrays",
    "MarginParameters",
    "OptionArrays",
    "OtherContingencyParameters",
    "Pmrm2Parameters",
    "Pmrm2Portfolio",
    "Pmrm2Result",
    "Scenario",
    "ScenarioKind",
    "SkewShockParameters",
    "VolShockDirection",
    "VolShockParameters",
    "case_outputs",
    "compute_pmrm2",
    "default_parameters",
    "load_parameters",
    "naked_shorts",
    "parameters_from_case",
    "portfolio_from_case",
    "read_case",
    "skew_case_name",
    "skew_multipliers",
    "static_discounts",
    "vol_shock_multipliers",
]

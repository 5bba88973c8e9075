"""Scenario sets for risk matrices: price moves x vol shocks, per underlying or together.

A :class:`ScenarioSet` (scenarios + :class:`VolShockRule`) turns resolved instruments into
arrays of shocked underlying-price multipliers and vols, shape ``(n_instruments,
n_scenarios)``, that the risk kernel revalues once. :func:`risk_matrix_grid` builds the
standard grid (Deribit: +-16% in 9 buckets x vol down/none/up) and dampened tail moves.

Joint scenarios of several underlyings for VaR/ES, stress tests and backtests (each a
:class:`ScenarioSource`: ``labels``, probability ``weights``, ``apply``):
:func:`historical_scenarios` (historical and filtered historical simulation over a margin
period of risk, optional stressed-period weighting), :class:`MonteCarloModel` (correlated
normal or Student-t moves) and the correlation stresses (:func:`blend_correlation`,
:func:`worst_window_correlation`, :func:`correlation_stressed_scenarios`).
"""

from pmargin.scenarios._correlation_stress import (
    StressedCorrelation,
    blend_correlation,
    correlation_stressed_scenarios,
    worst_window_correlation,
)
from pmargin.scenarios._grid import risk_matrix_grid
from pmargin.scenarios._historical import (
    HistoricalScenarios,
    StressedPeriod,
    VolMoveSource,
    historical_scenarios,
    parse_mpor,
    stressed_weights,
)
from pmargin.scenarios._monte_carlo import (
    Marginal,
    MonteCarloModel,
    MonteCarloScenarios,
    correlation_root,
    estimate_correlation,
)
from pmargin.scenarios._scenario import RiskMatrixScenario, VolShockKind
from pmargin.scenarios._scenario_set import KeptVols, ScenarioArrays, ScenarioSet
from pmargin.scenarios._source import ScenarioSource, apply_joint_moves, instrument_rows
from pmargin.scenarios._vol_shock import VolShockMode, VolShockRule

__all__ = [
    "HistoricalScenarios",
    "KeptVols",
    "Marginal",
    "MonteCarloModel",
    "MonteCarloScenarios",
    "RiskMatrixScenario",
    "ScenarioArrays",
    "ScenarioSet",
    "ScenarioSource",
    "StressedCorrelation",
    "StressedPeriod",
    "VolMoveSource",
    "VolShockKind",
    "VolShockMode",
    "VolShockRule",
    "apply_joint_moves",
    "blend_correlation",
    "correlation_root",
    "correlation_stressed_scenarios",
    "estimate_correlation",
    "historical_scenarios",
    "instrument_rows",
    "parse_mpor",
    "risk_matrix_grid",
    "stressed_weights",
    "worst_window_correlation",
]

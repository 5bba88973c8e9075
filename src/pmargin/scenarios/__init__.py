"""Scenario sets for risk matrices: price moves x vol shocks, per underlying or together.

A :class:`ScenarioSet` (scenarios + :class:`VolShockRule`) turns resolved instruments into
arrays of shocked underlying-price multipliers and vols, shape ``(n_instruments,
n_scenarios)``, that the risk kernel revalues once. :func:`risk_matrix_grid` builds the
standard grid (Deribit: +-16% in 9 buckets x vol down/none/up) and dampened tail moves.
"""

from pmargin.scenarios._grid import risk_matrix_grid
from pmargin.scenarios._scenario import RiskMatrixScenario, VolShockKind
from pmargin.scenarios._scenario_set import ScenarioArrays, ScenarioSet
from pmargin.scenarios._vol_shock import VolShockMode, VolShockRule

__all__ = [
    "RiskMatrixScenario",
    "ScenarioArrays",
    "ScenarioSet",
    "VolShockKind",
    "VolShockMode",
    "VolShockRule",
    "risk_matrix_grid",
]

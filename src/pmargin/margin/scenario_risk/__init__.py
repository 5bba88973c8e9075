"""VaR and expected-shortfall margin over joint scenarios (``pmargin-es``, ``-var``, ``-mc``).

One model class, :class:`ScenarioRiskModel`, several parameter files: filtered historical
simulation with ES 99 % over one day (``pmargin-es``, pmargin's default), historical VaR
(``pmargin-var``) and Monte Carlo with Student-t moves (``pmargin-mc``). Each adds a
correlation-stress component and an anti-procyclicality component. The scenario sets depend
on the market only through its timestamp: they are precomputed once per market and cached
(:func:`market_scenarios`). See docs/margin-scenario-risk.md.
"""

from pmargin.margin.scenario_risk._fused import fused_kernel_name
from pmargin.margin.scenario_risk._model import COMPONENTS, ScenarioRiskModel
from pmargin.margin.scenario_risk._params import (
    ApcMethod,
    CorrelationStressMethod,
    Measure,
    ScenarioMethod,
    ScenarioRiskParams,
)
from pmargin.margin.scenario_risk._precompute import (
    CACHE_SIZE,
    ROW_CELLS,
    MarketScenarios,
    RevaluedRows,
    clear_market_scenarios,
    market_scenarios,
    market_scenarios_reference,
)
from pmargin.margin.scenario_risk._sources import build_sets, recorrelate, set_correlation
from pmargin.margin.scenario_risk._tail import AccountTail, account_tail

__all__ = [
    "CACHE_SIZE",
    "COMPONENTS",
    "ROW_CELLS",
    "AccountTail",
    "ApcMethod",
    "CorrelationStressMethod",
    "MarketScenarios",
    "Measure",
    "RevaluedRows",
    "ScenarioMethod",
    "ScenarioRiskModel",
    "ScenarioRiskParams",
    "account_tail",
    "build_sets",
    "clear_market_scenarios",
    "fused_kernel_name",
    "market_scenarios",
    "market_scenarios_reference",
    "recorrelate",
    "set_correlation",
]

"""Crash replay: a population of accounts through a real crash path, with liquidation cascades.

:func:`simulate_crash` builds a real price path (:func:`crash_path`, 4-hourly closes with a
documented interpolation), a seeded population (:func:`generate_population`, funded per model
by :func:`fund_population`), and replays it under each margin model through the health
monitor and the liquidation engine (:func:`run_cascade`), feeding the liquidation flow back
into the price (:class:`ImpactModel`). :func:`write_report` writes JSON, plots and HTML. See
docs/simulate.md.
"""

from pmargin.simulate._cascade import (
    AGENT_SUMMARY,
    AgentHook,
    CascadeConfig,
    CascadeRun,
    RoundRecord,
    StepRecord,
    default_breakers,
    run_cascade,
    run_cascade_reference,
    simulation_liquidation_config,
)
from pmargin.simulate._impact import ImpactModel
from pmargin.simulate._path import (
    EPISODE_KEYS,
    INTERPOLATIONS,
    CrashPath,
    crash_path,
    interpolate_log_prices,
)
from pmargin.simulate._population import (
    FUNDING_MODES,
    FundedBook,
    Population,
    VenueFunding,
    fund_population,
    generate_population,
    load_population,
)
from pmargin.simulate._report import REPORT_FILES, TABLE_COLUMNS, write_report
from pmargin.simulate._simulate import (
    DEFAULT_MODELS,
    SimulationConfig,
    SimulationResult,
    select_agents,
    simulate_crash,
)

__all__ = [
    "AGENT_SUMMARY",
    "DEFAULT_MODELS",
    "EPISODE_KEYS",
    "FUNDING_MODES",
    "INTERPOLATIONS",
    "REPORT_FILES",
    "TABLE_COLUMNS",
    "AgentHook",
    "CascadeConfig",
    "CascadeRun",
    "CrashPath",
    "FundedBook",
    "ImpactModel",
    "Population",
    "RoundRecord",
    "SimulationConfig",
    "SimulationResult",
    "StepRecord",
    "VenueFunding",
    "crash_path",
    "default_breakers",
    "fund_population",
    "generate_population",
    "interpolate_log_prices",
    "load_population",
    "run_cascade",
    "run_cascade_reference",
    "select_agents",
    "simulate_crash",
    "simulation_liquidation_config",
    "write_report",
]

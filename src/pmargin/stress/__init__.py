"""Stress tests: named historical episodes found in the data, user shocks, and the losses.

* :func:`historical_episodes` finds each named episode's window in the shared BTC/ETH closes
  (worst 24 h on 4-hourly closes, worst up-to-7-day move on daily closes, overlapping the
  anchor day) and its joint shock: BTC and ETH relative moves and an implied-vol shock (DVOL
  where it exists, else a 30-day realised-vol proxy).
* :func:`parse_shock` reads ``BTC=-0.3,ETH=-0.4,vol=+0.5`` (and ``corr=0.9`` correlation
  stresses); :func:`load_shocks` a JSON/YAML file of named shocks.
* :func:`stress_test` revalues the book once under every shock and reports each account's USD
  loss against its equity and initial margin, with ``margin_breach`` and ``default`` flags.
"""

from pmargin.stress._episodes import (
    EPISODES,
    WINDOW_RULES,
    EpisodeSpec,
    HistoricalEpisode,
    WindowRule,
    episode_names,
    find_window,
    historical_episodes,
    select_episodes,
)
from pmargin.stress._parse import Shock, load_shocks, parse_shock
from pmargin.stress._shock import (
    CorrelationShock,
    StressShock,
    VolShock,
    VolShockMode,
    joint_arrays,
)
from pmargin.stress._stress_test import ScenarioInfo, StressReport, stress_test

__all__ = [
    "EPISODES",
    "WINDOW_RULES",
    "CorrelationShock",
    "EpisodeSpec",
    "HistoricalEpisode",
    "ScenarioInfo",
    "Shock",
    "StressReport",
    "StressShock",
    "VolShock",
    "VolShockMode",
    "WindowRule",
    "episode_names",
    "find_window",
    "historical_episodes",
    "joint_arrays",
    "load_shocks",
    "parse_shock",
    "select_episodes",
    "stress_test",
]

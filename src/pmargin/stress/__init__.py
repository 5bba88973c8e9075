"""Stress tests: named historical episodes found in the data, user shocks, and the losses.

* :func:`historical_episodes` takes each named episode's window in the shared BTC/ETH closes
  (:func:`pmargin.history.find_window`: worst 24 h on 4-hourly closes, worst up-to-7-day move
  on daily closes, overlapping the anchor day) and gives its joint shock: BTC and ETH
  relative moves and an implied-vol shock (DVOL where it exists, else a 30-day realised-vol
  proxy).
* :func:`parse_shock` reads ``BTC=-0.3,ETH=-0.4,vol=+0.5`` (and ``corr=0.9`` correlation
  stresses); :func:`load_shocks` a JSON/YAML file of named shocks.
* :func:`stress_test` revalues the book once under every shock and reports each account's USD
  loss against its equity and initial margin, with ``margin_breach`` and ``default`` flags.
"""

from pmargin.stress._episodes import HistoricalEpisode, historical_episodes
from pmargin.stress._parse import Shock, load_shocks, parse_shock
from pmargin.stress._shock import (
    CorrelationShock,
    StressShock,
    VolShock,
    joint_arrays,
)
from pmargin.stress._stress_test import (
    ScenarioInfo,
    StressInput,
    StressReport,
    account_currencies,
    stress_test,
)

__all__ = [
    "CorrelationShock",
    "HistoricalEpisode",
    "ScenarioInfo",
    "Shock",
    "StressInput",
    "StressReport",
    "StressShock",
    "VolShock",
    "account_currencies",
    "historical_episodes",
    "joint_arrays",
    "load_shocks",
    "parse_shock",
    "stress_test",
]

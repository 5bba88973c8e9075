"""Named episodes of market stress and the search for their windows in real closes.

Nothing here is typed in but the anchor dates (:data:`EPISODES`); each episode's window is
searched in the data by :func:`find_window` under one of the :data:`WINDOW_RULES`:

* **1d**: among all pairs of 4-hourly closes exactly 24 h apart (pairs spanning a data outage
  are skipped) whose window overlaps the anchor's UTC day, the one with the lowest BTC
  close-to-close ratio;
* **7d**: among all pairs of daily closes (00:00 UTC) 1 to 7 days apart whose window overlaps
  the anchor's UTC day (for daily closes: contains it), the one with the lowest BTC ratio.

Ties go to the earliest start, then the shortest window. The joint shocks the windows imply
are :mod:`pmargin.stress`'s; the crash paths through them are :mod:`pmargin.simulate`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pmargin.errors import InputError
from pmargin.history._price_history import PriceHistory

__all__ = [
    "EPISODES",
    "WINDOW_RULES",
    "EpisodeSpec",
    "WindowRule",
    "episode_names",
    "find_window",
    "select_episodes",
]

_DAY = np.timedelta64(86_400, "s")


@dataclass(frozen=True, slots=True)
class EpisodeSpec:
    """A named episode: a key, a title and the UTC day it is anchored on (``YYYY-MM-DD``)."""

    key: str
    title: str
    anchor: str


@dataclass(frozen=True, slots=True)
class WindowRule:
    """How an episode's window is searched (see the module docstring).

    Attributes
    ----------
    name
        Horizon name, the suffix of the scenario name (``"1d"``, ``"7d"``).
    frequency
        Closes searched: ``"4h"`` or ``"1d"``.
    max_hours
        Longest window in hours.
    exact
        Only windows of exactly ``max_hours``.
    """

    name: str
    frequency: str
    max_hours: float
    exact: bool


EPISODES: tuple[EpisodeSpec, ...] = (
    EpisodeSpec("covid", "Covid crash", "2020-03-12"),
    EpisodeSpec("may2021", "May 2021 crash", "2021-05-19"),
    EpisodeSpec("celsius-3ac", "Celsius/3AC", "2022-06-13"),
    EpisodeSpec("ftx", "FTX", "2022-11-08"),
    EpisodeSpec("yen-carry", "yen carry unwind", "2024-08-05"),
)
"""The named episodes (anchor days only: windows and moves come from the data)."""

WINDOW_RULES: tuple[WindowRule, ...] = (
    WindowRule("1d", "4h", 24.0, True),
    WindowRule("7d", "1d", 168.0, False),
)
"""The horizons every episode is searched over."""


def episode_names() -> list[str]:
    """Scenario names of every episode and horizon: ``covid-1d``, ``covid-7d``, ..."""
    return [f"{e.key}-{r.name}" for e in EPISODES for r in WINDOW_RULES]


def select_episodes(names: Sequence[str] | None = None) -> list[tuple[EpisodeSpec, WindowRule]]:
    """Episodes and horizons named by ``names`` (``None``: all).

    A name is a scenario name (``ftx-1d``) or an episode key (``ftx``: both horizons).

    Raises
    ------
    InputError
        (field ``scenario``) for an unknown name, listing the known ones.
    """
    pairs = [(e, r) for e in EPISODES for r in WINDOW_RULES]
    if names is None:
        return pairs
    chosen: list[tuple[EpisodeSpec, WindowRule]] = []
    for name in names:
        key = name.strip().lower()
        hits = [(e, r) for e, r in pairs if key in (e.key, f"{e.key}-{r.name}")]
        if not hits:
            known = ", ".join(episode_names())
            raise InputError(
                "scenario", name, f"is not a named episode; known: {known} (or an episode key)"
            )
        chosen.extend(p for p in hits if p not in chosen)
    return chosen


def find_window(history: PriceHistory, anchor: str, rule: WindowRule) -> tuple[int, int]:
    """Return indices ``(start, end)`` into ``history.times`` of the episode window.

    Parameters
    ----------
    history
        Closes on the rule's grid; column ``BTC`` decides.
    anchor
        UTC day ``YYYY-MM-DD``; the window overlaps ``[anchor 00:00, anchor + 1 day)``.
    rule
        Longest (or exact) window length.

    Raises
    ------
    InputError
        (field ``anchor``) when no window of the rule lies in the data.
    """
    day = np.datetime64(anchor, "D").astype("datetime64[s]")
    span = np.timedelta64(round(rule.max_hours * 3600), "s")
    times = history.times
    lo = int(np.searchsorted(times, day - span, side="left"))
    hi = int(np.searchsorted(times, day + _DAY + span, side="right"))
    start, end = np.triu_indices(hi - lo, 1)
    start, end = start + lo, end + lo
    length = times[end] - times[start]
    ok = (length <= span) & (times[start] < day + _DAY) & (times[end] > day)
    if rule.exact:
        ok &= length == span
    if not ok.any():
        raise InputError(
            "anchor", anchor, f"has no {rule.name} window in the data ({times[0]} to {times[-1]})"
        )
    btc = history.closes[:, history.index("BTC")]
    ratio = np.where(ok, btc[end] / btc[start], np.inf)
    # Lowest ratio; ties to the earliest start, then the shortest window (lexsort: last key
    # is primary).
    best = np.lexsort((end, start, ratio))[0]
    return int(start[best]), int(end[best])

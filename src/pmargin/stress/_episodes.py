"""Named historical episodes: the joint shocks of their windows in the shared price data.

The episodes, their anchor days and the window search are :mod:`pmargin.history`'s
(``EPISODES``, ``WINDOW_RULES``, :func:`~pmargin.history.find_window`). For each episode and
horizon the window is searched in the data with one rule:

* **1d**: among all pairs of 4-hourly closes exactly 24 h apart (pairs spanning a data outage
  are skipped) whose window overlaps the anchor's UTC day, the one with the lowest BTC
  close-to-close ratio;
* **7d**: among all pairs of daily closes (00:00 UTC) 1 to 7 days apart whose window overlaps
  the anchor's UTC day (for daily closes: contains it), the one with the lowest BTC ratio.

Ties go to the earliest start, then the shortest window. The shock is the relative move of
each underlying between the two closes, ``close[end] / close[start] - 1`` (BTC and ETH at the
same instants), and an implied-vol shock per underlying:

* BTC where Deribit DVOL is known: ``DVOL[b] / DVOL[a] - 1`` with ``a`` the DVOL daily close
  at or before the window start and ``b`` the one at or after its end (the smallest span of
  daily DVOL closes enclosing the window); DVOL starts on 2022-11-07 00:00 UTC;
* otherwise (before DVOL, and for ETH, which has no DVOL in the data) the **realised-vol
  proxy**: ``RV30[end] / RV30[start] - 1``, with ``RV30`` the trailing 30-day realised vol
  (zero-mean, annualised; :func:`pmargin.history.realised_vol`) on the window's own grid (180
  4-hour returns or 30 daily returns ending at that close). DVOL is a 30-day implied vol; the
  proxy is its backward-looking twin (on the three windows where both exist, ftx-1d,
  yen-carry-1d and -7d, the proxy is 4 to 6 percentage points below the DVOL change).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.history import (
    EpisodeSpec,
    PriceHistory,
    WindowRule,
    find_window,
    load_price_history,
    log_returns,
    realised_vol,
    select_episodes,
)
from pmargin.stress._shock import StressShock, VolShock

__all__ = ["HistoricalEpisode", "historical_episodes"]

_DAY = np.timedelta64(86_400, "s")
RV_DAYS = 30
"""Length of the realised-vol proxy's trailing window, in days."""
DVOL_SOURCE = "dvol"
PROXY_SOURCE = f"rv{RV_DAYS}-proxy"


@dataclass(frozen=True, slots=True)
class HistoricalEpisode:
    """A named episode's window found in the data and the joint shock it implies.

    Attributes
    ----------
    name
        Scenario name, ``{key}-{horizon}`` (``ftx-1d``).
    title
        Episode title (``FTX``).
    anchor
        Anchor UTC day.
    rule
        The window rule.
    start, end
        Close instants (``datetime64[s]``, UTC) of the window.
    underlyings
        Names, in column order of the arrays below.
    start_close, end_close
        USDT closes at ``start`` and ``end``, shape ``(n_underlyings,)``.
    spot_move
        ``end_close / start_close - 1``, shape ``(n_underlyings,)``.
    vol_move
        Relative implied-vol shock per underlying, shape ``(n_underlyings,)``.
    vol_source
        ``"dvol"`` or ``"rv30-proxy"`` per underlying.
    vol_start, vol_end
        The vols the shock is the ratio of (DVOL or RV30, annualised decimals).
    """

    name: str
    title: str
    anchor: str
    rule: WindowRule
    start: np.datetime64
    end: np.datetime64
    underlyings: tuple[str, ...]
    start_close: FloatArray
    end_close: FloatArray
    spot_move: FloatArray
    vol_move: FloatArray
    vol_source: tuple[str, ...]
    vol_start: FloatArray
    vol_end: FloatArray

    @property
    def shock(self) -> StressShock:
        """The joint shock: relative spot moves and relative vol shocks per underlying."""
        return StressShock(
            name=self.name,
            spot_moves={u: float(m) for u, m in zip(self.underlyings, self.spot_move, strict=True)},
            vol_shocks={
                u: VolShock(float(v)) for u, v in zip(self.underlyings, self.vol_move, strict=True)
            },
            description=(
                f"{self.title} ({self.anchor}): {self.rule.frequency} closes "
                f"{_stamp(self.start)} -> {_stamp(self.end)}"
            ),
            kind="historical",
        )

    def to_dict(self) -> dict[str, Any]:
        """Window, closes, moves and vol shock sources, for reports and checks."""
        return {
            "name": self.name,
            "title": self.title,
            "anchor": self.anchor,
            "frequency": self.rule.frequency,
            "start": _stamp(self.start),
            "end": _stamp(self.end),
            "underlyings": {
                u: {
                    "start_close": float(self.start_close[k]),
                    "end_close": float(self.end_close[k]),
                    "spot_move": float(self.spot_move[k]),
                    "vol_move": float(self.vol_move[k]),
                    "vol_source": self.vol_source[k],
                    "vol_start": float(self.vol_start[k]),
                    "vol_end": float(self.vol_end[k]),
                }
                for k, u in enumerate(self.underlyings)
            },
        }


def _stamp(t: np.datetime64) -> str:
    return f"{np.datetime_as_string(t, unit='m').replace('T', ' ')} UTC"


def historical_episodes(
    names: Sequence[str] | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    daily: PriceHistory | None = None,
    four_hourly: PriceHistory | None = None,
) -> list[HistoricalEpisode]:
    """Find the windows and shocks of the named episodes in the shared data.

    Parameters
    ----------
    names
        Scenario names or episode keys (:func:`select_episodes`); ``None`` for all.
    path
        Shared data folder (else ``$PMARGIN_SHARED_DATA``, else ``../shared/data``).
    daily, four_hourly
        Histories to use instead of loading (daily with BTC DVOL; both need ``BTC``).

    Raises
    ------
    InputError
        Unknown names; missing data files (naming ``PMARGIN_SHARED_DATA``).
    """
    chosen = select_episodes(names)
    histories: dict[str, PriceHistory] = {}
    if daily is not None:
        histories["1d"] = daily
    if four_hourly is not None:
        histories["4h"] = four_hourly
    for _, rule in chosen:
        if rule.frequency not in histories:
            histories[rule.frequency] = load_price_history(
                path, frequency=rule.frequency, with_dvol=rule.frequency == "1d"
            )
    if "1d" not in histories:
        histories["1d"] = load_price_history(path, frequency="1d")
    rv = {
        freq: realised_vol(log_returns(h.closes), round(RV_DAYS * 24 / h.step), h.step)
        for freq, h in histories.items()
    }
    return [
        _episode(spec, rule, histories[rule.frequency], rv[rule.frequency], histories["1d"])
        for spec, rule in chosen
    ]


def _episode(
    spec: EpisodeSpec,
    rule: WindowRule,
    history: PriceHistory,
    rv: FloatArray,
    daily: PriceHistory,
) -> HistoricalEpisode:
    s, e = find_window(history, spec.anchor, rule)
    start, end = history.times[s], history.times[e]
    closes = history.closes
    k = len(history.names)
    vol_start, vol_end = rv[s].copy(), rv[e].copy()
    sources = [PROXY_SOURCE] * k
    if "BTC" in daily.names:
        j = daily.index("BTC")
        a, b = _dvol_at(daily, start, j, up=False), _dvol_at(daily, end, j, up=True)
        if "BTC" in history.names and np.isfinite(a) and np.isfinite(b):
            col = history.index("BTC")
            vol_start[col], vol_end[col], sources[col] = a, b, DVOL_SOURCE
    if not (np.all(np.isfinite(vol_start)) and np.all(np.isfinite(vol_end))):
        raise InputError(
            "anchor", spec.anchor, f"has less than {RV_DAYS} days of history before its window"
        )
    return HistoricalEpisode(
        name=f"{spec.key}-{rule.name}",
        title=spec.title,
        anchor=spec.anchor,
        rule=rule,
        start=start,
        end=end,
        underlyings=history.names,
        start_close=closes[s].copy(),
        end_close=closes[e].copy(),
        spot_move=closes[e] / closes[s] - 1.0,
        vol_move=vol_end / vol_start - 1.0,
        vol_source=tuple(sources),
        vol_start=vol_start,
        vol_end=vol_end,
    )


def _dvol_at(daily: PriceHistory, instant: np.datetime64, column: int, *, up: bool) -> float:
    """DVOL daily close at the midnight at or before (``up``: at or after) ``instant``."""
    day = instant.astype("datetime64[D]").astype("datetime64[s]")
    if up and day < instant:
        day = day + _DAY
    i = int(np.searchsorted(daily.times, day))
    if i >= daily.n_times or daily.times[i] != day:
        return float("nan")
    return float(daily.iv[i, column])

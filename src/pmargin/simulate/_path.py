"""A real crash path from the shared data: 4-hourly closes, interpolated, with a vol path.

The window of each episode is the 7-day window that :mod:`pmargin.stress` finds in the daily
closes around the episode's anchor day (the largest BTC fall of at most 7 days overlapping the
anchor), replayed on the Binance 4-hourly closes between its two instants. Finer steps come
from one of two documented interpolations of log prices between consecutive 4-hour closes
``a`` and ``b`` (``n`` substeps of ``dt = 4 h / n``):

* ``"linear"``: log-linear, ``x_j = x_a + (j / n) (x_b - x_a)``;
* ``"bridge"``: a Brownian bridge pinned at both closes,
  ``x_j = x_a + (j / n) (x_b - x_a) + sigma (W_j - (j / n) W_n)``, ``W`` a random walk of
  ``n`` steps of variance ``dt`` per underlying, correlated across underlyings with the
  trailing 30-day correlation of 4-hour log returns, ``sigma`` the trailing 30-day realised
  4-hour vol (per sqrt hour) before the window, seeded (``numpy.random.default_rng(seed)``).

Every path point that is a real close keeps the real close exactly. The vol path is the
30-day ATM vol of :class:`~pmargin.history.HistoricalMarkets` at each close (BTC DVOL where
known, else RV30 x 1.15; ETH scaled by its realised-vol ratio), linear in time between closes.
A data outage (a gap of more than 4 h) is one longer interval with proportionally more
substeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from pmargin._typing import BoolArray, FloatArray
from pmargin.errors import InputError
from pmargin.history import EPISODES, WINDOW_RULES, HistoricalMarkets, find_window
from pmargin.market import MarketSnapshot

__all__ = ["EPISODE_KEYS", "INTERPOLATIONS", "CrashPath", "crash_path", "interpolate_log_prices"]

EPISODE_KEYS: tuple[str, ...] = tuple(e.key for e in EPISODES)
"""Episodes a path can be built for (``covid``, ``may2021``, ``celsius-3ac``, ``ftx``, ...)."""

INTERPOLATIONS = ("bridge", "linear")
"""Interpolations between 4-hour closes (module docstring)."""

_SECONDS_4H = 4 * 3600


@dataclass(frozen=True, slots=True)
class CrashPath:
    """The market path of one episode.

    Attributes
    ----------
    episode, title
        Episode key (``"covid"``) and title.
    names
        Underlyings, the columns of ``index`` and ``atm_vol``.
    times
        ``datetime64[s]`` UTC instants, increasing, shape ``(n_steps,)``; ``times[0]`` is
        the start (the population is built and margined there).
    index
        Index prices in USD, shape ``(n_steps, n_underlyings)``.
    atm_vol
        30-day ATM vol (decimal), shape ``(n_steps, n_underlyings)``.
    is_close
        Shape ``(n_steps,)``: True where the point is a real 4-hour close.
    market
        The market at ``times[0]`` (built from history alone).
    interpolation, substeps, seed
        How the points between closes were made.
    """

    episode: str
    title: str
    names: tuple[str, ...]
    times: npt.NDArray[np.datetime64]
    index: FloatArray
    atm_vol: FloatArray
    is_close: BoolArray
    market: MarketSnapshot
    interpolation: str = "linear"
    substeps: int = 1
    seed: int = 0

    @property
    def n_steps(self) -> int:
        """Number of path points (the start included)."""
        return int(self.times.size)

    @property
    def step_hours(self) -> float:
        """Smallest step of the path, hours."""
        if self.times.size < 2:
            return 4.0
        return float(np.diff(self.times).astype(np.int64).min()) / 3600.0

    def datetime_at(self, k: int) -> datetime:
        """Return ``times[k]`` as an aware UTC datetime."""
        return datetime.fromtimestamp(int(self.times[k].astype(np.int64)), tz=UTC)

    def move(self) -> FloatArray:
        """End-to-start relative move per underlying, shape ``(n_underlyings,)``."""
        result: FloatArray = self.index[-1] / self.index[0] - 1.0
        return result

    def drawdown(self) -> FloatArray:
        """Lowest point against the start per underlying, ``min / start - 1`` (<= 0)."""
        result: FloatArray = self.index.min(axis=0) / self.index[0] - 1.0
        return result


def interpolate_log_prices(
    closes: FloatArray,
    counts: npt.NDArray[np.int64],
    *,
    method: str,
    sigma_per_sqrt_hour: FloatArray,
    chol: FloatArray,
    hours: FloatArray,
    rng: np.random.Generator,
) -> tuple[FloatArray, BoolArray]:
    """Interpolate closes to finer points (module docstring).

    Parameters
    ----------
    closes
        USD closes, shape ``(m, k)``.
    counts
        Substeps of each of the ``m - 1`` intervals (>= 1), shape ``(m - 1,)``.
    method
        ``"linear"`` or ``"bridge"``.
    sigma_per_sqrt_hour
        Realised vol per sqrt hour per underlying, shape ``(k,)`` (bridge only).
    chol
        Cholesky factor of the correlation of the underlyings, shape ``(k, k)``.
    hours
        Length of each interval in hours, shape ``(m - 1,)``.
    rng
        Random generator (bridge only; not drawn from for ``"linear"``).

    Returns
    -------
    prices, is_close
        Shape ``(1 + counts.sum(), k)`` and ``(1 + counts.sum(),)``.
    """
    if method not in INTERPOLATIONS:
        raise InputError("interpolation", method, f"is not one of {'|'.join(INTERPOLATIONS)}")
    logs = np.log(closes)
    k = closes.shape[1]
    pieces = [logs[:1]]
    flags = [np.array([True])]
    for i, n in enumerate(counts.tolist()):
        frac = (np.arange(1, n + 1, dtype=np.float64) / n)[:, np.newaxis]
        x = logs[i] + frac * (logs[i + 1] - logs[i])
        if method == "bridge" and n > 1:
            dt = float(hours[i]) / n
            z = rng.standard_normal((n, k)) @ chol.T * math.sqrt(dt)
            walk = np.cumsum(z, axis=0)
            bridge = walk - frac * walk[-1]
            x = x + bridge * sigma_per_sqrt_hour
        x[-1] = logs[i + 1]
        pieces.append(x)
        flag = np.zeros(n, dtype=bool)
        flag[-1] = True
        flags.append(flag)
    prices: FloatArray = np.exp(np.concatenate(pieces))
    prices[np.concatenate(flags)] = closes  # closes kept exactly (no exp(log) rounding)
    return prices, np.concatenate(flags)


def _realised(markets: HistoricalMarkets, start: int) -> tuple[FloatArray, FloatArray]:
    """Realised vol per sqrt hour and the correlation Cholesky factor, 30 days before start."""
    h = markets.history
    window = round(30 * 24 / h.step)
    lo = max(0, start - window)
    returns = np.diff(np.log(h.closes[lo : start + 1]), axis=0)
    if returns.shape[0] < 2:
        k = h.closes.shape[1]
        return np.zeros(k), np.eye(k)
    sigma = np.sqrt(np.mean(returns**2, axis=0) / h.step)
    if returns.shape[1] == 1:
        return sigma, np.eye(1)
    corr = np.corrcoef(returns, rowvar=False)
    corr = np.nan_to_num(corr, nan=0.0)
    np.fill_diagonal(corr, 1.0)
    try:
        chol = np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        chol = np.eye(corr.shape[0])
    return sigma, chol


def crash_path(
    markets: HistoricalMarkets,
    episode: str,
    daily: object,
    *,
    substeps: int = 1,
    interpolation: str = "bridge",
    seed: int = 7,
) -> CrashPath:
    """Build the path of ``episode`` from 4-hourly history (module docstring).

    Parameters
    ----------
    markets
        Markets over the 4-hourly history (``HistoricalMarkets(load_price_history(
        frequency="4h"), load_funding())``).
    episode
        An episode key of :data:`EPISODE_KEYS`.
    daily
        The daily :class:`~pmargin.history.PriceHistory` the 7-day window is searched in.
    substeps
        Points per 4-hour interval (1 = the closes only).
    interpolation
        ``"bridge"`` or ``"linear"``.
    seed
        Seed of the bridge.

    Raises
    ------
    InputError
        For an unknown episode, a bad ``substeps`` or interpolation, or a window outside the
        4-hourly history's markets.
    """
    from pmargin.history import PriceHistory

    specs = {e.key: e for e in EPISODES}
    if episode not in specs:
        raise InputError("episode", episode, f"is not one of {'|'.join(EPISODE_KEYS)}")
    if isinstance(substeps, bool) or not isinstance(substeps, int) or not 1 <= substeps <= 48:
        raise InputError("substeps", substeps, "must be an integer in [1, 48]")
    if not isinstance(daily, PriceHistory):
        raise InputError("daily", type(daily).__name__, "must be a PriceHistory of daily closes")
    spec = specs[episode]
    rule = next(r for r in WINDOW_RULES if r.name == "7d")
    a, b = find_window(daily, spec.anchor, rule)
    h = markets.history
    lo = int(np.searchsorted(h.times, daily.times[a]))
    hi = int(np.searchsorted(h.times, daily.times[b], side="right")) - 1
    if lo < markets.first_valid or hi <= lo:
        raise InputError("episode", episode, "its window lies outside the 4-hourly markets")
    closes = h.closes[lo : hi + 1]
    times = h.times[lo : hi + 1]
    hours = np.diff(times).astype(np.int64) / 3600.0
    counts = np.maximum(1, np.rint(hours / 4.0 * substeps)).astype(np.int64)
    sigma, chol = _realised(markets, lo)
    rng = np.random.default_rng(seed)
    prices, is_close = interpolate_log_prices(
        closes,
        counts,
        method=interpolation,
        sigma_per_sqrt_hour=sigma,
        chol=chol,
        hours=hours,
        rng=rng,
    )
    t_s = times.astype(np.int64)
    fine = [t_s[:1]]
    vols = [markets.atm_vol[lo : lo + 1]]
    for i, n in enumerate(counts.tolist()):
        frac = np.arange(1, n + 1, dtype=np.float64) / n
        fine.append(t_s[i] + np.rint(frac * (t_s[i + 1] - t_s[i])).astype(np.int64))
        v0, v1 = markets.atm_vol[lo + i], markets.atm_vol[lo + i + 1]
        vols.append(v0 + frac[:, np.newaxis] * (v1 - v0))
    return CrashPath(
        episode=episode,
        title=spec.title,
        names=h.names,
        times=np.concatenate(fine).astype("datetime64[s]"),
        index=prices,
        atm_vol=np.concatenate(vols),
        is_close=is_close,
        market=markets.market(lo),
        interpolation=interpolation,
        substeps=substeps,
        seed=seed,
    )

"""Historical and filtered historical simulation of joint moves of several underlyings.

A scenario is one WINDOW of the price history, ``[t, t + mpor]``: every underlying moves by its
own close-to-close multiplier over that same window, so cross-asset dependence is kept (whole
dates are sampled, never one underlying's date with another's). Windows overlap: one starts at
every close of the lookback. With a carry history (``load_price_history(with_carry=True)``)
each window also carries the change of the annualised carry over the same window, applied to
dated instruments as ``exp(dc T)`` on their forwards. See ``docs/scenarios-historical.md``
for every convention.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import numpy.typing as npt

from pmargin._typing import BoolArray, FloatArray
from pmargin._validation import as_float
from pmargin.errors import InputError
from pmargin.history import (
    PriceHistory,
    annualise,
    ewma_variance,
    log_returns,
    per_step_lambda,
    realised_vol,
    to_datetime64,
)
from pmargin.scenarios._scenario_set import ScenarioArrays
from pmargin.scenarios._source import apply_joint_moves
from pmargin.valuation import ResolvedInstruments

__all__ = [
    "CarryMoveSource",
    "HistoricalScenarios",
    "StressedPeriod",
    "VolMoveSource",
    "carry_moves",
    "historical_scenarios",
    "parse_mpor",
]

_MPOR_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hd])\s*$", re.IGNORECASE)
_RV_DAYS = 30


class VolMoveSource:
    """Where a scenario's implied-vol move came from (values of ``vol_source``)."""

    DVOL = "dvol"
    REALISED_VOL = "realised_vol"
    NONE = "none"


class CarryMoveSource:
    """Where a scenario's carry change came from (values of ``carry_source``)."""

    FUNDING = "funding"
    NONE = "none"


def parse_mpor(mpor: object, field: str = "mpor") -> float:
    """Margin period of risk in hours from ``"4h"``, ``"2d"``, a ``timedelta`` or hours (number).

    Raises
    ------
    InputError
        Naming ``field`` for anything else or a period <= 0.
    """
    hours: float
    if isinstance(mpor, timedelta):
        hours = mpor.total_seconds() / 3600.0
    elif isinstance(mpor, str) and (match := _MPOR_TEXT.match(mpor)):
        hours = float(match.group(1)) * (24.0 if match.group(2).lower() == "d" else 1.0)
    elif isinstance(mpor, int | float) and not isinstance(mpor, bool):
        hours = float(mpor)
    else:
        raise InputError(
            field, mpor, "must be hours (number), a timedelta, or text like '4h', '1d'"
        )
    if not np.isfinite(hours) or hours <= 0.0:
        raise InputError(field, mpor, "must be a period > 0")
    return hours


@dataclass(frozen=True, slots=True)
class StressedPeriod:
    """A stressed window that receives at least ``share`` of the probability weight.

    EMIR RTS 153/2013 Art. 28(1)(b): at least 25% weight on stressed observations. Give
    either ``start`` and ``end`` (UTC instants; a scenario is stressed when its whole MPOR
    window lies in ``[start, end]``) or ``worst_days``: the window of that many days, ending by
    the as-of date, over which the equally weighted basket of the scenario underlyings had its
    lowest log return (sum over underlyings of ``ln(c[end] / c[start])``, divided by their
    number). Stressed windows outside the lookback are added to the scenarios.

    Attributes
    ----------
    share
        Least total probability weight of the stressed scenarios, in [0, 1).
    start, end
        The stressed window (anything :func:`~pmargin.timeutil.parse_timestamp` reads).
    worst_days
        Length in days of the worst window to find instead.
    """

    share: float = 0.25
    start: object = None
    end: object = None
    worst_days: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "share", as_float(self.share, "stressed.share", low=0.0, high=1.0, high_open=True)
        )
        explicit = self.start is not None or self.end is not None
        if explicit == (self.worst_days is not None):
            raise InputError(
                "stressed", self, "give either start and end, or worst_days (not both)"
            )
        if explicit:
            if self.start is None or self.end is None:
                raise InputError("stressed", self, "needs both start and end")
            if to_datetime64(self.end, "stressed.end") <= to_datetime64(
                self.start, "stressed.start"
            ):
                raise InputError("stressed.end", self.end, "must be after stressed.start")
        else:
            as_float(self.worst_days, "stressed.worst_days", low=0.0, low_open=True)

    def window(self, history: PriceHistory) -> tuple[np.datetime64, np.datetime64]:
        """Return the stressed window ``(start, end)`` in ``history`` (already sliced as of)."""
        if self.worst_days is None:
            return (
                to_datetime64(self.start, "stressed.start"),
                to_datetime64(self.end, "stressed.end"),
            )
        span = _steps(self.worst_days * 24.0, history.step, "stressed.worst_days")
        starts = _window_starts(history.times, span, history.step)
        if starts.size == 0:
            raise InputError(
                "stressed.worst_days", self.worst_days, "is longer than the history as of"
            )
        logc = np.log(history.closes).mean(axis=1)
        basket = logc[starts + span] - logc[starts]
        worst = int(starts[np.argmin(basket)])
        return history.times[worst], history.times[worst + span]


@dataclass(frozen=True, slots=True)
class HistoricalScenarios:
    """Joint historical moves of several underlyings over one margin period of risk.

    Attributes
    ----------
    names
        Underlyings, length ``n_underlyings``.
    spot_multiplier
        Price multipliers ``c[t + mpor] / c[t]`` (``exp`` of the rescaled log move when
        filtered), shape ``(n_underlyings, n_scenarios)``.
    vol_change
        Relative implied-vol moves (``+0.2`` lifts every vol by 20 %), shape
        ``(n_underlyings, n_scenarios)``.
    vol_source
        Source of each vol move (:class:`VolMoveSource`), shape ``(n_underlyings,
        n_scenarios)``.
    weights
        Probability weights, shape ``(n_scenarios,)``, sum 1.
    start, end
        ``datetime64[s]`` start and end close instants of each window, shape ``(n_scenarios,)``.
    stressed
        Whether each scenario lies in the stressed window, shape ``(n_scenarios,)``.
    as_of
        Last close used (``datetime64[s]``).
    mpor_hours
        Margin period of risk in hours.
    stressed_window
        ``(start, end)`` of the stressed window, or ``None``.
    ewma_vol
        Today's EWMA vol per underlying (annualised decimal) when filtered, else ``None``.
    min_vol
        Floor on shocked option vols (annualised decimal).
    carry_change
        Change ``c[t + mpor] - c[t]`` of each underlying's annualised carry over the window
        (decimal per year), shape ``(n_underlyings, n_scenarios)``; 0 where the carry is not
        known at both ends, or with the carry switched off. Never filtered. ``None``: all 0.
    carry_source
        Source of each carry change (:class:`CarryMoveSource`), shape ``(n_underlyings,
        n_scenarios)``, or ``None``.
    """

    names: tuple[str, ...]
    spot_multiplier: FloatArray
    vol_change: FloatArray
    vol_source: npt.NDArray[np.str_]
    weights: FloatArray
    start: npt.NDArray[np.datetime64]
    end: npt.NDArray[np.datetime64]
    stressed: BoolArray
    as_of: np.datetime64
    mpor_hours: float
    stressed_window: tuple[np.datetime64, np.datetime64] | None = None
    ewma_vol: FloatArray | None = None
    min_vol: float = 0.01
    carry_change: FloatArray | None = None
    carry_source: npt.NDArray[np.str_] | None = None

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios."""
        return int(self.weights.size)

    @property
    def labels(self) -> tuple[str, ...]:
        """``"2022-06-13T00:00 -> 2022-06-14T00:00"`` per scenario, ``" stressed"`` appended."""
        return tuple(
            f"{str(s)[:16]} -> {str(e)[:16]}" + (" stressed" if x else "")
            for s, e, x in zip(self.start, self.end, self.stressed, strict=True)
        )

    def apply(self, resolved: ResolvedInstruments) -> ScenarioArrays:
        """Multipliers (with the carry factor on dated rows) and shocked vols per instrument.

        See :func:`apply_joint_moves`.
        """
        return apply_joint_moves(
            self.names,
            self.spot_multiplier,
            self.vol_change,
            self.min_vol,
            resolved,
            self.carry_change,
        )


def historical_scenarios(
    history: PriceHistory,
    *,
    as_of: object = None,
    mpor: object = "1d",
    lookback_days: float = 365.0,
    underlyings: Sequence[str] | None = None,
    stressed: StressedPeriod | None = None,
    filtered: bool = False,
    ewma_lambda: float = 0.94,
    min_vol: float = 0.01,
    carry: bool = True,
) -> HistoricalScenarios:
    """Historical (or filtered historical) joint scenarios as of a date.

    Parameters
    ----------
    history
        Aligned closes (and implied vols) of the underlyings.
    as_of
        Last instant whose data may be used (None: the last close); later data is dropped.
    mpor
        Margin period of risk: hours (number), ``timedelta`` or ``"4h"`` / ``"2d"``; a whole
        multiple of the history's step (``24`` h on daily data, ``4`` h on 4-hourly data).
    lookback_days
        Windows starting within this many days before ``as_of`` (and ending by it) are used;
        must not reach before the first close.
    underlyings
        Names to move (default: every name of the history).
    stressed
        Stressed window and its least weight share, or ``None`` (equal weights).
    filtered
        Filtered historical simulation: each log return is divided by its EWMA vol forecast
        and multiplied by today's EWMA vol before the window's returns are summed.
    ewma_lambda
        EWMA decay PER DAY in (0, 1); on 4-hourly data the per-step decay is
        ``ewma_lambda ** (4 / 24)``.
    min_vol
        Floor on shocked option vols (annualised decimal, > 0).
    carry
        Move the carry of dated instruments' forwards by its change over the window
        (``history.carry[t + h] - history.carry[t]``, unfiltered; 0 where not known at both
        ends or where the history has no carry). ``False``: every carry change is 0.

    Returns
    -------
    HistoricalScenarios
        One scenario per whole window (windows spanning a data outage are dropped).

    Raises
    ------
    InputError
        Naming the field: ``underlyings[i]`` unknown, ``lookback_days`` longer than the
        history, ``ewma_lambda`` outside (0, 1), ``mpor`` not a multiple of the data step, an
        ``as_of`` before the history, a stressed window without any whole MPOR window.
    """
    lam = per_step_lambda(ewma_lambda, history.step)
    min_vol = as_float(min_vol, "min_vol", low=0.0, low_open=True)
    lookback_days = as_float(lookback_days, "lookback_days", low=0.0, low_open=True)
    mpor_hours = parse_mpor(mpor)
    h = _steps(mpor_hours, history.step, "mpor")
    hist = history.as_of(history.times[-1] if as_of is None else as_of)
    if underlyings is not None:
        hist = hist.select(underlyings)
    times = hist.times
    first = times[-1] - np.timedelta64(round(lookback_days * 86_400), "s")
    if first < times[0]:
        raise InputError(
            "lookback_days",
            lookback_days,
            f"reaches before the first close {times[0]} of the history as of {times[-1]}",
        )
    starts = _window_starts(times, h, hist.step)
    chosen = starts[times[starts] >= first]
    window = None
    in_stress = np.zeros(chosen.size, dtype=bool)
    if stressed is not None:
        window = stressed.window(hist)
        stress_mask = (times[starts] >= window[0]) & (times[starts + h] <= window[1])
        if not stress_mask.any():
            raise InputError(
                "stressed",
                f"{window[0]} -> {window[1]}",
                f"holds no whole {mpor_hours:g} h window of the history as of {times[-1]}",
            )
        chosen = np.union1d(chosen, starts[stress_mask])
        in_stress = np.isin(chosen, starts[stress_mask])
    if chosen.size == 0:
        raise InputError("lookback_days", lookback_days, f"holds no whole {mpor_hours:g} h window")

    returns = log_returns(hist.closes)
    ewma_vol = None
    if filtered:
        variance = ewma_variance(returns, lam)
        scale = np.sqrt(variance[-1] / np.maximum(variance[:-1], np.finfo(float).tiny))
        step_moves = returns * scale
        ewma_vol = annualise(variance[-1], hist.step)
    else:
        step_moves = returns
    cum = np.vstack([np.zeros((1, step_moves.shape[1])), np.cumsum(step_moves, axis=0)])
    if filtered:
        multiplier = np.exp(cum[chosen + h] - cum[chosen]).T
    else:
        multiplier = (hist.closes[chosen + h] / hist.closes[chosen]).T
    vol_change, vol_source = _vol_moves(hist, returns, chosen, h)
    carry_change, carry_source = carry_moves(
        hist.carry if carry else None, chosen, h, len(hist.names)
    )
    return HistoricalScenarios(
        names=hist.names,
        spot_multiplier=np.ascontiguousarray(multiplier),
        vol_change=vol_change,
        vol_source=vol_source,
        weights=stressed_weights(in_stress, 0.0 if stressed is None else stressed.share),
        start=times[chosen],
        end=times[chosen + h],
        stressed=in_stress,
        as_of=times[-1],
        mpor_hours=mpor_hours,
        stressed_window=window,
        ewma_vol=ewma_vol,
        min_vol=min_vol,
        carry_change=carry_change,
        carry_source=carry_source,
    )


def carry_moves(
    carry: FloatArray | None, starts: npt.NDArray[np.int64], h: int, n_underlyings: int
) -> tuple[FloatArray, npt.NDArray[np.str_]]:
    """Carry change per underlying over each window ``[t, t + h]`` and its source.

    Parameters
    ----------
    carry
        Annualised carry per close and underlying (decimal per year, NaN where unknown),
        shape ``(n_times, n_underlyings)``, or ``None`` (no carry: every change 0, source
        ``none``).
    starts
        Window start indices, shape ``(n_scenarios,)``.
    h
        Window length in steps.
    n_underlyings
        Number of underlyings (rows of the result).

    Returns
    -------
    carry_change, carry_source
        Shape ``(n_underlyings, n_scenarios)`` each: ``c[t + h] - c[t]`` where both are
        known (source ``funding``), else 0 (source ``none``).
    """
    if carry is None:
        shape = (n_underlyings, starts.size)
        return np.zeros(shape), np.full(shape, CarryMoveSource.NONE)
    change = carry[starts + h] - carry[starts]
    known = np.isfinite(change)
    source = np.where(known, CarryMoveSource.FUNDING, CarryMoveSource.NONE)
    return (
        np.ascontiguousarray(np.where(known, change, 0.0).T),
        np.ascontiguousarray(source.T),
    )


def stressed_weights(stressed: BoolArray, share: float) -> FloatArray:
    """Probability weights giving the stressed scenarios at least ``share`` in total.

    Equal weights ``1 / n`` when the stressed scenarios already hold ``share`` or more (or
    none is stressed, or all are); otherwise each stressed scenario gets ``share / n_s`` and
    each other one ``(1 - share) / (n - n_s)``.

    Parameters
    ----------
    stressed
        Shape ``(n_scenarios,)``.
    share
        In [0, 1).

    Returns
    -------
    FloatArray
        Shape ``(n_scenarios,)``, sum 1.
    """
    n = stressed.size
    n_s = int(stressed.sum())
    if n_s == 0 or n_s == n or n_s / n >= share:
        return np.full(n, 1.0 / n)
    return np.where(stressed, share / n_s, (1.0 - share) / (n - n_s))


def _steps(hours: float, step_hours: float, field: str) -> int:
    """``hours`` as a whole number >= 1 of data steps, else an InputError naming ``field``."""
    ratio = hours / step_hours
    k = round(ratio)
    if k < 1 or abs(ratio - k) > 1e-9:
        raise InputError(
            field, f"{hours:g} h", f"must be a whole multiple of the data step {step_hours:g} h"
        )
    return int(k)


def _window_starts(
    times: npt.NDArray[np.datetime64], h: int, step_hours: float
) -> npt.NDArray[np.int64]:
    """Return the ``t`` with ``times[t + h] - times[t]`` exactly ``h`` steps (no outage)."""
    if times.size <= h:
        return np.zeros(0, dtype=np.int64)
    span = (times[h:] - times[:-h]).astype("timedelta64[s]").astype(np.int64)
    return np.flatnonzero(span == round(h * step_hours * 3600)).astype(np.int64)


def _vol_moves(
    hist: PriceHistory, returns: FloatArray, starts: npt.NDArray[np.int64], h: int
) -> tuple[FloatArray, npt.NDArray[np.str_]]:
    """Relative IV move per underlying and window: DVOL where known at both ends, else RV30."""
    iv = hist.iv
    dvol = iv[starts + h] / iv[starts] - 1.0 if starts.size else np.zeros((0, iv.shape[1]))
    rv = realised_vol(returns, round(_RV_DAYS * 24.0 / hist.step), hist.step)
    with np.errstate(invalid="ignore", divide="ignore"):
        proxy = rv[starts + h] / rv[starts] - 1.0
    has_dvol = np.isfinite(dvol)
    has_proxy = np.isfinite(proxy)
    change = np.where(has_dvol, dvol, np.where(has_proxy, proxy, 0.0))
    source = np.where(
        has_dvol,
        VolMoveSource.DVOL,
        np.where(has_proxy, VolMoveSource.REALISED_VOL, VolMoveSource.NONE),
    )
    return np.ascontiguousarray(change.T), np.ascontiguousarray(source.T)

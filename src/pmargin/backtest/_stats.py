"""Coverage tests of a margin or VaR model: Kupiec, Christoffersen, the Basel traffic light.

Notation (``shared/methodologies/backtesting.md``): ``T`` observations, ``x`` exceptions (days
on which the realised loss exceeded the margin), ``p = 1 - confidence`` the expected exception
rate, ``p_hat = x / T``. Every log-likelihood uses ``0 ln 0 = 0``
(:func:`scipy.special.xlogy`). Chi-square p-values and critical values come from
:mod:`scipy.stats`; a test rejects at 95% when its statistic exceeds the critical value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special, stats

from pmargin._typing import ArrayLike
from pmargin._validation import as_float
from pmargin.errors import InputError

__all__ = [
    "ChristoffersenResult",
    "KupiecResult",
    "TrafficLightResult",
    "christoffersen",
    "kupiec_pof",
    "traffic_light",
]

CONFIDENCE = 0.95
"""Confidence of the coverage tests' reject decision."""

YELLOW_FROM = 0.95
"""Cumulative binomial probability from which the traffic light is yellow (Basel)."""

RED_FROM = 0.9999
"""Cumulative binomial probability from which the traffic light is red (Basel)."""

Zone = Literal["green", "yellow", "red"]


@dataclass(frozen=True, slots=True)
class KupiecResult:
    """Kupiec's proportion-of-failures test.

    Attributes
    ----------
    statistic
        ``LR_POF``, chi-square with 1 degree of freedom under the null.
    p_value
        ``P(chi2_1 > statistic)``.
    critical_value
        95% quantile of chi-square(1), 3.8415.
    reject
        ``statistic > critical_value``: the exception rate differs from ``p`` at 95%.
    n_obs, n_exceptions, p
        The inputs ``T``, ``x`` and the expected exception rate.
    exception_rate
        ``p_hat = x / T``.
    """

    statistic: float
    p_value: float
    critical_value: float
    reject: bool
    n_obs: int
    n_exceptions: int
    p: float
    exception_rate: float


@dataclass(frozen=True, slots=True)
class ChristoffersenResult:
    """Christoffersen's independence and conditional coverage tests.

    Attributes
    ----------
    lr_ind, p_value_ind, critical_value_ind, reject_ind
        Independence: ``LR_ind``, chi-square(1), 95% critical value 3.8415.
    lr_pof
        Kupiec's ``LR_POF`` over all ``T`` observations of the hit sequence.
    lr_cc, p_value_cc, critical_value_cc, reject_cc
        Conditional coverage ``LR_cc = LR_POF + LR_ind``, chi-square(2), critical 5.9915.
    n00, n01, n10, n11
        Transition counts ``n_ij = #{t >= 1: I_(t-1) = i, I_t = j}`` (``T - 1`` in all).
    pi0, pi1, pi
        ``n01/(n00+n01)``, ``n11/(n10+n11)``, ``(n01+n11)/(T-1)``; 0 where a denominator is 0
        (its terms then drop out of the likelihood).
    no_exception_transitions
        True when ``n10 + n11 = 0`` (no exception is followed by another day): ``LR_ind`` is 0
        and says nothing about clustering.
    note
        Why the independence test is uninformative, or ``""``.
    """

    lr_ind: float
    p_value_ind: float
    critical_value_ind: float
    reject_ind: bool
    lr_pof: float
    lr_cc: float
    p_value_cc: float
    critical_value_cc: float
    reject_cc: bool
    n00: int
    n01: int
    n10: int
    n11: int
    pi0: float
    pi1: float
    pi: float
    no_exception_transitions: bool
    note: str


@dataclass(frozen=True, slots=True)
class TrafficLightResult:
    """The Basel traffic light for an exception count.

    Attributes
    ----------
    zone
        ``"green"`` below 95% cumulative probability, ``"yellow"`` from 95%, ``"red"`` from
        99.99%.
    cumulative_probability
        ``P(X <= x)`` for ``X ~ Binomial(T, p)``.
    yellow_from, red_from
        The fewest exceptions that are yellow, red for this ``T`` and ``p`` (250 at 1%: 5, 10).
    n_obs, n_exceptions, p
        The inputs.
    """

    zone: Zone
    cumulative_probability: float
    yellow_from: int
    red_from: int
    n_obs: int
    n_exceptions: int
    p: float


def _as_count(value: object, field: str, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` (integral floats accepted)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer):
        raise InputError(field, value, "must be an integer")
    if isinstance(value, float) and not value.is_integer():
        raise InputError(field, value, "must be an integer")
    count = int(value)
    if count < low or (high is not None and count > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise InputError(field, value, f"must be an integer {bound}")
    return count


def _as_rate(p: float) -> float:
    return as_float(p, "p", low=0.0, high=1.0, low_open=True, high_open=True)


def _lr_pof(n_obs: int, n_exceptions: int, p: float) -> float:
    """``-2 ln L(p) + 2 ln L(p_hat)`` of the Bernoulli likelihood, ``0 ln 0 = 0``.

    Written as ``2 [(T - x) ln((1 - p_hat) / (1 - p)) + x ln(p_hat / p)]`` so that it is
    exactly 0 at ``p_hat = p``.
    """
    p_hat = n_exceptions / n_obs
    n_ok = n_obs - n_exceptions
    ratio = special.xlogy(n_ok, (1.0 - p_hat) / (1.0 - p)) + special.xlogy(n_exceptions, p_hat / p)
    return max(0.0, float(2.0 * ratio))


def kupiec_pof(n_obs: int, n_exceptions: int, p: float) -> KupiecResult:
    """Kupiec's proportion-of-failures likelihood-ratio test.

    ``LR_POF = -2 ln[(1-p)^(T-x) p^x] + 2 ln[(1-p_hat)^(T-x) p_hat^x]``, chi-square(1).

    Parameters
    ----------
    n_obs
        ``T``, the number of backtest observations (>= 1).
    n_exceptions
        ``x``, the number of exceptions, ``0 <= x <= T``.
    p
        Expected exception rate ``1 - confidence`` in (0, 1), e.g. 0.01 for 99% margin.

    Returns
    -------
    KupiecResult
        Statistic, p-value, 95% critical value and decision.

    Raises
    ------
    InputError
        Counts that are not integers in range, ``p`` outside (0, 1).
    """
    t = _as_count(n_obs, "n_obs", 1)
    x = _as_count(n_exceptions, "n_exceptions", 0, t)
    rate = _as_rate(p)
    statistic = _lr_pof(t, x, rate)
    critical = float(stats.chi2.ppf(CONFIDENCE, 1))
    return KupiecResult(
        statistic=statistic,
        p_value=float(stats.chi2.sf(statistic, 1)),
        critical_value=critical,
        reject=statistic > critical,
        n_obs=t,
        n_exceptions=x,
        p=rate,
        exception_rate=x / t,
    )


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def christoffersen(hits: ArrayLike, p: float) -> ChristoffersenResult:
    """Christoffersen's Markov independence test and conditional coverage test.

    With ``n_ij`` the number of days in state ``j`` after a day in state ``i`` (1 = exception):
    ``LR_ind = -2 ln[(1-pi)^(n00+n10) pi^(n01+n11)]
    + 2 ln[(1-pi0)^n00 pi0^n01 (1-pi1)^n10 pi1^n11]``, chi-square(1), and
    ``LR_cc = LR_POF + LR_ind``, chi-square(2), where ``LR_POF`` is Kupiec's statistic over
    all ``T`` days of ``hits``. When ``n10 + n11 = 0`` (no exception, or only one on the last
    day) ``LR_ind = 0``; the result says so.

    Parameters
    ----------
    hits
        Exception indicators in time order, shape ``(T,)``, booleans or 0/1, ``T >= 2``.
    p
        Expected exception rate ``1 - confidence`` in (0, 1).

    Returns
    -------
    ChristoffersenResult
        Both statistics with p-values, critical values and decisions, the counts and a note.

    Raises
    ------
    InputError
        ``hits`` not one-dimensional 0/1 of length >= 2; ``p`` outside (0, 1).
    """
    array = np.asarray(hits)
    if array.ndim != 1 or array.shape[0] < 2:
        raise InputError("hits.shape", array.shape, "must be (T,) with T >= 2")
    if array.dtype != np.bool_:
        try:
            numeric = array.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError("hits", hits, "must be booleans or 0/1") from exc
        bad = ~np.isin(numeric, (0.0, 1.0))
        if np.any(bad):
            i = int(np.argmax(bad))
            raise InputError(f"hits[{i}]", array[i].item(), "must be 0 or 1 (or a boolean)")
        array = numeric.astype(np.bool_)
    rate = _as_rate(p)

    previous, current = array[:-1], array[1:]
    n00 = int(np.sum(~previous & ~current))
    n01 = int(np.sum(~previous & current))
    n10 = int(np.sum(previous & ~current))
    n11 = int(np.sum(previous & current))
    pi0 = _ratio(n01, n00 + n01)
    pi1 = _ratio(n11, n10 + n11)
    pi = _ratio(n01 + n11, n00 + n01 + n10 + n11)

    restricted = special.xlogy(n00 + n10, 1.0 - pi) + special.xlogy(n01 + n11, pi)
    unrestricted = (
        special.xlogy(n00, 1.0 - pi0)
        + special.xlogy(n01, pi0)
        + special.xlogy(n10, 1.0 - pi1)
        + special.xlogy(n11, pi1)
    )
    no_transitions = n10 + n11 == 0
    lr_ind = 0.0 if no_transitions else max(0.0, float(-2.0 * restricted + 2.0 * unrestricted))
    note = (
        "n10 + n11 = 0: no day follows an exception, LR_ind set to 0 (independence untested)"
        if no_transitions
        else ""
    )
    lr_pof = _lr_pof(array.shape[0], int(array.sum()), rate)
    lr_cc = lr_pof + lr_ind
    critical_ind = float(stats.chi2.ppf(CONFIDENCE, 1))
    critical_cc = float(stats.chi2.ppf(CONFIDENCE, 2))
    return ChristoffersenResult(
        lr_ind=lr_ind,
        p_value_ind=float(stats.chi2.sf(lr_ind, 1)),
        critical_value_ind=critical_ind,
        reject_ind=lr_ind > critical_ind,
        lr_pof=lr_pof,
        lr_cc=lr_cc,
        p_value_cc=float(stats.chi2.sf(lr_cc, 2)),
        critical_value_cc=critical_cc,
        reject_cc=lr_cc > critical_cc,
        n00=n00,
        n01=n01,
        n10=n10,
        n11=n11,
        pi0=pi0,
        pi1=pi1,
        pi=pi,
        no_exception_transitions=no_transitions,
        note=note,
    )


def traffic_light(n_exceptions: int, n_obs: int = 250, p: float = 0.01) -> TrafficLightResult:
    """Return the Basel traffic-light zone of an exception count.

    The zone follows the cumulative binomial probability ``P(X <= x)``, ``X ~ Binomial(T, p)``:
    green below 95%, yellow from 95%, red from 99.99%. For 250 observations at 99%: green 0-4,
    yellow 5-9, red 10 or more.

    Parameters
    ----------
    n_exceptions
        ``x``, the number of exceptions, ``0 <= x <= T``.
    n_obs
        ``T``, the number of observations (>= 1), 250 by default.
    p
        Expected exception rate ``1 - confidence`` in (0, 1), 0.01 by default.

    Returns
    -------
    TrafficLightResult
        The zone, the cumulative probability and the zone boundaries for ``T`` and ``p``.

    Raises
    ------
    InputError
        Counts that are not integers in range, ``p`` outside (0, 1).
    """
    t = _as_count(n_obs, "n_obs", 1)
    x = _as_count(n_exceptions, "n_exceptions", 0, t)
    rate = _as_rate(p)
    cumulative = stats.binom.cdf(np.arange(t + 1), t, rate)
    cumulative[-1] = 1.0  # P(X <= T) = 1 exactly, so both zones exist
    yellow_from = int(np.argmax(cumulative >= YELLOW_FROM))
    red_from = int(np.argmax(cumulative >= RED_FROM))
    zone: Zone = "green" if x < yellow_from else "yellow" if x < red_from else "red"
    return TrafficLightResult(
        zone=zone,
        cumulative_probability=float(cumulative[x]),
        yellow_from=yellow_from,
        red_from=red_from,
        n_obs=t,
        n_exceptions=x,
        p=rate,
    )

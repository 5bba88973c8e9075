"""Per model x book summary of a backtest: coverage tests, efficiency, procyclicality.

For one model and one book, over the ``T`` observations where both the margin and the realised
P&L are known: ``x`` exceptions (realised loss over the margin period of risk > initial
margin), Kupiec's proportion of failures, Christoffersen's independence and conditional
coverage tests on the hit sequence in time order, the Basel traffic-light zone for that ``T``
and ``p``, the mean margin over the mean gross notional and over the mean ``standard`` margin
of the same book on the same days, the largest 1-day and 5-day relative margin increases and
the peak-to-trough ratio of the margin.

The verdict is two-sided. Coverage passes when Kupiec's test does not reject (in either
direction: too many OR too few exceptions), Christoffersen's independence test does not reject
and the traffic light is green. Efficiency: where Kupiec rejects for too FEW exceptions the
model is "over-margined by about N x", with ``N`` the **over-margin factor**
(:func:`over_margin_factor`): the factor by which every margin of the series could be divided
before the exceptions reach the expected count ``ceil(p T)``, i.e. one over the
``ceil(p T)``-th largest ratio of realised loss to margin. ``N > 1`` over-margined, ``N < 1``
under-margined (the margin would have to be multiplied by ``1 / N``), ``N`` about 1 calibrated.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pmargin._typing import BoolArray, FloatArray
from pmargin.backtest._stats import christoffersen, kupiec_pof, traffic_light

__all__ = [
    "BookStats",
    "book_stats",
    "exceptions",
    "max_increase",
    "over_margin_factor",
    "verdict",
]


@dataclass(frozen=True, slots=True)
class BookStats:
    """Backtest summary of one model on one book (amounts in USD, rates as fractions).

    Attributes
    ----------
    model, book
        Names.
    n_obs, n_exceptions, exception_rate, expected_rate
        ``T``, ``x``, ``x / T`` and ``p``.
    kupiec_lr, kupiec_p_value, kupiec_reject
        Kupiec's ``LR_POF``, its chi-square(1) p-value, rejection at 95%.
    ind_lr, ind_p_value, ind_reject, cc_lr, cc_p_value, cc_reject, ind_note
        Christoffersen independence (chi-square(1)) and conditional coverage (chi-square(2));
        the note says when independence is untested.
    zone
        Basel traffic light for ``T`` and ``p`` (``"green"``, ``"yellow"``, ``"red"``).
    mean_margin, mean_notional
        Mean initial margin and gross notional over the observations.
    margin_to_notional
        ``mean_margin / mean_notional``.
    margin_to_standard
        ``mean_margin / mean standard margin`` on the same observations (NaN without one).
    max_increase_1d, max_increase_5d
        Largest relative margin increase over 1 and 5 days, ``M(t + d) / M(t) - 1`` (NaN when
        the step is longer than the horizon).
    peak_to_trough
        Largest over smallest positive margin.
    worst_excess
        Largest ``loss - margin`` (USD; negative when no exception).
    expected_exceptions
        ``p T``.
    kupiec_side
        ``"too_few"`` or ``"too_many"`` when Kupiec rejects, else ``"none"``.
    over_margin_factor
        ``N`` of :func:`over_margin_factor` (``inf`` when fewer than ``ceil(p T)``
        observations lost anything).
    coverage_pass
        Kupiec (both tails) and Christoffersen's independence do not reject and the zone is
        green.
    verdict
        One line: ``"pass"``, ``"over-margined by about 3.1x"``, ``"under-margined: ..."``,
        ``"exceptions cluster ..."`` (:func:`verdict`).
    """

    model: str
    book: str
    n_obs: int
    n_exceptions: int
    exception_rate: float
    expected_rate: float
    kupiec_lr: float
    kupiec_p_value: float
    kupiec_reject: bool
    ind_lr: float
    ind_p_value: float
    ind_reject: bool
    cc_lr: float
    cc_p_value: float
    cc_reject: bool
    ind_note: str
    zone: str
    mean_margin: float
    mean_notional: float
    margin_to_notional: float
    margin_to_standard: float
    max_increase_1d: float
    max_increase_5d: float
    peak_to_trough: float
    worst_excess: float
    expected_exceptions: float = math.nan
    kupiec_side: str = "none"
    over_margin_factor: float = math.nan
    coverage_pass: bool = False
    verdict: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN as ``None``)."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def exceptions(margin: FloatArray, pnl: FloatArray) -> BoolArray:
    """Exception indicators: realised loss ``-pnl`` strictly above ``margin`` (same shape)."""
    hits: BoolArray = -pnl > margin
    return hits


def over_margin_factor(margin: FloatArray, pnl: FloatArray, p: float) -> float:
    """Factor by which the margins could be divided before exceptions reach ``ceil(p T)``.

    With ``r_t = loss_t / margin_t`` (``loss = -pnl``) over the ``T`` observations with a
    positive margin, sorted from the largest, and ``k = max(1, ceil(p T))``, returns
    ``N = 1 / r_(k)``: dividing every margin by slightly more than ``N`` makes ``loss > margin``
    on exactly the ``k`` largest ratios (without ties). ``N > 1``: over-margined by ``N``;
    ``N < 1``: the margins would have to be ``1 / N`` times larger for ``k`` exceptions.

    Parameters
    ----------
    margin, pnl
        Margin and realised P&L, USD, shape ``(T,)`` (NaN margins are left out).
    p
        Expected exception rate.

    Returns
    -------
    float
        ``N``; ``inf`` when ``r_(k) <= 0`` (fewer than ``k`` observations lost anything) or
        ``1 / r_(k)`` exceeds the float range (a loss, such as a subnormal one, that no finite
        factor turns into an exception); NaN without observations.
    """
    ok = np.isfinite(margin) & np.isfinite(pnl) & (margin > 0)
    n = int(ok.sum())
    if n == 0:
        return math.nan
    ratio = np.sort(-pnl[ok] / margin[ok])[::-1]
    k = min(n, max(1, math.ceil(p * n - 1e-9)))
    kth = float(ratio[k - 1])
    return math.inf if kth <= 0 else 1.0 / kth


def verdict(kupiec_side: str, ind_reject: bool, zone: str, factor: float) -> str:
    """One-line two-sided verdict of one model on one book (see the module docstring).

    ``"pass"``; ``"over-margined by about N x"`` (Kupiec rejects for too few); ``"under-
    margined (zone): IM x 1/N for the expected count"`` (too many, or a zone not green);
    ``"exceptions cluster (Christoffersen)"``; problems joined by ``"; "``.
    """
    parts = []
    if kupiec_side == "too_few":
        if math.isfinite(factor):
            parts.append(f"over-margined by about {factor:.1f}x")
        else:
            parts.append("over-margined (fewer losses of any size than expected exceptions)")
    if kupiec_side == "too_many" or zone != "green":
        scale = f": IM x {1.0 / factor:.2f} for the expected count" if factor > 0 else ""
        parts.append(f"under-margined ({zone}{scale})")
    if ind_reject:
        parts.append("exceptions cluster (Christoffersen)")
    return "; ".join(parts) if parts else "pass"


def max_increase(margin: FloatArray, lag: int) -> float:
    """Largest ``margin[t + lag] / margin[t] - 1`` over ``t`` with both positive (NaN if none).

    Parameters
    ----------
    margin
        Margin series in time order on a regular grid, shape ``(n,)``; NaN where unknown.
    lag
        Steps ahead (>= 1); 0 or less gives NaN.
    """
    if lag < 1 or margin.shape[0] <= lag:
        return math.nan
    before, after = margin[:-lag], margin[lag:]
    ok = np.isfinite(before) & np.isfinite(after) & (before > 0)
    if not ok.any():
        return math.nan
    return float(np.max(after[ok] / before[ok] - 1.0))


def book_stats(
    model: str,
    book: str,
    margin: FloatArray,
    pnl: FloatArray,
    notional: FloatArray,
    standard: FloatArray | None,
    p: float,
    step_hours: float,
) -> BookStats | None:
    """Summarise one model on one book; ``None`` when fewer than 2 observations exist.

    Parameters
    ----------
    model, book
        Names.
    margin, pnl, notional
        Initial margin, realised P&L over the margin period of risk and gross notional, USD,
        shape ``(n_steps,)`` in time order; NaN margin where the model did not apply.
    standard
        The ``standard`` model's margin of the same book, shape ``(n_steps,)``, or ``None``.
    p
        Expected exception rate ``1 - confidence``.
    step_hours
        Hours between steps (for the 1-day and 5-day increases).
    """
    ok = np.isfinite(margin) & np.isfinite(pnl)
    n = int(ok.sum())
    if n < 2:
        return None
    hits = exceptions(margin[ok], pnl[ok])
    x = int(hits.sum())
    kupiec = kupiec_pof(n, x, p)
    chris = christoffersen(hits, p)
    zone = traffic_light(x, n, p)
    mean_margin = float(margin[ok].mean())
    mean_notional = float(notional[ok].mean())
    ratio_std = math.nan
    if standard is not None:
        both = ok & np.isfinite(standard)
        denominator = float(standard[both].mean()) if both.any() else 0.0
        if denominator > 0:
            ratio_std = float(margin[both].mean()) / denominator
    day_lag = 24.0 / step_hours
    lag1 = round(day_lag) if day_lag >= 1 and float(day_lag).is_integer() else 0
    positive = margin[ok][margin[ok] > 0]
    side = "none"
    if kupiec.reject:
        side = "too_few" if x < p * n else "too_many"
    factor = over_margin_factor(margin[ok], pnl[ok], p)
    passed = not kupiec.reject and not chris.reject_ind and zone.zone == "green"
    return BookStats(
        model=model,
        book=book,
        n_obs=n,
        n_exceptions=x,
        exception_rate=x / n,
        expected_rate=p,
        kupiec_lr=kupiec.statistic,
        kupiec_p_value=kupiec.p_value,
        kupiec_reject=kupiec.reject,
        ind_lr=chris.lr_ind,
        ind_p_value=chris.p_value_ind,
        ind_reject=chris.reject_ind,
        cc_lr=chris.lr_cc,
        cc_p_value=chris.p_value_cc,
        cc_reject=chris.reject_cc,
        ind_note=chris.note,
        zone=zone.zone,
        mean_margin=mean_margin,
        mean_notional=mean_notional,
        margin_to_notional=mean_margin / mean_notional if mean_notional > 0 else math.nan,
        margin_to_standard=ratio_std,
        max_increase_1d=max_increase(margin, lag1),
        max_increase_5d=max_increase(margin, 5 * lag1),
        peak_to_trough=float(positive.max() / positive.min()) if positive.size else math.nan,
        worst_excess=float(np.max(-pnl[ok] - margin[ok])),
        expected_exceptions=p * n,
        kupiec_side=side,
        over_margin_factor=factor,
        coverage_pass=passed,
        verdict=verdict(side, chris.reject_ind, zone.zone, factor),
    )

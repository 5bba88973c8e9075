"""The scenario sets a VaR / ES margin model reduces: base, correlation-stressed and floor.

Every set is built from the price history known at the market's timestamp (``as_of``), never
later (no look-ahead): :func:`pmargin.scenarios.historical_scenarios` and
:meth:`pmargin.scenarios.MonteCarloModel.from_history` slice the history with
:meth:`~pmargin.history.PriceHistory.as_of` first.

Correlation stress of a HISTORICAL set (:func:`recorrelate`): with ``Y`` the scenario log
moves, shape ``(k, n)``, ``sigma_u = sqrt(sum_s w_s Y_us^2)`` and ``Z = Y / sigma`` (unit
second moment per underlying under the scenario weights ``w``), ``C = sum_s w_s Z_s Z_s'`` is
the set's own correlation. Reference scores ``R = A_s A_C^+ Z`` (``A`` the symmetric square
roots of :func:`~pmargin.scenarios.correlation_root`, ``^+`` the pseudo-inverse) have weighted
second moments exactly ``C_s`` when ``C`` has full rank; each underlying's own moves are then
re-ordered to the ranks of its row of ``R`` (Iman and Conover, 1982), so every marginal is kept
exactly and only the pairing across underlyings moves toward ``C_s``. A Monte Carlo set is
re-paired the same way (rather than redrawn with the stressed matrix, which would change each
underlying's own draws too and charge a one-underlying book for sampling noise).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol, TypeVar

import numpy as np

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.history import PriceHistory, load_price_history, resolve_data_dir, to_datetime64
from pmargin.margin.scenario_risk._params import (
    ApcMethod,
    CorrelationStressMethod,
    ScenarioMethod,
    ScenarioRiskParams,
)
from pmargin.scenarios import (
    HistoricalScenarios,
    MonteCarloModel,
    MonteCarloScenarios,
    ScenarioArrays,
    StressedPeriod,
    blend_correlation,
    correlation_root,
    historical_scenarios,
    worst_window_correlation,
)
from pmargin.valuation import ResolvedInstruments

__all__ = [
    "JointScenarios",
    "ScenarioSets",
    "as_of_instant",
    "build_sets",
    "check_age",
    "check_fresh",
    "load_history",
    "recorrelate",
    "set_correlation",
]

_Set = TypeVar("_Set", HistoricalScenarios, MonteCarloScenarios)

_SAME_MATRIX = 1e-12
"""A stressed correlation within this of the base one is the base one (the add-on is 0)."""


class JointScenarios(Protocol):
    """A :class:`~pmargin.scenarios.ScenarioSource` that also exposes its per-underlying moves."""

    @property
    def names(self) -> tuple[str, ...]:
        """Underlyings moved, rows of ``spot_multiplier``."""
        ...

    @property
    def spot_multiplier(self) -> FloatArray:
        """Shape ``(n_underlyings, n_scenarios)``."""
        ...

    @property
    def carry_change(self) -> FloatArray | None:
        """Carry change per underlying (decimal per year), ``(n_underlyings, n_scenarios)``."""
        ...

    @property
    def labels(self) -> tuple[str, ...]:
        """One label per scenario."""
        ...

    @property
    def weights(self) -> FloatArray:
        """Shape ``(n_scenarios,)``, sum 1."""
        ...

    def apply(self, resolved: ResolvedInstruments) -> ScenarioArrays:
        """Multipliers and vols per instrument, ``(n_instruments, n_scenarios)``."""
        ...


@dataclass(frozen=True, slots=True)
class ScenarioSets:
    """The scenario sets of one computation.

    Attributes
    ----------
    base
        The set the measure, scenario P&L and contributions come from.
    stressed
        ``(label, set)`` per correlation stress whose matrix differs from the base one.
    floor
        The long-lookback set of the ``floor`` APC tool, or ``None``.
    correlation
        The base set's correlation (``(k, k)``), ``None`` with one underlying.
    """

    base: JointScenarios
    stressed: tuple[tuple[str, JointScenarios], ...]
    floor: JointScenarios | None
    correlation: FloatArray | None


@lru_cache(maxsize=8)
def _cached_history(
    folder: str, frequency: str, underlyings: tuple[str, ...], carry: bool
) -> PriceHistory:
    return load_price_history(
        folder, frequency=frequency, underlyings=underlyings, with_carry=carry
    )


def load_history(params: ScenarioRiskParams) -> PriceHistory:
    """Return the price history of the model's underlyings (cached per folder, frequency and names).

    The folder is ``history.path`` of the parameter file, else ``$PMARGIN_SHARED_DATA``, else
    ``../shared/data``; a missing folder or file is an :class:`~pmargin.errors.InputError`
    naming the variable to set. With ``scenarios.carry`` the history holds the trailing-funding
    carry (``binance_funding_rate_BTCUSDT_8h.csv``, BTC's funding for every underlying).
    """
    folder = resolve_data_dir(params.history_path)
    return _cached_history(os.fspath(folder), params.frequency, params.underlyings, params.carry)


def _all_data_days(history: PriceHistory, as_of: np.datetime64) -> float:
    """Days from the first close to the last close known at ``as_of``."""
    times = history.as_of(as_of).times
    return float((times[-1] - times[0]).astype("timedelta64[s]").astype(np.int64)) / 86_400.0


def _mc_model(
    params: ScenarioRiskParams,
    history: PriceHistory,
    as_of: np.datetime64,
    lookback: float,
    vols: str,
) -> MonteCarloModel:
    k = len(history.names)
    return MonteCarloModel.from_history(
        history,
        as_of=as_of,
        lookback_days=lookback,
        mpor=params.mpor_hours,
        correlation=params.mc_correlation,
        vols=vols,
        ewma_lambda=params.ewma_lambda,
        marginal=params.marginal,
        dof=params.dof,
        vol_beta=np.full(k, params.vol_beta),
        min_vol=params.min_vol,
        carry=params.carry,
    )


def build_sets(
    params: ScenarioRiskParams, history: PriceHistory, as_of: np.datetime64
) -> ScenarioSets:
    """Build the base, correlation-stressed and floor sets as of ``as_of`` (no look-ahead).

    Parameters
    ----------
    params
        The model's parameters.
    history
        Aligned closes of ``params.underlyings`` (any end date: sliced here).
    as_of
        The market's timestamp; no close after it is read.
    """
    p = params
    base: JointScenarios
    floor: JointScenarios | None = None
    if p.method is ScenarioMethod.MONTE_CARLO:
        mc_model = _mc_model(p, history, as_of, p.lookback_days, p.mc_vols)
        mc_base = mc_model.generate(p.n_scenarios, p.seed)
        base = mc_base
        correlation = set_correlation(mc_base) if len(mc_model.names) > 1 else None
        if p.apc_method is ApcMethod.FLOOR:
            days = p.floor_lookback_days or _all_data_days(history, as_of)
            floor = _mc_model(p, history, as_of, days, "sample").generate(p.n_scenarios, p.seed)
    else:
        stressed_period = None
        if p.apc_method is ApcMethod.STRESSED_WEIGHT:
            stressed_period = StressedPeriod(
                share=p.stressed_share, worst_days=p.stressed_worst_days
            )
        hist_base = historical_scenarios(
            history,
            as_of=as_of,
            mpor=p.mpor_hours,
            lookback_days=p.lookback_days,
            stressed=stressed_period,
            filtered=p.method is ScenarioMethod.FILTERED_HISTORICAL,
            ewma_lambda=p.ewma_lambda,
            min_vol=p.min_vol,
            carry=p.carry,
        )
        base = hist_base
        correlation = set_correlation(hist_base) if len(hist_base.names) > 1 else None
        if p.apc_method is ApcMethod.FLOOR:
            floor = historical_scenarios(
                history,
                as_of=as_of,
                mpor=p.mpor_hours,
                lookback_days=p.floor_lookback_days or _all_data_days(history, as_of),
                filtered=False,
                ewma_lambda=p.ewma_lambda,
                min_vol=p.min_vol,
                carry=p.carry,
            )
    stressed: list[tuple[str, JointScenarios]] = []
    if correlation is None:
        return ScenarioSets(base, (), floor, None)
    for label, matrix in _stressed_matrices(p, history, as_of, correlation):
        if np.allclose(matrix, correlation, rtol=0.0, atol=_SAME_MATRIX):
            continue
        if isinstance(base, HistoricalScenarios):
            stressed.append((label, recorrelate(base, matrix)))
        else:
            assert isinstance(base, MonteCarloScenarios)
            stressed.append((label, recorrelate(base, matrix)))
    return ScenarioSets(base, tuple(stressed), floor, correlation)


def _stressed_matrices(
    p: ScenarioRiskParams, history: PriceHistory, as_of: np.datetime64, correlation: FloatArray
) -> list[tuple[str, FloatArray]]:
    """Return the stressed correlation matrices of the add-on, labelled."""
    if p.stress_method is CorrelationStressMethod.NONE:
        return []
    if p.stress_method is CorrelationStressMethod.WORST_WINDOW:
        worst = worst_window_correlation(history, window_days=p.stress_window_days, as_of=as_of)
        return [(worst.source, worst.matrix)]
    out: list[tuple[str, FloatArray]] = []
    if p.toward_one > 0.0:
        out.append(
            (f"toward one x{p.toward_one:g}", blend_correlation(correlation, p.toward_one).matrix)
        )
    if p.toward_zero > 0.0:
        k = correlation.shape[0]
        matrix = (1.0 - p.toward_zero) * correlation + p.toward_zero * np.eye(k)
        out.append((f"toward zero x{p.toward_zero:g}", matrix))
    return out


def _log_moves(scenarios: _Set) -> tuple[FloatArray, FloatArray]:
    """Scenario log moves ``Y`` (k, n) and their weighted RMS per underlying (k,)."""
    y = np.log(scenarios.spot_multiplier)
    sigma = np.sqrt(y**2 @ scenarios.weights)
    return y, sigma


def set_correlation(scenarios: _Set) -> FloatArray:
    """Weighted zero-mean correlation of a joint set's log moves, shape ``(k, k)``.

    An underlying that never moves gets correlation 0 with the others (1 on the diagonal).
    """
    y, sigma = _log_moves(scenarios)
    z = np.divide(y, sigma[:, None], out=np.zeros_like(y), where=sigma[:, None] > 0.0)
    corr: FloatArray = np.clip((z * scenarios.weights) @ z.T, -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return corr


def recorrelate(scenarios: _Set, stressed: FloatArray) -> _Set:
    """Re-pair a joint set across underlyings toward the ``stressed`` correlation.

    Iman and Conover's rank method: the reference scores ``R = A_s A_C^+ Z`` (module
    docstring) have second moments ``C_s``; each underlying's OWN moves are then re-ordered so
    that their ranks follow that underlying's row of ``R``. Every underlying keeps exactly its
    own multipliers (and each multiplier keeps its date's implied-vol move), so a book on one
    underlying has exactly the same measure under the stressed set when the weights are equal;
    only which moves of BTC meet which of ETH changes.

    Parameters
    ----------
    scenarios
        The base set.
    stressed
        Target correlation, ``(k, k)``, PSD with unit diagonal.

    Returns
    -------
    HistoricalScenarios or MonteCarloScenarios
        Same dates, weights and labels; each underlying's ``spot_multiplier``, ``vol_change``,
        ``carry_change`` (and ``vol_source``, ``carry_source`` or ``standardised``) permuted
        across scenarios together (each move keeps its date's vol and carry change).
    """
    y, sigma = _log_moves(scenarios)
    z = np.divide(y, sigma[:, None], out=np.zeros_like(y), where=sigma[:, None] > 0.0)
    base_root = correlation_root(set_correlation(scenarios))
    reference = correlation_root(stressed) @ np.linalg.pinv(base_root, hermitian=True) @ z
    ranks = np.argsort(np.argsort(reference, axis=1, kind="stable"), axis=1, kind="stable")
    by_size = np.argsort(y, axis=1, kind="stable")
    source = np.take_along_axis(by_size, ranks, axis=1)  # scenario whose move each one takes
    names = (
        "spot_multiplier",
        "vol_change",
        "vol_source",
        "standardised",
        "carry_change",
        "carry_source",
    )
    moved = {
        name: np.take_along_axis(getattr(scenarios, name), source, axis=1)
        for name in names
        if getattr(scenarios, name, None) is not None
    }
    return replace(scenarios, **moved)  # type: ignore[arg-type]


def check_fresh(history: PriceHistory, as_of: np.datetime64, max_age_days: float) -> None:
    """Raise if the last close known at ``as_of`` is older than ``max_age_days``."""
    check_age(as_of, history.as_of(as_of).times[-1], max_age_days)


def check_age(as_of: np.datetime64, last: np.datetime64, max_age_days: float) -> None:
    """Raise if ``last`` (the last close known at ``as_of``) is more than ``max_age_days`` old."""
    age = float((as_of - last).astype("timedelta64[s]").astype(np.int64)) / 86_400.0
    if age > max_age_days:
        raise InputError(
            "market.timestamp",
            str(as_of),
            f"is {age:.1f} days after the last close of the price history ({last}); "
            f"update the history (history.max_age_days = {max_age_days:g})",
        )


def as_of_instant(timestamp: object) -> np.datetime64:
    """Return the market timestamp as ``datetime64[s]`` (UTC)."""
    return to_datetime64(timestamp, "market.timestamp")

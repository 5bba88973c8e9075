"""What every scenario source offers the risk kernel, and the joint-move ``apply`` they share.

A scenario source has ``labels`` (one per scenario), ``weights`` (probability weights, shape
``(n_scenarios,)``, summing to 1) and ``apply(resolved) -> ScenarioArrays``. The historical,
Monte Carlo and correlation-stressed sets implement it; :class:`ScenarioSet` implements it once
it has a ``weights`` property (equal weights).

Carry: a joint set may also move the annualised carry ``c`` of each underlying's forwards by
``dc`` (decimal per year); a dated future or option with ``T`` years to expiry then moves by
``m exp(dc T)`` (:func:`carry_factor`), a perpetual or spot by ``m``. ``ScenarioArrays`` holds
that forward multiplier; a coin-settled contract's settlement coin still moves by ``m``
(convert with the underlying's own multipliers, ``spot_multiplier[instrument_rows(...)]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.scenarios._scenario_set import ScenarioArrays
from pmargin.valuation import ResolvedInstruments

__all__ = ["ScenarioSource", "apply_joint_moves", "carry_factor", "instrument_rows"]


@runtime_checkable
class ScenarioSource(Protocol):
    """A set of scenarios the kernel can revalue instruments under."""

    @property
    def labels(self) -> tuple[str, ...]:
        """One label per scenario, in column order."""
        ...

    @property
    def weights(self) -> FloatArray:
        """Probability weight of each scenario, shape ``(n_scenarios,)``, summing to 1."""
        ...

    def apply(self, resolved: ResolvedInstruments) -> ScenarioArrays:
        """Shocked multipliers and vols, shape ``(n_instruments, n_scenarios)``."""
        ...


def instrument_rows(names: Sequence[str], resolved: ResolvedInstruments) -> npt.NDArray[np.int64]:
    """Row of ``names`` (the scenario set's underlyings) of each instrument's underlying.

    Returns shape ``(n_instruments,)``.

    Raises
    ------
    InputError
        (field ``underlying``) naming an instrument whose underlying has no scenarios.
    """
    index = {name: k for k, name in enumerate(names)}
    rows = np.empty(len(resolved), dtype=np.int64)
    for i, instrument in enumerate(resolved.instruments):
        k = index.get(instrument.underlying)
        if k is None:
            raise InputError(
                "underlying",
                instrument.underlying,
                f"of instrument {instrument.symbol!r} has no scenarios; "
                f"the scenario set moves {list(names)}",
            )
        rows[i] = k
    return rows


def carry_factor(
    carry_change: FloatArray, rows: npt.NDArray[np.int64], resolved: ResolvedInstruments
) -> FloatArray:
    """Factor ``exp(dc x T)`` on each instrument's forward under each scenario.

    Parameters
    ----------
    carry_change
        Change of the annualised carry ``dc`` per underlying and scenario (decimal per year),
        shape ``(n_underlyings, n_scenarios)``.
    rows
        Row of each instrument's underlying (:func:`instrument_rows`), shape ``(n_instruments,)``.
    resolved
        The instruments; ``T = resolved.time`` (ACT/365 years to expiry, floored at 0).

    Returns
    -------
    FloatArray
        Shape ``(n_instruments, n_scenarios)``: ``exp(dc x T)`` on dated rows (futures and
        options, finite ``T``), exactly 1 on perpetuals and spot (``T`` NaN).

    Notes
    -----
    The factor depends on the instrument only through its (underlying, ``T``): it is computed
    once per distinct pair (an expiry of an underlying) and copied to that pair's rows, the
    same operations on the same numbers as one row per instrument.
    """
    factor = np.ones((len(resolved), carry_change.shape[1]))
    dated = np.flatnonzero(np.isfinite(resolved.time))
    if dated.size:
        t = np.maximum(resolved.time[dated], 0.0)
        pairs = np.empty(dated.size, dtype=[("row", np.int64), ("t", np.float64)])
        pairs["row"] = rows[dated]
        pairs["t"] = t
        unique, which = np.unique(pairs, return_inverse=True)
        per_pair = np.exp(carry_change[unique["row"]] * unique["t"][:, np.newaxis])
        factor[dated] = per_pair[which.reshape(-1)]
    return factor


def apply_joint_moves(
    names: Sequence[str],
    spot_multiplier: FloatArray,
    vol_change: FloatArray,
    min_vol: float,
    resolved: ResolvedInstruments,
    carry_change: FloatArray | None = None,
) -> ScenarioArrays:
    """Map per-underlying joint moves onto instruments.

    A dated instrument (future, option) with ``T`` years to expiry gets the multiplier
    ``m x exp(dc x T)`` of its forward, ``dc`` its underlying's carry change in the scenario;
    perpetuals and spot get ``m`` (no carry). With ``carry_change`` ``None`` (or all 0) every
    instrument gets exactly ``m``.

    Parameters
    ----------
    names
        Underlyings the scenarios move, length ``n_underlyings``.
    spot_multiplier
        Multipliers of each underlying's price (``1 + relative move``), shape
        ``(n_underlyings, n_scenarios)``.
    vol_change
        Relative implied-vol move of each underlying's options, shape ``(n_underlyings,
        n_scenarios)``: an option with vol ``v`` gets ``max(min_vol, v * (1 + vol_change))``.
    min_vol
        Floor on every shocked vol (annualised decimal).
    resolved
        ``n_instruments`` resolved instruments; each underlying must be one of ``names``.
    carry_change
        Change of the annualised carry per underlying and scenario (decimal per year), shape
        ``(n_underlyings, n_scenarios)``, or ``None``.

    Returns
    -------
    ScenarioArrays
        ``spot_multiplier`` (of each instrument's underlying price: its forward for dated
        instruments, so it includes the carry factor) and ``vol`` of shape ``(n_instruments,
        n_scenarios)`` (vol NaN on non-option rows) and ``weight`` all ones (these sets do
        not dampen scenarios; their probability weights are the source's ``weights``).

    Raises
    ------
    InputError
        (field ``underlying``) naming an instrument whose underlying has no scenarios.
    """
    rows = instrument_rows(names, resolved)
    n_scen = spot_multiplier.shape[1]
    multiplier = np.ascontiguousarray(spot_multiplier[rows], dtype=np.float64)
    if carry_change is not None and np.any(carry_change != 0.0):
        multiplier *= carry_factor(carry_change, rows, resolved)
    vol = np.full((len(resolved), n_scen), np.nan)
    opt = np.flatnonzero(resolved.is_option)
    if opt.size:
        base = resolved.vol[opt][:, np.newaxis]
        vol[opt] = np.maximum(min_vol, base * (1.0 + vol_change[rows[opt]]))
    return ScenarioArrays(spot_multiplier=multiplier, vol=vol, weight=np.ones(n_scen))

"""What every scenario source offers the risk kernel, and the joint-move ``apply`` they share.

A scenario source has ``labels`` (one per scenario), ``weights`` (probability weights, shape
``(n_scenarios,)``, summing to 1) and ``apply(resolved) -> ScenarioArrays``. The historical,
Monte Carlo and correlation-stressed sets implement it; :class:`ScenarioSet` implements it once
it has a ``weights`` property (equal weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.scenarios._scenario_set import ScenarioArrays
from pmargin.valuation import ResolvedInstruments

__all__ = ["ScenarioSource", "apply_joint_moves"]


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


def apply_joint_moves(
    names: Sequence[str],
    spot_multiplier: FloatArray,
    vol_change: FloatArray,
    min_vol: float,
    resolved: ResolvedInstruments,
) -> ScenarioArrays:
    """Map per-underlying joint moves onto instruments.

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

    Returns
    -------
    ScenarioArrays
        ``spot_multiplier`` and ``vol`` of shape ``(n_instruments, n_scenarios)`` (vol NaN on
        non-option rows) and ``weight`` all ones (these sets do not dampen scenarios; their
        probability weights are the source's ``weights``).

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
    n_scen = spot_multiplier.shape[1]
    multiplier = np.ascontiguousarray(spot_multiplier[rows], dtype=np.float64)
    vol = np.full((len(resolved), n_scen), np.nan)
    opt = np.flatnonzero(resolved.is_option)
    if opt.size:
        base = resolved.vol[opt][:, np.newaxis]
        vol[opt] = np.maximum(min_vol, base * (1.0 + vol_change[rows[opt]]))
    return ScenarioArrays(spot_multiplier=multiplier, vol=vol, weight=np.ones(n_scen))

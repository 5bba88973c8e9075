"""One underlying's Deribit scenario grid and the per-row factors of its extended cells.

The scenarios are data, not prices: :func:`grid_of` builds them once per parameter set, and the
model (:mod:`pmargin.margin.deribit._model`) and a monitor block's kept plan
(:mod:`pmargin.margin.deribit._totals`) read the same :class:`Grid`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pmargin._typing import FloatArray, IntArray
from pmargin.margin.deribit._params import ExtendedWeighting
from pmargin.margin.deribit._risk_matrix import (
    deribit_scenarios,
    edge_conversion,
    extended_weights,
)
from pmargin.scenarios import RiskMatrixScenario, ScenarioSet, VolShockRule
from pmargin.valuation import ResolvedInstruments

if TYPE_CHECKING:
    from pmargin.margin.deribit._model import _Matrix

__all__ = ["Grid", "extended_factor", "grid_of", "segregated_unit_value"]


@dataclass(frozen=True, slots=True)
class Grid:
    """One underlying's risk-matrix scenarios and their account-independent weights."""

    scenarios: tuple[RiskMatrixScenario, ...]
    scenario_set: ScenarioSet
    n_standard: int
    weights: FloatArray  # (n_extended,), read-only
    conversion: FloatArray  # (n_extended,), read-only


@functools.lru_cache(maxsize=64)
def grid_of(
    underlying: str,
    pair: Any,
    general: Any,
    vol_rule: VolShockRule,
    weighting: ExtendedWeighting,
) -> Grid:
    """Build the scenarios of ``underlying`` once per parameter set (they are data, not prices).

    ``pair`` and ``general`` are the model's (frozen, hashable) parameter tables; the same
    arguments give the same scenarios, so a monitor's ticks and a book's blocks reuse them.
    """
    scenarios = deribit_scenarios(underlying, pair, general)
    moves = general.extended_moves
    weights = extended_weights(moves, pair.price_range, pair.extended_table_factor, weighting)
    conversion = edge_conversion(moves, pair.price_range, weighting)
    weights.flags.writeable = False
    conversion.flags.writeable = False
    return Grid(
        scenarios, ScenarioSet(scenarios, vol_rule), len(scenarios) - len(moves), weights,
        conversion,
    )  # fmt: skip


def segregated_unit_value(resolved: ResolvedInstruments, rows: IntArray) -> FloatArray:
    """Shape ``(len(rows),)``: one base unit's value in its settlement currency (S:PM roll).

    1 for inverse rows (a coin's unit is one coin), ``underlying_usd / settlement_usd`` else.
    """
    value: FloatArray = np.where(
        resolved.is_inverse[rows],
        1.0,
        resolved.underlying_usd[rows] / resolved.settlement_usd[rows],
    )
    return value


def extended_factor(m: _Matrix, inverse: Any) -> FloatArray:
    """Shape ``(n, n_extended)``: the factor on S:PM extended cells (weight, coin at the edge).

    ``inverse``: shape ``(n,)`` booleans of the unit's rows.
    """
    factor: FloatArray = m.weights[None, :] * np.where(inverse[:, None], m.conversion[None, :], 1.0)
    return factor

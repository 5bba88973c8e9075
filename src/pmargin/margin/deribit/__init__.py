"""Deribit portfolio margin (S:PM and X:PM), reproducing ``private/pme/simulate``.

:class:`DeribitModel` margins a book with the parameters of ``methodologies/deribit.toml``
(:class:`DeribitParams`); the array functions below are its pieces (risk-matrix scenarios, the
extended-table weights and edge conversion, the delta-one clamp of the "full" reading, pnl
offset, extended dampener, roll and delta shocks, worst case); :func:`verify_capture` checks
pmargin against a saved ``private/pme/simulate`` reply. See ``docs/margin-deribit.md`` for the
method, its sources and its assumptions.
"""

from pmargin.margin.deribit._capture import (
    TOLERANCE,
    CaptureCheck,
    CaptureRow,
    DeribitCapture,
    override_toml,
    read_capture,
    verify_capture,
)
from pmargin.margin.deribit._model import DeribitModel, DeribitUnitVectors
from pmargin.margin.deribit._params import (
    DampenerMode,
    DeltaShockMode,
    DeribitAssumptions,
    DeribitCurrencyParams,
    DeribitGeneralParams,
    DeribitMode,
    DeribitPairParams,
    DeribitParams,
    ExtendedWeighting,
    RollShockBasis,
    pair_key,
)
from pmargin.margin.deribit._risk_matrix import (
    aggregate_risk_vector,
    aggregate_risk_vector_reference,
    apply_extended_dampener,
    apply_pnl_offset,
    apply_pnl_offset_reference,
    clamp_delta_one,
    delta_shock,
    deribit_scenarios,
    edge_conversion,
    extended_dampener_cells,
    extended_weights,
    roll_shock,
    roll_shock_contribution,
    roll_shock_entries,
    roll_shock_rate,
    worst_case,
    worst_case_reference,
)

__all__ = [
    "TOLERANCE",
    "CaptureCheck",
    "CaptureRow",
    "DampenerMode",
    "DeltaShockMode",
    "DeribitAssumptions",
    "DeribitCapture",
    "DeribitCurrencyParams",
    "DeribitGeneralParams",
    "DeribitMode",
    "DeribitModel",
    "DeribitPairParams",
    "DeribitParams",
    "DeribitUnitVectors",
    "ExtendedWeighting",
    "RollShockBasis",
    "aggregate_risk_vector",
    "aggregate_risk_vector_reference",
    "apply_extended_dampener",
    "apply_pnl_offset",
    "apply_pnl_offset_reference",
    "clamp_delta_one",
    "delta_shock",
    "deribit_scenarios",
    "edge_conversion",
    "extended_dampener_cells",
    "extended_weights",
    "override_toml",
    "pair_key",
    "read_capture",
    "roll_shock",
    "roll_shock_contribution",
    "roll_shock_entries",
    "roll_shock_rate",
    "verify_capture",
    "worst_case",
    "worst_case_reference",
]

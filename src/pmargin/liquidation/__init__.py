"""Liquidation: partial liquidation, penalties, insurance fund, auto-deleveraging, replay.

``LiquidationEngine(model, book, fund).run()`` liquidates every account below its
maintenance margin and returns a :class:`LiquidationOutcome`: the events of the episode, in
order, and the state after it (book, insurance fund, liquidator fees, market counterparties'
slippage, bad debt). :func:`replay` rebuilds that state from the starting book and the events.
Parameters come from ``liquidation.toml`` (:func:`load_config`); docs/liquidation.md gives the
rules, formulas and the source of each default.
"""

from pmargin.liquidation._adl import adl_score, rank_opposite
from pmargin.liquidation._config import (
    AdlConfig,
    LiquidationConfig,
    PenaltyConfig,
    SlippageConfig,
    StepConfig,
    TargetConfig,
    config_path,
    load_config,
)
from pmargin.liquidation._costs import (
    fill_price,
    impact,
    penalty_rate,
    penalty_usd,
    split_penalty,
)
from pmargin.liquidation._engine import (
    ROUNDING_USD,
    LiquidationEngine,
    bankruptcy_price,
    below_maintenance,
)
from pmargin.liquidation._events import (
    AdlFill,
    BadDebt,
    FundDraw,
    LiquidationEvent,
    LiquidationFill,
    LiquidationFinished,
    LiquidationTriggered,
    event_from_dict,
    event_to_dict,
    events_from_json,
    events_to_json,
)
from pmargin.liquidation._state import (
    InsuranceFund,
    LiquidationOutcome,
    LiquidationState,
    replay,
)

__all__ = [
    "ROUNDING_USD",
    "AdlConfig",
    "AdlFill",
    "BadDebt",
    "FundDraw",
    "InsuranceFund",
    "LiquidationConfig",
    "LiquidationEngine",
    "LiquidationEvent",
    "LiquidationFill",
    "LiquidationFinished",
    "LiquidationOutcome",
    "LiquidationState",
    "LiquidationTriggered",
    "PenaltyConfig",
    "SlippageConfig",
    "StepConfig",
    "TargetConfig",
    "adl_score",
    "bankruptcy_price",
    "below_maintenance",
    "config_path",
    "event_from_dict",
    "event_to_dict",
    "events_from_json",
    "events_to_json",
    "fill_price",
    "impact",
    "load_config",
    "penalty_rate",
    "penalty_usd",
    "rank_opposite",
    "replay",
    "split_penalty",
]

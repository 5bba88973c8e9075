"""Market snapshot: index and asset prices, rates, marks, forwards and raw-SVI vol surfaces.

A :class:`MarketSnapshot` is immutable and validated; load one from a JSON or YAML file with
:func:`load_market` or from a mapping with :func:`market_from_dict`, write one back with
:func:`market_to_dict`. Prices are USD per unit, rates and vols decimals per year, times ACT/365
years from the snapshot timestamp. See ``docs/market.md`` for the file format and every rule.
"""

from pmargin.market._checks import MAX_VOL
from pmargin.market._codec import MARKET_FIELDS, market_from_dict, market_to_dict
from pmargin.market._futures import describe_symbol
from pmargin.market._loader import load_market
from pmargin.market._mark import Mark
from pmargin.market._moved import MarkKind, check_moves, mark_kinds, moved_market, moved_vol
from pmargin.market._snapshot import REPORTING_CURRENCY, MarketSnapshot
from pmargin.market._surface import SurfaceSlice, VolSurface
from pmargin.market._svi import RawSVI, raw_svi_total_variance

__all__ = [
    "MARKET_FIELDS",
    "MAX_VOL",
    "REPORTING_CURRENCY",
    "Mark",
    "MarkKind",
    "MarketSnapshot",
    "RawSVI",
    "SurfaceSlice",
    "VolSurface",
    "check_moves",
    "describe_symbol",
    "load_market",
    "mark_kinds",
    "market_from_dict",
    "market_to_dict",
    "moved_market",
    "moved_vol",
    "raw_svi_total_variance",
]

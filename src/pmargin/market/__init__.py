"""Market snapshot: index and asset prices, rates, marks, forwards and raw-SVI vol surfaces.

A :class:`MarketSnapshot` is immutable and validated; load one from a JSON or YAML file with
:func:`load_market` or from a mapping with :func:`market_from_dict`, write one back with
:func:`market_to_dict`. Prices are USD per unit, rates and vols decimals per year, times ACT/365
years from the snapshot timestamp. See ``docs/market.md`` for the file format and every rule.

SVI surfaces are fitted to quotes by :func:`fit_svi` (raw SVI per expiry or SSVI), with
butterfly and calendar checks; a market built from a venue's saved option chain is an importer
and lives in :mod:`pmargin.io` (:func:`pmargin.io.market_from_chain`).
"""

from typing import TYPE_CHECKING

from pmargin._lazy import lazy_exports

if TYPE_CHECKING:
    from pmargin.market._checks import MAX_VOL
    from pmargin.market._codec import MARKET_FIELDS, market_from_dict, market_to_dict
    from pmargin.market._fit_svi import FIT_METHODS, SliceFit, SviFit, fit_svi, fit_svi_slice
    from pmargin.market._futures import describe_symbol
    from pmargin.market._loader import load_market
    from pmargin.market._mark import Mark
    from pmargin.market._moved import MarkKind, check_moves, mark_kinds, moved_market, moved_vol
    from pmargin.market._snapshot import REPORTING_CURRENCY, MarketSnapshot
    from pmargin.market._surface import SurfaceAtTimes, SurfaceSlice, VolSurface
    from pmargin.market._svi import RawSVI, raw_svi_total_variance
    from pmargin.market._svi_checks import (
        ButterflyCheck,
        CalendarCheck,
        butterfly_check,
        calendar_check,
        durrleman_g,
    )
    from pmargin.market._svi_ssvi import (
        SmileQuotes,
        SSVIParams,
        fit_ssvi,
        significant,
        ssvi_phi,
        ssvi_slice_to_raw,
        ssvi_total_variance,
    )

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "FIT_METHODS",
    "MARKET_FIELDS",
    "MAX_VOL",
    "REPORTING_CURRENCY",
    "ButterflyCheck",
    "CalendarCheck",
    "Mark",
    "MarkKind",
    "MarketSnapshot",
    "RawSVI",
    "SSVIParams",
    "SliceFit",
    "SmileQuotes",
    "SurfaceAtTimes",
    "SurfaceSlice",
    "SviFit",
    "VolSurface",
    "butterfly_check",
    "calendar_check",
    "check_moves",
    "describe_symbol",
    "durrleman_g",
    "fit_ssvi",
    "fit_svi",
    "fit_svi_slice",
    "load_market",
    "mark_kinds",
    "market_from_dict",
    "market_to_dict",
    "moved_market",
    "moved_vol",
    "raw_svi_total_variance",
    "significant",
    "ssvi_phi",
    "ssvi_slice_to_raw",
    "ssvi_total_variance",
]

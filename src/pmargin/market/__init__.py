"""Market snapshot: index and asset prices, rates, marks, forwards and raw-SVI vol surfaces.

A :class:`MarketSnapshot` is immutable and validated; load one from a JSON or YAML file with
:func:`load_market` or from a mapping with :func:`market_from_dict`, write one back with
:func:`market_to_dict`. Prices are USD per unit, rates and vols decimals per year, times ACT/365
years from the snapshot timestamp. See ``docs/market.md`` for the file format and every rule.

From a venue's option chain: :func:`read_deribit_chain` / :func:`read_okx_chain` read saved
replies into :class:`ChainQuote` rows, :func:`market_from_chain` builds the snapshot (index,
one forward per expiry, marks, SVI surfaces by :func:`fit_svi`, with its butterfly and
calendar checks and fit errors), :func:`reprice_chain` checks it against bid and ask.
"""

from typing import TYPE_CHECKING

from pmargin._lazy import lazy_exports

if TYPE_CHECKING:
    from pmargin.market._checks import MAX_VOL
    from pmargin.market._codec import MARKET_FIELDS, market_from_dict, market_to_dict
    from pmargin.market._fit_svi import FIT_METHODS, SliceFit, SviFit, fit_svi, fit_svi_slice
    from pmargin.market._from_venue import (
        ChainMarket,
        ChainQuote,
        RepriceReport,
        market_from_chain,
        reprice_chain,
    )
    from pmargin.market._from_venue_deribit import read_deribit_chain
    from pmargin.market._from_venue_okx import read_okx_chain
    from pmargin.market._futures import describe_symbol
    from pmargin.market._loader import load_market
    from pmargin.market._mark import Mark
    from pmargin.market._moved import MarkKind, check_moves, mark_kinds, moved_market, moved_vol
    from pmargin.market._snapshot import REPORTING_CURRENCY, MarketSnapshot
    from pmargin.market._surface import SurfaceSlice, VolSurface
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
    "ChainMarket",
    "ChainQuote",
    "Mark",
    "MarkKind",
    "MarketSnapshot",
    "RawSVI",
    "RepriceReport",
    "SSVIParams",
    "SliceFit",
    "SmileQuotes",
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
    "market_from_chain",
    "market_from_dict",
    "market_to_dict",
    "moved_market",
    "moved_vol",
    "raw_svi_total_variance",
    "read_deribit_chain",
    "read_okx_chain",
    "reprice_chain",
    "significant",
    "ssvi_phi",
    "ssvi_slice_to_raw",
    "ssvi_total_variance",
]

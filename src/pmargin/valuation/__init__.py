"""Resolve instruments against a market and value them (per unit of underlying)."""

from pmargin.valuation._resolve import ResolvedInstruments, VolSource, resolve_instruments
from pmargin.valuation._resolver import InstrumentResolver
from pmargin.valuation._terms import InstrumentTerms, columns_by
from pmargin.valuation._valuation import Valuation, value_instruments

__all__ = [
    "InstrumentResolver",
    "InstrumentTerms",
    "ResolvedInstruments",
    "Valuation",
    "VolSource",
    "columns_by",
    "resolve_instruments",
    "value_instruments",
]

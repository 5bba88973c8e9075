"""Contracts: spot, dated futures, perpetual swaps and European options, linear and inverse.

Venue symbols (Deribit, OKX, Binance, ccxt) are parsed and printed by
:func:`parse_symbol` / :func:`format_symbol`; anything else is described by an explicit spec
(:func:`instrument_from_spec`).
"""

from pmargin.instruments._instrument import Instrument, Kind, QuantityUnit, Right, Settlement
from pmargin.instruments._spec import instrument_from_spec
from pmargin.instruments.venues import (
    VENUES,
    ContractSpecs,
    ContractTerms,
    detect_venue,
    format_symbol,
    load_contract_specs,
    parse_symbol,
)

__all__ = [
    "VENUES",
    "ContractSpecs",
    "ContractTerms",
    "Instrument",
    "Kind",
    "QuantityUnit",
    "Right",
    "Settlement",
    "detect_venue",
    "format_symbol",
    "instrument_from_spec",
    "load_contract_specs",
    "parse_symbol",
]

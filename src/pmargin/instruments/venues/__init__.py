"""Venue symbols: parse and print Deribit, OKX, Binance and ccxt instrument names.

:func:`parse_symbol` turns a symbol into an :class:`~pmargin.instruments.Instrument`, detecting
the venue from the symbol's shape unless one is named; :func:`format_symbol` prints an
instrument in any venue's form that has such a contract. Contract sizes and native quantity
units are data, in ``pmargin/instruments/contract_specs.toml`` (:func:`load_contract_specs`).
"""

from pmargin.instruments.venues._contract_specs import (
    ContractSpecs,
    ContractTerms,
    load_contract_specs,
)
from pmargin.instruments.venues._registry import (
    VENUES,
    detect_venue,
    format_symbol,
    parse_symbol,
)

__all__ = [
    "VENUES",
    "ContractSpecs",
    "ContractTerms",
    "detect_venue",
    "format_symbol",
    "load_contract_specs",
    "parse_symbol",
]

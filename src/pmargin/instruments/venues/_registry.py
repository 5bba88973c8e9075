"""Parse and print venue symbols: detect the venue, apply its syntax and its contract specs.

Detection (``venue=None``) looks only at a symbol's shape; the shapes do not overlap:

1. contains ``/``: ccxt (``BTC/USDT:USDT``);
2. contains ``-`` and the part after the first ``-`` is ``PERPETUAL`` or a day-month-year
   token with letters (``27DEC24``), or the part before it contains ``_``: Deribit;
3. contains ``-`` and the part after the first ``-`` is all digits (``241227``): Binance option;
4. contains ``-`` and the part after the first ``-`` is all letters (``USD``, ``USDT``): OKX;
5. no ``-``: ``X_PERP`` or ``X_<digits>`` is Binance COIN-M or USDⓈ-M quarterly; ``BASE_QUOTE``
   is Deribit spot; a name ending in ``USDT``, ``USDC`` or ``USD`` is Binance;
6. anything else is not a known venue symbol.

Symbols are case-sensitive and canonical: only upper case is accepted (no venue writes lower
case; the one exception is the ``d`` Deribit writes as decimal point in strikes, ``0d625``),
with no whitespace, and every accepted form prints back to the same text.
"""

from __future__ import annotations

import re

from pmargin.errors import InputError, SymbolError
from pmargin.instruments._instrument import Instrument
from pmargin.instruments.venues._binance import BINANCE
from pmargin.instruments.venues._ccxt import CCXT
from pmargin.instruments.venues._common import (
    Contract,
    PartError,
    VenueSyntax,
    contract_of,
)
from pmargin.instruments.venues._contract_specs import ContractSpecs, load_contract_specs
from pmargin.instruments.venues._deribit import DERIBIT
from pmargin.instruments.venues._okx import OKX
from pmargin.timeutil import expiry_on

__all__ = ["VENUES", "detect_venue", "format_symbol", "parse_symbol", "venue_syntax"]

_SYNTAXES: dict[str, VenueSyntax] = {s.name: s for s in (DERIBIT, OKX, BINANCE, CCXT)}

VENUES: tuple[str, ...] = tuple(_SYNTAXES)
"""Venues whose symbols :func:`parse_symbol` reads: ``deribit``, ``okx``, ``binance``, ``ccxt``."""

_DERIBIT_DECIMAL_POINT = re.compile(r"(?<=[0-9])D(?=[0-9])")
_EXPECTED = (
    "expected Deribit BTC-27DEC24-60000-C, BTC-PERPETUAL or BTC_USDC-PERPETUAL; "
    "OKX BTC-USD-241227-60000-C, BTC-USDT-SWAP or BTC-USDT; "
    "Binance BTC-241227-60000-C, BTCUSDT or BTCUSD_PERP; "
    "ccxt BTC/USDT:USDT or BTC/USD:BTC-241227-60000-C"
)


def parse_symbol(
    symbol: str, venue: str | None = None, *, specs: ContractSpecs | None = None
) -> Instrument:
    """Parse a venue symbol into an :class:`~pmargin.instruments.Instrument`.

    Parameters
    ----------
    symbol
        A venue symbol as the venue writes it, e.g. ``"BTC-27DEC24-60000-C"`` (Deribit),
        ``"BTC-USDT-SWAP"`` (OKX), ``"BTCUSD_PERP"`` (Binance), ``"BTC/USD:BTC"`` (ccxt).
    venue
        ``"deribit"``, ``"okx"``, ``"binance"`` or ``"ccxt"``; ``None`` detects the venue from
        the symbol's shape (see the module docstring).
    specs
        Contract sizes and quantity units; default: the packaged ``contract_specs.toml``.

    Returns
    -------
    Instrument
        With ``symbol`` equal to the input, ``venue`` set, expiry at 08:00 UTC on the symbol's
        date, and ``contract_size``, ``contract_currency`` and ``quantity_unit`` from ``specs``.

    Raises
    ------
    SymbolError
        If the symbol is malformed, has an invalid part (date, strike, right, currency), or
        its contract size is unknown; the message names the symbol and what was expected.
    InputError
        If ``venue`` is not one of :data:`VENUES`.
    """
    syntax = _syntax_for(symbol, venue)
    try:
        contract = syntax.parse(symbol)
    except PartError as error:
        raise SymbolError(symbol, f"{error.reason}; {_forms(syntax)}") from None
    if contract.underlying == contract.quote:
        raise SymbolError(symbol, f"has base and quote both {contract.quote!r}; {_forms(syntax)}")
    table = specs if specs is not None else load_contract_specs()
    try:
        terms = table.terms(
            syntax.name, contract.kind, contract.settlement, contract.underlying, contract.quote
        )
    except PartError as error:
        raise SymbolError(symbol, error.reason) from None
    return Instrument(
        symbol=symbol,
        kind=contract.kind,
        underlying=contract.underlying,
        quote=contract.quote,
        settlement=contract.settlement,
        expiry=None if contract.expiry_day is None else expiry_on(contract.expiry_day),
        strike=contract.strike,
        right=contract.right,
        contract_size=terms.contract_size,
        contract_currency=(
            contract.underlying if terms.contract_currency == "base" else contract.quote
        ),
        quantity_unit=terms.quantity_unit,
        venue=syntax.name,
    )


def format_symbol(instrument: Instrument, venue: str | None = None) -> str:
    """Write ``instrument`` as a venue symbol.

    Parameters
    ----------
    instrument
        Any instrument whose terms the venue can express (kind, underlying, quote,
        settlement, expiry date at 08:00 UTC, strike, right).
    venue
        Target venue; default ``instrument.venue``.

    Returns
    -------
    str
        The symbol; for an instrument parsed from a symbol of the same venue, that symbol.

    Raises
    ------
    SymbolError
        If the venue lists no such contract (e.g. an inverse option on Binance, a linear
        option on OKX, spot in Binance form), or the expiry is not at 08:00 UTC.
    InputError
        If no venue is given and the instrument has none, or the venue is unknown.
    """
    if venue is None and instrument.venue is None:
        raise InputError(
            "venue", None, f"is required: instrument {instrument.symbol!r} has no venue ({VENUES})"
        )
    syntax = venue_syntax(venue if venue is not None else str(instrument.venue))
    contract = contract_of(instrument)
    try:
        text = syntax.format(contract)
        echo = syntax.parse(text)
    except PartError as error:
        raise SymbolError(
            instrument.symbol, f"cannot be written in {syntax.display} form: it {error.reason}"
        ) from None
    if echo != contract:
        raise SymbolError(
            instrument.symbol,
            f"cannot be written in {syntax.display} form: {text!r} would read back as "
            f"{_describe(echo)}",
        )
    return text


def detect_venue(symbol: str) -> str:
    """Name of the venue whose symbol shape ``symbol`` has (see the module docstring).

    Raises
    ------
    SymbolError
        If no venue writes symbols of this shape, or the symbol is not canonical text.
    """
    return _syntax_for(symbol, None).name


def venue_syntax(venue: str) -> VenueSyntax:
    """Look up the symbol syntax of ``venue`` (case-insensitive name).

    Raises
    ------
    InputError
        If ``venue`` is not one of :data:`VENUES`.
    """
    syntax = _SYNTAXES.get(venue.lower()) if isinstance(venue, str) else None
    if syntax is None:
        raise InputError("venue", venue, f"is not one of {'|'.join(VENUES)}")
    return syntax


def _syntax_for(symbol: object, venue: str | None) -> VenueSyntax:
    if not isinstance(symbol, str):
        raise InputError("symbol", symbol, f"must be a string; {_EXPECTED}")
    if not symbol:
        raise SymbolError(symbol, f"is empty; {_EXPECTED}")
    if any(char.isspace() for char in symbol):
        raise SymbolError(symbol, f"contains whitespace; {_EXPECTED}")
    canonical_case = _DERIBIT_DECIMAL_POINT.sub("d", symbol.upper())
    if symbol != canonical_case and _reads(canonical_case, venue):
        raise SymbolError(
            symbol,
            f"has the wrong letter case; venue symbols are upper case except Deribit's decimal "
            f"point 'd' in strikes (did you mean {canonical_case!r}?)",
        )
    if venue is not None:
        return venue_syntax(venue)
    claimants = [syntax for syntax in _SYNTAXES.values() if syntax.claims(symbol)]
    if len(claimants) != 1:
        case_hint = " (in upper case)" if symbol != canonical_case else ""
        raise SymbolError(symbol, f"is not a known venue symbol; {_EXPECTED}{case_hint}")
    return claimants[0]


def _reads(symbol: str, venue: str | None) -> bool:
    """Whether ``symbol`` is a valid symbol (of ``venue``, or of the venue it looks like)."""
    if venue is not None:
        syntax: VenueSyntax | None = venue_syntax(venue)
    else:
        claimants = [s for s in _SYNTAXES.values() if s.claims(symbol)]
        syntax = claimants[0] if len(claimants) == 1 else None
    if syntax is None:
        return False
    try:
        syntax.parse(symbol)
    except PartError:
        return False
    return True


def _forms(syntax: VenueSyntax) -> str:
    return f"{syntax.display} forms: {', '.join(syntax.examples)}"


def _describe(contract: Contract) -> str:
    return (
        f"{contract.settlement.value} {contract.kind.value} {contract.underlying}/{contract.quote}"
    )

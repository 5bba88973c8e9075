"""A market file from a venue's saved option chain (``pmargin market from-deribit|from-okx``).

Composes :func:`pmargin.io.read_deribit_chain` / :func:`pmargin.io.read_okx_chain`,
:func:`pmargin.io.market_from_chain` and :func:`pmargin.io.reprice_chain`; the rules
are in ``docs/market.md`` ("A market from a venue's chain").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Literal

from pmargin.errors import InputError
from pmargin.io import (
    ChainMarket,
    RepriceReport,
    market_from_chain,
    read_deribit_chain,
    read_okx_chain,
    reprice_chain,
)

__all__ = ["CHAIN_VENUES", "VenueMarket", "venue_market"]

CHAIN_VENUES = ("deribit", "okx")
"""Venues whose saved option chains :func:`venue_market` reads."""


@dataclass(frozen=True, slots=True)
class VenueMarket:
    """A market built from a venue's chain, and the chain repriced from it.

    Attributes
    ----------
    venue
        ``"deribit"`` or ``"okx"``.
    chain
        The market document, snapshot, SVI fits and skipped expiries.
    reprice
        Every option of the chain repriced from the snapshot's surfaces against bid and ask.
    """

    venue: str
    chain: ChainMarket
    reprice: RepriceReport


def venue_market(
    venue: str,
    files: Sequence[str | PathLike[str]],
    *,
    marks: bool = True,
    method: Literal["raw", "ssvi"] = "raw",
) -> VenueMarket:
    """Build a market from a venue's saved chain files and reprice the chain from it.

    Parameters
    ----------
    venue
        ``"deribit"`` (book summary / ticker replies, or a chain CSV) or ``"okx"`` (option
        summary, mark price, index and ticker replies).
    files
        The saved files.
    marks
        Put the options' positive mark prices in the market's ``marks``.
    method
        SVI fitting method (``"raw"`` or ``"ssvi"``).

    Returns
    -------
    VenueMarket
        The market and its repricing check.

    Raises
    ------
    InputError
        For an unknown venue, or any problem in the files (naming the file and field).
    """
    name = venue.lower()
    if name not in CHAIN_VENUES:
        raise InputError("venue", venue, f"is not one of {', '.join(CHAIN_VENUES)}")
    if not files:
        raise InputError("files", [], "needs at least one saved chain file")
    quotes = read_deribit_chain(files) if name == "deribit" else read_okx_chain(files)
    chain = market_from_chain(quotes, marks=marks, method=method)
    return VenueMarket(name, chain, reprice_chain(chain.snapshot, quotes))

"""Read a market file (JSON or YAML, chosen by extension) into a :class:`MarketSnapshot`.

File problems (missing file, unknown extension, invalid JSON/YAML with its line, a key given
twice in one mapping) raise :class:`~pmargin.errors.InputError` naming the file; content
problems name the file and the field path (``market.json: index.BTC: -1.0 must be ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from typing import Any

from pmargin._files import STRUCTURED_SUFFIXES, read_structured
from pmargin.errors import InputError
from pmargin.instruments import Instrument
from pmargin.market._codec import market_from_dict
from pmargin.market._snapshot import MarketSnapshot

__all__ = ["MARKET_FILE_SUFFIXES", "load_market", "read_market_file"]

MARKET_FILE_SUFFIXES = STRUCTURED_SUFFIXES
"""Accepted market file extensions (case-insensitive)."""

_FILE = "market file"


def load_market(
    path: str | PathLike[str], instruments: Mapping[str, Instrument] | None = None
) -> MarketSnapshot:
    """Load and validate a market snapshot file.

    Parameters
    ----------
    path
        A ``.json``, ``.yaml`` or ``.yml`` file in the layout of :func:`market_from_dict`.
    instruments
        Optional explicit contracts for mark symbols that are not venue symbols.

    Raises
    ------
    InputError
        For file problems (naming the file) and invalid content (naming file and field).
    """
    data = read_market_file(path)
    try:
        return market_from_dict(data, instruments)
    except InputError as err:
        raise InputError(f"{path}: {err.field}", err.value, err.reason) from err


def read_market_file(path: str | PathLike[str]) -> Any:
    """Parse a market file into plain Python values (see :func:`pmargin._files.read_structured`)."""
    return read_structured(path, _FILE)

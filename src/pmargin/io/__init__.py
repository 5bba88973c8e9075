"""Venue importers: saved account replies (Deribit, OKX, Bybit, Binance, ccxt) to a portfolio.

A user saves what their venue's API answers (positions and balances, several files in any
order) and pmargin reads them into the portfolio file's form (docs/import.md):

>>> from pmargin.io import import_portfolio, read_replies
>>> replies = read_replies("deribit", ["positions.json", "summary_btc.json"])  # doctest: +SKIP
>>> portfolio = import_portfolio("deribit", replies, account="me")            # doctest: +SKIP

Every venue's units are converted explicitly (quantities written as ``base``, ``quote`` or
``contracts``), average prices are kept, and symbols are pmargin's venue symbols. A reply of
a shape the venue's importer does not know is refused with an
:class:`~pmargin.errors.InputError` naming the venue, the reply and the field.

A venue's saved option chain is imported here too, into a market snapshot (docs/market.md,
"A market from a venue's chain"): :func:`read_deribit_chain` / :func:`read_okx_chain` read the
replies into :class:`ChainQuote` rows, :func:`market_from_chain` builds the snapshot (index, one
forward per expiry, marks, SVI surfaces by :func:`pmargin.market.fit_svi`, with its butterfly
and calendar checks and fit errors) and :func:`reprice_chain` checks it against bid and ask.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pmargin._files import STRUCTURED_SUFFIXES, read_structured, short_path
from pmargin.book import Portfolio, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.io._binance import read_binance
from pmargin.io._bybit import bybit_symbol, read_bybit
from pmargin.io._ccxt import read_ccxt
from pmargin.io._chain import (
    ChainMarket,
    ChainQuote,
    RepriceReport,
    market_from_chain,
    reprice_chain,
)
from pmargin.io._chain_deribit import read_deribit_chain
from pmargin.io._chain_okx import read_okx_chain
from pmargin.io._deribit import read_deribit
from pmargin.io._okx import read_okx_replies
from pmargin.io._reply import Holdings, Reader, Reply, portfolio_document, read_all
from pmargin.io._write import PORTFOLIO_SUFFIXES, write_portfolio

__all__ = [
    "IMPORT_VENUES",
    "PORTFOLIO_SUFFIXES",
    "ChainMarket",
    "ChainQuote",
    "Reply",
    "RepriceReport",
    "bybit_symbol",
    "import_document",
    "import_portfolio",
    "market_from_chain",
    "read_deribit_chain",
    "read_okx_chain",
    "read_replies",
    "reprice_chain",
    "write_portfolio",
]

_READERS: dict[str, Reader] = {
    "deribit": read_deribit,
    "bybit": read_bybit,
    "binance": read_binance,
    "ccxt": read_ccxt,
}
IMPORT_VENUES = ("deribit", "okx", "bybit", "binance", "ccxt")
"""The venues whose saved replies pmargin imports."""


def _venue(venue: str) -> str:
    name = str(venue).strip().lower()
    if name not in IMPORT_VENUES:
        raise InputError("venue", venue, f"is not one of {'|'.join(IMPORT_VENUES)}")
    return name


def read_replies(venue: str, paths: Iterable[str | Path]) -> list[Reply]:
    """Read saved replies from files: JSON or YAML, or a folder of them.

    Parameters
    ----------
    venue
        One of :data:`IMPORT_VENUES`.
    paths
        Reply files; a folder stands for its ``.json``, ``.yaml`` and ``.yml`` files, in
        name order.

    Returns
    -------
    list of Reply
        One per file, named by its path, in the order given.

    Raises
    ------
    InputError
        An unknown venue, no files, or a file that cannot be read (named).
    """
    name = _venue(venue)
    files: list[Path] = []
    for path in paths:
        given = Path(path)
        if given.is_dir():
            inside = sorted(p for p in given.iterdir() if p.suffix.lower() in STRUCTURED_SUFFIXES)
            if not inside:
                raise InputError(
                    f"{name} replies", short_path(given), "is a folder with no .json or .yaml file"
                )
            files.extend(inside)
        else:
            files.append(given)
    if not files:
        raise InputError(f"{name} replies", [], "must name at least one reply file")
    return [Reply(name, short_path(f), read_structured(f, f"{name} reply")) for f in files]


def import_document(
    venue: str, replies: Sequence[Reply | Any], *, account: str | None = None
) -> dict[str, Any]:
    """Return the portfolio document (the portfolio file's JSON) of a venue's saved replies.

    Parameters
    ----------
    venue
        One of :data:`IMPORT_VENUES`.
    replies
        :class:`Reply` objects (:func:`read_replies`) or parsed JSON values (named
        ``reply 1``, ``reply 2``, ... in messages), in any order.
    account
        The account id; default the venue's name.

    Returns
    -------
    dict
        ``{"accounts": [{"id", "balances", "positions"}], "instruments"?}``: quantities in
        explicit units (``base``, ``quote``, ``contracts``), balances by asset.

    Raises
    ------
    InputError
        Naming the venue, the reply and the field: an error reply, a reply of no known shape,
        a missing or bad field, a symbol pmargin does not read, an asset given twice.
    """
    name = _venue(venue)
    given = [
        r if isinstance(r, Reply) else Reply(name, f"reply {k}", r)
        for k, r in enumerate(replies, start=1)
    ]
    if not given:
        raise InputError(f"{name} replies", [], "must hold at least one reply")
    for reply in given:
        if reply.venue != name:
            raise InputError(reply.field(), reply.venue, f"is not a {name} reply")
    holdings: Holdings = (
        read_okx_replies(given) if name == "okx" else read_all(_READERS[name], given)
    )
    if account is not None and (not isinstance(account, str) or not account.strip()):
        raise InputError("--account", account, "must be a non-empty account id")
    return portfolio_document(holdings, name if account is None else account.strip())


def import_portfolio(
    venue: str, replies: Sequence[Reply | Any], *, account: str | None = None
) -> Portfolio:
    """Read a venue's saved replies into a :class:`~pmargin.book.Portfolio` of one account.

    The document of :func:`import_document`, read by
    :func:`pmargin.book.portfolio_from_dict` (so checked like any portfolio file).
    """
    return portfolio_from_dict(import_document(venue, replies, account=account))

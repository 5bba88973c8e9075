"""What a margin model can margin and how it can be run: its declared capabilities.

Every model carries one :class:`Capabilities` (``model.capabilities``); the monitor reads its
:data:`Scope`, the what-if path whether it has an incremental path, the CLI and the service
what it cannot margin and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse

from pmargin._typing import BoolArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.instruments import Instrument, Kind

__all__ = ["HEDGE_SOLVES", "Capabilities", "HedgeSolve", "Scope"]


Scope = Literal["underlying", "account"]
"""How far a price change of one underlying reaches in a model's margin.

``"underlying"``: every risk unit holds the positions of one underlying (and, for X:PM, the
balance of that underlying's coin) and the account's IM and MM are the sum of its units in USD,
so a price change of one underlying re-margins only that underlying's units.
``"account"``: some unit or charge spans underlyings, so every update re-margins the account.
"""


def _describe(instrument: Instrument) -> str:
    """Say what ``instrument`` is, in words (``"a coin-settled (inverse) option"``)."""
    if instrument.is_inverse:
        return f"a coin-settled (inverse) {instrument.kind.value}"
    if instrument.kind is Kind.FUTURE:
        return "a dated future"
    if instrument.kind is Kind.SPOT:
        return "a spot instrument"
    return f"a linear {instrument.kind.value}"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a margin model can margin and how it can be run: declared once, on the model.

    Attributes
    ----------
    scope
        ``"underlying"`` or ``"account"`` (:data:`Scope`): what a price change of one
        underlying must re-margin (the monitor reads it).
    incremental
        Whether ``model.incremental(book, result)`` gives an
        :class:`IncrementalMargin` (one account's margin after an order from cached vectors,
        without re-margining it); Deribit's S:PM has one.
    row_prices
        Whether the model reads every price beyond the book's resolved columns through the
        book (:meth:`~pmargin.book.BookArrangement.usd_price`,
        :meth:`~pmargin.book.BookArrangement.index_usd`), so it margins a book of moved rows
        (:meth:`~pmargin.book.BookArrangement.moved_rows`) with each row at its own prices:
        the distance search then needs one computation per round. ``deribit`` (S:PM and X:PM)
        and ``standard`` do.
    needs_history
        Whether ``compute`` reads price history (its scenarios are historical or fitted to
        history), so it needs the shared data folder or a history given to the model.
    margins
        Which instruments the model can margin; ``None``: every instrument.
    limit
        The one reason, in words, for what it cannot margin (empty when it margins every
        instrument), such as ``"Derive's PMRM_2 margins USDC-settled (linear) options and
        perpetuals only"``.
    """

    scope: Scope = "account"
    incremental: bool = False
    row_prices: bool = False
    needs_history: bool = False
    margins: Callable[[Instrument], bool] | None = None
    limit: str = ""

    def supports(self, instrument: Instrument) -> bool:
        """Whether the model can margin a position in ``instrument``."""
        return self.margins is None or self.margins(instrument)

    def unsupported(self, instruments: Iterable[Instrument]) -> str | None:
        """Why the model cannot margin ``instruments`` (the first it cannot), else ``None``.

        The reason is one line: ``"instrument 'BTC-PERPETUAL' is a coin-settled (inverse)
        perpetual: <limit>"``.
        """
        for instrument in instruments:
            if not self.supports(instrument):
                return f"instrument {instrument.symbol!r} is {_describe(instrument)}: {self.limit}"
        return None

    def check(self, instruments: Iterable[Instrument]) -> None:
        """Raise for the first instrument the model cannot margin.

        Raises
        ------
        InputError
            Naming the instrument, what it is and :attr:`limit`.
        """
        for instrument in instruments:
            if not self.supports(instrument):
                raise InputError(
                    f"instrument {instrument.symbol!r}",
                    instrument.symbol,
                    f"is {_describe(instrument)}: {self.limit}; remove it from the book or "
                    "use another model",
                )

    def supported_accounts(self, book: BookArrangement) -> BoolArray:
        """Accounts of ``book`` whose every position the model can margin.

        Returns
        -------
        BoolArray
            Shape ``(n_accounts,)``; an account without positions is supported.
        """
        n_accounts = len(book.account_ids)
        if self.margins is None:
            return np.ones(n_accounts, dtype=bool)
        cannot = np.array([not self.supports(i) for i in book.instruments], dtype=np.float64)
        held_cannot = np.asarray(abs(sparse.csr_array(book.quantity)) @ cannot, dtype=np.float64)
        supported: BoolArray = held_cannot.reshape(n_accounts) == 0.0
        return supported


HedgeSolve = Literal["exact", "core+polish", "polish"]
"""How the hedge optimiser (:mod:`pmargin.optimise`) solves a model: ``"exact"`` (its IM is
the linear programme's objective), ``"core+polish"`` (a linear core solved, then a search on
lots with the true model), ``"polish"`` (the search alone, from the perpetual's delta hedge)."""

HEDGE_SOLVES: dict[str, tuple[HedgeSolve, str]] = {
    "deribit": (
        "exact",
        "worst loss over the risk matrix (offset and distance dampener are "
        "convex) plus the roll shock's |net delta| per expiry",
    ),
    "deribit-cross": (
        "core+polish",
        "per-currency offsets summed and collateral that a trade's cash moves",
    ),
    "pmargin-es": (
        "exact",
        "max of the ES of the base, stressed and floor sets (Rockafellar-Uryasev)",
    ),
    "pmargin-mc": ("exact", "as pmargin-es over Monte Carlo draws"),
    "pmargin-var": ("core+polish", "VaR is not convex: the core takes ES at the VaR level"),
    "standard": ("polish", "futures margin grows with size (a quadratic in |q|)"),
    "okx": ("polish", "tiered rates and minimum charges"),
    "tims": ("polish", "per-contract minimums and product-group offsets"),
    "derive-pmrm2": ("polish", "contingencies and account-dependent scenario P&L"),
}
"""Model name -> how :mod:`pmargin.optimise` solves it and why (docs/hedge.md), for the
shipped parameters; a user's file can make an exact model approximate (the optimiser then
says so: its core is checked against the model at no trade and after the trades)."""

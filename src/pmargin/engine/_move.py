"""A book after a market move typed as text: ``--move BTC=-0.1,vol=+0.2``.

The move is read by the stress module's shock syntax (:func:`pmargin.stress.parse_shock`:
relative spot moves per underlying or asset, relative vol moves or ``pt`` vol points,
``vol`` for every underlying, ``BTC.vol`` for one) and applied to the arranged book:

- spot moves only: :meth:`pmargin.book.BookArrangement.moved` (sticky strike);
- with a vol shock: the book's options get the shocked vol as their ``iv`` mark (each option's
  vol at the moved prices, then :meth:`pmargin.stress.VolShock.apply`), the market is moved
  with them (:meth:`pmargin.market.MarketSnapshot.moved`) and the book rebased to it.

Instruments the book does not hold keep the moved market's own vols (its surface); the
vol shock moves the book's options.
"""

from __future__ import annotations

import math

import numpy as np

from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.stress import StressShock, parse_shock

__all__ = ["moved_book", "parse_move"]


def parse_move(text: str) -> StressShock:
    """Read ``--move`` text as a deterministic shock.

    Raises
    ------
    InputError
        Field ``--move``: a text the shock syntax refuses, or a correlation shock.
    """
    try:
        shock = parse_shock(text, name="move")
    except InputError as exc:
        raise InputError("--move", exc.value, exc.reason) from None
    if not isinstance(shock, StressShock):
        raise InputError("--move", text, "must be spot and vol moves (no corr=)")
    return shock


def moved_book(book: BookArrangement, move: str | StressShock) -> BookArrangement:
    """Return ``book`` after the move (see the module docstring).

    Raises
    ------
    InputError
        As :func:`parse_move`; a move of an underlying or asset the market does not price.
    """
    shock = parse_move(move) if isinstance(move, str) else move
    spot = dict(shock.spot_moves)
    if not shock.vol_shocks:
        return book.moved(spot)
    shocked: dict[str, tuple[str, float]] = {}
    moved = book.moved(spot) if spot else book
    for instrument, vol in zip(moved.instruments, moved.resolved.vol.tolist(), strict=True):
        vol_shock = shock.vol_shock(instrument.underlying)
        if instrument.is_option and vol_shock is not None and math.isfinite(vol) and vol > 0.0:
            new = float(vol_shock.apply(np.array([vol]))[0])
            shocked[instrument.symbol] = (instrument.underlying, new)
    if not shocked:
        return moved
    still = {underlying: 0.0 for underlying, _ in shocked.values()}
    market = moved.market.moved(still, 0.0, shocked)
    return moved.rebased(market)

"""The book's instruments after relative price moves of their underlyings.

The move rule (every USD price of underlying ``u`` times ``1 + m``; options sticky strike unless
``vol_beta``; vols capped at :data:`~pmargin.market.MAX_VOL`) is the market's own
(:mod:`pmargin.market`: :func:`~pmargin.market.moved_market`,
:func:`~pmargin.market.moved_vol`). What positions do is the arranged book's rule
(:meth:`pmargin.book.BookArrangement.rebased`): inverse futures keep their USD notional, the
move's P&L on futures and perpetuals goes to their unrealised P&L; balances are revalued at the
moved market.

:func:`moved_resolved` moves already resolved instruments by array arithmetic alone, equal to
resolving them afresh at the moved market (the test checks it to 1e-12); :func:`resolved_at`
moves them by per-column multipliers (the book of moved rows).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pmargin._typing import BoolArray, FloatArray, StrArray
from pmargin.market import moved_vol
from pmargin.valuation import ResolvedInstruments, VolSource

__all__ = ["moved_resolved", "resolved_at"]


def moved_resolved(
    resolved: ResolvedInstruments, moves: Mapping[str, float], vol_beta: float
) -> ResolvedInstruments:
    """Return ``resolved`` at the moved market, by array arithmetic (nothing looked up).

    Per instrument, with ``m_u``, ``m_q``, ``m_s`` the multipliers ``1 + move`` of its
    underlying, quote and settlement currency (1 when they do not move): underlying price
    ``F m_u / m_q`` (quote currency), ``quote_usd x m_q``, ``settlement_usd x m_s``, option vol
    ``vol x m_u ** -vol_beta``; an option of a moved underlying reads its vol from an ``iv``
    mark (:func:`moved_market`). Strikes, times and rates are unchanged.

    Returns
    -------
    ResolvedInstruments
        Arrays of shape ``(n,)``, the instruments in the same order.
    """
    terms = resolved.terms

    def multipliers(codes: StrArray) -> FloatArray:
        out = np.ones(codes.size)
        for code, move in moves.items():
            out[codes == code] = 1.0 + move
        return out

    m_under = multipliers(terms.underlying)
    m_quote = multipliers(terms.quote)
    m_settle = multipliers(terms.settlement_currency)
    moving = np.isin(terms.underlying, list(moves))
    return resolved_at(resolved, m_under, m_quote, m_settle, vol_beta, moving)


def resolved_at(
    resolved: ResolvedInstruments,
    m_under: FloatArray,
    m_quote: FloatArray,
    m_settle: FloatArray,
    vol_beta: float,
    moving: BoolArray | None = None,
) -> ResolvedInstruments:
    """Return ``resolved`` with each instrument's prices multiplied, by array arithmetic alone.

    Parameters
    ----------
    resolved
        ``n`` resolved instruments.
    m_under, m_quote, m_settle
        Shape ``(n,)``: multiplier ``1 + move`` of each instrument's underlying, quote and
        settlement currency (1 where it does not move).
    vol_beta
        Option vols times ``m_under ** -vol_beta``, at most ``MAX_VOL`` (:func:`moved_vol`).
    moving
        Shape ``(n,)``: whether each instrument's underlying moves (its option reads an ``iv``
        mark); ``None``: where ``m_under != 1``.

    Returns
    -------
    ResolvedInstruments
        Underlying price ``F m_under / m_quote`` (quote currency), ``quote_usd x m_quote``,
        ``settlement_usd x m_settle``; an option of a moved underlying reads its vol from an
        ``iv`` mark (``VolSource.MARK_IV``); strikes, times and rates unchanged.
    """
    if moving is None:
        moving = m_under != 1.0
    to_mark = np.flatnonzero(resolved.is_option & moving).tolist()
    vol_source = list(resolved.vol_source)
    for j in to_mark:
        vol_source[j] = VolSource.MARK_IV
    return ResolvedInstruments(
        instruments=resolved.instruments,
        is_option=resolved.is_option,
        is_call=resolved.is_call,
        is_inverse=resolved.is_inverse,
        underlying_price=resolved.underlying_price * m_under / m_quote,
        strike=resolved.strike,
        time=resolved.time,
        vol=np.where(resolved.is_option, moved_vol(resolved.vol, m_under, vol_beta), resolved.vol),
        rate=resolved.rate,
        quote_usd=resolved.quote_usd * m_quote,
        settlement_usd=resolved.settlement_usd * m_settle,
        vol_source=tuple(vol_source),
        terms=resolved.terms,
    )

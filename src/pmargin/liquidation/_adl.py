"""Auto-deleveraging: which opposite positions take over a bankrupt account's, and in what order.

Ranking of an opposite futures or perpetual position (config ``adl.ranking``):

``pnl_x_leverage`` (Binance, Bybit, BitMEX, Poloniex publish this form)::

    PnL%  = U / |entry value|,  entry value = N - sign(q) U      (USD)
    L     = N / equity                                           (effective leverage)
    score = PnL% x L   if PnL% > 0,   PnL% / L   otherwise

with ``N = |q| x underlying price`` the position's notional and ``U`` its unrealised P&L
against the entry price (both USD), ``equity`` the account's equity: in cross and portfolio
margin the "mark value - bankruptcy value" of the venues' effective leverage is the equity
the account can lose before it is bankrupt.

``okx`` (OKX: return rate over margin ratio)::

    score = (U / equity) x (N / equity)

Accounts with equity <= 0 are not deleveraged (they are being liquidated themselves). Ties
break by row (book order), so the ranking is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["AdlCandidate", "adl_score", "rank_opposite"]


@dataclass(frozen=True, slots=True)
class AdlCandidate:
    """One opposite position eligible for ADL.

    Attributes
    ----------
    row
        The counterparty's row in the book.
    quantity
        Its signed position (base units).
    score
        Its ranking (higher first).
    """

    row: int
    quantity: float
    score: float


def adl_score(
    rule: str, quantity: float, notional_usd: float, unrealised_usd: float, equity_usd: float
) -> float:
    """Ranking score of one position (see the module docstring for ``rule``).

    Parameters
    ----------
    rule
        ``"pnl_x_leverage"`` or ``"okx"``.
    quantity
        Signed position (base units); only its sign is used.
    notional_usd
        ``|q| x underlying price`` (USD), > 0.
    unrealised_usd
        Unrealised P&L against the entry price (USD).
    equity_usd
        The account's equity (USD), > 0.
    """
    leverage = notional_usd / equity_usd
    if rule == "okx":
        return (unrealised_usd / equity_usd) * leverage
    sign = 1.0 if quantity > 0.0 else -1.0
    entry = notional_usd - sign * unrealised_usd
    pnl = unrealised_usd / entry if entry > 0.0 else unrealised_usd / notional_usd
    return pnl * leverage if pnl > 0.0 else pnl / leverage


def rank_opposite(
    holders: list[tuple[int, float]],
    side: float,
    exclude: int,
    score: Callable[[int, float], float | None],
) -> list[AdlCandidate]:
    """Opposite positions to ``side``, highest score first.

    Parameters
    ----------
    holders
        ``[(row, signed quantity), ...]`` of one instrument.
    side
        Sign of the bankrupt account's position; candidates hold the other sign.
    exclude
        The bankrupt account's row.
    score
        ``(row, quantity) -> score``, or ``None`` for an account that cannot be deleveraged.
    """
    candidates = []
    for row, quantity in holders:
        if row == exclude or quantity * side >= 0.0:
            continue
        value = score(row, quantity)
        if value is not None:
            candidates.append(AdlCandidate(row, quantity, value))
    candidates.sort(key=lambda c: (-c.score, c.row))
    return candidates

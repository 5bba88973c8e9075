"""What a liquidation fill costs: price impact (slippage) and the liquidation penalty.

Pure functions of numbers, so that every figure in an event can be recomputed by hand:

* impact of closing notional ``N`` (USD) against depth ``D`` (USD):
  ``impact = min(k (N / D)^alpha, max_impact)``;
* fill price of a sale / purchase at mark ``m``: ``m (1 - impact)`` / ``m (1 + impact)``;
* penalty rate: ``base_rate`` (fixed) or ``min(base_rate + slope x shortfall, max_rate)``
  with ``shortfall = clip((MM - equity) / MM, 0, 1)`` (dynamic);
* penalty (USD) = ``rate x N``, for options at most ``option_premium_cap x premium closed``,
  and never more than the equity left after the fill (a bankrupt account pays none);
* split: ``fund_share x penalty`` to the insurance fund, the rest to the liquidator.
"""

from __future__ import annotations

from pmargin.liquidation._config import PenaltyConfig, SlippageConfig

__all__ = ["fill_price", "impact", "penalty_rate", "penalty_usd", "split_penalty"]


def impact(notional_usd: float, depth_usd: float, config: SlippageConfig) -> float:
    """Relative price impact of closing ``notional_usd`` against ``depth_usd``.

    Parameters
    ----------
    notional_usd
        ``|quantity| x underlying price`` in USD, >= 0.
    depth_usd
        The instrument's depth (USD), > 0.
    config
        ``k``, ``alpha`` and ``max_impact``.

    Returns
    -------
    float
        ``min(k (notional / depth)^alpha, max_impact)``, a fraction of the mark.
    """
    if notional_usd <= 0.0:
        return 0.0
    raw = config.k * float((notional_usd / depth_usd) ** config.alpha)
    return min(raw, config.max_impact)


def fill_price(mark: float, quantity: float, relative_impact: float) -> float:
    """Return the execution price of trading ``quantity`` at ``mark`` with ``relative_impact``.

    A sale (``quantity < 0``) fills at ``mark (1 - impact)``, a purchase at
    ``mark (1 + impact)``; the price is in the mark's unit (premium currency per base unit for
    options, quote currency per base unit for futures).
    """
    sign = 1.0 if quantity > 0.0 else -1.0
    return mark * (1.0 + sign * relative_impact)


def penalty_rate(equity: float, maintenance_margin: float, config: PenaltyConfig) -> float:
    """Penalty rate (fraction of notional) of an account at ``equity`` against its MM (USD).

    ``fixed``: ``base_rate``. ``dynamic``: ``min(base_rate + slope x s, max_rate)`` with
    ``s = clip((MM - equity) / MM, 0, 1)`` (0 when MM <= 0).
    """
    if config.mode == "fixed":
        return config.base_rate
    shortfall = 0.0
    if maintenance_margin > 0.0:
        shortfall = min(max((maintenance_margin - equity) / maintenance_margin, 0.0), 1.0)
    return min(config.base_rate + config.slope * shortfall, config.max_rate)


def penalty_usd(
    rate: float,
    notional_usd: float,
    premium_usd: float | None,
    equity_after_fill: float,
    config: PenaltyConfig,
) -> float:
    """Penalty (USD) of one fill.

    Parameters
    ----------
    rate
        From :func:`penalty_rate`.
    notional_usd
        Notional closed (USD).
    premium_usd
        For options, ``|quantity| x mark premium`` in USD (the cap's base); ``None`` otherwise.
    equity_after_fill
        The account's equity (USD) after the fill's slippage: the penalty never exceeds
        ``max(equity_after_fill, 0)``.
    config
        ``option_premium_cap``.
    """
    amount = rate * notional_usd
    if premium_usd is not None:
        amount = min(amount, config.option_premium_cap * premium_usd)
    return max(min(amount, equity_after_fill), 0.0)


def split_penalty(amount_usd: float, config: PenaltyConfig) -> tuple[float, float]:
    """``(fund share, liquidator share)`` of a penalty (USD); they add up to ``amount_usd``."""
    fund = amount_usd * config.fund_share
    return fund, amount_usd - fund

"""P&L and delta of delta-one contracts: spot, dated futures and perpetuals, linear and inverse.

Everything is per 1 unit of base-currency notional (one BTC of exposure for a BTC contract);
multiply by the signed position in base units. Funding of perpetuals is not part of these
formulas.

Linear (quote-settled: USDT/USDC futures and perpetuals, spot)::

    pnl   = price - entry_price           quote currency
    delta = 1                             quote currency per 1 of price, per unit of base

Inverse (coin-settled, USD-notional contracts such as Deribit BTC-PERPETUAL). One unit of base
notional at entry is a contract notional of ``entry_price`` USD, and a contract with USD notional
``N`` gains ``N * (1/entry - 1/price)`` coins, so per unit of base notional::

    pnl   = 1 - entry_price / price       coin
    delta = entry_price / price**2        coin per 1 of price, per unit of base

For a relative move ``m`` (``price = entry_price * (1 + m)``) the inverse P&L is
``1 - 1 / (1 + m)``, the convention of DESIGN.md (``q_base * (1 - 1/(1+m))``).
"""

from __future__ import annotations

import numpy as np

from pmargin._typing import ArrayLike, FloatArray
from pmargin.pricing._blocks import as_float

__all__ = [
    "inverse_future_delta",
    "inverse_future_pnl",
    "linear_future_delta",
    "linear_future_pnl",
]


def linear_future_pnl(price: ArrayLike, entry_price: ArrayLike) -> FloatArray:
    """P&L of a linear contract per unit of base notional, in the quote currency.

    Parameters
    ----------
    price
        Current (or scenario) price, quote currency per unit of base; any shape.
    entry_price
        Price at entry, same unit; broadcasts against ``price``.

    Returns
    -------
    FloatArray
        ``price - entry_price`` of the broadcast shape.
    """
    return np.subtract(as_float("price", price), as_float("entry_price", entry_price))


def linear_future_delta(price: ArrayLike) -> FloatArray:
    """Delta of a linear contract per unit of base notional: 1 everywhere, shape of ``price``.

    Parameters
    ----------
    price
        Current price, quote currency per unit of base (only its shape is used; NaN stays NaN).
    """
    p = as_float("price", price)
    return np.where(np.isnan(p), np.nan, 1.0)


def _positive(name: str, value: ArrayLike) -> FloatArray:
    """Return ``value`` as float64 with non-positive entries replaced by NaN."""
    array = as_float(name, value)
    return np.where(array > 0.0, array, np.nan)


def inverse_future_pnl(price: ArrayLike, entry_price: ArrayLike) -> FloatArray:
    """P&L of an inverse (coin-settled) contract per unit of base notional at entry, in coin.

    Parameters
    ----------
    price
        Current (or scenario) price, USD per coin, ``> 0``; any shape.
    entry_price
        Price at entry, USD per coin, ``> 0``; broadcasts against ``price``.

    Returns
    -------
    FloatArray
        ``1 - entry_price / price`` of the broadcast shape; NaN where a price is not positive.
    """
    return 1.0 - _positive("entry_price", entry_price) / _positive("price", price)


def inverse_future_delta(price: ArrayLike, entry_price: ArrayLike) -> FloatArray:
    """Coin delta of an inverse contract per unit of base notional at entry.

    Parameters
    ----------
    price
        Current price, USD per coin, ``> 0``; any shape.
    entry_price
        Price at entry, USD per coin, ``> 0``; broadcasts against ``price``.

    Returns
    -------
    FloatArray
        ``d pnl / d price = entry_price / price**2``, coin per 1 USD of price; NaN where a price
        is not positive.
    """
    p = _positive("price", price)
    return _positive("entry_price", entry_price) / (p * p)

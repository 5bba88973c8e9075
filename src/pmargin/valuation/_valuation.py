"""Mark values and Greeks per unit of underlying, for resolved instruments.

Units (each array has shape ``(n_instruments,)``)
--------------------------------------------------
``price``
    Options: mark value in the premium currency per unit of underlying (coin for inverse
    options: the quote value divided by the expiry's forward, Deribit's convention; quote
    currency for linear options). Futures and perpetuals: mark price in the quote currency.
    Spot: price in the quote currency.
``price_usd``
    ``price`` in USD: the premium currency's USD price times ``price`` (the coin's spot price for
    inverse options, so the USD value of the coin premium held today).
``delta``
    d(value in USD) / d(USD price of the underlying) per unit of underlying: Black-76 forward
    delta (discounted) for options, 1 for futures, perpetuals and spot.
``gamma``
    d(delta) / d(USD price of the underlying), per USD. Zero for delta-one instruments.
``vega``
    d(value in USD) / d(vol) per 1.00 of vol (divide by 100 for per vol point).
``theta``
    d(value in USD) / d(calendar time) per year with the forward held fixed (divide by 365 for
    per day).
``delta_coin``
    Inverse instruments only (NaN otherwise): the delta of the coin-denominated value expressed
    in coins, ``F * d(value_coin)/dF``. For an inverse option this is the Black delta minus the
    option's coin price; for an inverse future or perpetual at its mark it is 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from pmargin._typing import FloatArray
from pmargin.pricing import black76
from pmargin.valuation._resolve import ResolvedInstruments

__all__ = ["Valuation", "value_instruments"]


@dataclass(frozen=True, slots=True)
class Valuation:
    """Per-unit mark values and raw Greeks; see the module docstring for units."""

    price: FloatArray
    price_usd: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    delta_coin: FloatArray


def value_instruments(
    resolved: ResolvedInstruments,
    *,
    previous: tuple[ResolvedInstruments, Valuation] | None = None,
) -> Valuation:
    """Value every resolved instrument: one vectorised Black-76 call for all options.

    Parameters
    ----------
    resolved
        The instruments at the market, arrays of shape ``(n,)``.
    previous
        The same instruments, in the same order, resolved at an earlier market, with their
        valuation (a monitor's last tick). When every option input is the same there
        (forward, strike, time, vol, rate, call or put, inverse, quote's USD price), the
        options' values and Greeks are taken from it: the numbers Black-76 gives again (its
        ``delta``, ``gamma``, ``vega`` and ``theta`` arrays are shared: read, never write).
        Else, or for other instruments, the previous one plays no part.

    Returns
    -------
    Valuation
        Arrays of shape ``(n,)``, units as the module docstring says; bit for bit the same
        with or without ``previous``.
    """
    n = len(resolved)
    opt = resolved.is_option
    if previous is not None and opt.any() and _same_options(resolved, previous[0]):
        # Delta-one columns are 1, 0, 0, 0 at any price: the arrays are the previous ones.
        old = previous[1]
        price = np.where(opt, old.price, resolved.underlying_price)
        delta, gamma, vega, theta = old.delta, old.gamma, old.vega, old.theta
    else:
        price = resolved.underlying_price.copy()
        delta = np.ones(n)
        gamma = np.zeros(n)
        vega = np.zeros(n)
        theta = np.zeros(n)
        forward = resolved.underlying_price
        if opt.any():
            greeks = black76(
                forward[opt],
                resolved.strike[opt],
                resolved.time[opt],
                resolved.vol[opt],
                resolved.is_call[opt],
                resolved.rate[opt],
            )
            quote_usd = resolved.quote_usd[opt]
            inverse = resolved.is_inverse[opt]
            price[opt] = np.where(inverse, greeks.value / forward[opt], greeks.value)
            delta[opt] = greeks.delta
            gamma[opt] = greeks.gamma / quote_usd
            vega[opt] = greeks.vega * quote_usd
            theta[opt] = greeks.theta * quote_usd
    price_usd = np.where(opt, price * resolved.settlement_usd, price * resolved.quote_usd)
    delta_coin = np.where(resolved.is_inverse, np.where(opt, delta - price, 1.0), np.nan)
    return Valuation(
        price=price,
        price_usd=price_usd,
        delta=delta,
        gamma=gamma,
        vega=vega,
        theta=theta,
        delta_coin=delta_coin,
    )


def _same_options(resolved: ResolvedInstruments, other: ResolvedInstruments) -> bool:
    """Return True when ``other`` holds the same options with every pricing input equal.

    Equal bit for bit (the same inputs give the same numbers). Strikes, times, vols and rates
    are NaN or 0 off the options and never move there, so they are compared whole; so are
    the quotes' USD prices (a delta-one quote that moved only costs the reuse). The forwards
    are compared on the options alone.
    """
    if len(other) != len(resolved):
        return False
    names = ("is_option", "is_call", "is_inverse", "strike", "time", "vol", "rate", "quote_usd")
    if not all(_same_bits(getattr(resolved, n), getattr(other, n)) for n in names):
        return False
    opt = resolved.is_option
    return _same_bits(resolved.underlying_price[opt], other.underlying_price[opt])


def _same_bits(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    """Return True when ``a`` and ``b`` hold the same bytes (NaN equal to itself)."""
    return a is b or (a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes())

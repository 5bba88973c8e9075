"""Deribit's standard (per-position) margin rules as pure functions on arrays.

Every argument is a float64 (or bool) array broadcasting to one common shape, usually
``(n_positions,)`` or ``(n_instruments,)``; amounts are in a contract's settlement currency
(coin for inverse contracts, quote currency for linear ones), as the arguments' units say.
"""

from __future__ import annotations

import numpy as np

from pmargin._typing import BoolArray, FloatArray

__all__ = ["future_margin", "otm_fraction", "short_option_margin"]


def future_margin(
    quantity: FloatArray, rate: FloatArray, rate_per_unit: FloatArray, price: FloatArray
) -> FloatArray:
    """Margin of net future or perpetual positions with a size-increasing rate.

    ``|q| * (rate + |q| * rate_per_unit) * price``: Deribit's "2% + (position size in BTC) x
    0.005%" of the position's notional.

    Parameters
    ----------
    quantity
        Signed net position in base units of the underlying (coins).
    rate
        Margin fraction of notional at zero size (0.02 for 2 %).
    rate_per_unit
        Increase of that fraction per base unit of position (0.00005 for 0.005 % per BTC).
    price
        Settlement currency per base unit: 1 for inverse contracts (margin in coin), the
        underlying price in the quote currency for linear ones.

    Returns
    -------
    FloatArray
        Margin in the settlement currency, >= 0.
    """
    size = np.abs(quantity)
    return np.asarray(size * (rate + size * rate_per_unit) * price, dtype=np.float64)


def otm_fraction(strike: FloatArray, underlying: FloatArray, is_call: BoolArray) -> FloatArray:
    """How far out of the money an option is, as a fraction of the underlying price.

    ``max(K - F, 0) / F`` for calls and ``max(F - K, 0) / F`` for puts (Deribit: "Out of the
    Money Amount / Underlying Mark Price"); 0 at or in the money.

    Parameters
    ----------
    strike
        Strike ``K`` in the quote currency.
    underlying
        Underlying price ``F`` in the quote currency (> 0).
    is_call
        True for calls.

    Returns
    -------
    FloatArray
        Decimal fraction, >= 0.
    """
    amount = np.where(is_call, strike - underlying, underlying - strike)
    return np.asarray(np.maximum(amount, 0.0) / underlying, dtype=np.float64)


def short_option_margin(
    otm: FloatArray,
    is_call: BoolArray,
    mark: FloatArray,
    unit_value: FloatArray,
    im_rate: FloatArray,
    im_min_rate: FloatArray,
    mm_rate: FloatArray,
    mm_put_mark_rate: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Return the initial and maintenance margin of one short option per unit of underlying.

    With ``U = unit_value``::

        MM (call) = mm_rate * U + mark
        MM (put)  = max(mm_rate * U, mm_put_mark_rate * mark) + mark
        IM        = max(max(im_rate - otm, im_min_rate) * U + mark, MM)

    Deribit's inverse options: ``U = 1`` coin, ``mark`` in coin, so a short call 10 % out of
    the money needs ``max(0.15 - 0.10, 0.10) + mark`` coin per coin of underlying.

    Parameters
    ----------
    otm
        Out-of-the-money fraction (:func:`otm_fraction`).
    is_call
        True for calls.
    mark
        Option mark price per unit of underlying, in the settlement currency.
    unit_value
        Value of one unit of underlying in the settlement currency (1 for inverse options).
    im_rate, im_min_rate, mm_rate, mm_put_mark_rate
        Fractions of :class:`~pmargin.margin.standard.OptionRule`.

    Returns
    -------
    im, mm
        Per unit of underlying short, in the settlement currency, >= 0.
    """
    mm_floor = np.where(
        is_call, mm_rate * unit_value, np.maximum(mm_rate * unit_value, mm_put_mark_rate * mark)
    )
    mm = mm_floor + mark
    im = np.maximum(np.maximum(im_rate - otm, im_min_rate) * unit_value + mark, mm)
    return np.asarray(im, dtype=np.float64), np.asarray(mm, dtype=np.float64)

"""Fill price bounds: what a contract can be worth, and a band around its mark.

A pre-trade check with a fill price (``check-order --price``) changes equity by what the
account pays or receives against the mark, so an impossible price (selling a call at 1,500
coin per coin) would create equity from nothing. :meth:`FillPriceBounds.check` refuses, on
one line naming the field, the price and the bound:

* options: a price within ``[0, what the option can be worth]`` -- a call at most the forward
  ``F`` (linear, quote currency per unit) or 1 coin per coin (inverse), a put at most the
  strike ``K`` (linear) or ``K / F`` coin per coin (inverse): for rates >= 0 a call's value
  ``DF E[(S_T - K)+] <= DF F <= F`` and a put's ``DF E[(K - S_T)+] <= DF K <= K``, and an
  inverse option's coin price is its quote value over ``F`` -- and within the band
  ``|price - mark| <= band_underlying x U + band_mark x mark`` (``U`` = 1 coin, or ``F``);
* futures, perpetuals, spot: a price > 0 with ``|price / mark - 1| <= band_mark``.

The band sizes are data (``fill_price_bounds.toml`` next to this module, or a user's file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pmargin._params import read_versioned_file
from pmargin.errors import InputError
from pmargin.instruments import Instrument, Right

__all__ = ["FillPriceBounds", "load_price_bounds", "price_bounds_path"]

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class FillPriceBounds:
    """Band sizes of fill prices (see the module docstring).

    Attributes
    ----------
    option_band_underlying
        Absolute part of an option's band, as a fraction of one unit of underlying in the
        price currency (1 coin for inverse, the forward for linear), >= 0.
    option_band_mark
        Relative part of an option's band, as a fraction of its mark, >= 0.
    delta_one_band_mark
        Band of futures, perpetuals and spot, as a fraction of the mark, in (0, 1).
    """

    option_band_underlying: float
    option_band_mark: float
    delta_one_band_mark: float

    def most(self, instrument: Instrument, forward: float) -> tuple[float, str]:
        """Return what ``instrument`` can be worth at most (price currency), and why, in words.

        Infinite for futures, perpetuals and spot. ``forward`` is the underlying's forward in
        the quote currency per unit (``F``).
        """
        if instrument.is_delta_one:
            return math.inf, "no bound"
        inverse = instrument.is_inverse
        if instrument.right is Right.CALL:
            if inverse:
                return 1.0, "an inverse call is worth at most 1 coin per coin"
            return forward, f"a call is worth at most the forward {forward:.8g}"
        strike = float(instrument.strike or 0.0)
        if inverse:
            most = strike / forward
            return most, f"an inverse put is worth at most K/F = {most:.8g} coin per coin"
        return strike, f"a put is worth at most the strike {strike:.8g}"

    def band(self, instrument: Instrument, forward: float, mark: float) -> tuple[float, float]:
        """Lowest and highest fill price of the band around ``mark`` (price currency).

        Parameters
        ----------
        instrument
            The traded contract.
        forward
            Its underlying's forward in the quote currency per unit (``F``).
        mark
            Its mark price in the price currency (an option's coin price for inverse options).
        """
        if instrument.is_delta_one:
            width = self.delta_one_band_mark * mark
        else:
            unit = 1.0 if instrument.is_inverse else forward
            width = self.option_band_underlying * unit + self.option_band_mark * mark
        return mark - width, mark + width

    def check(self, instrument: Instrument, price: float, forward: float, mark: float) -> None:
        """Raise unless ``price`` is a possible fill of ``instrument`` near its mark.

        Raises
        ------
        InputError
            Field ``order.price``, naming the price and the bound it breaks: what the
            contract can be worth first, then the band around the mark.
        """
        symbol = instrument.symbol
        if instrument.is_delta_one and not price > 0.0:
            raise InputError("order.price", price, f"must be > 0 for {symbol}")
        most, why = self.most(instrument, forward)
        if price > most:
            raise InputError("order.price", price, f"is impossible for {symbol}: {why}")
        low, high = self.band(instrument, forward, mark)
        if not low <= price <= high:
            raise InputError(
                "order.price",
                price,
                f"is outside the band around the mark of {symbol}: "
                f"[{max(low, 0.0):.8g}, {high:.8g}] (mark {mark:.8g}; fill_price_bounds.toml)",
            )


def price_bounds_path() -> Path:
    """Path of the shipped file (``pmargin/pretrade/fill_price_bounds.toml``)."""
    return Path(str(resources.files("pmargin.pretrade") / "fill_price_bounds.toml"))


def load_price_bounds(path: str | Path | None = None) -> FillPriceBounds:
    """Read and validate a fill price bounds file (the shipped one without ``path``).

    Raises
    ------
    InputError
        The file is missing or not TOML, or a field is missing, unknown or out of range,
        naming its dotted path.
    """
    file = price_bounds_path() if path is None else Path(path)
    top = read_versioned_file(file, "price bounds", SCHEMA_VERSION, ["option", "delta_one"])
    option = top.table("option")
    option.reject_unknown(["band_underlying", "band_mark"])
    delta_one = top.table("delta_one")
    delta_one.reject_unknown(["band_mark"])
    return FillPriceBounds(
        option_band_underlying=option.number("band_underlying", low=0.0, high=1.0),
        option_band_mark=option.number("band_mark", low=0.0, high=10.0),
        delta_one_band_mark=delta_one.number(
            "band_mark", low=0.0, high=1.0, low_open=True, high_open=True
        ),
    )

"""The mark of one instrument: a price or an implied vol, exactly one of the two.

* ``price``: the instrument's mark in its premium currency per unit of underlying. Inverse
  options: coin per 1 coin of underlying, as Deribit quotes them (0.0415 BTC); linear options:
  quote currency (USDC) per unit; futures and perpetuals: the mark price in the quote currency
  (USD per BTC for ``BTC-27DEC24``, USDC per BTC for a USDC-margined future).
* ``iv``: the option's implied vol, an annualised decimal (0.55 for 55 %); options only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pmargin.errors import InputError
from pmargin.market._checks import abbreviate, check_mark_price, check_vol

__all__ = ["MARK_FIELDS", "Mark", "mark_from_mapping"]

MARK_FIELDS = ("price", "iv")
"""Fields of a mark in the market file; exactly one must be given."""


@dataclass(frozen=True, slots=True)
class Mark:
    """A validated mark: ``price`` (premium currency per unit, >= 0) or ``iv`` (decimal, > 0).

    Raises
    ------
    InputError
        When both or neither are given, or the value is not finite and positive.
    """

    price: float | None = None
    iv: float | None = None

    def __post_init__(self) -> None:
        """Check that exactly one of price and iv is given and that it is valid."""
        price, iv = _checked(self.price, self.iv, "mark")
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "iv", iv)

    def to_dict(self) -> dict[str, float]:
        """Return the mark as the market file writes it (one key)."""
        if self.price is not None:
            return {"price": self.price}
        assert self.iv is not None
        return {"iv": self.iv}


def mark_from_mapping(data: object, field: str) -> Mark:
    """Build a :class:`Mark` from ``{"price": p}`` or ``{"iv": v}``.

    Parameters
    ----------
    data
        The mapping read from a market file.
    field
        Dotted path of the mark, e.g. ``"marks.BTC-27DEC24-60000-C"``.

    Raises
    ------
    InputError
        For a non-mapping, unknown keys, both or neither of price/iv, or an invalid value.
    """
    if not isinstance(data, Mapping):
        raise InputError(field, abbreviate(data), 'must be a mapping: {"price": p} or {"iv": v}')
    unknown = sorted(str(key) for key in data if key not in MARK_FIELDS)
    if unknown:
        raise InputError(field, unknown[0], "is not a mark field; give exactly one of price, iv")
    price, iv = _checked(data.get("price"), data.get("iv"), field)
    return Mark(price=price, iv=iv)


def _checked(price: object, iv: object, field: str) -> tuple[float | None, float | None]:
    """Return ``(price, iv)`` as floats, exactly one of them not ``None``."""
    if price is None and iv is None:
        raise InputError(field, {}, "needs exactly one of price, iv (neither was given)")
    if price is not None and iv is not None:
        raise InputError(
            field, {"price": price, "iv": iv}, "needs exactly one of price, iv (both were given)"
        )
    if price is not None:
        return check_mark_price(price, f"{field}.price"), None
    return None, check_vol(iv, f"{field}.iv")

"""One PMRM_2 market (one underlying) as arrays: spot, perp, options by expiry, collaterals.

Units: prices and values in the quote currency (USD); amounts in units of the underlying (options,
perps) or of the collateral asset; times to expiry in seconds (PMRM_2's state unit; year
fractions are ``seconds / (365 * 86400)``); vols and rates as decimals; confidences in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.errors import InputError

__all__ = ["Collaterals", "ExpiryArrays", "OptionArrays", "Pmrm2Portfolio"]


def _floats(name: str, values: object, n: int | None = None) -> FloatArray:
    array = np.array(values, dtype=np.float64, ndmin=1)
    if array.ndim != 1 or (n is not None and array.shape[0] != n):
        raise InputError(name, array.shape, f"must be a 1-d array of length {n}")
    if not np.all(np.isfinite(array)):
        raise InputError(name, array.tolist(), "must be finite numbers")
    return array


@dataclass(frozen=True, slots=True)
class ExpiryArrays:
    """Per-expiry market data, shape ``(n_expiries,)`` each.

    Attributes
    ----------
    seconds_to_expiry
        Seconds to expiry, >= 0 (0 once expired).
    forward_fixed, forward_variable
        Forward price split in the part that stays fixed and the part that moves with spot:
        ``F(shock) = forward_fixed + forward_variable * shock``. Outside the settlement window
        the fixed part is 0.
    rate
        Continuously compounded rate, decimal per year (floored at 0 by the engine, as Derive
        does).
    confidence
        Lowest confidence of the expiry's forward, rate and vol feeds, in [0, 1].
    """

    seconds_to_expiry: FloatArray
    forward_fixed: FloatArray
    forward_variable: FloatArray
    rate: FloatArray
    confidence: FloatArray

    def __post_init__(self) -> None:
        n = np.asarray(self.seconds_to_expiry).reshape(-1).shape[0]
        set_ = object.__setattr__
        for name in (
            "seconds_to_expiry",
            "forward_fixed",
            "forward_variable",
            "rate",
            "confidence",
        ):
            set_(self, name, _floats(f"expiries.{name}", getattr(self, name), n))
        if np.any(self.seconds_to_expiry < 0):
            raise InputError("expiries.seconds_to_expiry", self.seconds_to_expiry.tolist(), ">= 0")
        if np.any(self.forward_fixed + self.forward_variable <= 0):
            raise InputError(
                "expiries.forward",
                (self.forward_fixed + self.forward_variable).tolist(),
                "must be > 0",
            )

    @property
    def size(self) -> int:
        """Number of expiries."""
        return int(self.seconds_to_expiry.shape[0])

    @property
    def forward(self) -> FloatArray:
        """Unshocked forward, shape ``(n_expiries,)``."""
        return self.forward_fixed + self.forward_variable


@dataclass(frozen=True, slots=True)
class OptionArrays:
    """Option positions, shape ``(n_options,)`` each, in the caller's order.

    Attributes
    ----------
    expiry_index
        Row of :class:`ExpiryArrays` the option belongs to.
    strike
        Strike, USD, > 0.
    is_call
        True for calls.
    amount
        Signed quantity in units of the underlying (long > 0).
    vol
        Mark volatility, decimal, >= 0.
    """

    expiry_index: IntArray
    strike: FloatArray
    is_call: BoolArray
    amount: FloatArray
    vol: FloatArray

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        idx = np.array(self.expiry_index, dtype=np.int64, ndmin=1)
        n = idx.shape[0]
        set_(self, "expiry_index", idx)
        set_(self, "is_call", np.array(self.is_call, dtype=np.bool_, ndmin=1).reshape(n))
        for name in ("strike", "amount", "vol"):
            set_(self, name, _floats(f"options.{name}", getattr(self, name), n))
        if np.any(self.strike <= 0):
            raise InputError("options.strike", self.strike.tolist(), "must be > 0")
        if np.any(self.vol < 0):
            raise InputError("options.vol", self.vol.tolist(), "must be >= 0")

    @property
    def size(self) -> int:
        """Number of options."""
        return int(self.strike.shape[0])

    @staticmethod
    def empty() -> OptionArrays:
        """No options."""
        e = np.zeros(0)
        return OptionArrays(np.zeros(0, dtype=np.int64), e, np.zeros(0, dtype=np.bool_), e, e)


@dataclass(frozen=True, slots=True)
class Collaterals:
    """Collateral balances, shape ``(n_collaterals,)`` each.

    Attributes
    ----------
    names
        Asset names, for reports.
    amount
        Balance in units of the asset, >= 0.
    price
        USD price of one unit, >= 0.
    confidence
        Price feed confidence, in [0, 1].
    mm_haircut, im_haircut
        Share of the value charged to MM, and to IM on top of MM, in [0, 1].
    risk_cancelling
        True for assets shocked with spot in every scenario.
    """

    names: tuple[str, ...]
    amount: FloatArray
    price: FloatArray
    confidence: FloatArray
    mm_haircut: FloatArray
    im_haircut: FloatArray
    risk_cancelling: BoolArray

    def __post_init__(self) -> None:
        n = len(self.names)
        set_ = object.__setattr__
        for name in ("amount", "price", "confidence", "mm_haircut", "im_haircut"):
            set_(self, name, _floats(f"collaterals.{name}", getattr(self, name), n))
        set_(
            self,
            "risk_cancelling",
            np.array(self.risk_cancelling, dtype=np.bool_, ndmin=1).reshape(n),
        )
        if np.any(self.amount < 0):
            raise InputError("collaterals.amount", self.amount.tolist(), "must be >= 0")
        if np.any(self.price < 0):
            raise InputError("collaterals.price", self.price.tolist(), "must be >= 0")

    @staticmethod
    def empty() -> Collaterals:
        """No collateral."""
        e = np.zeros(0)
        return Collaterals((), e, e, e, e, e, np.zeros(0, dtype=np.bool_))


@dataclass(frozen=True, slots=True)
class Pmrm2Portfolio:
    """One account's holdings in one PMRM_2 market, with the market data they need.

    Attributes
    ----------
    spot
        Index price of the underlying, USD, > 0.
    spot_confidence
        Confidence of the spot feed, in [0, 1].
    stable_price
        USD price of the cash stablecoin (collateral values are divided by it), > 0.
    cash
        Cash balance, stablecoin units (signed).
    perp_position
        Perp quantity, underlying units (signed).
    perp_price
        Perp mark price, USD.
    perp_confidence
        Confidence of the perp price feed, in [0, 1]; used only when a perp is held.
    perp_unrealised_pnl, perp_unrealised_funding
        Unsettled perp P&L and funding, USD; both count in the mark-to-market.
    expiries
        Per-expiry market data.
    options
        Option positions.
    collaterals
        Collateral balances.
    """

    spot: float
    spot_confidence: float
    stable_price: float
    cash: float
    expiries: ExpiryArrays
    options: OptionArrays
    perp_position: float = 0.0
    perp_price: float = 0.0
    perp_confidence: float = 1.0
    perp_unrealised_pnl: float = 0.0
    perp_unrealised_funding: float = 0.0
    collaterals: Collaterals = field(default_factory=Collaterals.empty)

    def __post_init__(self) -> None:
        if not np.isfinite(self.spot) or self.spot <= 0:
            raise InputError("spot", self.spot, "must be a finite number > 0")
        if not np.isfinite(self.stable_price) or self.stable_price <= 0:
            raise InputError("stable_price", self.stable_price, "must be a finite number > 0")
        if self.options.size and (
            self.options.expiry_index.min() < 0
            or self.options.expiry_index.max() >= self.expiries.size
        ):
            raise InputError(
                "options.expiry_index",
                self.options.expiry_index.tolist(),
                f"must index the {self.expiries.size} expiries",
            )

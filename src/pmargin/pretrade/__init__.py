"""Pre-trade checks: an account's margin after a proposed order, and accept or reject."""

from pmargin.pretrade._check import MaxSize, Order, OrderCheck, PreTradeChecker
from pmargin.pretrade._price_bounds import FillPriceBounds, load_price_bounds, price_bounds_path

__all__ = [
    "FillPriceBounds",
    "MaxSize",
    "Order",
    "OrderCheck",
    "PreTradeChecker",
    "load_price_bounds",
    "price_bounds_path",
]

"""Pre-trade checks: an account's margin after a proposed order, and accept or reject."""

from pmargin.pretrade._check import Order, OrderCheck, PreTradeChecker

__all__ = ["Order", "OrderCheck", "PreTradeChecker"]

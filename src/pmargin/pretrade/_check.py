"""Pre-trade check: an account's margin after a proposed order, and accept or reject.

The checker asks the account what-if path (:class:`pmargin.health.AccountWhatIf`, built once
per book) for the account's margin after the order: the model's incremental path where it has
one, else the account's own one-row book margined alone; nothing else in the book is looked up
or revalued. Fills are booked with :func:`pmargin.book.fill`.

Order prices (``price``) are in the instrument's price currency: premium currency per unit of
underlying for options (coin for inverse options), quote currency per unit for futures,
perpetuals and spot; without a price the order fills at the mark. Buying an option pays
``q * price`` of its settlement currency from the balance; a future or perpetual opened away
from the mark starts with unrealised P&L ``q (F - price)`` (linear) or ``q (F / price - 1)``
coin (inverse). A given price must be possible and near the mark
(:class:`~pmargin.pretrade.FillPriceBounds`, bands in ``fill_price_bounds.toml``): an
impossible fill would otherwise create equity from nothing.

Acceptance: an order is accepted when equity after it covers IM after it, or when it lowers
the account's IM (a risk-reducing order, the only kind a ``reduce_only`` account may place)
without leaving equity below MM.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from pmargin._validation import input_limits
from pmargin.book import NATIVE, BookArrangement, Position, base_quantity
from pmargin.errors import InputError
from pmargin.health import AccountWhatIf, HealthStatus, Requirement, Trade
from pmargin.instruments import Instrument
from pmargin.margin import MarginModel, MarginResult
from pmargin.pretrade._price_bounds import FillPriceBounds, load_price_bounds

__all__ = ["MaxSize", "Order", "OrderCheck", "PreTradeChecker"]

MAX_SIZE_TOLERANCE = 1e-6
"""Relative width at which :meth:`PreTradeChecker.max_size`'s bisection stops."""


@dataclass(frozen=True, slots=True)
class Order:
    """A proposed trade.

    Attributes
    ----------
    instrument
        What is traded.
    quantity
        Signed amount in ``unit`` (buy > 0), non-zero, at most ``numbers.max_quantity`` of
        ``input_limits.toml`` in absolute value (the limit of a portfolio file's quantities).
    unit
        ``"native"`` (the venue's unit), ``"base"``, ``"quote"`` or ``"contracts"``.
    price
        Fill price in the instrument's price currency (see the module docstring); ``None``
        fills at the mark.
    """

    instrument: Instrument
    quantity: float
    unit: str = NATIVE
    price: float | None = None

    def __post_init__(self) -> None:
        q = self.quantity
        most = input_limits().number("numbers", "max_quantity")
        if (
            isinstance(q, bool)
            or not isinstance(q, int | float)
            or not math.isfinite(q)
            or q == 0
            or abs(q) > most
        ):
            raise InputError(
                "order.quantity", q, f"must be a non-zero number in [-{most:g}, {most:g}] (buy > 0)"
            )
        p = self.price
        if p is not None and (
            isinstance(p, bool) or not isinstance(p, int | float) or not math.isfinite(p) or p < 0
        ):
            raise InputError("order.price", p, "must be a finite number >= 0")


@dataclass(frozen=True, slots=True)
class OrderCheck:
    """The account before and after an order; amounts in USD.

    ``accepted`` is the decision and ``reason`` says why in one sentence.
    """

    account: str
    accepted: bool
    reason: str
    equity_before: float
    equity_after: float
    initial_margin_before: float
    initial_margin_after: float
    maintenance_margin_before: float
    maintenance_margin_after: float
    status_before: str
    status_after: str

    @property
    def available_after(self) -> float:
        """Equity minus IM after the order (USD)."""
        return self.equity_after - self.initial_margin_after

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object of ``pmargin check-order --json``."""
        return {
            "account": self.account,
            "accepted": self.accepted,
            "reason": self.reason,
            "equity_before": self.equity_before,
            "equity_after": self.equity_after,
            "initial_margin_before": self.initial_margin_before,
            "initial_margin_after": self.initial_margin_after,
            "maintenance_margin_before": self.maintenance_margin_before,
            "maintenance_margin_after": self.maintenance_margin_after,
            "available_after": self.available_after,
            "status_before": self.status_before,
            "status_after": self.status_after,
        }


@dataclass(frozen=True, slots=True)
class MaxSize:
    """The largest accepted size of one leg (:meth:`PreTradeChecker.max_size`).

    Attributes
    ----------
    instrument
        The leg's symbol.
    quantity
        Signed size in ``unit`` (0: no size of that sign is accepted).
    unit
        The leg's unit.
    checks
        What-ifs the search ran.
    at_limit
        The size reached ``numbers.max_quantity`` of ``input_limits.toml`` still accepted.
    """

    instrument: str
    quantity: float
    unit: str
    checks: int
    at_limit: bool

    def to_dict(self) -> dict[str, object]:
        """``{"instrument", "quantity", "unit", "checks", "at_limit", "method"}``."""
        return {
            "instrument": self.instrument,
            "quantity": self.quantity,
            "unit": self.unit,
            "checks": self.checks,
            "at_limit": self.at_limit,
            "method": f"bisection on the accept rule to {MAX_SIZE_TOLERANCE:g} relative",
        }


class PreTradeChecker:
    """Checks orders against one model's margin of a book, re-margining one account at a time.

    Parameters
    ----------
    model
        The margin model.
    book
        The book ``result`` was computed on, at its market (``book.market``: marks and fill
        prices are checked against it).
    result
        ``model.compute(book)``; computed here when not given.
    price_bounds
        Bands of accepted fill prices; the shipped ``fill_price_bounds.toml`` when not given.
    """

    def __init__(
        self,
        model: MarginModel,
        book: BookArrangement,
        result: MarginResult | None = None,
        price_bounds: FillPriceBounds | None = None,
    ) -> None:
        self.model = model
        self.price_bounds = load_price_bounds() if price_bounds is None else price_bounds
        self.book = book
        self.whatif = AccountWhatIf(model, book, result)
        self.result = self.whatif.result
        self.equity = self.whatif.equity

    def check(self, account_id: str, order: Order) -> OrderCheck:
        """Margin ``account_id`` with ``order`` added, and accept or reject it.

        Raises
        ------
        InputError
            An unknown account, a bad order, a fill price outside
            :attr:`price_bounds` (field ``order.price``), an instrument the market cannot
            price, or a non-finite equity or margin after the order (an input out of range).
        """
        return self._check(account_id, (order,), reference=False)

    def check_legs(
        self,
        account_id: str,
        orders: Sequence[Order],
        balances: Mapping[str, float] | None = None,
    ) -> OrderCheck:
        """:meth:`check` of several orders placed together (one what-if of all the legs).

        ``balances``: deposits (> 0) and withdrawals (< 0), asset -> units of the asset,
        booked with the legs. The decision is the one rule of the module on the account
        after every leg and balance change.

        Raises
        ------
        InputError
            As :meth:`check`, for any leg; no legs and no balance change (field
            ``order.legs``).
        """
        return self._check(account_id, tuple(orders), reference=False, balances=balances)

    def check_by_recomputing(
        self,
        account_id: str,
        order: Order | Sequence[Order],
        balances: Mapping[str, float] | None = None,
    ) -> OrderCheck:
        """:meth:`check` through the model's full computation of the account (no fast path).

        The reference the fast path is tested against
        (:meth:`~pmargin.health.AccountWhatIf.margin_after_reference`); one order or the legs
        of :meth:`check_legs`.
        """
        orders = (order,) if isinstance(order, Order) else tuple(order)
        return self._check(account_id, orders, reference=True, balances=balances)

    def max_size(
        self,
        account_id: str,
        orders: Sequence[Order],
        leg: int = 0,
        balances: Mapping[str, float] | None = None,
        *,
        tolerance: float = MAX_SIZE_TOLERANCE,
        limit: float | None = None,
    ) -> MaxSize:
        """Find the largest size of leg ``leg`` (its sign kept, other legs as given) still accepted.

        Bisection on the accept rule of :meth:`check_legs` (IM is not linear in the size for
        most models, and a risk-reducing leg is accepted up to the point it starts adding
        risk): the size doubles from the leg's own until rejected (or ``limit``, by default
        the input limits' ``max_quantity``), then the bracket halves until its width is
        ``tolerance`` (relative, default :data:`MAX_SIZE_TOLERANCE`) of the size. The accepted
        end is returned, so its check is an ACCEPT.

        Raises
        ------
        InputError
            As :meth:`check_legs`; ``leg`` out of range (field ``--max-size``).
        """
        legs = list(orders)
        if not 0 <= leg < len(legs):
            raise InputError("--max-size", leg, f"must name one of the {len(legs)} legs")
        base = legs[leg]
        most = input_limits().number("numbers", "max_quantity") if limit is None else limit
        sign = 1.0 if base.quantity > 0 else -1.0
        checks = 0

        def accepted(size: float) -> bool:
            nonlocal checks
            checks += 1
            legs[leg] = replace(base, quantity=sign * size)
            return self.check_legs(account_id, legs, balances).accepted

        low, high = 0.0, abs(base.quantity)
        while accepted(high):
            low = high
            if high >= most:
                return MaxSize(base.instrument.symbol, sign * most, base.unit, checks, True)
            high = min(most, 2.0 * high)
        # Below ``tolerance`` of the leg's own size with nothing accepted, the answer is 0.
        while high - low > tolerance * (high if low > 0.0 else abs(base.quantity)):
            middle = 0.5 * (low + high)
            if accepted(middle):
                low = middle
            else:
                high = middle
        return MaxSize(base.instrument.symbol, sign * low, base.unit, checks, False)

    def _check(
        self,
        account_id: str,
        orders: tuple[Order, ...],
        *,
        reference: bool,
        balances: Mapping[str, float] | None = None,
    ) -> OrderCheck:
        """Check the orders together through the what-if path or its reference twin."""
        row = self.book.row(account_id)
        if not orders and not balances:
            raise InputError("order.legs", [], "needs at least one order or balance change")
        trades = []
        for order in orders:
            one, _ = self.whatif.resolved(order.instrument)
            forward = float(one.underlying_price[0])
            q = base_quantity(Position(order.instrument, order.quantity, order.unit), forward)
            if order.price is not None:
                mark = self.whatif.mark(order.instrument)
                self.price_bounds.check(order.instrument, float(order.price), forward, mark)
            trades.append(Trade(order.instrument, q, order.price))
        if reference:
            after = self.whatif.margin_after_reference(row, trades, balances)
        else:
            after = self.whatif.margin_after(row, trades, balances)
        before = self.whatif.snapshot(row)
        status_before, status_after = before.status, after.status
        if after.covers(Requirement.INITIAL):
            accepted, reason = True, "equity after the order covers its initial margin"
        elif after.initial_margin < before.initial_margin and status_after not in (
            HealthStatus.LIQUIDATION,
            HealthStatus.BANKRUPT,
        ):
            accepted, reason = True, "the order reduces the initial margin (risk-reducing)"
        else:
            short = -after.surplus(Requirement.INITIAL)
            accepted, reason = (
                False,
                f"initial margin after the order exceeds equity by {short:.2f} USD",
            )
        return OrderCheck(
            account=account_id,
            accepted=accepted,
            reason=reason,
            equity_before=before.equity,
            equity_after=after.equity,
            initial_margin_before=before.initial_margin,
            initial_margin_after=after.initial_margin,
            maintenance_margin_before=before.maintenance_margin,
            maintenance_margin_after=after.maintenance_margin,
            status_before=status_before.value,
            status_after=status_after.value,
        )

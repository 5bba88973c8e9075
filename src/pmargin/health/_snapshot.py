"""One account's margin at one moment: equity, IM, MM and the status they give (USD).

:class:`MarginSnapshot` is what pre-trade checks (before and after an order), liquidation
steps and monitor updates pass around for one account instead of loose numbers; the batched
form over a whole book is :class:`~pmargin.health.AccountHealth`, and
:meth:`MarginSnapshot.of` takes one account's row of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pmargin.health._requirement import LiquidationEnd, Requirement, required_equity
from pmargin.health._status import AccountHealth, HealthStatus, account_status

__all__ = ["MarginSnapshot"]


@dataclass(frozen=True, slots=True)
class MarginSnapshot:
    """One account's equity and margins, USD.

    Attributes
    ----------
    equity
        Marked-to-market equity (:func:`pmargin.collateral.account_equity`).
    initial_margin, maintenance_margin
        The model's IM and MM, >= 0.
    account
        The account's id, named in errors.
    """

    equity: float
    initial_margin: float
    maintenance_margin: float
    account: str = "?"

    @classmethod
    def of(cls, health: AccountHealth, row: int, account: str = "?") -> MarginSnapshot:
        """Return account ``row`` of a batched assessment (:func:`~pmargin.health.assess`)."""
        return cls(
            float(health.equity[row]),
            float(health.initial_margin[row]),
            float(health.maintenance_margin[row]),
            account,
        )

    @property
    def status(self) -> HealthStatus:
        """The account's status (:func:`~pmargin.health.account_status`).

        Raises
        ------
        InputError
            An equity, IM or MM that is NaN or infinite, naming the account and the field.
        """
        return account_status(
            self.equity, self.initial_margin, self.maintenance_margin, self.account
        )

    @property
    def available(self) -> float:
        """``equity - IM``: what can be withdrawn or used for new orders (USD)."""
        return self.equity - self.initial_margin

    def required(self, requirement: Requirement, end: LiquidationEnd | None = None) -> float:
        """Equity the account must hold for ``requirement`` (:func:`required_equity`)."""
        return required_equity(requirement, self.initial_margin, self.maintenance_margin, end)

    def surplus(self, requirement: Requirement, end: LiquidationEnd | None = None) -> float:
        """``equity - required`` (USD): negative is the shortfall."""
        return self.equity - self.required(requirement, end)

    def covers(self, requirement: Requirement, end: LiquidationEnd | None = None) -> bool:
        """Whether ``equity >= required`` (equity exactly at the requirement covers it)."""
        return self.equity >= self.required(requirement, end)

"""Account health: equity against initial and maintenance margin, and the status it gives.

The status rule reads the requirements of :mod:`pmargin.health._requirement`: ``reduce_only``
below :attr:`~Requirement.INITIAL`, ``liquidation`` below :attr:`~Requirement.MAINTENANCE`,
``bankrupt`` below zero. :func:`status_codes` is the one batched form of the rule (int8
codes, for hot paths), :func:`assess` names the codes, :func:`account_status` is the scalar
form.

A status is only ever given to finite numbers: an equity, IM or MM that is NaN or infinite
(an input far out of range: a price of 1e308, an entry price of 5e-324) is an
:class:`~pmargin.errors.InputError` naming the account and the field, never ``healthy`` (NaN
compares false with everything, so a plain comparison would call it healthy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from pmargin._typing import FloatArray, Int8Array
from pmargin.errors import InputError
from pmargin.health._requirement import Requirement, required_equity

__all__ = [
    "STATUS_ORDER",
    "AccountHealth",
    "HealthStatus",
    "account_status",
    "assess",
    "status_codes",
]


class HealthStatus(StrEnum):
    """What an account may do, from the worst margin its equity fails to cover.

    ``healthy``: equity >= IM, may trade freely. ``reduce_only``: MM <= equity < IM, may only
    place orders that lower its IM. ``liquidation``: 0 <= equity < MM, liquidation starts.
    ``bankrupt``: equity < 0, the account owes more than it holds.
    """

    HEALTHY = "healthy"
    REDUCE_ONLY = "reduce_only"
    LIQUIDATION = "liquidation"
    BANKRUPT = "bankrupt"


STATUS_ORDER = (
    HealthStatus.HEALTHY,
    HealthStatus.REDUCE_ONLY,
    HealthStatus.LIQUIDATION,
    HealthStatus.BANKRUPT,
)
"""Status of each int8 code of :func:`status_codes`, from best to worst."""

_STATUS_VALUES = np.array([s.value for s in STATUS_ORDER], dtype=object)


@dataclass(frozen=True, slots=True)
class AccountHealth:
    """Health of every account; each array has shape ``(n_accounts,)``, amounts in USD.

    Attributes
    ----------
    equity, initial_margin, maintenance_margin
        The inputs.
    available
        ``equity - initial_margin``: what can be withdrawn or used for new orders (negative
        when the account is below IM).
    im_utilization, mm_utilization
        ``margin / equity`` (1.0 = fully used); ``inf`` where equity <= 0 and the margin is
        positive, 0 where the margin is 0.
    status
        One :class:`HealthStatus` value per account (object array of the string values).
    """

    equity: FloatArray
    initial_margin: FloatArray
    maintenance_margin: FloatArray
    available: FloatArray
    im_utilization: FloatArray
    mm_utilization: FloatArray
    status: npt.NDArray[np.object_]


_NON_FINITE = "is not a finite number: an input (price, balance, quantity) is out of range"


def _check_finite(values: dict[str, FloatArray], account_ids: Sequence[str] | None) -> None:
    """Raise naming the first account and field (``equity``, ...) that is NaN or infinite."""
    for name, array in values.items():
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            a = int(bad[0])
            who = account_ids[a] if account_ids is not None else f"#{a}"
            raise InputError(f"account {who}: {name}", float(array[a]), _NON_FINITE)


def assess(
    equity: FloatArray,
    initial_margin: FloatArray,
    maintenance_margin: FloatArray,
    account_ids: Sequence[str] | None = None,
) -> AccountHealth:
    """Compare equity with IM and MM and give each account its status.

    Parameters
    ----------
    equity
        Shape ``(n_accounts,)``, USD, marked to market.
    initial_margin, maintenance_margin
        Shape ``(n_accounts,)``, USD, >= 0.
    account_ids
        Length ``n_accounts``, for error messages; row numbers without it.

    Returns
    -------
    AccountHealth
        ``bankrupt`` if equity < 0, else ``liquidation`` if equity < MM, else ``reduce_only``
        if equity < IM, else ``healthy``.

    Raises
    ------
    InputError
        An equity, IM or MM that is NaN or infinite, naming the account and the field.
    """
    equity = np.asarray(equity, dtype=np.float64)
    im = np.asarray(initial_margin, dtype=np.float64)
    mm = np.asarray(maintenance_margin, dtype=np.float64)
    _check_finite({"equity": equity, "initial_margin": im, "maintenance_margin": mm}, account_ids)
    status: npt.NDArray[np.object_] = _STATUS_VALUES[status_codes(equity, im, mm)]
    return AccountHealth(
        equity=equity,
        initial_margin=im,
        maintenance_margin=mm,
        available=equity - im,
        im_utilization=_utilization(im, equity),
        mm_utilization=_utilization(mm, equity),
        status=status,
    )


def account_status(
    equity: float, initial_margin: float, maintenance_margin: float, account_id: str = "?"
) -> HealthStatus:
    """Return one account's status (the scalar form of :func:`assess`, for hot paths).

    Raises
    ------
    InputError
        An equity, IM or MM that is NaN or infinite, naming ``account_id`` and the field.
    """
    for name, value in (
        ("equity", equity),
        ("initial_margin", initial_margin),
        ("maintenance_margin", maintenance_margin),
    ):
        if not math.isfinite(value):
            raise InputError(f"account {account_id}: {name}", float(value), _NON_FINITE)
    if equity < 0.0:
        return HealthStatus.BANKRUPT
    if equity < required_equity(Requirement.MAINTENANCE, initial_margin, maintenance_margin):
        return HealthStatus.LIQUIDATION
    if equity < required_equity(Requirement.INITIAL, initial_margin, maintenance_margin):
        return HealthStatus.REDUCE_ONLY
    return HealthStatus.HEALTHY


def status_codes(equity: FloatArray, im: FloatArray, mm: FloatArray) -> Int8Array:
    """Status of every account as int8 codes (index into :data:`STATUS_ORDER`).

    Parameters
    ----------
    equity, im, mm
        Shape ``(n_accounts,)``, USD (not checked finite here: :func:`assess` checks).

    Returns
    -------
    Int8Array
        Shape ``(n_accounts,)``: 0 healthy, 1 reduce_only (equity below the initial
        requirement), 2 liquidation (below the maintenance requirement), 3 bankrupt
        (equity < 0); the worst that applies.
    """
    codes = np.zeros(np.shape(equity), dtype=np.int8)
    codes[equity < required_equity(Requirement.INITIAL, im, mm)] = 1
    codes[equity < required_equity(Requirement.MAINTENANCE, im, mm)] = 2
    codes[equity < 0.0] = 3
    return codes


def _utilization(margin: FloatArray, equity: FloatArray) -> FloatArray:
    positive = equity > 0.0
    ratio = np.divide(margin, equity, out=np.zeros_like(margin), where=positive)
    result: FloatArray = np.where(~positive & (margin > 0.0), np.inf, ratio)
    return result

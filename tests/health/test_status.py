"""Account health: status at the IM / MM / zero boundaries, available, utilisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.health import HealthStatus, account_status, assess

IM, MM = 1_000.0, 800.0
BELOW = math.nextafter  # the float just below a boundary: nextafter(x, -inf)


@pytest.mark.parametrize(
    ("equity", "status"),
    [
        (2_000.0, HealthStatus.HEALTHY),
        (IM, HealthStatus.HEALTHY),  # equity == IM covers it
        (BELOW(IM, -math.inf), HealthStatus.REDUCE_ONLY),
        (900.0, HealthStatus.REDUCE_ONLY),
        (MM, HealthStatus.REDUCE_ONLY),  # equity == MM is not liquidation yet
        (BELOW(MM, -math.inf), HealthStatus.LIQUIDATION),
        (1.0, HealthStatus.LIQUIDATION),
        (0.0, HealthStatus.LIQUIDATION),  # nothing owed: not bankrupt
        (-1e-9, HealthStatus.BANKRUPT),
        (-5_000.0, HealthStatus.BANKRUPT),
    ],
)
def test_status_at_the_boundaries(equity: float, status: HealthStatus) -> None:
    health = assess(np.array([equity]), np.array([IM]), np.array([MM]))
    assert health.status[0] == status
    assert health.available[0] == equity - IM


def test_statuses_are_batched_per_account() -> None:
    equity = np.array([3.0, 2.0, 1.0, -1.0, 0.0])
    im = np.array([2.0, 2.5, 2.0, 0.0, 0.0])
    mm = np.array([1.0, 1.5, 1.5, 0.0, 0.0])
    health = assess(equity, im, mm)
    assert list(health.status) == ["healthy", "reduce_only", "liquidation", "bankrupt", "healthy"]
    np.testing.assert_array_equal(health.available, equity - im)


@pytest.mark.parametrize(
    ("equity", "margin", "utilisation"),
    [
        (2_000.0, 1_000.0, 0.5),  # margin / equity
        (1_000.0, 1_000.0, 1.0),
        (500.0, 1_000.0, 2.0),
        (0.0, 1_000.0, math.inf),  # equity <= 0 with margin: inf
        (-10.0, 1_000.0, math.inf),
        (2_000.0, 0.0, 0.0),  # no margin: 0
        (0.0, 0.0, 0.0),
        (-10.0, 0.0, 0.0),
    ],
)
def test_utilisation(equity: float, margin: float, utilisation: float) -> None:
    health = assess(np.array([equity]), np.array([margin]), np.array([0.8 * margin]))
    assert health.im_utilization[0] == utilisation
    expected_mm = 0.8 * margin / equity if equity > 0 else (math.inf if margin > 0 else 0.0)
    assert health.mm_utilization[0] == pytest.approx(expected_mm)


def test_status_values_are_the_published_strings() -> None:
    assert [s.value for s in HealthStatus] == ["healthy", "reduce_only", "liquidation", "bankrupt"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("field", ["equity", "initial_margin", "maintenance_margin"])
def test_a_non_finite_input_is_an_error_naming_the_account_never_healthy(
    field: str, bad: float
) -> None:
    # NaN compares false with every bound, so a plain comparison would call it healthy.
    values = {"equity": [2_000.0, 2_000.0], "initial_margin": [IM, IM]}
    values["maintenance_margin"] = [MM, MM]
    values[field][1] = bad
    arrays = [np.array(values[k]) for k in ("equity", "initial_margin", "maintenance_margin")]
    with pytest.raises(InputError, match=rf"account b: {field}") as caught:
        assess(*arrays, account_ids=("a", "b"))
    assert "not a finite number" in str(caught.value)
    scalars = [values[k][1] for k in ("equity", "initial_margin", "maintenance_margin")]
    with pytest.raises(InputError, match=rf"account b: {field}"):
        account_status(*scalars, account_id="b")

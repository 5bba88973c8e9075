"""Health requirements: the equity each asks for, the status rule that reads them, snapshots.

Expected values are written as the formulas of the rule (IM, MM, factor x margin), so a table
row says what the rule is, not only what it gave once.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.health import (
    STATUS_ORDER,
    HealthStatus,
    LiquidationEnd,
    MarginSnapshot,
    Requirement,
    account_status,
    assess,
    required_equity,
    status_codes,
)
from pmargin.liquidation import TargetConfig, load_config

IM, MM = 1_000.0, 800.0
BUFFER = 0.15  # liquidation.toml's [target] buffer (Derive's buffer margin)
ABOVE_MM = LiquidationEnd(Requirement.MAINTENANCE, 1.0 + BUFFER)
BACK_TO_IM = LiquidationEnd(Requirement.INITIAL, 1.0)


@pytest.mark.parametrize(
    ("requirement", "end", "expected"),
    [
        (Requirement.INITIAL, None, IM),
        (Requirement.MAINTENANCE, None, MM),
        (Requirement.INITIAL, ABOVE_MM, IM),  # end is read only by the liquidation end
        (Requirement.LIQUIDATION_END, ABOVE_MM, MM * (1.0 + BUFFER)),
        (Requirement.LIQUIDATION_END, BACK_TO_IM, IM),
        (Requirement.LIQUIDATION_END, LiquidationEnd(Requirement.INITIAL, 1.5), 1.5 * IM),
        (Requirement.LIQUIDATION_END, LiquidationEnd(Requirement.MAINTENANCE, 1.0), MM),
    ],
)
def test_required_equity_table(
    requirement: Requirement, end: LiquidationEnd | None, expected: float
) -> None:
    assert required_equity(requirement, IM, MM, end) == expected
    snapshot = MarginSnapshot(equity=900.0, initial_margin=IM, maintenance_margin=MM)
    assert snapshot.required(requirement, end) == expected
    assert snapshot.surplus(requirement, end) == 900.0 - expected
    assert snapshot.covers(requirement, end) == (expected <= 900.0)


def test_required_equity_is_batched_over_accounts() -> None:
    im = np.array([0.0, 10.0, 2.5e6])
    mm = np.array([0.0, 7.0, 1.0e6])
    np.testing.assert_array_equal(required_equity(Requirement.INITIAL, im, mm), im)
    np.testing.assert_array_equal(required_equity(Requirement.MAINTENANCE, im, mm), mm)
    np.testing.assert_array_equal(
        required_equity(Requirement.LIQUIDATION_END, im, mm, ABOVE_MM), mm * (1.0 + BUFFER)
    )


def test_the_liquidation_end_needs_its_rule() -> None:
    with pytest.raises(InputError, match="end"):
        required_equity(Requirement.LIQUIDATION_END, IM, MM)


@pytest.mark.parametrize(
    ("basis", "factor", "field"),
    [
        (Requirement.LIQUIDATION_END, 1.0, "basis"),
        (Requirement.MAINTENANCE, 0.99, "factor"),
        (Requirement.MAINTENANCE, math.nan, "factor"),
        (Requirement.INITIAL, math.inf, "factor"),
    ],
)
def test_a_bad_liquidation_end_names_its_field(
    basis: Requirement, factor: float, field: str
) -> None:
    with pytest.raises(InputError, match=f"liquidation end {field}"):
        LiquidationEnd(basis, factor)


# Each row: equity as a formula of the margins, and the status the rule gives. The status is
# the worst requirement not covered: below zero bankrupt, below MM liquidation, below IM
# reduce_only.
STATUS_TABLE = [
    (IM + 1.0, HealthStatus.HEALTHY),
    (IM, HealthStatus.HEALTHY),  # equity exactly at the initial requirement covers it
    (math.nextafter(IM, -math.inf), HealthStatus.REDUCE_ONLY),
    (MM, HealthStatus.REDUCE_ONLY),
    (math.nextafter(MM, -math.inf), HealthStatus.LIQUIDATION),
    (0.0, HealthStatus.LIQUIDATION),
    (-math.ulp(0.0), HealthStatus.BANKRUPT),
    (-IM, HealthStatus.BANKRUPT),
]


@pytest.mark.parametrize(("equity", "status"), STATUS_TABLE)
def test_status_reads_the_requirements(equity: float, status: HealthStatus) -> None:
    covers_im = equity >= required_equity(Requirement.INITIAL, IM, MM)
    covers_mm = equity >= required_equity(Requirement.MAINTENANCE, IM, MM)
    by_formula = (
        HealthStatus.BANKRUPT
        if equity < 0.0
        else HealthStatus.LIQUIDATION
        if not covers_mm
        else HealthStatus.REDUCE_ONLY
        if not covers_im
        else HealthStatus.HEALTHY
    )
    assert by_formula == status
    assert account_status(equity, IM, MM) == status
    assert MarginSnapshot(equity, IM, MM, "a1").status == status
    code = status_codes(np.array([equity]), np.array([IM]), np.array([MM]))
    assert STATUS_ORDER[int(code[0])] == status
    assert assess(np.array([equity]), np.array([IM]), np.array([MM])).status[0] == status.value


def test_batched_codes_agree_with_the_scalar_rule_row_by_row() -> None:
    equity = np.array([row[0] for row in STATUS_TABLE])
    im = np.full(equity.shape, IM)
    mm = np.full(equity.shape, MM)
    codes = status_codes(equity, im, mm)
    assert [STATUS_ORDER[c] for c in codes] == [row[1] for row in STATUS_TABLE]
    health = assess(equity, im, mm)
    for a in range(equity.size):
        snap = MarginSnapshot.of(health, a, f"a{a}")
        assert snap == MarginSnapshot(float(equity[a]), IM, MM, f"a{a}")
        assert snap.status.value == health.status[a]
        assert snap.available == health.available[a]


def test_a_snapshot_with_a_non_finite_margin_names_the_account() -> None:
    with pytest.raises(InputError, match="account a7: maintenance_margin"):
        _ = MarginSnapshot(1.0, 1.0, math.nan, "a7").status


@pytest.mark.parametrize(
    ("kind", "buffer", "expected"),
    [
        ("buffer", BUFFER, MM * (1.0 + BUFFER)),
        ("buffer", 0.0, MM),
        ("buffer", 2.5, MM * (1.0 + 2.5)),
        ("im", BUFFER, IM),  # the buffer is not read by the IM target
    ],
)
def test_the_liquidation_target_is_the_liquidation_end_requirement(
    kind: str, buffer: float, expected: float
) -> None:
    target = TargetConfig(kind=kind, buffer=buffer)
    assert target.required(IM, MM) == expected
    assert required_equity(Requirement.LIQUIDATION_END, IM, MM, target.end) == expected


def test_the_shipped_target_is_derives_buffer_above_maintenance() -> None:
    end = load_config().target.end
    assert end == LiquidationEnd(Requirement.MAINTENANCE, 1.0 + BUFFER)

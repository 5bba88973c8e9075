"""Derive's PMRM_2 peer cases: IM, MM and every stored intermediate, reproduced.

Cases are read from ``$PMARGIN_DERIVE_CASES`` or ``<repo>/../shared/testvectors/derive-pmrm2``;
the module skips when that folder is absent. A case present but not handled FAILS.

Tolerance: every number to ``1e-6`` relative, with an absolute floor of ``1e-6`` USD for values
near 0 (the reference stores round-off such as ``3.6e-12`` where the exact value is 0, e.g. a
box spread's scenario P&L). The worst-scenario labels are compared through their losses: the
expected scenario (or group) must be worst within that tolerance, since exact ties (a box is
worth the same in every scenario) make the label depend on round-off.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pmargin.margin.pmrm2 import (
    OPTION_OUTPUT_KEYS,
    Pmrm2Result,
    ScenarioKind,
    case_outputs,
    compute_pmrm2,
    parameters_from_case,
    portfolio_from_case,
    read_case,
    skew_case_name,
)

REPO = Path(__file__).resolve().parents[3]
CASES = Path(
    os.environ.get("PMARGIN_DERIVE_CASES", REPO.parent / "shared" / "testvectors" / "derive-pmrm2")
)
if not CASES.is_dir():
    pytest.skip(
        f"Derive PMRM_2 cases not found at {CASES} (set PMARGIN_DERIVE_CASES)",
        allow_module_level=True,
    )


def _case_number(path: Path) -> tuple[int, str]:
    parts = path.stem.split("_")
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 10**9, path.name)


CASE_FILES = sorted(CASES.glob("*.json"), key=_case_number)

RTOL = 1e-6
ATOL = 1e-6  # USD: reference round-off near 0

LABEL_KEYS = {
    "worst_reg_scenario",
    "worst_tail_scenario",
    "worst_skew_scenario",
    "worst_all_scenarios",
}
"""Compared through losses (see module docstring), not by identity."""

NOT_COMPARED: dict[str, str] = {}
"""Result keys deliberately not compared, with the reason (none at present)."""


def _numbers(value: Any) -> Iterator[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _numbers(item)
    else:
        yield value


def _close(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=RTOL, abs_tol=ATOL)


def _compare(key: str, got: Any, want: Any) -> list[str]:
    g, w = list(_numbers(got)), list(_numbers(want))
    if len(g) != len(w):
        return [f"{key}: {len(g)} values, expected {len(w)}"]
    errors = []
    for i, (a, b) in enumerate(zip(g, w, strict=True)):
        try:
            fa, fb = float(a), float(b)
        except (TypeError, ValueError):
            if a != b:
                errors.append(f"{key}[{i}]: {a!r} != {b!r}")
            continue
        if not _close(fa, fb):
            errors.append(f"{key}[{i}]: {fa!r} != {fb!r} (rel {abs(fa - fb) / abs(fb or 1):.2e})")
    return errors


def _scenario_index(result: Pmrm2Result, kind: ScenarioKind, want: Any) -> int | None:
    """Index of the scenario of ``kind`` the expected label names, or None."""
    for i in result.indices(kind):
        s = result.scenarios[i]
        if kind is ScenarioKind.SKEW:
            if skew_case_name(result.scenarios[i]) == want:
                return i
            continue
        row = [s.spot_shock - 1.0, s.vol_shock.code, s.dampening]
        if all(
            math.isclose(float(a), float(b), abs_tol=1e-12) for a, b in zip(row, want, strict=False)
        ):
            return i
    return None


_KIND_OF = {
    "worst_reg_scenario": ScenarioKind.REGULAR,
    "worst_tail_scenario": ScenarioKind.TAIL,
    "worst_skew_scenario": ScenarioKind.SKEW,
}


def _compare_label(key: str, result: Pmrm2Result, want: Any) -> list[str]:
    pnl = result.scenario_pnl
    if key == "worst_all_scenarios":
        groups = {
            "regular": ScenarioKind.REGULAR,
            "tail": ScenarioKind.TAIL,
            "skew": ScenarioKind.SKEW,
        }
        if want in groups:
            idx = result.indices(groups[want])
            if idx and _close(float(min(pnl[idx])), result.worst_loss):
                return []
        elif _close(result.forward_contingency, result.worst_loss):
            return []
        return [
            f"{key}: expected {want!r} to be worst, got {result.worst_kind!r} "
            f"(worst loss {result.worst_loss!r})"
        ]
    kind = _KIND_OF[key]
    i = _scenario_index(result, kind, want)
    if i is None:
        return [f"{key}: no {kind.value} scenario matches {want!r}"]
    best = float(min(pnl[result.indices(kind)]))
    if not _close(float(pnl[i]), best):
        return [f"{key}: {want!r} loses {pnl[i]!r}, the worst {kind.value} loses {best!r}"]
    return []


def _spot_shocked_skew(result: Pmrm2Result) -> list[int]:
    """Skew scenarios with a spot shock: Derive's ``setScenarios`` rejects them."""
    return [i for i in result.indices(ScenarioKind.SKEW) if result.scenarios[i].spot_shock != 1.0]


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case(path: Path) -> None:
    case = read_case(path)
    result = compute_pmrm2(portfolio_from_case(case), parameters_from_case(case))
    got = case_outputs(result)
    expected: dict[str, Any] = dict(case.get("Result", {}))
    assert "IM" in expected, "a case must store IM"
    assert "MM" in expected, "a case must store MM"

    # Skew scenarios with a spot shock are rejected on chain (upstream skips such a case as
    # "invalid param setup"); the reference's loss for them follows no documented rule, so
    # their losses and the skew worst-of are not compared. IM, MM and the rest are.
    skipped_skew = _spot_shocked_skew(result)
    not_compared = dict(NOT_COMPARED)
    if skipped_skew:
        reason = "skew scenario with a spot shock (rejected by Derive's setScenarios)"
        not_compared.update(worst_skew_loss=reason, worst_skew_scenario=reason)

    errors: list[str] = []
    for key, want in expected.items():
        if key in not_compared:
            continue
        if key not in got:
            errors.append(f"{key}: not computed by the engine")
        elif key in LABEL_KEYS:
            errors.extend(_compare_label(key, result, want))
        elif key == "skew_losses" and skipped_skew:
            names = {skew_case_name(result.scenarios[i]) for i in skipped_skew}
            keep = [j for j, row in enumerate(want) if row[0] not in names]
            errors.extend(_compare(key, [got[key][j] for j in keep], [want[j] for j in keep]))
        else:
            errors.extend(_compare(key, got[key], want))

    options = case["Scenario"]["Options"]
    for j, option in enumerate(options):
        for key in OPTION_OUTPUT_KEYS:
            if key in option:
                errors.extend(_compare(f"Options[{j}].{key}", got["Options"][j][key], option[key]))

    assert not errors, f"{path.name}:\n" + "\n".join(errors)


def test_cases_found() -> None:
    assert CASE_FILES, f"no case files in {CASES}"

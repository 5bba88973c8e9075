"""Shared test fixtures, and the hypothesis profile of the run (see ``hypothesis_profiles``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

import hypothesis_profiles
from shared_paths import REPO, shared_data_dir

__all__ = ["REPO", "shared_data", "shared_data_dir"]

hypothesis_profiles.register()
try:
    _PROFILE = hypothesis_profiles.choose(os.environ)
    _STRESS_FACTOR = hypothesis_profiles.stress_factor(os.environ)
except ValueError as exc:
    raise pytest.UsageError(str(exc)) from None
settings.load_profile(_PROFILE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under the ``stress`` profile, multiply each hypothesis test's own ``max_examples``.

    A test's ``@settings(max_examples=...)`` beats any profile, so the profile alone cannot
    scale it; hypothesis reads the settings stored on the wrapped test when the test runs.
    """
    if _PROFILE != "stress":
        return
    seen: set[int] = set()
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is None or id(test) in seen:
            continue
        seen.add(id(test))
        test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
            own, max_examples=own.max_examples * _STRESS_FACTOR
        )


_SHARED_DATA_MARKERS = ("PMARGIN_SHARED_DATA", "shared data", "shared price", "shared funding")
"""Words by which a skip reason says the test needs the shared data folder."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests were skipped for want of ``../shared/data``, and why, by reason.

    The full 4-hourly history and the real option chains live only there; without it those
    tests skip (the package's own compact history keeps the rest running). A plain ``make
    test`` outside this workspace then says so instead of passing quietly.
    """
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        if any(marker in reason for marker in _SHARED_DATA_MARKERS):
            reason = reason.removeprefix("Skipped: ")
            reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        return
    folder = shared_data_dir()
    state = "is absent" if not folder.is_dir() else "lacks some files"
    terminalreporter.write_sep("-", "tests skipped for want of the shared data")
    terminalreporter.write_line(
        f"{sum(reasons.values())} tests skipped: the shared data folder {folder} {state}; "
        "set PMARGIN_SHARED_DATA to a copy of ../shared/data to run them (docs/data.md)"
    )
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"  {count:5d}  {reason}")


@pytest.fixture
def shared_data() -> Path:
    """The shared real-data folder; skips the test when it is absent."""
    folder = shared_data_dir()
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder} (set PMARGIN_SHARED_DATA)")
    return folder

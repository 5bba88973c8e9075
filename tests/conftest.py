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


@pytest.fixture
def shared_data() -> Path:
    """The shared real-data folder; skips the test when it is absent."""
    folder = shared_data_dir()
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder} (set PMARGIN_SHARED_DATA)")
    return folder

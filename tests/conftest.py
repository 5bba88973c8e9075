"""Shared test fixtures and the hypothesis profiles.

Hypothesis profiles
-------------------
``ci``
    Loaded when ``CI`` is ``true`` (or ``1``). Derandomised (the examples are a pure function
    of each test's code), no example database, no deadline, and the ``too_slow`` health check
    off: that check and the deadline are the only parts of a run that depend on the machine's
    load, so with them off a CI run passes or fails the same way on every clean clone.
    Failures print the reproduction blob.
``dev``
    The default elsewhere: random exploration with the default example database
    (``.hypothesis/``), so a failure found once is replayed first on the next run. No
    deadline either: a shared or loaded machine must not turn timing into a failure.
``stress``
    ``dev`` with ten times the examples, for a flakiness hunt
    (``HYPOTHESIS_PROFILE=stress pytest tests/pricing``). A test that fixes its own
    ``max_examples`` keeps it; vary ``--hypothesis-seed`` to explore those further.

``HYPOTHESIS_PROFILE=<name>`` overrides the choice. A test's own ``@settings(...)`` inherits
every field it does not set from the loaded profile (so it keeps ``derandomize`` and
``database`` under ``ci``). A failing example found anywhere is added to its test as an
explicit ``@example``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

from shared_paths import REPO, shared_data_dir

__all__ = ["REPO", "shared_data", "shared_data_dir"]

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.register_profile("stress", parent=settings.get_profile("dev"), max_examples=1000)


def _profile_name() -> str:
    """Return ``$HYPOTHESIS_PROFILE``, else ``ci`` when ``$CI`` is true, else ``dev``."""
    chosen = os.environ.get("HYPOTHESIS_PROFILE", "").strip()
    if chosen:
        return chosen
    on_ci = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
    return "ci" if on_ci else "dev"


_PROFILE = _profile_name()
try:
    settings.load_profile(_PROFILE)
except InvalidArgument as exc:
    raise pytest.UsageError(
        f"HYPOTHESIS_PROFILE={_PROFILE!r} is not a profile; use ci, dev or stress"
    ) from exc


@pytest.fixture
def shared_data() -> Path:
    """The shared real-data folder; skips the test when it is absent."""
    folder = shared_data_dir()
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder} (set PMARGIN_SHARED_DATA)")
    return folder

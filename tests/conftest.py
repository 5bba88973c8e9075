"""Shared test fixtures: where the shared real data and peer test vectors live."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared_paths import REPO, shared_data_dir

__all__ = ["REPO", "shared_data", "shared_data_dir"]


@pytest.fixture
def shared_data() -> Path:
    """The shared real-data folder; skips the test when it is absent."""
    folder = shared_data_dir()
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder} (set PMARGIN_SHARED_DATA)")
    return folder

"""Where the shared real data and peer test vectors live (importable by any test module).

A test module cannot import ``conftest`` by name: pytest loads several ``conftest.py`` files
(``tests/`` and ``tests/pricing/``) and the name resolves to whichever came first.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$PMARGIN_SHARED_DATA`` or ``<repo>/../shared/data``."""
    return Path(os.environ.get("PMARGIN_SHARED_DATA", REPO.parent / "shared" / "data"))

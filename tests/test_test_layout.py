"""Rules the test tree itself must keep, so that a full run behaves like a partial one."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_test_imports_conftest_by_name() -> None:
    # Several conftest.py files exist; "conftest" names whichever pytest loaded first.
    offenders = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if path.name != Path(__file__).name
        and any(
            line.strip().startswith(("from conftest import", "import conftest"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == [], f"import shared_paths instead of conftest in {offenders}"


def test_test_module_names_are_unique() -> None:
    # Test folders are not packages: two modules with one name clash in a full run.
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [n for n, k in names.items() if k > 1] == []

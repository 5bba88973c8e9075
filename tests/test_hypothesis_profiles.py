"""The hypothesis profiles: CI runs are derandomised, and no test overrides what makes them so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import hypothesis_profiles

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "dev"),
        ({"CI": "true"}, "ci"),
        ({"CI": "1"}, "ci"),
        ({"CI": "false"}, "dev"),
        ({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}, "dev"),
        ({"HYPOTHESIS_PROFILE": "stress"}, "stress"),
    ],
)
def test_profile_choice(environ: dict[str, str], expected: str) -> None:
    assert hypothesis_profiles.choose(environ) == expected


def test_bad_profile_names_the_variable() -> None:
    with pytest.raises(ValueError, match="HYPOTHESIS_PROFILE='fast' is not a profile"):
        hypothesis_profiles.choose({"HYPOTHESIS_PROFILE": "fast"})


@pytest.mark.parametrize("text", ["0", "-3", "ten"])
def test_bad_stress_factor_names_the_variable(text: str) -> None:
    with pytest.raises(ValueError, match="STRESS_FACTOR"):
        hypothesis_profiles.stress_factor({"STRESS_FACTOR": text})


def test_ci_profile_is_deterministic() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize is True
    assert ci.database is None
    assert ci.deadline is None
    assert ci.max_examples == hypothesis_profiles.CI_MAX_EXAMPLES


@pytest.mark.parametrize("name", hypothesis_profiles.PROFILES)
def test_no_profile_fails_on_timing(name: str) -> None:
    profile = settings.get_profile(name)
    assert profile.deadline is None
    assert HealthCheck.too_slow in profile.suppress_health_check


def test_a_test_settings_inherits_the_profile() -> None:
    # What @settings(max_examples=...) on a test builds: the other fields come from the profile.
    own = settings(settings.get_profile("ci"), max_examples=7)
    assert (own.max_examples, own.derandomize, own.database) == (7, True, None)


# Fields that would make a run depend on chance, the machine or an earlier run.
_OVERRIDES = re.compile(r"\b(derandomize|database|deadline)\s*=\s*(?!None\b)")


def test_no_test_overrides_the_profile_determinism() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name not in {"hypothesis_profiles.py", Path(__file__).name}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "settings(" in line and _OVERRIDES.search(line)
    ]
    assert offenders == [], f"set only max_examples / suppress_health_check in {offenders}"

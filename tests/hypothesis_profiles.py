"""The hypothesis profiles of the test suite, and which one a run loads.

``ci``
    Chosen when ``$CI`` is true (``true``, ``1`` or ``yes``, any case). Derandomised (the
    examples are a pure function of each test's code), no example database, no deadline and
    the ``too_slow`` health check off: that check and the deadline are the only parts of a run
    that depend on the machine's load, so a CI run passes or fails the same way on every clean
    clone. ``max_examples`` is 100 for a test that does not set its own. Failures print the
    reproduction blob.
``dev``
    The default elsewhere: random exploration with the default example database
    (``.hypothesis/``), so a failure found once is replayed first on the next run. No deadline
    and no ``too_slow`` check either: a shared or loaded machine must not turn timing into a
    failure.
``stress``
    ``dev`` for a flakiness hunt (``HYPOTHESIS_PROFILE=stress pytest tests/pricing``): every
    test runs ``$STRESS_FACTOR`` (default 10) times its own ``max_examples``.

``$HYPOTHESIS_PROFILE`` overrides the choice (and ``--hypothesis-profile`` overrides that). A
test's own ``@settings(...)`` inherits every field it does not set from the loaded profile, so
it keeps ``derandomize`` and ``database`` under ``ci``; tests set only ``max_examples``,
``deadline=None`` and ``suppress_health_check`` (``test_hypothesis_profiles.py`` checks it). A
failing example found anywhere is added to its test as an explicit ``@example``.
"""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import HealthCheck, settings

PROFILES = ("ci", "dev", "stress")
CI_MAX_EXAMPLES = 100
DEFAULT_STRESS_FACTOR = 10


def register() -> None:
    """Register the ``ci``, ``dev`` and ``stress`` profiles with hypothesis."""
    settings.register_profile(
        "ci",
        derandomize=True,
        database=None,
        max_examples=CI_MAX_EXAMPLES,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("stress", parent=settings.get_profile("dev"))


def choose(environ: Mapping[str, str]) -> str:
    """Return the profile to load: ``$HYPOTHESIS_PROFILE``, else ``ci`` under CI, else ``dev``.

    Raises
    ------
    ValueError
        If ``HYPOTHESIS_PROFILE`` names no profile; the message names the variable.
    """
    chosen = environ.get("HYPOTHESIS_PROFILE", "").strip()
    if chosen:
        if chosen not in PROFILES:
            raise ValueError(
                f"HYPOTHESIS_PROFILE={chosen!r} is not a profile; use one of {', '.join(PROFILES)}"
            )
        return chosen
    on_ci = environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
    return "ci" if on_ci else "dev"


def stress_factor(environ: Mapping[str, str]) -> int:
    """Return ``$STRESS_FACTOR`` (default 10), the multiple of examples under ``stress``.

    Raises
    ------
    ValueError
        If ``STRESS_FACTOR`` is not a positive integer; the message names the variable.
    """
    text = environ.get("STRESS_FACTOR", "").strip() or str(DEFAULT_STRESS_FACTOR)
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"STRESS_FACTOR={text!r} must be a positive integer")
    return int(text)

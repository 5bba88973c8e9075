"""The benchmarks' growth fit: exact exponents on synthetic power laws, and its guards."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from shared_paths import REPO

if str(REPO) not in sys.path:  # `pytest` without `python -m`: the repository root
    sys.path.insert(0, str(REPO))

from benchmarks._common import fit_exponent, growth


@pytest.mark.parametrize("k", [0.0, 0.5, 1.0, 1.37, 2.0, -1.0])
@pytest.mark.parametrize("a", [1e-6, 3.0])
def test_fit_exponent_recovers_a_power_law(k: float, a: float) -> None:
    sizes = [1_000, 3_000, 10_000, 100_000]
    seconds = [a * s**k for s in sizes]
    assert fit_exponent(sizes, seconds) == pytest.approx(k, abs=1e-12)


def test_fit_exponent_is_least_squares_in_logs() -> None:
    rng = np.random.default_rng(5)
    sizes = np.array([10.0, 20.0, 40.0, 80.0, 160.0])
    seconds = 0.01 * sizes**1.2 * np.exp(rng.normal(0.0, 0.1, sizes.size))
    expected = np.polyfit(np.log(sizes), np.log(seconds), 1)[0]
    assert fit_exponent(sizes.tolist(), seconds.tolist()) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("sizes", "seconds"),
    [([10], [1.0]), ([10, 10, 10], [1.0, 2.0, 3.0]), ([10, 20], [0.0, 1.0]), ([1, 2], [1.0])],
)
def test_fit_exponent_rejects_what_cannot_be_fitted(sizes: list[int], seconds: list[float]) -> None:
    with pytest.raises(ValueError, match="size"):
        fit_exponent(sizes, seconds)


def test_growth_times_each_size_on_the_given_clock() -> None:
    # A fake clock advancing by size**1.5 per job: the fitted exponent is exactly 1.5.
    now = [0.0]
    calls: list[int] = []

    def setup(size: int):  # type: ignore[no-untyped-def]
        def job() -> None:
            calls.append(size)
            now[0] += size**1.5

        return job

    row = growth("demo", "accounts", [4, 16, 64], setup, repeats=2, clock=lambda: now[0])
    assert calls == [4] * 3 + [16] * 3 + [64] * 3  # one warm-up, then two timed
    assert row.implementation == "growth in accounts"
    assert (row.items, row.seconds) == (64, 64**1.5)
    assert row.note.startswith("exponent 1.50 +- 0.00 in accounts (4: 8 s, 16: 64 s, 64: 512 s)")
    with pytest.raises(ValueError, match="three sizes"):
        growth("demo", "accounts", [4, 16], setup)


def test_growth_error_is_the_fit_standard_error() -> None:
    # Points off one power law: the note's +- is the slope's standard error (numpy's scaled cov).
    sizes, times = [10, 20, 40, 80], [1.0, 3.0, 3.5, 9.0]
    now = [0.0]

    def setup(size: int):  # type: ignore[no-untyped-def]
        def job() -> None:
            now[0] += times[sizes.index(size)]

        return job

    row = growth("demo", "steps", sizes, setup, repeats=1, clock=lambda: now[0])
    slope, cov = np.polyfit(np.log(sizes), np.log(times), 1, cov=True)
    assert row.note.startswith(f"exponent {slope[0]:.2f} +- {np.sqrt(cov[0, 0]):.2f} in steps")
    assert np.sqrt(cov[0, 0]) > 0.05

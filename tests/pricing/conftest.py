"""Shared random option sets for the pricing tests."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

MINUTE = 1.0 / (365.0 * 24.0 * 60.0)


class OptionSet(NamedTuple):
    """Random European options, every field of shape ``(n,)``."""

    forward: np.ndarray
    strike: np.ndarray
    time: np.ndarray
    vol: np.ndarray
    is_call: np.ndarray
    rate: np.ndarray


def random_options(n: int, seed: int) -> OptionSet:
    """Strikes 0.2x-5x forward, expiries 10 minutes-2 years, vols 5%-300%, rates -2%-10%."""
    rng = np.random.default_rng(seed)
    forward = np.exp(rng.uniform(np.log(1.0), np.log(1e5), n))
    strike = forward * np.exp(rng.uniform(np.log(0.2), np.log(5.0), n))
    time = np.exp(rng.uniform(np.log(10 * MINUTE), np.log(2.0), n))
    vol = np.exp(rng.uniform(np.log(0.05), np.log(3.0), n))
    is_call = rng.random(n) < 0.5
    rate = rng.uniform(-0.02, 0.10, n)
    return OptionSet(forward, strike, time, vol, is_call, rate)


@pytest.fixture(scope="session")
def options() -> OptionSet:
    """The 10,000 options of the QuantLib comparison."""
    return random_options(10_000, seed=20240601)


@pytest.fixture(scope="session")
def make_options():
    """``make_options(n, seed)`` -> a fresh :class:`OptionSet`."""
    return random_options

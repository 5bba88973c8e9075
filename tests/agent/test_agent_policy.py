"""The agent's policy file, its market signals and its triggers (no shared data)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmargin.errors import InputError
from pmargin.optimise import (
    AgentPolicy,
    MarketWatch,
    agent_policy_path,
    agent_triggers,
    load_agent_policy,
    rolling_correlation,
)

SHIPPED = agent_policy_path().read_text(encoding="utf-8")


def test_shipped_policy_reads_as_documented() -> None:
    policy = load_agent_policy()
    assert policy == AgentPolicy(
        utilisation=0.8, window_hours=24.0, correlation_band=0.3, vol_band=0.10,
        cooldown_hours=4.0, target_utilisation=0.5, held=True, delta_one=True, lots=True,
        time_limit=5.0, budget=200,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("utilisation = 0.8", "utilisation = 0.8\nutilization = 0.7", "triggers.utilization"),
        ("target_utilisation = 0.5", "target_utilisation = 0.9", "hedge.target_utilisation"),
        ("vol_band = 0.10", "vol_band = -1", "triggers.vol_band"),
        ("held = true", 'held = "yes"', "hedge.held"),
        ("schema_version = 1", "schema_version = 2", "schema_version"),
    ],
)
def test_bad_policy_files_name_the_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    file = tmp_path / "agent.toml"
    file.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_agent_policy(file)
    assert field in error.value.field


@given(st.integers(0, 2**32 - 1), st.integers(4, 40))
def test_rolling_correlation_is_numpy_corrcoef_of_the_returns(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = np.cumsum(rng.normal(size=n)), np.cumsum(rng.normal(size=n))
    expected = np.corrcoef(np.diff(a), np.diff(b))[0, 1]
    assert rolling_correlation(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_rolling_correlation_needs_three_returns() -> None:
    assert math.isnan(rolling_correlation(np.zeros(3), np.zeros(3)))


def _feed(
    watch: MarketWatch, btc: list[float], eth: list[float], vol: float = 0.6
) -> list[tuple[str, ...]]:
    out = []
    for k, (a, b) in enumerate(zip(btc, eth, strict=True)):
        watch.observe(k * 4 * 3600.0, {"BTC": a, "ETH": b}, {"BTC": vol})
        out.append(watch.regime())
    return out


def test_a_correlation_break_is_a_regime_change_once() -> None:
    # 24-hour window of 4-hour steps: six returns. ETH first follows BTC (rho = 1), then
    # moves against it: the rolling correlation leaves the 0.3 band once, then its reference moves.
    rng = np.random.default_rng(3)
    moves = rng.normal(0.0, 0.02, size=30)
    btc = 100.0 * np.exp(np.cumsum(moves))
    eth = 10.0 * np.exp(np.cumsum(np.where(np.arange(30) < 12, moves, -moves)))
    watch = MarketWatch(AgentPolicy())
    seen = _feed(watch, list(btc), list(eth))
    fired = [k for k, r in enumerate(seen) if r]
    assert fired
    assert fired[0] > 12
    assert all("correlation" in r for k in fired for r in seen[k])
    assert watch.correlation_ref < 0.7


def test_a_vol_move_beyond_the_band_fires_and_resets() -> None:
    watch = MarketWatch(AgentPolicy(vol_band=0.1))
    seen = []
    for k, v in enumerate([0.6, 0.65, 0.71, 0.75, 0.82, 0.83]):
        watch.observe(k * 3600.0, {"BTC": 1.0}, {"BTC": v})
        seen.append(watch.regime())
    assert [bool(r) for r in seen] == [False, False, True, False, True, False]


def test_triggers() -> None:
    policy = AgentPolicy(utilisation=0.8, target_utilisation=0.5)
    assert agent_triggers(policy, 100.0, 81.0) == ("utilisation 0.810 > 0.8",)
    assert agent_triggers(policy, 100.0, 79.0) == ()
    assert agent_triggers(policy, 100.0, 60.0, ("regime",)) == ("regime",)
    assert agent_triggers(policy, 100.0, 40.0, ("regime",)) == ()
    assert agent_triggers(policy, 0.0, 40.0) == ()  # no equity: the liquidation engine's
    with pytest.raises(InputError, match="target_utilisation"):
        AgentPolicy(utilisation=0.5, target_utilisation=0.6)

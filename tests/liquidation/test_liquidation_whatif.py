"""The engine on the what-if path equals its reference twin (every margin rebuilt from scratch).

``LiquidationEngine.run`` asks every margin of the one :class:`~pmargin.health.AccountWhatIf`
(incremental paths, committed state); ``run_reference`` asks ``margin_after_reference`` (each
account rebuilt from its explicit state and margined alone, IM contributions too). Both must
give the same events: same kinds, accounts, instruments and outcomes, and every number equal to
1e-9 relative (the two sum the same terms in a different order: equity as a running sum of the
changes against a fresh valuation, margin as old + change against a fresh run; differences
are a few ulps of the largest term).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from _liquidation_cases import book, config
from test_liquidation_invariants import random_accounts

from pmargin.liquidation import LiquidationEngine, LiquidationEvent, event_to_dict
from pmargin.margin import get_model

RTOL = 1e-9
DYNAMIC: dict[str, Any] = {
    "penalty_mode": "dynamic",
    "rate": 0.005,
    "fund_share": 0.5,
    "tolerance": 1e-6,
}


def _same_events(fast: tuple[LiquidationEvent, ...], slow: tuple[LiquidationEvent, ...]) -> None:
    assert [type(e) for e in fast] == [type(e) for e in slow]
    for a, b in zip(fast, slow, strict=True):
        da, db = event_to_dict(a), event_to_dict(b)
        assert da.keys() == db.keys()
        for key, x in da.items():
            y = db[key]
            if isinstance(x, float):
                scale = max(1.0, abs(x), abs(y))
                assert math.isclose(x, y, rel_tol=0.0, abs_tol=RTOL * scale), (key, a, b)
            elif isinstance(x, dict):
                assert x.keys() == y.keys(), (key, a, b)
                for k in x:
                    scale = max(1.0, abs(x[k]), abs(y[k]))
                    assert math.isclose(x[k], y[k], rel_tol=0.0, abs_tol=RTOL * scale), (key, a)
            else:
                assert x == y, (key, a, b)


CASES = [
    # (model, seed, fund USD, slippage k, target, max_fraction, paused): each case liquidates;
    # standard 0/5 and deribit 0/5 reach ADL, fund draws and bad debt.
    ("standard", 0, 500.0, 0.05, "buffer", 0.25, ()),
    ("standard", 1, 2_000.0, 0.2, "im", 1.0, ("ETH",)),
    ("standard", 5, 0.0, 0.02, "buffer", 0.25, ()),
    ("standard", 11, 1_000_000.0, 0.0, "buffer", 1.0, ()),
    ("deribit", 0, 500.0, 0.05, "buffer", 0.25, ()),
    ("deribit", 5, 2_000.0, 0.2, "im", 1.0, ("ETH",)),
    ("okx", 7, 500.0, 0.05, "buffer", 0.25, ()),
    ("pmargin-es", 5, 500.0, 0.05, "buffer", 0.25, ()),
]


@pytest.mark.parametrize(("model", "seed", "fund", "k", "target", "fraction", "paused"), CASES)
def test_run_equals_its_reference_twin(
    model: str,
    seed: int,
    fund: float,
    k: float,
    target: str,
    fraction: float,
    paused: tuple[str, ...],
) -> None:
    b = book(random_accounts(seed, 12))
    cfg = config(k=k, target=target, max_fraction=fraction, **DYNAMIC)
    engine = LiquidationEngine(get_model(model), b, fund, config=cfg, paused=paused)
    fast = engine.run()
    slow = engine.run_reference()
    assert fast.liquidated, "the case must liquidate something"
    assert fast.liquidated == slow.liquidated
    _same_events(fast.events, slow.events)
    assert engine.run() is fast  # the twin leaves the engine as it was


def test_whatif_after_the_episode_holds_the_ledger_state() -> None:
    """The what-if's committed accounts and the ledger's record agree after an episode."""
    b = book(random_accounts(3, 12))
    cfg = config(k=0.05, **DYNAMIC)
    engine = LiquidationEngine(get_model("standard"), b, 500.0, config=cfg)
    outcome = engine.run()
    after = engine.whatif.book_after_commits()
    ledger = outcome.book
    assert after.shape == ledger.shape
    diff = abs(after.quantity - ledger.quantity).max() if after.quantity.nnz else 0.0
    assert diff <= 1e-12 * max(1.0, float(abs(ledger.quantity).max()))
    equity = engine.whatif.equity
    for row in engine.whatif.committed_rows:
        snap = engine.whatif.snapshot(row)
        scale = max(1.0, abs(float(equity[row])))
        fresh = engine.whatif.margin_after_reference(row)
        assert snap.equity == pytest.approx(fresh.equity, abs=RTOL * scale)

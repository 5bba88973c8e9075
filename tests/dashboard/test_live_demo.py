"""``serve --demo``'s inputs: one index and vol tick per underlying per crash-path point.

The ticks are the path's own points (index levels, 30-day ATM vol changes as ``vol_shift``),
``tick_seconds`` apart in event time; the service takes them through its tick path with no
circuit breaker tripping, and the store loaded by ``load_demo`` holds the funded population.
Needs the shared price history (skipped without it).
"""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from pmargin.engine import demo_inputs
from pmargin.engine._live_demo import demo_ticks
from pmargin.errors import InputError
from pmargin.history import HistoricalMarkets, load_funding, load_price_history
from pmargin.service import create_app, load_demo, open_store
from pmargin.simulate import crash_path


def test_the_ticks_are_the_path_points(shared_data: Path) -> None:
    history = load_price_history(shared_data, frequency="4h")
    daily = load_price_history(shared_data, frequency="1d")
    path = crash_path(HistoricalMarkets(history, load_funding(shared_data)), "ftx", daily)
    batches, times = demo_ticks(path, tick_seconds=50.0)
    assert len(batches) == len(times) == path.n_steps - 1
    start = datetime.fromisoformat(batches[0][0]["timestamp"])
    for k, batch in enumerate(batches, start=1):
        assert [t["underlying"] for t in batch] == list(path.names)
        assert [t["index"] for t in batch] == path.index[k].tolist()
        assert (datetime.fromisoformat(batch[0]["timestamp"]) - start).total_seconds() == 50 * (
            k - 1
        )
        assert times[k - 1] == path.datetime_at(k).isoformat()
    # The vol shifts add up to the path's change of ATM vol (where it has a surface).
    for u, name in enumerate(path.names):
        total = sum(t.get("vol_shift", 0.0) for batch in batches for t in batch[u : u + 1])
        if name in path.market.surfaces:
            assert total == pytest.approx(path.atm_vol[-1, u] - path.atm_vol[0, u], abs=1e-12)
    with pytest.raises(InputError, match="tick_seconds"):
        demo_ticks(path, tick_seconds=0.0)


def test_the_service_takes_the_demo_through_its_tick_path(
    shared_data: Path, tmp_path: Path
) -> None:
    inputs = demo_inputs(n_accounts=12, data=shared_data)
    assert any("vol_shift" in t for batch in inputs["ticks"] for t in batch)
    store = open_store(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        keys = load_demo(store, inputs)
        headers = {"Authorization": f"Bearer {keys.admin}"}
        with TestClient(create_app(store)) as client:
            venue = client.get("/v1/dashboard/venue", headers=headers).json()
            assert venue["total"] == 12
            for batch in inputs["ticks"][:4]:
                answer = client.post("/v1/market/ticks", json={"ticks": batch}, headers=headers)
                assert answer.status_code == 200, answer.text
                assert answer.json()["paused"] == []
                assert not [e for e in answer.json()["events"] if e["event"].startswith("liq")]
            market = client.get("/v1/market", headers=headers).json()
            last = {t["underlying"]: t["index"] for t in inputs["ticks"][3]}
            assert {u: market["index"][u] for u in last} == last
            assert np.isfinite(list(market["index"].values())).all()
    finally:
        store.dispose()

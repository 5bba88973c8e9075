"""The FTX crash fed as ticks through the service equals ``pmargin simulate`` with impact off.

The seeded population of ``pmargin simulate`` (FTX window, ``standard``, seed 7), funded as the
simulator funds it, is opened in the service (deposits and fills through the API), the
insurance fund gets the simulator's starting fund as a USD deposit, and every path step is
posted as one ``POST /v1/market/ticks`` request (the index of each underlying and its ATM vol
change, at the step's time). The service runs with the simulator's breakers and liquidation
parameters. The liquidations (accounts, instruments, sizes, order), the insurance fund and the
bad debt must equal the simulator's impact-off run, fill for fill (a trade within 1e-12 of the
whole position closes it in the engine as in the service's ledger: no dust fill on either side).

Tolerance: the service margins its decimal ledger (positions in native units, converted to
floats once per request) where the simulator keeps the engine's float book, so the books
agree to a few ulps; sizes and money are compared to 1e-9 relative (1e-6 USD absolute).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pmargin.liquidation import AdlFill, BadDebt, FundDraw, LiquidationFill
from pmargin.market import market_to_dict
from pmargin.service import create_app, create_key, open_store
from pmargin.service._ledger import rebuild, stored_holdings
from pmargin.simulate import (
    SimulationConfig,
    SimulationResult,
    default_breakers,
    simulate_crash,
    simulation_liquidation_config,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

MODEL = "standard"
REL = 1e-9
ABS_USD = 1e-6


@pytest.fixture(scope="module")
def simulated() -> SimulationResult:
    from shared_paths import shared_data_dir

    folder = shared_data_dir()
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder} (set PMARGIN_SHARED_DATA)")
    config = SimulationConfig(
        episode="ftx", models=(MODEL,), n_accounts=30, seed=7, run_with_impact=False
    )
    return simulate_crash(config, data=folder)


def _decimal(x: float) -> str:
    return repr(float(x))


def _open_population(client: TestClient, admin: dict[str, str], result: SimulationResult) -> None:
    """Open the funded accounts: balances by deposit, positions by fill (no fee).

    Futures and perpetuals fill at the start market's underlying price (the funded book
    carries no unrealised P&L: its entries are at the mark); options at a zero premium, so that
    the balances stay the funded ones (an option's average price plays no part in margin).
    """
    run = result.runs[MODEL, False]
    book = run.funded.book
    resolved = book.resolved
    quantity = book.quantity.tocsr()
    for row, account in enumerate(book.account_ids):
        assert client.post("/v1/accounts", json={"id": account}, headers=admin).status_code == 201
        for k, asset in enumerate(book.assets):
            amount = float(book.balance_matrix[row, k])
            if amount > 0.0:
                body = {"asset": asset, "amount": _decimal(amount)}
                r = client.post(f"/v1/accounts/{account}/deposits", json=body, headers=admin)
                assert r.status_code == 200, r.json()
            else:
                assert amount == 0.0
        start, end = quantity.indptr[row], quantity.indptr[row + 1]
        for column, base in zip(quantity.indices[start:end], quantity.data[start:end], strict=True):
            instrument = resolved.instruments[column]
            price = float(resolved.underlying_price[column])
            native = base / instrument.base_units(1.0, instrument.quantity_unit, price)
            fill = {
                "instrument": instrument.symbol,
                "quantity": _decimal(native),
                "price": _decimal(price) if instrument.is_futures_style else "0",
            }
            r = client.post(f"/v1/accounts/{account}/fills", json=fill, headers=admin)
            assert r.status_code == 200, r.json()


def _ticks(result: SimulationResult, k: int) -> list[dict[str, Any]]:
    """Step ``k`` of the path as ticks: the simulator's update with impact off."""
    path = result.path
    when = path.datetime_at(k).isoformat()
    ticks = []
    for j, name in enumerate(path.names):
        tick: dict[str, Any] = {"underlying": name, "index": float(path.index[k, j])}
        if k > 0 and name in path.market.surfaces:
            shift = float(path.atm_vol[k, j] - path.atm_vol[k - 1, j])
            if math.isfinite(shift):
                tick["vol_shift"] = shift
        ticks.append(tick | {"timestamp": when})
    return ticks


@pytest.fixture(scope="module")
def served(
    simulated: SimulationResult, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[dict[str, Any]], dict[str, Any], Engine]:
    """The replay through the service: every liquidation event, the fund and the store."""
    folder: Path = tmp_path_factory.mktemp("replay")
    store = open_store(f"sqlite:///{folder / 'pmargin.db'}")
    admin = {"Authorization": f"Bearer {create_key(store, 'admin')}"}
    run = simulated.runs[MODEL, False]
    app = create_app(
        store,
        model=MODEL,
        breakers=default_breakers(simulated.path.step_hours),
        liquidation_config=simulation_liquidation_config(),
    )
    events: list[dict[str, Any]] = []
    with TestClient(app, raise_server_exceptions=True) as client:
        market = json.loads(json.dumps(market_to_dict(simulated.path.market)))
        assert client.put("/v1/market", json=market, headers=admin).status_code == 200
        _open_population(client, admin, simulated)
        fund = {"asset": "USD", "amount": _decimal(run.fund_start_usd)}
        r = client.post("/v1/accounts/_insurance_fund/deposits", json=fund, headers=admin)
        assert r.status_code == 200, r.json()
        for k in range(simulated.path.n_steps):
            r = client.post("/v1/market/ticks", json={"ticks": _ticks(simulated, k)}, headers=admin)
            assert r.status_code == 200, r.json()
            assert r.json()["paused"] == [], k
            events.extend(r.json()["liquidation"])
        fund_document = client.get("/v1/insurance-fund", headers=admin).json()
    return events, fund_document, store


def test_the_service_liquidates_as_the_simulator(
    simulated: SimulationResult, served: tuple[list[dict[str, Any]], dict[str, Any], Engine]
) -> None:
    run = simulated.runs[MODEL, False]
    events, _, _ = served
    expected = [e for e in run.events if isinstance(e, AdlFill | LiquidationFill)]
    got = [
        e["data"]["engine"]
        for e in events
        if e["kind"] == "liquidation" or (e["kind"] == "adl" and e["data"]["side"] == "bankrupt")
    ]
    assert expected, "the FTX path liquidates part of this population"
    assert len(got) == len(expected)
    for want, have in zip(expected, got, strict=True):
        assert (have["account"], have["instrument"]) == (want.account, want.instrument)
        assert have["quantity"] == pytest.approx(want.quantity, rel=REL)
    liquidated = {e["account"] for e in events if e["kind"] in ("liquidation", "adl")}
    assert liquidated == run.liquidated
    assert run.summary()["liquidated_accounts"] == len(liquidated)


def test_fund_and_bad_debt_equal_the_simulator(
    simulated: SimulationResult, served: tuple[list[dict[str, Any]], dict[str, Any], Engine]
) -> None:
    run = simulated.runs[MODEL, False]
    events, fund, store = served
    booked = run.fund_start_usd + sum(h["usd"] for h in fund["history"] if h["usd"] is not None)
    assert booked == pytest.approx(run.final.fund_usd, rel=REL, abs=ABS_USD)
    draws = sum(e["data"]["usd"] for e in events if e["kind"] == "fund_draw")
    assert draws == pytest.approx(run.counts["fund_draw_usd"], rel=REL, abs=ABS_USD)
    expected_draws = [e for e in run.events if isinstance(e, FundDraw)]
    assert len([e for e in events if e["kind"] == "fund_draw"]) == len(expected_draws)
    bad = sum(e["data"]["usd"] for e in events if e["kind"] == "bad_debt")
    assert bad == pytest.approx(run.counts["bad_debt_usd"], abs=ABS_USD)
    assert len([e for e in events if e["kind"] == "bad_debt"]) == len(
        [e for e in run.events if isinstance(e, BadDebt)]
    )
    with Session(store) as session:
        stored, rebuilt = stored_holdings(session), rebuild(session)
    assert rebuilt.balances == stored.balances
    assert rebuilt.positions == stored.positions

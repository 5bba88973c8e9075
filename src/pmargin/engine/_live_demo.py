"""The live demo's inputs: the crash replay's seeded population and a real crash path as ticks.

``pmargin serve --demo`` loads what :func:`demo_inputs` returns into the service's store (a
deposit and fills per account, through the ledger's own writes) and plays the ticks through
the service's own tick path: one tick per underlying (index and ATM vol shift) per path
point, :func:`demo_ticks`. The population and the path are ``pmargin simulate``'s
(:func:`pmargin.simulate.generate_population` funded for the model by
:func:`pmargin.simulate.fund_population`; :func:`pmargin.simulate.crash_path`), so the demo
shows the accounts the crash replay reports on.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from pmargin.errors import InputError
from pmargin.history import HistoricalMarkets, load_funding, load_price_history
from pmargin.margin import get_model
from pmargin.market import market_to_dict
from pmargin.simulate import CrashPath, crash_path, fund_population, generate_population

__all__ = ["demo_inputs", "demo_ticks"]


def demo_inputs(
    *,
    episode: str = "ftx",
    n_accounts: int = 100,
    seed: int = 7,
    model: str = "deribit",
    substeps: int = 4,
    tick_seconds: float = 50.0,
    data: str | Path | None = None,
) -> dict[str, Any]:
    """Return the demo's accounts (deposits and fills), its start market and its ticks.

    Parameters
    ----------
    episode
        A crash of :data:`pmargin.simulate.EPISODE_KEYS` (``ftx``, ``covid``, ...).
    n_accounts, seed
        Size and seed of the generated population.
    model
        The margin model the accounts are funded for.
    substeps
        Path points per 4-hour close.
    tick_seconds
        Event time between two path points (:func:`demo_ticks`).
    data
        Shared data folder (default ``$PMARGIN_SHARED_DATA``, else ``../shared/data``).

    Returns
    -------
    dict
        ``{"episode", "market" (market-file form at the path's start), "accounts": [{"id",
        "deposits": {asset: amount}, "fills": [{"instrument", "quantity" (native units),
        "price" (as the venue quotes it: the mark)}]}], "ticks": one batch per path point
        after the start, one tick per underlying (:func:`demo_ticks`), "times": each batch's
        path time (ISO-8601)}``. The deposits are the funded balance plus the premiums the
        fills pay, so equity after the fills is the funded book's.
    """
    history = load_price_history(data, frequency="4h")
    daily = load_price_history(data, frequency="1d")
    path = crash_path(
        HistoricalMarkets(history, load_funding(data)), episode, daily, substeps=substeps
    )
    population = generate_population(
        path.market, n_accounts, seed=seed, horizon=path.datetime_at(path.n_steps - 1)
    )
    book = fund_population(get_model(model), population).book
    resolved = book.resolved
    price = np.where(resolved.terms.is_futures_style, resolved.underlying_price, 0.0)
    price = np.where(resolved.terms.is_futures_style, price, book.valuation.price)
    quantity = sparse.csr_array(book.quantity)
    accounts = []
    for row, account_id in enumerate(book.account_ids):
        deposits = {a: float(book.balance_matrix[row, k]) for k, a in enumerate(book.assets)}
        fills = []
        start, stop = quantity.indptr[row], quantity.indptr[row + 1]
        for j, base in zip(quantity.indices[start:stop], quantity.data[start:stop], strict=True):
            inst = book.instruments[j]
            forward = float(resolved.underlying_price[j])
            native = float(base) / inst.base_units(1.0, inst.quantity_unit, forward)
            fills.append({"instrument": inst.symbol, "quantity": native, "price": float(price[j])})
            if not inst.is_futures_style:
                cash = inst.cash_asset
                deposits[cash] = deposits.get(cash, 0.0) + float(base) * float(price[j])
        accounts.append(
            {
                "id": account_id,
                "deposits": {a: v for a, v in deposits.items() if v > 0.0},
                "fills": fills,
            }
        )
    ticks, times = demo_ticks(path, tick_seconds)
    return {
        "episode": path.title,
        "market": market_to_dict(path.market),
        "accounts": accounts,
        "ticks": ticks,
        "times": times,
    }


def demo_ticks(
    path: CrashPath, tick_seconds: float = 50.0
) -> tuple[list[list[dict[str, Any]]], list[str]]:
    """Return the crash path's points after the start as tick batches, one batch per point.

    Point ``k`` is one tick per underlying: its index (USD) and, where the start market has
    a surface for it and the path's 30-day ATM vol moved, ``vol_shift``, the change of that
    vol since point ``k - 1`` (decimal; the monitor shifts each slice's at-the-money vol by
    it, relative to the surface in force). Event time runs ``tick_seconds`` per point from
    the path's start (the path's hours compressed: the feed the circuit breakers see ticks
    every ``tick_seconds``, under their 60 s stale limit), so one batch costs the service
    one tick per underlying. The valuation time does not move with ticks (the monitor rolls
    only on request), so compressing event time changes no price.

    Parameters
    ----------
    path
        The crash path (``pmargin.simulate.crash_path``).
    tick_seconds
        Event time between two points (seconds, > 0).

    Returns
    -------
    tuple
        The batches (``[[{"underlying", "index", "vol_shift"?, "timestamp"}, ...], ...]``,
        ``n_steps - 1`` of them) and each batch's path time (ISO-8601, the crash's own hour).
    """
    if not (math.isfinite(tick_seconds) and tick_seconds > 0.0):
        raise InputError("tick_seconds", tick_seconds, "must be a positive number of seconds")
    start = datetime.fromtimestamp(float(path.times[0].astype(np.int64)), tz=UTC)
    shifts = np.diff(path.atm_vol, axis=0)
    surfaced = [name in path.market.surfaces for name in path.names]
    batches, times = [], []
    for k in range(1, path.n_steps):
        when = (start + timedelta(seconds=k * tick_seconds)).isoformat()
        batch = []
        for u, name in enumerate(path.names):
            tick: dict[str, Any] = {"underlying": name, "index": float(path.index[k, u])}
            shift = float(shifts[k - 1, u])
            if surfaced[u] and math.isfinite(shift) and shift != 0.0:
                tick["vol_shift"] = shift
            batch.append(tick | {"timestamp": when})
        batches.append(batch)
        times.append(path.datetime_at(k).isoformat())
    return batches, times

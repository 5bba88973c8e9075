"""The live demo's inputs: the crash replay's seeded population and a real crash path as ticks.

``pmargin serve --demo`` loads what :func:`demo_inputs` returns into the service's store (a
deposit and fills per account, through the ledger's own writes) and plays the ticks through
the service's own tick path. The population and the path are ``pmargin simulate``'s
(:func:`pmargin.simulate.generate_population` funded for the model by
:func:`pmargin.simulate.fund_population`; :func:`pmargin.simulate.crash_path`), so the demo
shows the accounts the crash replay reports on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from pmargin.history import HistoricalMarkets, load_funding, load_price_history
from pmargin.margin import get_model
from pmargin.market import market_to_dict
from pmargin.simulate import crash_path, fund_population, generate_population

__all__ = ["demo_inputs"]


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
        Event time between two ticks of an underlying (the path log-linear between points).
    data
        Shared data folder (default ``$PMARGIN_SHARED_DATA``, else ``../shared/data``).

    Returns
    -------
    dict
        ``{"episode", "market" (market-file form at the path's start), "accounts": [{"id",
        "deposits": {asset: amount}, "fills": [{"instrument", "quantity" (native units),
        "price" (as the venue quotes it: the mark)}]}], "ticks": [[{"underlying", "index",
        "timestamp"}, ...] per path point after the start: the ticks since the one before]}``.
        The deposits are the funded
        balance plus the premiums the fills pay, so equity after the fills is the funded
        book's.
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
    ticks = []
    times = path.times.astype(np.int64)
    log_index = np.log(path.index)
    for k in range(1, path.n_steps):
        # A feed's ticks every tick_seconds between path points (log-linear): the breakers
        # hold a price older than their max age (circuit_breakers.toml), as a venue would.
        count = max(1, int(np.ceil((times[k] - times[k - 1]) / tick_seconds)))
        batch = []
        for step in range(1, count + 1):
            w = step / count
            when = datetime.fromtimestamp(
                float(times[k - 1] + w * (times[k] - times[k - 1])), tz=UTC
            ).isoformat()
            level = np.exp((1.0 - w) * log_index[k - 1] + w * log_index[k])
            batch.extend(
                {"underlying": name, "index": float(level[u]), "timestamp": when}
                for u, name in enumerate(path.names)
            )
        ticks.append(batch)
    return {
        "episode": path.title,
        "market": market_to_dict(path.market),
        "accounts": accounts,
        "ticks": ticks,
    }

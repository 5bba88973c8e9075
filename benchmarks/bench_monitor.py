"""Health monitor latency: one underlying's update against a full recompute, same process.

The book: ``N_ACCOUNTS`` seeded accounts (10,000; ``PMARGIN_BENCH_MONITOR_ACCOUNTS`` overrides
it) of about 20 positions each on BTC or ETH (60 / 40), from the same instrument pool as
``bench_margin`` (coin- and USDC-settled options over the example market's expiries, dated
futures, perpetuals), with coin collateral. Margin model: Deribit S:PM (``deribit``).

Measured, per update (mean over ``N_UPDATES`` updates, after one warm-up):

* ``Monitor.apply`` of an ETH update (index and the ETH futures marks, +-0.5 %): re-resolves,
  revalues and re-margins the ETH block only;
* the same for BTC (the larger block);
* a full recompute at the same market (:func:`pmargin.monitor.full_recompute`: resolve every
  instrument, rebase the book, equity, ``model.compute`` on the whole book, statuses).

Every tenth update the incremental state is checked against the full recompute.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import numpy as np

from benchmarks._common import Row
from benchmarks.bench_margin import _pool, _portfolio
from pmargin.book import arrange
from pmargin.engine import example_path
from pmargin.margin import get_model
from pmargin.market import load_market
from pmargin.monitor import MarketUpdate, Monitor, full_recompute

N_ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_MONITOR_ACCOUNTS", "10000"))
N_UPDATES = 20
SEED = 5


def _update(monitor: Monitor, underlying: str, k: int, rng: np.random.Generator) -> MarketUpdate:
    """The underlying's index and futures marks moved by the same random +-0.5 %."""
    market = monitor.market
    move = 1.0 + float(rng.uniform(-0.005, 0.005))
    marks = {
        symbol: {"price": mark.price * move}
        for symbol, mark in market.marks.items()
        if mark.price is not None
        and symbol.startswith(f"{underlying}-")
        and symbol.count("-") == 1  # futures and perpetuals
    }
    return MarketUpdate(
        market.timestamp + timedelta(seconds=k),
        index={underlying: market.index[underlying] * move},
        marks=marks,
    )


def _check(monitor: Monitor) -> None:
    full = monitor.full_recompute()
    np.testing.assert_allclose(monitor.equity, full.equity, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(monitor.initial_margin, full.initial_margin, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(
        monitor.maintenance_margin, full.maintenance_margin, rtol=1e-9, atol=1e-6
    )


def run() -> list[Row]:
    market = load_market(example_path("example_market.json"))
    model = get_model("deribit")
    book = arrange(_portfolio(_pool(market), N_ACCOUNTS, SEED), market)
    start = time.perf_counter()
    monitor = Monitor(model, book)
    build = time.perf_counter() - start
    rows = [
        Row(
            "monitor",
            "Monitor(...) start (every block, scope check)",
            N_ACCOUNTS,
            build,
            f"{book.shape[1]:,} instruments, {book.quantity.nnz:,} positions; items = accounts",
        )
    ]
    rng = np.random.default_rng(SEED)
    k = 0
    timings: dict[str, float] = {}
    for underlying in ("ETH", "BTC"):
        k += 1
        monitor.apply(_update(monitor, underlying, k, rng))  # warm-up
        total = 0.0
        for i in range(N_UPDATES):
            k += 1
            update = _update(monitor, underlying, k, rng)
            start = time.perf_counter()
            monitor.apply(update)
            total += time.perf_counter() - start
            if i % 10 == 0:
                _check(monitor)
        timings[underlying] = total / N_UPDATES
    total = 0.0
    for _ in range(5):
        start = time.perf_counter()
        full_recompute(model, book.rebased(monitor.market))
        total += time.perf_counter() - start
    full = total / 5
    columns = {u: int(sum(i.underlying == u for i in book.instruments)) for u in ("BTC", "ETH")}
    for underlying in ("ETH", "BTC"):
        rows.append(
            Row(
                "monitor",
                f"Monitor.apply, {underlying} update (per update)",
                1,
                timings[underlying],
                f"{columns[underlying]:,} of {book.shape[1]:,} instruments re-margined; "
                f"{full / timings[underlying]:.1f}x faster than the full recompute",
            )
        )
    rows.append(
        Row(
            "monitor",
            "full recompute (resolve all, rebase, equity, compute)",
            1,
            full,
            f"{N_ACCOUNTS:,} accounts, deribit S:PM",
        )
    )
    return rows

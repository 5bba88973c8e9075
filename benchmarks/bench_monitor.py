"""Health monitor latency: one underlying's tick against a full recompute, same process.

The book: seeded accounts of about 20 positions each on BTC or ETH (60 / 40) with coin
collateral, built from arrays (:func:`benchmarks.bench_margin.array_book`: the instrument pool
of ``bench_margin``, coin- and USDC-settled options over the example market's expiries, dated
futures, perpetuals). Sizes: ``PMARGIN_BENCH_MONITOR_ACCOUNTS`` (comma-separated, default
10,000, 31,623 and 100,000: three sizes for the growth fit); models:
``PMARGIN_BENCH_MONITOR_MODELS`` (default ``deribit,standard,okx``).

Measured per model and size (one process, the machine as it is):

* ``Monitor(...)`` start (every block, the scope check, the row screening check);
* ``Monitor.apply`` of an ETH tick and of a BTC tick (index and that coin's futures marks moved
  by the same random +-0.5 %): the best of ``N_UPDATES`` updates after one warm-up (the
  median in the note: the machine is shared); the note gives the model's margin of the
  block as the tick runs it (best of 3: :func:`pmargin.monitor.totals_plan`'s callable, the
  model's set-up for the block kept, IM and MM without attribution where the model has
  ``margin_totals``, else ``compute``) and the rest (resolve, rebase, equity, statuses: best
  tick less best margin);
* the full recompute at the same market (:func:`pmargin.monitor.full_recompute`: every
  instrument resolved, the book rebased, equity, ``model.compute`` on the whole book), best
  of 3: the ratio is full recompute / tick;
* every ``CHECK_EVERY``-th update the monitor's equity, IM, MM and statuses are checked
  against the full recompute (rtol 1e-9, not timed): a wrong fast path fails the benchmark.

Targets (issue 11): one tick re-margins 10,000 accounts in under 5 ms and 100,000 in under
50 ms (marked met / missed on those sizes, on the slower of the two ticks). Growth: the fitted
exponent of tick time over the sizes. The BTC block's re-resolution is also timed against its
reference twin (``InstrumentResolver.resolve`` vs ``resolve_instruments``).
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta

import numpy as np

from benchmarks._common import Row, fit_exponent
from benchmarks.bench_margin import array_book
from pmargin.book import BookArrangement
from pmargin.engine import example_path
from pmargin.margin import get_model
from pmargin.market import load_market
from pmargin.monitor import MarketUpdate, MarkTick, Monitor, full_recompute, totals_plan
from pmargin.valuation import InstrumentResolver

SIZES = tuple(
    int(s)
    for s in os.environ.get("PMARGIN_BENCH_MONITOR_ACCOUNTS", "10000,31623,100000").split(",")
)
MODELS = tuple(os.environ.get("PMARGIN_BENCH_MONITOR_MODELS", "deribit,standard,okx").split(","))
N_UPDATES = int(os.environ.get("PMARGIN_BENCH_MONITOR_UPDATES", "10"))
CHECK_EVERY = 5
TARGETS = {10_000: 0.005, 100_000: 0.050}
"""Accounts -> seconds one tick may take (issue 11)."""
SEED = 5
UNDERLYINGS = ("ETH", "BTC")


def _update(monitor: Monitor, underlying: str, k: int, rng: np.random.Generator) -> MarketUpdate:
    """The underlying's index and futures marks moved by the same random +-0.5 %."""
    market = monitor.market
    move = 1.0 + float(rng.uniform(-0.005, 0.005))
    marks = {
        symbol: MarkTick(price=mark.price * move)
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
    """The monitor's figures are the full recompute's (raises otherwise)."""
    full = monitor.full_recompute()
    for name in ("equity", "initial_margin", "maintenance_margin"):
        mine, theirs = getattr(monitor, name), getattr(full, name)
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-6, err_msg=name)
    if [s.value for s in monitor.status] != list(full.status):
        raise AssertionError("statuses differ from the full recompute")


def _best(func: object, repeats: int = 3) -> float:
    assert callable(func)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def _measure(name: str, book: BookArrangement) -> dict[str, float]:
    """Seconds: start, each tick (median), its model compute, the full recompute (median)."""
    model = get_model(name)
    start = time.perf_counter()
    monitor = Monitor(model, book)
    out = {"start": time.perf_counter() - start}
    rng = np.random.default_rng(SEED)
    k = 0
    for underlying in UNDERLYINGS:
        k += 1
        monitor.apply(_update(monitor, underlying, k, rng))  # warm-up
        times = []
        for i in range(N_UPDATES):
            k += 1
            update = _update(monitor, underlying, k, rng)
            start = time.perf_counter()
            monitor.apply(update)
            times.append(time.perf_counter() - start)
            if i % CHECK_EVERY == 0:
                _check(monitor)
        out[underlying] = min(times)
        out[f"{underlying} median"] = statistics.median(times)
        block = monitor.block_book(underlying)
        plan = totals_plan(model, block)  # as the tick runs it: the block's set-up kept
        plan(block)
        out[f"{underlying} compute"] = _best(lambda block=block, plan=plan: plan(block))
        out[f"{underlying} rows"] = float(monitor.margined_rows[underlying])
    fulls = []
    for _ in range(3):
        start = time.perf_counter()
        full_recompute(model, book.rebased(monitor.market))
        fulls.append(time.perf_counter() - start)
    out["full"] = min(fulls)
    return out


def _resolve_rows(book: BookArrangement) -> list[Row]:
    """The BTC block re-resolved at a moved market: the resolver vs its reference twin."""
    columns = [j for j, i in enumerate(book.instruments) if i.underlying == "BTC"]
    resolved = book.resolved.take(columns)
    resolver = InstrumentResolver(resolved.instruments, resolved.terms)
    market = book.market.with_updates(index={"BTC": book.market.index["BTC"] * 1.003})
    fast = _best(lambda: resolver.resolve(market), 5)
    reference = _best(lambda: resolver.resolve_reference(market), 3)
    return [
        Row(
            "monitor",
            "BTC block re-resolved: InstrumentResolver.resolve",
            len(columns),
            fast,
            f"items = instruments; x{reference / fast:.0f} vs resolve_instruments "
            f"({reference * 1e3:.1f} ms, the reference twin, same run), bit for bit equal",
        )
    ]


def run() -> list[Row]:
    market = load_market(example_path("example_market.json"))
    rows: list[Row] = []
    ticks: dict[tuple[str, str], list[float]] = {}
    for n in SIZES:
        book = array_book(market, n, seed=SEED)
        if n == SIZES[0]:
            rows.extend(_resolve_rows(book))
        for name in MODELS:
            got = _measure(name, book)
            rows.append(
                Row(
                    "monitor",
                    f"Monitor(...) start, {name}",
                    n,
                    got["start"],
                    f"{book.shape[1]:,} instruments, {book.quantity.nnz:,} positions; "
                    "items = accounts",
                )
            )
            for underlying in UNDERLYINGS:
                tick = got[underlying]
                compute = got[f"{underlying} compute"]
                ticks.setdefault((name, underlying), []).append(tick)
                target = TARGETS.get(n)
                verdict = ""
                if target is not None:
                    worst = max(got[u] for u in UNDERLYINGS)
                    state = "met" if worst < target else "missed"
                    verdict = f"; target {target * 1e3:.0f} ms/tick {state}"
                rows.append(
                    Row(
                        "monitor",
                        f"Monitor.apply {underlying} tick, {name}, {n:,} accounts",
                        1,
                        tick,
                        f"x{got['full'] / tick:.1f} vs full recompute "
                        f"({got['full'] * 1e3:.0f} ms); median "
                        f"{got[underlying + ' median'] * 1e3:.1f} ms; block of "
                        f"{int(got[underlying + ' rows']):,} accounts: model margin "
                        f"{compute * 1e3:.1f} ms, rest {max(tick - compute, 0.0) * 1e3:.1f} ms"
                        f"{verdict}",
                    )
                )
    if len(SIZES) > 2:
        for (name, underlying), seconds in ticks.items():
            rows.append(
                Row(
                    "monitor",
                    f"Monitor.apply {underlying} tick growth, {name}",
                    SIZES[-1],
                    seconds[-1],
                    f"exponent {fit_exponent(SIZES, seconds):.2f} over "
                    + ", ".join(
                        f"{s:,}: {t * 1e3:.1f} ms" for s, t in zip(SIZES, seconds, strict=True)
                    ),
                )
            )
    return rows

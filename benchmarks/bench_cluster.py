"""Margin on a Dask ``LocalCluster`` of 1 and 2 workers against this process: speed-up, bytes.

The book: the example portfolio (``BASE_ACCOUNTS`` accounts, seed 7) at the example market,
its rows tiled to ``ACCOUNTS`` accounts (the same instruments; ids made unique), arranged once
here. Each model (``MODELS``) margins it three ways in the same run, best of ``REPEATS``
wall-clock runs after one warm-up (worker imports, the scattered market):

- ``single process``: ``model.compute(book)`` here (the baseline);
- ``local:1`` and ``local:2``: :func:`pmargin.engine._cluster.margin_shards` on a
  ``LocalCluster`` of 1 or 2 single-threaded worker processes (blocks of at most
  :data:`~pmargin.engine._cluster.SHARD_ROWS` accounts, results joined here).

The joined results are asserted equal to the baseline's bit for bit before anything is
reported. Also reported: bytes sent per block (its rows: ids, quantities, balances,
unrealised P&L, pickled) and once per worker (resolved instruments, assets, market), and
bytes back per block (the block's results). On a 2-core machine shared with other work, the
2-worker figure is a floor on what 2 free cores give. ``PMARGIN_BENCH_CLUSTER_ACCOUNTS`` sets
the size. Last, the growth of the 2-worker margin's wall time in accounts (``GROWTH_ACCOUNTS``
under ``GROWTH_MODEL``, best of 2 wall-clock runs after a warm one).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import cloudpickle
import numpy as np
from scipy import sparse

from benchmarks._common import Row, growth
from pmargin.book import BookArrangement, arrange
from pmargin.engine import example_inputs
from pmargin.engine._cluster import Cluster, book_rows, margin_shards, rows_book
from pmargin.margin import MarginResult, get_model

ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_CLUSTER_ACCOUNTS", "262144"))
BASE_ACCOUNTS = 2_048
MODELS = ("deribit", "standard")
REPEATS = 2
GROWTH_ACCOUNTS = (32_768, 65_536, 131_072)  # two blocks each on local:2
GROWTH_MODEL = "deribit"


def tiled_book(n_accounts: int) -> BookArrangement:
    """The example book's rows repeated to ``n_accounts`` accounts (ids ``acct-<k>``)."""
    market, portfolio = example_inputs(BASE_ACCOUNTS, 7)
    base = arrange(portfolio, market)
    times = -(-n_accounts // BASE_ACCOUNTS)
    quantity = sparse.csr_array(sparse.vstack([base.quantity] * times, format="csr")[:n_accounts])
    unrealised = sparse.csr_array(
        sparse.vstack([base.unrealised] * times, format="csr")[:n_accounts]
    )
    return BookArrangement(
        account_ids=tuple(f"acct-{a}" for a in range(n_accounts)),
        resolved=base.resolved,
        quantity=quantity,
        assets=base.assets,
        balances=np.tile(base.balance_matrix, (times, 1))[:n_accounts],
        unrealised=unrealised,
        market=market,
    )


def _best(func: object, repeats: int = REPEATS) -> tuple[float, object]:
    assert callable(func)
    out = func()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - start)
    return best, out


def _same(a: MarginResult, b: object) -> None:
    assert isinstance(b, MarginResult)
    assert a.account_ids == b.account_ids
    assert np.array_equal(a.initial_margin, b.initial_margin)
    assert np.array_equal(a.maintenance_margin, b.maintenance_margin)
    for u, v in zip(a.risk_units, b.risk_units, strict=True):
        assert np.array_equal(u.pnl, v.pnl)
        assert np.array_equal(u.worst, v.worst)


def run() -> list[Row]:
    """Rows: per model single process, local:1, local:2; bytes per block in the notes."""
    book = tiled_book(ACCOUNTS)
    models = {name: get_model(name) for name in MODELS}
    rows: list[Row] = []
    single: dict[str, tuple[float, MarginResult]] = {}
    for name, model in models.items():
        seconds, result = _best(lambda m=model: m.compute(book))
        assert isinstance(result, MarginResult)
        single[name] = (seconds, result)
        rows.append(Row(f"cluster {name}", "single process (baseline)", ACCOUNTS, seconds))
    timings: dict[tuple[str, int], float] = {}
    for workers in (1, 2):
        with Cluster.open(f"local:{workers}") as cluster:
            blocks = cluster.split(ACCOUNTS)
            for name, model in models.items():
                seconds, joined = _best(lambda c=cluster, m=model, n=name: _one(c, book, n, m))
                _same(single[name][1], joined)
                timings[(name, workers)] = seconds
                ratio = single[name][0] / seconds
                note = f"{len(blocks)} blocks; x{ratio:.2f} vs single process"
                if workers == 2:
                    note += f"; x{timings[(name, 1)] / seconds:.2f} vs local:1"
                rows.append(Row(f"cluster {name}", f"local:{workers}", ACCOUNTS, seconds, note))
            if workers == 2:
                rows.append(_growth(cluster, GROWTH_MODEL, models[GROWTH_MODEL]))
    block = blocks[0]  # the first block of the 2-worker run
    sent = len(cloudpickle.dumps(book_rows(book, block)))
    shared = len(cloudpickle.dumps((book.resolved, book.assets, book.market)))
    back = {
        name: len(cloudpickle.dumps(_rows_result(book, block, model)))
        for name, model in models.items()
    }
    note = (
        f"block of {block.size:,} accounts: {sent / 1e6:.1f} MB sent ({sent / block.size:.0f} B "
        f"per account), {shared / 1e6:.2f} MB once per worker; back: "
        + ", ".join(f"{n} {b / 1e6:.1f} MB" for n, b in back.items())
    )
    rows.append(Row("cluster bytes", "per block", int(block.size), 1.0, note))
    return rows


def _growth(cluster: Cluster, name: str, model: object) -> Row:
    """``local:2`` margin's wall seconds in accounts (the workers' CPU is not this process's)."""

    def job(n: int) -> Callable[[], object]:
        book = tiled_book(n)
        return lambda: _one(cluster, book, name, model)

    return growth(
        f"cluster {name}", "accounts (local:2)", GROWTH_ACCOUNTS, job, repeats=2,
        clock=time.perf_counter, context="wall clock, best of 2 after a warm run",
    )  # fmt: skip


def _one(cluster: Cluster, book: BookArrangement, name: str, model: object) -> object:
    return margin_shards(cluster, book, {name: model})[name]  # type: ignore[dict-item]


def _rows_result(book: BookArrangement, rows: np.ndarray, model: object) -> object:
    block = rows_book(book_rows(book, rows), (book.resolved, book.assets, book.market))
    return model.compute(block)  # type: ignore[attr-defined]

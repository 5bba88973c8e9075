"""Margin on a Dask ``LocalCluster`` of 1 and 2 workers against this process: speed-up, bytes.

The book: the example portfolio (``BASE_ACCOUNTS`` accounts, seed 7) at the example market,
its rows tiled to each model's accounts (``MODELS``: ``deribit`` and ``standard`` at
``ACCOUNTS``, ``pmargin-es`` at ``ES_ACCOUNTS`` where its price history loads; the same
instruments, ids made unique), arranged once here. Each model margins it five ways in the same
run, best of ``REPEATS`` wall-clock runs after one warm-up (worker imports, the scattered
market):

- ``single process``: ``model.compute(book)`` here (the baseline);
- ``local:1`` and ``local:2``, each **with vectors** and **lean**:
  :func:`pmargin.engine._cluster.margin_shards` on a ``LocalCluster`` of 1 or 2
  single-threaded worker processes (blocks of at most
  :data:`~pmargin.engine._cluster.SHARD_ROWS` accounts, results joined here), the blocks
  sending their units' scenario P&L vectors back or not (``vectors=False``: every
  per-account array but those; what ``pmargin margin`` and ``compare`` ask for).

The joined results are asserted equal to the baseline's bit for bit before anything is
reported (a lean result's vectors computed here for the check, outside the timing). Also
reported per model: bytes sent per block (its rows: ids, quantities, balances, unrealised
P&L, pickled) and once per worker (resolved instruments, assets, market), and bytes back per
block with and without vectors. On a 2-core machine shared with other work, the 2-worker
figure is a floor on what 2 free cores give. ``PMARGIN_BENCH_CLUSTER_ACCOUNTS`` and
``PMARGIN_BENCH_CLUSTER_ES_ACCOUNTS`` set the sizes. Last, the growth of the 2-worker
margin's wall time in accounts (``GROWTH_ACCOUNTS`` under ``GROWTH_MODEL``, with vectors,
best of 2 wall-clock runs after a warm one).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import cloudpickle
import numpy as np
from scipy import sparse

from benchmarks._common import Row, growth
from pmargin.book import BookArrangement, arrange
from pmargin.engine import example_inputs
from pmargin.engine._cluster import (
    SHARD_ROWS,
    Cluster,
    book_rows,
    lean_shard,
    margin_shards,
    rows_book,
)
from pmargin.errors import PmarginError
from pmargin.margin import MarginModel, MarginResult, get_model

ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_CLUSTER_ACCOUNTS", "262144"))
ES_ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_CLUSTER_ES_ACCOUNTS", "16384"))
BASE_ACCOUNTS = 2_048
MODELS = (("deribit", ACCOUNTS), ("standard", ACCOUNTS), ("pmargin-es", ES_ACCOUNTS))
"""Model and accounts; ``pmargin-es`` (5,199 scenarios) only where its price history loads."""
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
    """Every per-account array equal bit for bit (a lean result's vectors computed to check)."""
    assert isinstance(b, MarginResult)
    assert a.account_ids == b.account_ids
    assert np.array_equal(a.initial_margin, b.initial_margin)
    assert np.array_equal(a.maintenance_margin, b.maintenance_margin)
    assert np.array_equal(a.im_contribution.toarray(), b.im_contribution.toarray())
    for u, v in zip(a.risk_units, b.risk_units, strict=True):
        assert np.array_equal(u.pnl, v.pnl)
        assert np.array_equal(u.worst, v.worst)


def _models() -> dict[str, tuple[MarginModel, int]]:
    """Name -> (model, accounts); a model whose history is missing is left out."""
    out: dict[str, tuple[MarginModel, int]] = {}
    for name, n in MODELS:
        try:
            out[name] = (get_model(name), n)
        except PmarginError:
            continue
    return out


def run() -> list[Row]:
    """Per model: single process, local:1 and local:2 with and without vectors; bytes."""
    models = _models()
    books = {n: tiled_book(n) for _, n in models.values()}
    rows: list[Row] = []
    single: dict[str, tuple[float, MarginResult]] = {}
    for name, (model, n) in models.items():
        book = books[n]
        seconds, result = _best(lambda m=model, b=book: m.compute(b))
        assert isinstance(result, MarginResult)
        single[name] = (seconds, result)
        rows.append(Row(f"cluster {name}", "single process (baseline)", n, seconds))
    timings: dict[tuple[str, int, bool], float] = {}
    for workers in (1, 2):
        with Cluster.open(f"local:{workers}") as cluster:
            for name, (model, n) in models.items():
                book = books[n]
                for lean in (False, True):
                    seconds, joined = _best(
                        lambda c=cluster, m=model, b=book, k=name, v=not lean: _one(c, b, k, m, v)
                    )
                    _same(single[name][1], joined)
                    timings[(name, workers, lean)] = seconds
                    note = (
                        f"{len(cluster.split(n))} blocks; x{single[name][0] / seconds:.2f} vs "
                        "single process"
                    )
                    if workers == 2:
                        note += f"; x{timings[(name, 1, lean)] / seconds:.2f} vs local:1"
                    if lean:
                        full = timings[(name, workers, False)]
                        note += f"; x{full / seconds:.2f} vs with vectors"
                    what = "lean (no vectors back)" if lean else "with vectors"
                    rows.append(
                        Row(f"cluster {name}", f"local:{workers}, {what}", n, seconds, note)
                    )
            if workers == 2 and GROWTH_MODEL in models:
                rows.append(_growth(cluster, GROWTH_MODEL, models[GROWTH_MODEL][0]))
    rows.extend(_bytes_rows(models, books))
    return rows


def _bytes_rows(
    models: dict[str, tuple[MarginModel, int]], books: dict[int, BookArrangement]
) -> list[Row]:
    """Bytes of one 2-worker block: sent, once per worker, back with and without vectors."""
    rows = []
    for name, (model, n) in models.items():
        book = books[n]
        count = min(n, max(2, math.ceil(n / SHARD_ROWS)))  # Cluster.split's, on 2 workers
        block = np.arange(round(n / count))  # the first block
        sent = len(cloudpickle.dumps(book_rows(book, block)))
        shared = len(cloudpickle.dumps((book.resolved, book.assets, book.market)))
        result = _rows_result(book, block, model)
        full = len(cloudpickle.dumps(result))
        lean = len(cloudpickle.dumps(lean_shard(result)))  # type: ignore[arg-type]
        note = (
            f"block of {block.size:,} accounts: {sent / 1e6:.2f} MB sent "
            f"({sent / block.size:.0f} B per account), {shared / 1e6:.2f} MB once per worker; "
            f"back {full / 1e6:.2f} MB with vectors ({full / block.size:.0f} B per account), "
            f"{lean / 1e6:.2f} MB lean ({lean / block.size:.0f} B per account, "
            f"x{full / lean:.1f} fewer)"
        )
        rows.append(Row(f"cluster bytes {name}", "per block", int(block.size), 1.0, note))
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


def _one(
    cluster: Cluster, book: BookArrangement, name: str, model: object, vectors: bool = True
) -> object:
    return margin_shards(cluster, book, {name: model}, vectors=vectors)[name]  # type: ignore[dict-item]


def _rows_result(book: BookArrangement, rows: np.ndarray, model: object) -> object:
    block = rows_book(book_rows(book, rows), (book.resolved, book.assets, book.market))
    return model.compute(block)  # type: ignore[attr-defined]

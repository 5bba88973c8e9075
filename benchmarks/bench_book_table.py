"""Books as columns: a 2 M-position table arranged without a Python object per position.

The book: ``N_ACCOUNTS`` accounts (100,000; ``PMARGIN_BENCH_TABLE_ACCOUNTS`` overrides it) of
exactly 20 positions each, drawn from the pool of ``bench_margin`` (4,940 BTC/ETH
instruments), quantities in native units with ``avg_price`` on futures and perpetuals, and one
balance per account. Given as an Arrow table in memory (text columns, as a DataFrame or a CSV
reader gives them) and as a Parquet file.

Rows (best of 3, wall clock; CPU seconds in the note):

* ``arrange_table`` from the table in memory and from the Parquet file (read included),
  against the 0.5 s target;
* the baseline measured in the same run: the same positions through ``Position`` objects and
  ``arrange`` (building the objects included), and the ratio;
* peak memory of ``arrange_table`` from the table in memory (peak RSS above the RSS with the
  input built, in a fresh process), against twice the input arrays' bytes;
* growth: ``arrange_table`` at three sizes or more, the fitted exponent of time on positions.

The fast and reference books are asserted equal on ``REFERENCE_ACCOUNTS`` accounts first.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks._common import Row, fit_exponent
from benchmarks.bench_margin import _pool
from pmargin.book import arrange, arrange_table, arrange_table_reference, portfolio_table
from pmargin.engine import example_path
from pmargin.market import MarketSnapshot, load_market

N_ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_TABLE_ACCOUNTS", "100000"))
POSITIONS = 20
GROWTH = (0.125, 0.25, 0.5, 1.0)  # fractions of N_ACCOUNTS
REFERENCE_ACCOUNTS = 2_000
SEED = 5
TARGET_SECONDS = 0.5


def _tables(market: MarketSnapshot, n_accounts: int, seed: int) -> tuple[pa.Table, pa.Table]:
    """Positions ``(n_accounts x POSITIONS rows)`` and balances ``(n_accounts rows)``."""
    pool = _pool(market)
    rng = np.random.default_rng(seed)
    instruments = [i for u in ("BTC", "ETH") for i in pool[u]]
    symbols = np.asarray([i.symbol for i in instruments], dtype=object)
    futures = np.asarray([i.is_futures_style for i in instruments])
    inverse = np.asarray([i.is_inverse for i in instruments])
    n = n_accounts * POSITIONS
    pick = rng.integers(len(instruments), size=n)
    quantity = np.round(rng.normal(0.0, 1.0, n), 2)
    quantity[futures[pick] & inverse[pick]] *= 10_000.0  # inverse futures: USD notional
    avg = np.where(futures[pick], 50_000.0 * rng.uniform(0.8, 1.2, n), np.nan)
    ids = np.asarray([f"acct-{a}" for a in range(n_accounts)], dtype=object)
    positions = pa.table(
        {
            "account": pa.array(np.repeat(ids, POSITIONS)),
            "instrument": pa.array(symbols[pick]),
            "quantity": pa.array(quantity),
            "avg_price": pa.array(avg, from_pandas=True),
        }
    )
    balances = pa.table(
        {
            "account": pa.array(ids),
            "asset": pa.array(np.where(rng.random(n_accounts) < 0.6, "BTC", "ETH").astype(object)),
            "amount": pa.array(np.round(rng.uniform(1.0, 20.0, n_accounts), 4)),
        }
    )
    return positions, balances


def _timed(func: object) -> tuple[float, float]:
    """Best wall and CPU seconds of 3 calls."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(3):
        gc.collect()
        w, c = time.perf_counter(), time.process_time()
        func()  # type: ignore[operator]
        wall = min(wall, time.perf_counter() - w)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu


def _check(market: MarketSnapshot, positions: pa.Table, balances: pa.Table) -> None:
    """The fast book equals the reference (Position objects + arrange), bit for bit."""
    n = REFERENCE_ACCOUNTS * POSITIONS
    table = portfolio_table(positions.slice(0, n), balances.slice(0, REFERENCE_ACCOUNTS))
    fast = arrange_table(table, market)
    slow = arrange_table_reference(table, market)
    assert fast.account_ids == slow.account_ids
    assert [i.symbol for i in fast.instruments] == [i.symbol for i in slow.instruments]
    for name in ("quantity", "unrealised"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert np.array_equal(a.indptr, b.indptr)
        assert np.array_equal(a.indices, b.indices)
        assert np.array_equal(a.data, b.data)
    assert np.array_equal(fast.balances, slow.balances)


def _peak_rss_ratio(n_accounts: int) -> tuple[float, float]:
    """Peak RSS of ``arrange_table`` above the RSS with its input built (fresh process).

    Returns ``(peak_bytes, input_bytes)``.
    """
    code = (
        "import gc, sys\n"
        "from benchmarks.bench_book_table import _tables, _status\n"
        "from pmargin.book import arrange_table\n"
        "from pmargin.engine import example_path\n"
        "from pmargin.market import load_market\n"
        "m = load_market(example_path('example_market.json'))\n"
        f"p, b = _tables(m, {n_accounts}, {SEED})\n"
        "arrange_table(p.slice(0, 1000), m, balances=b.slice(0, 10))\n"
        "gc.collect()\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = _status('VmRSS')\n"
        "book = arrange_table(p, m, balances=b)\n"
        "print(_status('VmHWM') - before, p.nbytes + b.nbytes)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd()
    )
    peak, size = out.stdout.split()
    return float(peak), float(size)


def _status(key: str) -> int:
    """Bytes of ``key`` (``VmRSS``, ``VmHWM``) in /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def run() -> list[Row]:
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    market = load_market(example_path("example_market.json"))
    positions, balances = _tables(market, N_ACCOUNTS, SEED)
    n = positions.num_rows
    _check(market, positions, balances)
    rows: list[Row] = []

    wall, cpu = _timed(lambda: arrange_table(positions, market, balances=balances))
    verdict = "meets" if wall < TARGET_SECONDS else "misses"
    rows.append(
        Row(
            "book table",
            "arrange_table (Arrow table in memory)",
            n,
            wall,
            f"CPU {cpu:.3f} s; {verdict} the {TARGET_SECONDS} s target; items = positions",
        )
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "positions.parquet"
        balance_path = Path(folder) / "balances.parquet"
        pq.write_table(positions, path)
        pq.write_table(balances, balance_path)
        wall_pq, cpu_pq = _timed(lambda: arrange_table(path, market, balances=balance_path))
        size = path.stat().st_size
    verdict = "meets" if wall_pq < TARGET_SECONDS else "misses"
    rows.append(
        Row(
            "book table",
            "arrange_table (Parquet file, read included)",
            n,
            wall_pq,
            f"CPU {cpu_pq:.3f} s; {size / 1e6:.1f} MB file; {verdict} the target",
        )
    )

    def baseline() -> None:
        arrange(portfolio_table(positions, balances).to_portfolio(), market)

    start_w, start_c = time.perf_counter(), time.process_time()
    baseline()
    base_wall, base_cpu = time.perf_counter() - start_w, time.process_time() - start_c
    rows.append(
        Row(
            "book table",
            "baseline: Position objects + arrange",
            n,
            base_wall,
            f"CPU {base_cpu:.3f} s (one run); arrange_table is x{base_wall / wall:.0f} faster",
        )
    )

    peak, size = _peak_rss_ratio(N_ACCOUNTS)
    verdict = "meets" if peak <= 2.0 * size else "misses"
    rows.append(
        Row(
            "book table",
            "arrange_table peak memory",
            n,
            wall,
            f"peak RSS +{peak / 1e6:.0f} MB over input {size / 1e6:.0f} MB = {peak / size:.2f}x "
            f"({verdict} <= 2x; book included)",
        )
    )

    sizes, times = [], []
    for fraction in GROWTH:
        k = max(1, int(N_ACCOUNTS * fraction))
        p, b = positions.slice(0, k * POSITIONS), balances.slice(0, k)
        seconds, _ = _timed(lambda p=p, b=b: arrange_table(p, market, balances=b))
        sizes.append(p.num_rows)
        times.append(seconds)
    slope = fit_exponent(sizes, times)
    detail = ", ".join(f"{s:,}: {t:.3f} s" for s, t in zip(sizes, times, strict=True))
    rows.append(
        Row(
            "book table",
            "arrange_table growth in positions",
            sizes[-1],
            times[-1],
            f"exponent {slope:.2f} ({detail})",
        )
    )
    return rows

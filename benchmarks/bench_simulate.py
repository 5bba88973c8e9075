"""Crash replay at scale: one real crash, 10,000 accounts, every default model (impact on).

``PMARGIN_BENCH_SIMULATE_ACCOUNTS`` (10,000), ``PMARGIN_BENCH_SIMULATE_EPISODE`` (``ftx``) and
``PMARGIN_BENCH_SIMULATE_MODELS`` (``standard,deribit,derive-pmrm2,pmargin-es``) override the
defaults. Needs the shared data folder (``$PMARGIN_SHARED_DATA``); without it the benchmark
prints a note and returns no row.

Measured: the total wall time of each model's replay (monitor updates, liquidation rounds,
impact feedback, restarts), the mean and largest latency of one ``Monitor.apply`` (both
underlyings move at every step, so every block is recomputed), and the per-model results
table (printed).
"""

from __future__ import annotations

import os
import time

from benchmarks._common import Row
from pmargin.errors import InputError
from pmargin.simulate import SimulationConfig, simulate_crash

N_ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_SIMULATE_ACCOUNTS", "10000"))
EPISODE = os.environ.get("PMARGIN_BENCH_SIMULATE_EPISODE", "ftx")
MODELS = tuple(
    os.environ.get(
        "PMARGIN_BENCH_SIMULATE_MODELS", "standard,deribit,derive-pmrm2,pmargin-es"
    ).split(",")
)
COLUMNS = (
    "accounts",
    "capital_required_usd",
    "capital_posted_usd",
    "im_to_notional",
    "liquidated_accounts",
    "fills",
    "positions_closed",
    "penalties_usd",
    "fund_end_usd",
    "fund_min_usd",
    "bad_debt_usd",
    "adl_events",
    "cascade_rounds",
    "max_rounds_in_step",
)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def run() -> list[Row]:
    rows: list[Row] = []
    for model in MODELS:
        config = SimulationConfig(
            episode=EPISODE, models=(model,), n_accounts=N_ACCOUNTS, run_without_impact=False
        )
        start = time.perf_counter()
        try:
            result = simulate_crash(config)
        except InputError as exc:
            print(f"simulate bench: {model} skipped ({exc})")
            continue
        total = time.perf_counter() - start
        for note in result.notes:
            print(f"note: {note}")
        for (name, _), replay in result.runs.items():
            s = replay.summary()
            print(
                f"simulate {EPISODE} {name} ({total:.0f} s): "
                + ", ".join(f"{k} {_fmt(s[k])}" for k in COLUMNS)
                + f", drawdown {s['drawdown']}, historical {s['historical_drawdown']}"
                + f", amplification {s['amplification']}",
                flush=True,
            )
            rows.append(
                Row(
                    "simulate",
                    f"{EPISODE} replay, {name}, impact on",
                    s["accounts"],
                    total,
                    f"{result.path.n_steps} steps, {s['rounds']} rounds; "
                    f"Monitor.apply mean {s['monitor_latency_mean_s'] * 1e3:.0f} ms "
                    f"(max {s['monitor_latency_max_s'] * 1e3:.0f} ms, {s['monitor_updates']} "
                    "updates); items = accounts",
                )
            )
    return rows

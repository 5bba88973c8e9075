"""Crash replay at scale: one real crash, 10,000 accounts, every default model (impact on).

``PMARGIN_BENCH_SIMULATE_ACCOUNTS`` (10,000), ``PMARGIN_BENCH_SIMULATE_EPISODE`` (``ftx``) and
``PMARGIN_BENCH_SIMULATE_MODELS`` (``standard,deribit,derive-pmrm2,pmargin-es``) override the
defaults. Needs the shared data folder (``$PMARGIN_SHARED_DATA``); without it the benchmark
prints a note and returns no row.

Measured, per model: the wall seconds of the replay (:attr:`CascadeRun.seconds`: monitor
updates, liquidation rounds, impact feedback, restarts; the population and its funding are
not in it), the mean and largest latency of one ``Monitor.apply`` (both underlyings move at
every step, so every block is recomputed), and the per-model results (printed).

**Ratio against the reference path.** The reference replay
(:func:`~pmargin.simulate.run_cascade_reference`: the book and its margin recomputed from
scratch every round, every liquidation margin rebuilt from scratch and margined alone: the
replay as it ran before the one what-if path) is too slow for 10,000 accounts in a benchmark,
so it runs on a smaller population of ``PMARGIN_BENCH_SIMULATE_REFERENCE_ACCOUNTS`` (1,000;
same episode and seed) under ``PMARGIN_BENCH_SIMULATE_REFERENCE_MODELS`` (``standard``), and
the fast replay runs on that same population in the same process: the ratio is reference
seconds / fast seconds on identical inputs, with the two runs' results checked equal (fills,
liquidated accounts, bad debt). The replay's time grows with the accounts liquidated, about
linearly in the population, so the ratio at 1,000 accounts stands for the one at 10,000; the
10,000-account fast replay is printed beside it. Target: ratio >= 10 under ``standard``.
The reference is about twice as slow as the replay was before the what-if path (it also
values each account's equity from scratch and margins it alone for the contribution order),
so this ratio overstates the gain over that code about twofold; docs/simulate.md gives both.

Last, the growth of the whole replay (population, funding and replay; CPU seconds, one warm
run then one timed) in accounts, ``GROWTH_ACCOUNTS`` under ``GROWTH_MODEL``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import Row, growth
from pmargin.errors import InputError
from pmargin.simulate import SimulationConfig, simulate_crash

N_ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_SIMULATE_ACCOUNTS", "10000"))
EPISODE = os.environ.get("PMARGIN_BENCH_SIMULATE_EPISODE", "ftx")
MODELS = tuple(
    os.environ.get(
        "PMARGIN_BENCH_SIMULATE_MODELS", "standard,deribit,derive-pmrm2,pmargin-es"
    ).split(",")
)
N_REFERENCE = int(os.environ.get("PMARGIN_BENCH_SIMULATE_REFERENCE_ACCOUNTS", "1000"))
REFERENCE_MODELS = tuple(
    m for m in os.environ.get("PMARGIN_BENCH_SIMULATE_REFERENCE_MODELS", "standard").split(",") if m
)
TARGET_RATIO = 10.0
GROWTH_ACCOUNTS = (250, 500, 1_000)
GROWTH_MODEL = "standard"
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
CHECKED = ("fills", "liquidated_accounts", "positions_closed", "adl_events", "bankrupt_accounts")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def _replay(model: str, n_accounts: int, *, reference: bool = False) -> dict[str, Any] | None:
    """One impact-on replay; its summary (``seconds``: the replay's wall seconds) or None."""
    config = SimulationConfig(
        episode=EPISODE,
        models=(model,),
        n_accounts=n_accounts,
        run_without_impact=False,
        reference=reference,
    )
    try:
        result = simulate_crash(config)
    except InputError as exc:
        print(f"simulate bench: {model} skipped ({exc})", file=sys.stderr)
        return None
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if not result.runs:
        return None
    run = next(iter(result.runs.values()))
    summary = run.summary()
    summary["steps"] = result.path.n_steps
    return summary


def run() -> list[Row]:
    rows: list[Row] = []
    table: list[tuple[str, ...]] = []
    for model in MODELS:
        clock = time.perf_counter()
        s = _replay(model, N_ACCOUNTS)
        if s is None:
            continue
        total = time.perf_counter() - clock
        print(
            f"simulate {EPISODE} {model} (replay {s['seconds']:.1f} s, {total:.0f} s with the "
            "population): "
            + ", ".join(f"{k} {_fmt(s[k])}" for k in COLUMNS)
            + f", drawdown {s['drawdown']}, amplification {s['amplification']}",
            file=sys.stderr,
            flush=True,
        )
        rows.append(
            Row(
                "simulate",
                f"{EPISODE} replay, {model}, impact on",
                s["accounts"],
                s["seconds"],
                f"{s['steps']} steps, {s['rounds']} rounds, {s['fills']} fills; Monitor.apply "
                f"mean {s['monitor_latency_mean_s'] * 1e3:.0f} ms (max "
                f"{s['monitor_latency_max_s'] * 1e3:.0f} ms, {s['monitor_updates']} updates); "
                "items = accounts; seconds = the replay",
            )
        )
        table.append(
            (model, f"{s['accounts']:,}", f"{s['seconds']:.1f}", f"{s['fills']:,}",
             f"{s['liquidated_accounts']:,}", f"{s['monitor_latency_mean_s'] * 1e3:.0f}",
             "", "", "", "")
        )  # fmt: skip
    for model in REFERENCE_MODELS:
        fast = _replay(model, N_REFERENCE)
        slow = _replay(model, N_REFERENCE, reference=True)
        if fast is None or slow is None:
            continue
        same = all(fast[k] == slow[k] for k in CHECKED)
        ratio = slow["seconds"] / fast["seconds"]
        verdict = "met" if ratio >= TARGET_RATIO else "missed"
        rows.append(
            Row(
                "simulate",
                f"{EPISODE} replay, {model}, reference path",
                slow["accounts"],
                slow["seconds"],
                f"fast path on the same population {fast['seconds']:.2f} s: x{ratio:.1f} "
                f"(target x{TARGET_RATIO:.0f} {verdict}); same results: {same}",
            )
        )
        table.append(
            (model, f"{fast['accounts']:,}", f"{fast['seconds']:.1f}", f"{fast['fills']:,}",
             f"{fast['liquidated_accounts']:,}", f"{fast['monitor_latency_mean_s'] * 1e3:.0f}",
             f"{slow['seconds']:.1f}", f"x{ratio:.1f}", verdict, str(same))
        )  # fmt: skip
    if rows:  # the shared data is there
        rows.append(_growth())
    header = ("model", "accounts", "replay s", "fills", "liquidated", "apply ms", "reference s",
              "ratio", f"x{TARGET_RATIO:.0f}", "same")  # fmt: skip
    widths = [max(len(r[i]) for r in (header, *table)) for i in range(len(header))]
    print(f"bench_simulate: {EPISODE} replay, impact on (wall seconds)", file=sys.stderr)
    for line in (header, *table):
        print("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)), file=sys.stderr)
    return rows


def _growth() -> Row:
    """The whole :func:`simulate_crash` call's CPU seconds as the population grows (short)."""

    def job(n: int) -> Callable[[], object]:
        config = SimulationConfig(
            episode=EPISODE, models=(GROWTH_MODEL,), n_accounts=n, run_without_impact=False
        )
        return lambda: simulate_crash(config)

    context = f"{EPISODE}, {GROWTH_MODEL}, impact on, population and funding included"
    return growth("simulate", "accounts", GROWTH_ACCOUNTS, job, repeats=1, context=context)

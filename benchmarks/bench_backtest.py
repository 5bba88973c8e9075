"""Full walk-forward backtest: daily steps over the whole shared history, every model.

Runs :func:`pmargin.backtest.run_backtest` with daily steps and a 1-day MPOR from the first
full 30-day realised-vol window (2017-09) to the last daily close (2026-01), on every default
book and its USDC twin, under every registered model of
:data:`pmargin.backtest.DEFAULT_MODELS`. Prints the per model x book table and writes
``results.json``, ``results.csv``, ``series.csv`` and ``report.html`` under
``build/backtest-full`` (``PMARGIN_BENCH_BACKTEST_OUT`` overrides it). The rows reported to the
benchmark table are the whole run and each stage's share (items = steps).

``PMARGIN_BENCH_BACKTEST_STEP`` (``1d`` default, ``7d`` for a quick run) and
``PMARGIN_BENCH_BACKTEST_MODELS`` (comma-separated) narrow it. Skipped (no rows) when the
shared data is absent.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from benchmarks._common import Row
from pmargin.backtest import (
    STEPS,
    BacktestConfig,
    default_models,
    load_funding,
    model_totals,
    run_backtest,
    write_report,
)
from pmargin.errors import InputError
from pmargin.history import load_price_history

OUT = Path(os.environ.get("PMARGIN_BENCH_BACKTEST_OUT", "build/backtest-full"))
STEP = os.environ.get("PMARGIN_BENCH_BACKTEST_STEP", "1d")


def _models() -> tuple[str, ...]:
    given = os.environ.get("PMARGIN_BENCH_BACKTEST_MODELS")
    if given:
        return tuple(m.strip() for m in given.split(",") if m.strip())
    return default_models()


def _progress(done: int, total: int) -> None:
    if done % 250 == 0 or done == total:
        print(f"  backtest step {done}/{total}", file=sys.stderr, flush=True)


def _markdown(result) -> str:
    lines = [
        "| model | book | T | x | rate | Kupiec LR | p | zone | LR cc | IM/notional | vs standard "
        "| max 1d incr. |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def f(v: float, d: int) -> str:
        return "n/a" if v != v else f"{v:.{d}f}"

    for s in result.stats:
        lines.append(
            f"| {s.model} | {s.book} | {s.n_obs} | {s.n_exceptions} | {s.exception_rate:.4f} | "
            f"{s.kupiec_lr:.2f} | {s.kupiec_p_value:.3f} | {s.zone} | {s.cc_lr:.2f} | "
            f"{s.margin_to_notional:.4f} | {f(s.margin_to_standard, 2)} | "
            f"{f(s.max_increase_1d, 2)} |"
        )
    lines += [
        "",
        "| model | books | T | x | rate | IM/notional | vs standard |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in model_totals(result):
        ratio = row["margin_to_standard"]
        lines.append(
            f"| {row['model']} | {row['books']} | {row['n_obs']} | {row['n_exceptions']} | "
            f"{row['exception_rate']:.4f} | {row['margin_to_notional']:.4f} | "
            f"{'n/a' if ratio is None else f'{ratio:.2f}'} |"
        )
    return "\n".join(lines)


def run() -> list[Row]:
    try:
        history = load_price_history()
        funding = load_funding()
    except InputError as exc:
        print(f"bench_backtest skipped: {exc}", file=sys.stderr)
        return []
    config = BacktestConfig(models=_models(), step_hours=STEPS[STEP], mpor_hours=24.0)
    start = time.perf_counter()
    result = run_backtest(history, config, funding=funding, progress=_progress)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    paths = write_report(result, OUT)
    report_seconds = time.perf_counter() - start
    table = _markdown(result)
    (OUT / "results.md").write_text(table + "\n")
    print(table)
    for model, error in result.errors.items():
        print(f"{model}: {error}")
    print(f"wrote {', '.join(str(p) for p in paths.values())}, {OUT / 'results.md'}")
    n = result.n_obs
    accounts = len(result.accounts)
    rows = [
        Row(
            "backtest full history",
            f"{STEP} steps x {accounts} books x {len(config.models)} models",
            n,
            seconds,
            f"{result.times[0]} to {result.horizons[-1]}; items = steps",
        )
    ]
    for stage in ("market", "books", "realised", *config.models):
        rows.append(Row("backtest full history", f"  stage: {stage}", n, result.seconds[stage], ""))
    rows.append(Row("backtest full history", "report (JSON, CSV, HTML)", n, report_seconds, ""))
    return rows

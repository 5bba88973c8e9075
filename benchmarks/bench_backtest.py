"""Full walk-forward backtest: daily steps over the whole shared history, every model.

Runs :func:`pmargin.backtest.run_backtest` with daily steps and a 1-day MPOR from the first
full 30-day realised-vol window (2017-09) to the last daily close (2026-01), on every default
book and its USDC twin, under every registered model of
:data:`pmargin.backtest.DEFAULT_MODELS`. Prints the per model x book table and writes
``results.json``, ``results.csv``, ``series.csv`` and ``report.html`` under
``build/backtest-full`` (``PMARGIN_BENCH_BACKTEST_OUT`` overrides it), and the tables as
``build/backtest-full.md`` beside it (a report folder holds only the report's own files, so
that the next run may replace it). The rows reported to the
benchmark table are the whole run and each stage's share (items = steps), then the growth
of a short daily backtest's CPU time in steps (``GROWTH_STEPS`` under ``GROWTH_MODEL``).

``PMARGIN_BENCH_BACKTEST_STEP`` (``1d`` default, ``7d`` for a quick run) and
``PMARGIN_BENCH_BACKTEST_MODELS`` (comma-separated) narrow it. Skipped (no rows) when the
shared data is absent.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from benchmarks._common import Row, growth
from pmargin.backtest import (
    STEPS,
    BacktestConfig,
    BacktestResult,
    BookStats,
    book_stats,
    default_models,
    model_totals,
    run_backtest,
    write_report,
)
from pmargin.errors import InputError
from pmargin.history import FundingHistory, PriceHistory, load_funding, load_price_history

OUT = Path(os.environ.get("PMARGIN_BENCH_BACKTEST_OUT", "build/backtest-full"))
RESULTS = OUT.with_name(OUT.name + ".md")
"""The tables as markdown, beside the report folder (which holds only the report's own files)."""
STEP = os.environ.get("PMARGIN_BENCH_BACKTEST_STEP", "1d")
GROWTH_STEPS = (25, 50, 100)
GROWTH_MODEL = "deribit"
GROWTH_START = datetime(2022, 1, 1, tzinfo=UTC)


def _models() -> tuple[str, ...]:
    given = os.environ.get("PMARGIN_BENCH_BACKTEST_MODELS")
    if given:
        return tuple(m.strip() for m in given.split(",") if m.strip())
    return default_models()


def _progress(done: int, total: int) -> None:
    if done % 250 == 0 or done == total:
        print(f"  backtest step {done}/{total}", file=sys.stderr, flush=True)


VENUES = ("deribit", "deribit-cross", "okx", "tims", "derive-pmrm2")
"""Venue models the pmargin model is compared with (those in the run)."""

HEDGED = ("basis", "pair", "covered_call", "protective_put", "calendar", "delta_hedged_short_vol")
"""Books whose legs offset each other (and their USDC twins): the efficiency target."""


def _f(v: float | None, d: int) -> str:
    return "n/a" if v is None or v != v else ("inf" if v == float("inf") else f"{v:.{d}f}")


def _markdown(result: BacktestResult) -> str:
    """Pooled per model, then per model x book with the two-sided verdict (markdown)."""
    lines = [
        "| model | books | T | x | expected | pass | over | under | clustered | median N "
        "| IM/notional | vs standard |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in model_totals(result):
        lines.append(
            f"| {row['model']} | {row['books']} | {row['n_obs']} | {row['n_exceptions']} | "
            f"{row['expected_exceptions']:.0f} | {row['books_pass']} | {row['books_over']} | "
            f"{row['books_under']} | {row['books_clustered']} | "
            f"{_f(row['median_over_margin'], 2)} | {row['margin_to_notional']:.4f} | "
            f"{_f(row['margin_to_standard'], 2)} |"
        )
    lines += [
        "",
        "| model | book | T | x | exp. | Kupiec p | side | Chr. ind p | zone | IM/notional "
        "| vs standard | N | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result.stats:
        lines.append(
            f"| {s.model} | {s.book} | {s.n_obs} | {s.n_exceptions} | "
            f"{s.expected_exceptions:.1f} | {s.kupiec_p_value:.3f} | {s.kupiec_side} | "
            f"{s.ind_p_value:.3f} | {s.zone} | {s.margin_to_notional:.4f} | "
            f"{_f(s.margin_to_standard, 2)} | {_f(s.over_margin_factor, 2)} | {s.verdict} |"
        )
    return "\n".join(lines)


def _restated(result: BacktestResult, name: str, a: int, steps: np.ndarray) -> BookStats | None:
    """``name``'s statistics on account ``a``, on the steps ``steps`` only."""
    c = result.config
    margin = np.where(steps, result.margin[name][:, a], np.nan)
    account = result.accounts[a]
    pnl, notional = result.pnl[:, a], result.notional[:, a]
    return book_stats(name, account, margin, pnl, notional, None, c.p, c.step_hours)


def comparison(result: BacktestResult, model: str = "pmargin-es") -> str:
    """``model`` per book against ``standard`` and the venue models green on that book.

    Every model is restated on the steps where ``model`` margined the book (the pmargin
    models start after their lookback), with :func:`~pmargin.backtest.book_stats`.
    """
    if model not in result.margin:
        return ""
    lines = [
        f"| book | {model} x | Kupiec p | zone | verdict | IM/notional | standard "
        "| green venues (IM/notional) | cheaper than standard | cheaper than every green venue |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a, book in enumerate(result.accounts):
        own = result.margin[model][:, a]
        steps = np.isfinite(own)
        if steps.sum() < 2:
            continue

        mine = _restated(result, model, a, steps)
        std = _restated(result, "standard", a, steps) if "standard" in result.margin else None
        assert mine is not None
        green = []
        for venue in VENUES:
            if venue in result.margin:
                v = _restated(result, venue, a, steps)
                if v is not None and v.zone == "green":
                    green.append(v)
        std_text = (
            "n/a"
            if std is None
            else f"{std.margin_to_notional:.4f} ({std.n_exceptions} {std.zone})"
        )
        venues = ", ".join(f"{v.model} {v.margin_to_notional:.4f}" for v in green) or "none"
        cheaper_std = (
            "n/a"
            if std is None
            else ("yes" if mine.margin_to_notional < std.margin_to_notional else "no")
        )
        cheaper_venues = (
            "yes" if all(mine.margin_to_notional < v.margin_to_notional for v in green) else "no"
        )
        lines.append(
            f"| {book} | {mine.n_exceptions} of {mine.expected_exceptions:.0f} | "
            f"{mine.kupiec_p_value:.3f} | {mine.zone} | {mine.verdict} | "
            f"{mine.margin_to_notional:.4f} | {std_text} | {venues} | {cheaper_std} | "
            f"{cheaper_venues} |"
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
    OUT.parent.mkdir(parents=True, exist_ok=True)  # the report folder itself is written whole
    paths = write_report(result, OUT)
    report_seconds = time.perf_counter() - start
    table = _markdown(result) + "\n\n" + comparison(result)
    RESULTS.write_text(table + "\n")
    print(table)
    for model, error in result.errors.items():
        print(f"{model}: {error}")
    print(f"wrote {', '.join(str(p) for p in paths.values())}, {RESULTS}")
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
    rows.append(_growth(history, funding))
    return rows


def _growth(history: PriceHistory, funding: FundingHistory) -> Row:
    """``run_backtest``'s CPU seconds in steps: daily from ``GROWTH_START``, one model."""

    def job(steps: int) -> Callable[[], object]:
        end = GROWTH_START + timedelta(days=steps - 1)
        config = BacktestConfig(models=(GROWTH_MODEL,), start=GROWTH_START, end=end)
        return lambda: run_backtest(history, config, funding=funding)

    context = f"{GROWTH_MODEL}, every default book, from {GROWTH_START:%Y-%m-%d}"
    return growth("backtest", "steps", GROWTH_STEPS, job, repeats=2, context=context)

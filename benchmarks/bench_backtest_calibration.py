"""Calibration grid of ``pmargin-es``: the daily backtest of several parameter variants.

Opt-in (``PMARGIN_BENCH_CALIBRATION=1``; about 1 to 1.5 CPU-minutes per variant on the full
daily history): every variant of :data:`GRID` is built from the shipped ``pmargin-es.toml``
with the listed dotted fields replaced (:func:`pmargin.backtest.variant_model`) and backtested
on the same daily steps, every default book and its USDC twin, 1-day MPOR. Writes
``build/backtest-calibration/calibration.md``: per variant the books whose two-sided verdict
passes, is over- or under-margined, and per book the exceptions and mean IM / notional. This is
the grid docs/backtesting.md ("Calibration of pmargin-es") reports.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from benchmarks._common import Row
from pmargin.backtest import BacktestConfig, run_backtest, variant_model
from pmargin.errors import InputError
from pmargin.history import load_funding, load_price_history

OUT = Path(os.environ.get("PMARGIN_BENCH_CALIBRATION_OUT", "build/backtest-calibration"))

_BEFORE = {
    "measure.confidence": "0.99",
    "apc.floor_lookback_days": "all",
    "correlation_stress.toward_zero": "0.25",
    "scenarios.time_decay": "false",
}


def _before(**changes: str) -> dict[str, str]:
    return {**_BEFORE, **{k.replace("__", "."): v for k, v in changes.items()}}


GRID: dict[str, dict[str, str]] = {
    "ES 99 %, floor all (before)": _before(),
    "ES 97.5 %, no APC": _before(measure__confidence="0.975", apc__method="none"),
    "ES 97 %, no APC": _before(measure__confidence="0.97", apc__method="none"),
    "ES 96 %, no APC": _before(measure__confidence="0.96", apc__method="none"),
    "ES 96 %, floor all": _before(measure__confidence="0.96"),
    "ES 96 %, floor 730 d": _before(measure__confidence="0.96", apc__floor_lookback_days="730"),
    "ES 96 %, floor 365 d, toward zero 0.10": _before(
        measure__confidence="0.96",
        apc__floor_lookback_days="365",
        correlation_stress__toward_zero="0.10",
    ),
    "shipped (the above + time decay)": {},
}
"""Variant name -> dotted fields of ``pmargin-es.toml`` and their values (as typed)."""


def run() -> list[Row]:
    if os.environ.get("PMARGIN_BENCH_CALIBRATION") != "1":
        print("bench_backtest_calibration skipped (PMARGIN_BENCH_CALIBRATION=1 runs it)")
        return []
    try:
        history = load_price_history()
        funding = load_funding()
    except InputError as exc:
        print(f"bench_backtest_calibration skipped: {exc}", file=sys.stderr)
        return []
    variants = {name: variant_model("pmargin-es", changes, name) for name, changes in GRID.items()}
    config = BacktestConfig(models=tuple(variants), step_hours=24.0, mpor_hours=24.0)
    start = time.perf_counter()
    result = run_backtest(history, config, funding=funding, instances=variants)
    seconds = time.perf_counter() - start
    lines = [
        "| variant | pass | over | under | x | expected | IM/notional (mean over books) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in variants:
        stats = [s for s in result.stats if s.model == name]
        lines.append(
            f"| {name} | {sum(s.coverage_pass for s in stats)} | "
            f"{sum(s.kupiec_side == 'too_few' for s in stats)} | "
            f"{sum(s.kupiec_side == 'too_many' or s.zone != 'green' for s in stats)} | "
            f"{sum(s.n_exceptions for s in stats)} | "
            f"{sum(s.expected_exceptions for s in stats):.0f} | "
            f"{sum(s.margin_to_notional for s in stats) / len(stats):.4f} |"
        )
    lines += ["", "| book | " + " | ".join(variants) + " |", "|---" * (1 + len(variants)) + "|"]
    for book in result.accounts:
        cells = []
        for name in variants:
            s = next(s for s in result.stats if s.model == name and s.book == book)
            flag = "" if s.coverage_pass else (" over" if s.kupiec_side == "too_few" else " under")
            cells.append(f"{s.n_exceptions}{flag} / {s.margin_to_notional:.4f}")
        lines.append(f"| {book} | " + " | ".join(cells) + " |")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "calibration.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return [
        Row(
            "pmargin-es calibration grid",
            f"{len(variants)} variants x {len(result.accounts)} books, daily",
            result.n_obs,
            seconds,
            "items = steps",
        )
    ]

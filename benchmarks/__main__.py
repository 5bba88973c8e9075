"""Run every ``benchmarks/bench_*.py`` module's ``run()`` and print one table.

Usage: ``python -m benchmarks [name ...]`` from the repository root (``make bench``); names
select modules, e.g. ``python -m benchmarks pricing``. On a terminal a progress bar over the
modules runs on stderr (:func:`pmargin.cli._progress.track`); pipes and logs see only the table.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import platform
import sys

import numpy as np

import benchmarks
from benchmarks._common import Row, format_table
from pmargin.cli._progress import track


def main(argv: list[str]) -> int:
    wanted = set(argv)
    names = sorted(
        m.name
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if m.name.startswith("bench_") and (not wanted or m.name.removeprefix("bench_") in wanted)
    )
    if not names:
        print(f"no benchmark module matches {sorted(wanted)}", file=sys.stderr)
        return 2
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}); single-threaded"
    )
    rows: list[Row] = []
    for name in track(names, "benchmarks"):
        module = importlib.import_module(f"benchmarks.{name}")
        rows.extend(module.run())
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

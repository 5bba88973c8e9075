"""How long ``pmargin --help`` and ``pmargin price`` take to start, against ``python -c pass``.

Each is a fresh interpreter (``python -m pmargin.cli.main ...``), run ``REPEATS`` times in this
run, best wall-clock kept; the baseline ``python -c pass`` is measured the same way in the same
run. Each command runs once untimed first, with ``PYTHONDONTWRITEBYTECODE`` removed from its
environment: the modules' bytecode is then cached as after an installed CLI's first run (a
shell with that variable set would otherwise compile ~70 of pmargin's modules on every start,
~60 ms). Target: under 0.3 s of pmargin's own (the command minus the bare interpreter) for both
(docs/cli.md). ``pmargin price`` prices one perpetual of the shipped example market: what the
command needs (NumPy, Typer and rich, the market) and nothing else; ``pmargin price (option)``
one option, which also loads SciPy's special functions (``ndtr``) and runs the NumPy kernel
(no numba: :func:`pmargin._compiled.numpy_kernels`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from benchmarks._common import Row

REPEATS = 5
TARGET_S = 0.3
_MARKET = os.path.join(
    os.path.dirname(__file__), "..", "src", "pmargin", "data", "example_market.json"
)
PRICE = [sys.executable, "-m", "pmargin.cli.main", "price", "-m", _MARKET]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "pmargin --help": [sys.executable, "-m", "pmargin.cli.main", "--help"],
    "pmargin price": [*PRICE, "BTC-PERPETUAL"],
    "pmargin price (option)": [*PRICE, "BTC-26DEC25-115000-C"],
}
TARGETS = ("pmargin --help", "pmargin price")
"""The commands the 0.3 s target is for; the option row is reported without a target."""


_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_ENV)


def _best(argv: list[str]) -> float:
    _run(argv)  # bytecode cached, as after the first run
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        _run(argv)
        best = min(best, time.perf_counter() - start)
    return best


def run() -> list[Row]:
    """Time each command; note the start over the bare interpreter and the 0.3 s target."""
    seconds = {name: _best(argv) for name, argv in COMMANDS.items()}
    base = seconds["python -c pass"]
    rows = [Row("cli start", "python -c pass", 1, base, "baseline")]
    for name in COMMANDS:
        if name == "python -c pass":
            continue
        own = seconds[name] - base
        note = f"{own:.3f} s over python -c pass"
        if name in TARGETS:
            note += f" (target < {TARGET_S} s: {'met' if own < TARGET_S else 'missed'})"
        rows.append(Row("cli start", name, 1, seconds[name], note))
    return rows

"""Black-76 evaluations (value + 4 Greeks) per second per core and implied-vol solves per second.

pmargin's kernel (the compiled SIMD one with numba, else NumPy) and its plain NumPy reference
twin on 1e6 and 1e7 options, beside QuantLib's BlackCalculator and a scalar ``math.erf``
Black-76 in a Python loop (both on a sample, extrapolated per second), all measured in the same
run on the same random options, on one core (the process is pinned to one CPU for the run).

The machine is shared, so every time is the best of several repeats of the benchmark thread's
CPU time (``time.thread_time``: page faults included, time spent preempted by other processes
excluded). The SIMD limit is the measured peak rate of fused multiply-adds on this core (a
compiled loop of independent FMAs) divided by the kernel's arithmetic per option
(``OPS_PER_OPTION``, counted in ``docs/pricing.md``); issue 11's target is 50 M options/s/core.
Last, the growth of ``black76``'s time in options (``GROWTH_SIZES``, fitted exponent; about 1:
a fixed cost per call would show as an exponent below 1).
"""

from __future__ import annotations

import functools
import math
import os
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from benchmarks._common import Row, best_time, growth
from pmargin.pricing import (
    black76,
    black76_reference,
    black76_value,
    black76_value_reference,
    implied_vol,
    kernel_name,
)

SAMPLE = 20_000
SIZES = (1_000_000, 10_000_000)
TARGET = 50e6  # options per second per core with 4 Greeks (issue 11)
GROWTH_SIZES = (250_000, 1_000_000, 4_000_000)  # options of the growth series (value + 4 Greeks)
OPS_PER_OPTION = 230  # arithmetic operations per option of the compiled kernel (docs/pricing.md)


def _best_cpu(func: Callable[[], object], repeats: int = 5) -> float:
    """Best CPU seconds of the calling thread over ``repeats`` calls (see the module docstring)."""
    func()  # warm: compilation, caches, the allocator
    return best_time(func, repeats, clock=time.thread_time)


def _fma_peak() -> float:
    """Fused multiply-adds per second one core sustains in a compiled SIMD loop, or NaN."""
    try:
        from pmargin._compiled import njit
        from pmargin.pricing._vecmath import fma
    except ImportError:  # numba absent: no compiled loop to measure
        return float("nan")

    @njit
    def chains(x, out):  # type: ignore[no-untyped-def]
        for i in range(x.shape[0]):
            y = x[i]
            a = b = c = d = 0.5
            for _ in range(16):  # four independent chains of 16 FMAs per element
                a = fma(y, a, 0.25)
                b = fma(y, b, 0.5)
                c = fma(y, c, 0.75)
                d = fma(y, d, 1.0)
            out[i] = a + b + c + d

    x = np.random.default_rng(0).uniform(-0.9, 0.9, 4096)  # in L1 cache
    out = np.empty_like(x)
    repeat = 200
    seconds = _best_cpu(lambda: [chains(x, out) for _ in range(repeat)])
    return 64 * x.size * repeat / seconds


def _options(n: int, seed: int = 1) -> tuple[np.ndarray, ...]:
    """Strikes 0.2x-5x forward, expiries 10 minutes-2 years, vols 5%-300%, rates -2%-10%."""
    rng = np.random.default_rng(seed)
    forward = rng.uniform(1_000.0, 100_000.0, n)
    strike = forward * np.exp(rng.uniform(math.log(0.2), math.log(5.0), n))
    time = np.exp(rng.uniform(math.log(10.0 / 525_600.0), math.log(2.0), n))
    vol = np.exp(rng.uniform(math.log(0.05), math.log(3.0), n))
    is_call = rng.random(n) < 0.5
    rate = rng.uniform(-0.02, 0.10, n)
    return forward, strike, time, vol, is_call, rate


def _python_black76(
    f: float, k: float, t: float, v: float, call: bool, r: float
) -> tuple[float, ...]:
    """Scalar Black-76 value and Greeks with ``math.erf``: the plain-Python baseline."""
    sd = v * math.sqrt(t)
    d1 = math.log(f / k) / sd + 0.5 * sd
    d2 = d1 - sd
    df = math.exp(-r * t)
    s = 1.0 if call else -1.0
    n1 = 0.5 * (1.0 + math.erf(s * d1 / math.sqrt(2.0)))
    n2 = 0.5 * (1.0 + math.erf(s * d2 / math.sqrt(2.0)))
    pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi)
    value = s * df * (f * n1 - k * n2)
    delta = s * df * n1
    gamma = df * pdf / (f * sd)
    vega = df * f * pdf * math.sqrt(t)
    theta = r * value - df * f * pdf * v / (2.0 * math.sqrt(t))
    return value, delta, gamma, vega, theta


def _python_loop(options: tuple[np.ndarray, ...]) -> None:
    for f, k, t, v, c, r in zip(*(a.tolist() for a in options), strict=True):
        _python_black76(f, k, t, v, c, r)


def _quantlib_loop(options: tuple[np.ndarray, ...]) -> None:
    import QuantLib as ql  # noqa: N813 (the library's own convention)

    call, put = ql.Option.Call, ql.Option.Put
    for f, k, t, v, c, r in zip(*(a.tolist() for a in options), strict=True):
        calc = ql.BlackCalculator(
            ql.PlainVanillaPayoff(call if c else put, k), f, v * math.sqrt(t), math.exp(-r * t)
        )
        calc.value(), calc.deltaForward(), calc.gammaForward(), calc.vega(t), calc.thetaPerDay(f, t)


def _kernel_only_row(options: tuple[np.ndarray, ...]) -> Row:
    """The compiled kernel writing into preallocated outputs: ``black76`` less its allocation."""
    from pmargin.pricing import _black76_jit

    f, k, t, v, c, r = options
    outs = tuple(np.empty(f.size) for _ in range(5))
    seconds = _best_cpu(lambda: _black76_jit.greeks_into((f, k, t, v, r, c), outs))
    note = f"{f.size / seconds / 1e6:.1f} M/s/core: no fresh outputs (page faults) to fill"
    return Row("black76 greeks", "compiled kernel into preallocated outputs", f.size, seconds, note)


def _peak_mib(func) -> float:
    """Peak memory traced while ``func`` runs (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _pinned_to_one_cpu() -> set[int] | None:
    """Pin this process to one CPU (restored by the caller); ``None`` where unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    return cpus


def run() -> list[Row]:
    cpus = _pinned_to_one_cpu()
    try:
        return _run()
    finally:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)


def _run() -> list[Row]:
    rows: list[Row] = []
    sample = _options(SAMPLE, seed=2)
    python_rate = SAMPLE / _best_cpu(lambda: _python_loop(sample), repeats=2)
    rows.append(Row("black76 greeks", "python math.erf loop", SAMPLE, SAMPLE / python_rate))
    try:
        quantlib_rate = SAMPLE / _best_cpu(lambda: _quantlib_loop(sample), repeats=2)
        rows.append(
            Row("black76 greeks", "QuantLib BlackCalculator loop", SAMPLE, SAMPLE / quantlib_rate)
        )
    except ImportError:
        quantlib_rate = float("nan")
    limit = _fma_peak() / OPS_PER_OPTION
    kernel = kernel_name()
    for n in SIZES:
        options = _options(n)
        inputs_mib = sum(a.nbytes for a in options) / 2**20
        reference_seconds = _best_cpu(lambda o=options: black76_reference(*o), repeats=3)
        seconds = _best_cpu(lambda o=options: black76(*o))
        rate = n / seconds
        peak = _peak_mib(lambda o=options: black76(*o))
        verdict = "met" if rate >= TARGET else "missed"
        note = (
            f"{rate / 1e6:.1f} M/s/core, target 50 M/s {verdict}; "
            f"x{reference_seconds / seconds:.1f} NumPy path, x{rate / quantlib_rate:,.0f} "
            f"QuantLib, x{rate / python_rate:,.0f} python; SIMD limit ~{limit / 1e6:.0f} M/s "
            f"(x{limit / rate:.1f} above); inputs {inputs_mib:,.0f} MiB, "
            f"peak extra {peak:,.0f} MiB (outputs {5 * 8 * n / 2**20:,.0f})"
        )
        rows.append(Row("black76 greeks", f"pmargin black76 ({kernel})", n, seconds, note))
        if kernel == "numba":
            rows.append(_kernel_only_row(options))
        note = (
            f"{n / reference_seconds / 1e6:.1f} M/s/core, "
            f"x{n / reference_seconds / quantlib_rate:,.0f} QuantLib"
        )
        rows.append(
            Row("black76 greeks", "pmargin black76_reference (NumPy)", n, reference_seconds, note)
        )
        seconds = _best_cpu(lambda o=options: black76_value(*o))
        reference_seconds = _best_cpu(lambda o=options: black76_value_reference(*o), repeats=3)
        rows.append(
            Row(
                "black76 value",
                f"pmargin black76_value ({kernel})",
                n,
                seconds,
                f"x{reference_seconds / seconds:.1f} NumPy path",
            )
        )
        del options
    n = 1_000_000
    f, k, t, v, c, r = _options(n, seed=3)
    price = black76_value(f, k, t, v, c, r)
    seconds = _best_cpu(lambda: implied_vol(price, f, k, t, c, r), repeats=2)
    solved = implied_vol(price, f, k, t, c, r)
    share = float(np.mean(solved.status == 0))
    rows.append(
        Row("implied vol", "pmargin implied_vol", n, seconds, f"{share:.0%} solved by iteration")
    )
    rows.append(
        growth(
            "black76 greeks",
            "options",
            GROWTH_SIZES,
            lambda n: functools.partial(black76, *_options(n)),
            repeats=5,
            clock=time.thread_time,
            context=kernel,
        )
    )
    return rows

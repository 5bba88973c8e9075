"""Black-76 evaluations (value + 4 Greeks) per second and implied-vol solves per second.

pmargin's vectorised kernel on 1e6 and 1e7 options, beside QuantLib's BlackCalculator and a
scalar ``math.erf`` Black-76 in a Python loop, both on a sample and extrapolated per second,
all measured in the same run on the same random options.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np

from benchmarks._common import Row, best_time
from pmargin.pricing import black76, black76_value, implied_vol

SAMPLE = 20_000
SIZES = (1_000_000, 10_000_000)


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


def _peak_mib(func) -> float:
    """Peak memory traced while ``func`` runs (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run() -> list[Row]:
    rows: list[Row] = []
    sample = _options(SAMPLE, seed=2)
    python_rate = SAMPLE / best_time(lambda: _python_loop(sample), repeats=2)
    rows.append(Row("black76 greeks", "python math.erf loop", SAMPLE, SAMPLE / python_rate))
    try:
        quantlib_rate = SAMPLE / best_time(lambda: _quantlib_loop(sample), repeats=2)
        rows.append(
            Row("black76 greeks", "QuantLib BlackCalculator loop", SAMPLE, SAMPLE / quantlib_rate)
        )
    except ImportError:
        quantlib_rate = float("nan")
    for n in SIZES:
        options = _options(n)
        inputs_mib = sum(a.nbytes for a in options) / 2**20
        seconds = best_time(lambda o=options: black76(*o))
        rate = n / seconds
        peak = _peak_mib(lambda o=options: black76(*o))
        note = (
            f"x{rate / quantlib_rate:,.0f} QuantLib, x{rate / python_rate:,.0f} python; "
            f"inputs {inputs_mib:,.0f} MiB, peak extra {peak:,.0f} MiB "
            f"(outputs {5 * 8 * n / 2**20:,.0f})"
        )
        rows.append(Row("black76 greeks", "pmargin black76", n, seconds, note))
        seconds = best_time(lambda o=options: black76_value(*o))
        rows.append(Row("black76 value", "pmargin black76_value", n, seconds))
        del options
    n = 1_000_000
    f, k, t, v, c, r = _options(n, seed=3)
    price = black76_value(f, k, t, v, c, r)
    seconds = best_time(lambda: implied_vol(price, f, k, t, c, r), repeats=2)
    solved = implied_vol(price, f, k, t, c, r)
    share = float(np.mean(solved.status == 0))
    rows.append(
        Row("implied vol", "pmargin implied_vol", n, seconds, f"{share:.0%} solved by iteration")
    )
    return rows

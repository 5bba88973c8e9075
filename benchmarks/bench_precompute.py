"""One account re-margined at one market by the VaR / ES models, with and without the precompute.

The scenario-risk models (``pmargin-es``, ``pmargin-var``, ``pmargin-mc``) build their
scenario sets (filtered historical returns, stressed weighting, the APC floor set, Monte Carlo
draws, correlation-stressed re-pairings) from the price history known at the market's
timestamp; no book enters. ``compute(book)`` takes them from the per-market cache
(:meth:`ScenarioRiskModel.precompute`); the reference path passes the uncached twin
(:meth:`ScenarioRiskModel.precompute_reference`, every set built anew), which is what every
call did before the stage existed.

The book: each of the first ``N_BOOKS`` accounts of the example portfolio (seed 7) over the
example market, alone as a one-row book (what a pre-trade what-if or a liquidation trial
margins). Reported: the median over ``CALLS`` calls per account of both paths, measured
interleaved in the same run, their ratio, and the precompute stage alone. Then the same
accounts at ``TICKS`` later snapshots (one a minute, as a monitor sees them): each tick is a
new market, so every instrument is revalued, but the scenario sets (those of the same last
close) are reused. The two paths are
asserted to give the same bits (IM, MM, components, scenario P&L) before anything is reported.
Last, the growth of ``pmargin-es``'s ``compute`` in scenarios (``GROWTH_SCENARIOS`` days of
lookback, one scenario each) on ``bench_margin``'s array-built book of ``GROWTH_ACCOUNTS``
accounts (its instrument rows are revalued once per market while instruments x scenarios fit
``ROW_CELLS``, at every call past it: the exponent includes that step). Needs the shared data
folder (``$PMARGIN_SHARED_DATA``); without it the benchmark prints a note and returns no row.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import numpy as np

from benchmarks._common import Row, growth
from benchmarks.bench_margin import array_book, es_model
from pmargin.book import BookArrangement, Portfolio, arrange, example_portfolio
from pmargin.errors import InputError
from pmargin.margin import MarginResult, get_model
from pmargin.margin.scenario_risk import ScenarioRiskModel
from pmargin.margin.scenario_risk._precompute import ROW_CELLS
from pmargin.market import MarketSnapshot, load_market

MODELS = ("pmargin-es", "pmargin-var", "pmargin-mc")
N_BOOKS = 4
CALLS = int(os.environ.get("PMARGIN_BENCH_PRECOMPUTE_CALLS", "40"))
TICKS = 10
GROWTH_ACCOUNTS = 5_000
GROWTH_SCENARIOS = (125, 250, 500, 1_000)
_EXAMPLE_MARKET = os.path.join(
    os.path.dirname(__file__), "..", "src", "pmargin", "data", "example_market.json"
)


def _median_seconds(func: Callable[[], object], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _same_bits(a: MarginResult, b: MarginResult) -> bool:
    pairs = [(a.initial_margin, b.initial_margin), (a.maintenance_margin, b.maintenance_margin)]
    for ua, ub in zip(a.risk_units, b.risk_units, strict=True):
        assert ua.scenario_pnl is not None
        assert ub.scenario_pnl is not None
        pairs.append((ua.scenario_pnl, ub.scenario_pnl))
        pairs += [(ua.components[k], ub.components[k]) for k in ua.components]
    pairs.append((a.im_contribution.toarray(), b.im_contribution.toarray()))
    return all(x.tobytes() == y.tobytes() for x, y in pairs)


def run() -> list[Row]:
    market = load_market(_EXAMPLE_MARKET)
    portfolio = example_portfolio(market, N_BOOKS)
    books: list[BookArrangement] = [
        arrange(Portfolio(accounts=(account,)), market) for account in portfolio.accounts
    ]
    rows: list[Row] = []
    for name in MODELS:
        shipped = get_model(name)
        assert isinstance(shipped, ScenarioRiskModel)
        model: ScenarioRiskModel = shipped
        try:
            model.compute(books[0])  # fills the cache
        except InputError as exc:
            print(f"bench_precompute skipped: {exc}", file=sys.stderr)
            return []
        cached: list[float] = []
        uncached: list[float] = []
        for book in books:

            def fresh(
                book: BookArrangement = book, model: ScenarioRiskModel = model
            ) -> MarginResult:
                return model.compute(book, model.precompute_reference(market.timestamp))

            def reuse(
                book: BookArrangement = book, model: ScenarioRiskModel = model
            ) -> MarginResult:
                return model.compute(book)

            assert _same_bits(fresh(), reuse()), f"{name}: cached and uncached results differ"
            for _ in range(max(1, CALLS // 10)):  # interleaved, so load changes hit both
                uncached.append(_median_seconds(fresh, 10))
                cached.append(_median_seconds(reuse, 10))
        stage = _median_seconds(partial(model.precompute_reference, market.timestamp), 5)
        tick_fresh: list[float] = []
        tick_cached: list[float] = []
        for k in range(TICKS):
            tick = market.replace(timestamp=market.timestamp + timedelta(minutes=k + 1))
            for account in portfolio.accounts:
                book = arrange(Portfolio(accounts=(account,)), tick)
                start = time.perf_counter()
                model.compute(book, model.precompute_reference(tick.timestamp))
                tick_fresh.append(time.perf_counter() - start)
                start = time.perf_counter()
                model.compute(book)
                tick_cached.append(time.perf_counter() - start)
        tick_slow, tick_fast = float(np.median(tick_fresh)), float(np.median(tick_cached))
        slow, fast = float(np.median(uncached)), float(np.median(cached))
        n_inst = [book.shape[1] for book in books]
        rows.append(
            Row(
                f"one-account {name}",
                "compute, scenario sets rebuilt (reference)",
                1,
                slow,
                f"median {slow * 1e3:.2f} ms over {len(books)} accounts "
                f"({min(n_inst)}-{max(n_inst)} instruments) x {len(uncached) * 10} calls",
            )
        )
        rows.append(
            Row(
                f"one-account {name}",
                "compute, precomputed per market (cached)",
                1,
                fast,
                f"median {fast * 1e3:.2f} ms, x{slow / fast:.1f} the reference; same bits; "
                f"the precompute stage alone {stage * 1e3:.2f} ms",
            )
        )
        rows.append(
            Row(
                f"one-account {name}",
                "compute at a new tick, sets reused",
                1,
                tick_fast,
                f"median {tick_fast * 1e3:.2f} ms against {tick_slow * 1e3:.2f} ms rebuilt "
                f"(x{tick_slow / tick_fast:.1f}) over {TICKS} ticks a minute apart",
            )
        )
    rows.append(_scenario_growth(market))
    return rows


def _scenario_growth(market: MarketSnapshot) -> Row:
    """``pmargin-es`` ``compute`` of a ``GROWTH_ACCOUNTS`` book as its scenarios grow.

    Lookbacks of ``GROWTH_SCENARIOS`` days (no stressed or floor sets: one scenario a day), the
    sets precomputed by the warm-up call; CPU seconds, best of 3.
    """
    book = array_book(market, GROWTH_ACCOUNTS)

    def job(n: int) -> Callable[[], object]:
        model = es_model(n)
        return lambda: model.compute(book)

    cells = ROW_CELLS // book.shape[1]
    context = (
        f"{GROWTH_ACCOUNTS:,} accounts x ~20 positions over {book.shape[1]:,} instruments; "
        f"revalued rows cached up to {cells:,} scenarios (ROW_CELLS), revalued each call past it"
    )
    return growth("scenario risk pmargin-es", "scenarios", GROWTH_SCENARIOS, job, context=context)

"""Deribit portfolio margin of a large book: arrangement, kernel, aggregation, model, pre-trade.

The book: ``N_ACCOUNTS`` seeded accounts (100,000; ``PMARGIN_BENCH_ACCOUNTS`` overrides it for
a quick run) of about 20 positions each, every account on BTC or ETH, drawn from a pool of a
few thousand distinct coin-settled and USDC-settled options over the example market's expiries
plus the dated futures and perpetuals. Built once; the arrangement (resolving the unique
instruments and building the sparse quantity matrix) is timed on its own.

Then, best of a few runs each: the revaluation kernel alone (each underlying's instrument P&L
matrix on Deribit's 35-cell grid), the sparse aggregation alone (one product per risk unit),
the whole ``get_model("deribit").compute(book)``, and the reference twin of the kernel
(:mod:`pmargin.risk._kernel_reference`: a loop over accounts, positions and scenarios) on
``REFERENCE_ACCOUNTS`` accounts, reported per account beside the fast path's per-account time.
Fast and reference account P&L are asserted to agree on that subset before anything is
reported. Last, the latency of :meth:`PreTradeChecker.check` averaged over ``N_ORDERS`` random
orders (half on an instrument the account holds, half on one it does not).
"""

from __future__ import annotations

import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
from scipy import sparse

from benchmarks._common import Row, best_time, fit_exponent, growth
from pmargin.book import Account, BookArrangement, Portfolio, Position, arrange
from pmargin.engine import example_path
from pmargin.instruments import Instrument, parse_symbol
from pmargin.margin import get_model
from pmargin.margin.deribit import DeribitModel, clamp_delta_one, deribit_scenarios
from pmargin.margin.scenario_risk import ApcMethod, CorrelationStressMethod, fused_kernel_name
from pmargin.market import MarketSnapshot, load_market
from pmargin.pretrade import Order, PreTradeChecker
from pmargin.risk import account_pnl, instrument_pnl
from pmargin.risk._kernel_reference import account_pnl_by_currency_reference
from pmargin.scenarios import ScenarioSet
from pmargin.valuation import resolve_instruments

N_ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_ACCOUNTS", "100000"))
POSITIONS = 20  # mean positions per account
REFERENCE_ACCOUNTS = 200
N_ORDERS = 300
SEED = 11

_STRIKE_STEP = {"BTC": 1_000.0, "ETH": 50.0}
_MONEYNESS = (0.6, 1.5)  # strike range of the pool, relative to each expiry's forward
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _date(expiry) -> str:
    return f"{expiry.day}{_MONTHS[expiry.month - 1]}{expiry.year % 100:02d}"


def _pool(market: MarketSnapshot) -> dict[str, list[Instrument]]:
    """Underlying -> its distinct instruments: inverse and USDC options, futures, perpetuals."""
    pool: dict[str, list[Instrument]] = {}
    horizon = market.timestamp + timedelta(days=1)
    for u in ("BTC", "ETH"):
        step = _STRIKE_STEP[u]
        symbols = [f"{u}-PERPETUAL", f"{u}_USDC-PERPETUAL"]
        for expiry in (e for e in market.surface(u).expiries if e > horizon):
            forward = market.forward(u, expiry)
            low = max(step, np.ceil(forward * _MONEYNESS[0] / step) * step)
            strikes = np.arange(low, forward * _MONEYNESS[1], step)
            symbols.append(f"{u}-{_date(expiry)}")
            for prefix in (u, f"{u}_USDC") if u == "BTC" else (u,):
                symbols += [
                    f"{prefix}-{_date(expiry)}-{k:.0f}-{right}"
                    for k in strikes
                    for right in ("C", "P")
                ]
        pool[u] = [parse_symbol(s) for s in symbols]
    return pool


def _portfolio(pool: dict[str, list[Instrument]], n_accounts: int, seed: int) -> Portfolio:
    """Seeded accounts of ~``POSITIONS`` positions each on one underlying, coin collateral."""
    rng = np.random.default_rng(seed)
    size = {"BTC": 1.0, "ETH": 20.0}
    accounts = []
    for a in range(n_accounts):
        u = "BTC" if rng.random() < 0.6 else "ETH"
        instruments = pool[u]
        n = int(np.clip(rng.poisson(POSITIONS), 5, 40))
        picks = rng.integers(len(instruments), size=n)
        quantity = np.round(rng.normal(0.0, size[u], n), 2)
        quantity[quantity == 0.0] = 0.01
        positions = tuple(
            Position(instruments[int(j)], float(q), "base")
            for j, q in zip(picks, quantity, strict=True)
        )
        balance = float(np.round(np.abs(quantity).sum() * rng.uniform(0.2, 1.0), 4))
        accounts.append(Account(f"acct-{a}", {u: balance}, positions))
    return Portfolio(tuple(accounts))


def _scenario_inputs(
    model: DeribitModel, book: BookArrangement
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per underlying: its book columns, spot multipliers and vols (as the model builds them)."""
    params = model.params
    inputs = []
    underlyings = np.asarray([i.underlying for i in book.instruments])
    for u in dict.fromkeys(underlyings.tolist()):
        columns = np.flatnonzero(underlyings == u)
        pair = params.pair(u)
        scenarios = deribit_scenarios(u, pair, params.general)
        n_standard = len(scenarios) - len(params.general.extended_moves)
        resolved = book.resolved.take(columns)
        arrays = ScenarioSet(scenarios, params.vol_rule(u)).apply(resolved)
        mult = clamp_delta_one(
            arrays.spot_multiplier, resolved.is_option, pair.price_range, n_standard
        )
        inputs.append((columns, mult, arrays.vol))
    return inputs


def _kernel(book: BookArrangement, inputs) -> list[np.ndarray]:
    return [instrument_pnl(book.resolved.take(c), m, v) for c, m, v in inputs]


def _reference_check(
    portfolio: Portfolio, book: BookArrangement, inputs, pnl: list[np.ndarray]
) -> float:
    """Assert the fast kernel + aggregation equals the reference twin; return its seconds."""
    n_inst = book.shape[1]
    n_scen = inputs[0][1].shape[1]
    mult = np.ones((n_inst, n_scen))
    vol = np.full((n_inst, n_scen), np.nan)
    full = np.zeros((n_inst, n_scen))
    for (columns, m, v), p in zip(inputs, pnl, strict=True):
        mult[columns], vol[columns], full[columns] = m, v, p
    subset = Portfolio(portfolio.accounts[:REFERENCE_ACCOUNTS])
    mult_list, vol_list = mult.tolist(), vol.tolist()
    start = time.perf_counter()
    reference = account_pnl_by_currency_reference(subset, book.resolved, mult_list, vol_list, 0.0)
    seconds = time.perf_counter() - start
    quantity = book.quantity[:REFERENCE_ACCOUNTS]
    currencies = np.asarray(book.settlement_currencies)
    for currency, table in reference.items():
        columns = np.flatnonzero(currencies == currency)
        fast = account_pnl(quantity[:, columns], full[columns])
        np.testing.assert_allclose(fast, np.asarray(table), rtol=1e-9, atol=1e-9)
    return seconds


def _orders(pool, book: BookArrangement, n: int, seed: int) -> list[tuple[str, Order]]:
    """Random orders: half on an instrument the account holds, half on one from the pool."""
    rng = np.random.default_rng(seed)
    quantity = book.quantity
    orders = []
    for k in range(n):
        row = int(rng.integers(book.shape[0]))
        start, end = quantity.indptr[row], quantity.indptr[row + 1]
        held = quantity.indices[start:end]
        if k % 2 == 0 and held.size:
            instrument = book.instruments[int(held[rng.integers(held.size)])]
        else:
            u = book.instruments[int(held[0])].underlying if held.size else "BTC"
            instrument = pool[u][int(rng.integers(len(pool[u])))]
        q = float(np.round(rng.normal(0.0, 1.0), 2)) or 0.01
        orders.append((book.account_ids[row], Order(instrument, q, "base")))
    return orders


def run() -> list[Row]:
    rows: list[Row] = []
    market = load_market(example_path("example_market.json"))
    model = get_model("deribit")
    assert isinstance(model, DeribitModel)
    pool = _pool(market)
    n_pool = sum(len(v) for v in pool.values())

    start = time.perf_counter()
    portfolio = _portfolio(pool, N_ACCOUNTS, SEED)
    build = time.perf_counter() - start
    n_positions = sum(len(a.positions) for a in portfolio.accounts)
    rows.append(
        Row(
            "margin book",
            "bench generator (Portfolio objects)",
            N_ACCOUNTS,
            build,
            f"{n_positions:,} positions from a pool of {n_pool:,} instruments",
        )
    )
    start = time.perf_counter()
    book = arrange(portfolio, market)
    seconds = time.perf_counter() - start
    rows.append(
        Row(
            "margin book",
            "pmargin arrange",
            n_positions,
            seconds,
            f"{book.shape[1]:,} unique instruments resolved once; items = positions",
        )
    )

    inputs = _scenario_inputs(model, book)
    n_scen = inputs[0][1].shape[1]
    pnl = _kernel(book, inputs)
    seconds = best_time(lambda: _kernel(book, inputs), repeats=5)
    rows.append(
        Row(
            "margin kernel",
            "pmargin instrument_pnl",
            book.shape[1] * n_scen,
            seconds,
            f"{book.shape[1]:,} instruments x {n_scen} scenarios; items = revaluations",
        )
    )
    quantity = book.quantity
    currencies = np.asarray(book.settlement_currencies)

    def aggregate() -> None:
        for (columns, _, _), p in zip(inputs, pnl, strict=True):
            for currency in dict.fromkeys(currencies[columns].tolist()):
                local = np.flatnonzero(currencies[columns] == currency)
                account_pnl(quantity[:, columns[local]], p[local])

    aggregation = best_time(aggregate, repeats=5)
    rows.append(
        Row(
            "margin aggregation",
            "sparse quantity @ instrument P&L",
            N_ACCOUNTS,
            aggregation,
            f"{quantity.nnz:,} stored positions, one product per risk unit",
        )
    )
    kernel = seconds

    reference = _reference_check(portfolio, book, inputs, pnl)
    fast_per_account = (kernel + aggregation) / N_ACCOUNTS
    ref_per_account = reference / REFERENCE_ACCOUNTS
    rows.append(
        Row(
            "margin account P&L",
            "reference twin (loop per position)",
            REFERENCE_ACCOUNTS,
            reference,
            f"{ref_per_account * 1e6:,.0f} us/account; agrees with the fast path (rtol 1e-9)",
        )
    )
    rows.append(
        Row(
            "margin account P&L",
            "pmargin kernel + aggregation",
            N_ACCOUNTS,
            kernel + aggregation,
            f"{fast_per_account * 1e6:,.2f} us/account, "
            f"x{ref_per_account / fast_per_account:,.0f} the reference "
            f"(fast/reference = {fast_per_account / ref_per_account:.2e})",
        )
    )

    result = model.compute(book)
    seconds = best_time(lambda: model.compute(book), repeats=3)
    rows.append(
        Row(
            "margin deribit",
            'get_model("deribit").compute',
            N_ACCOUNTS,
            seconds,
            f"target < 2 s for 100,000 accounts on one core; "
            f"{seconds / N_ACCOUNTS * 1e6:,.1f} us/account",
        )
    )

    checker = PreTradeChecker(model, book, result)
    orders = _orders(pool, book, N_ORDERS, SEED + 1)
    for account, order in orders[:5]:  # warm caches
        checker.check(account, order)
    start = time.perf_counter()
    for account, order in orders:
        checker.check(account, order)
    latency = (time.perf_counter() - start) / len(orders)
    rows.append(
        Row(
            "pre-trade check",
            "PreTradeChecker.check (deribit)",
            len(orders),
            latency * len(orders),
            f"target < 200 us; mean {latency * 1e6:,.0f} us/order over {N_ACCOUNTS:,} accounts",
        )
    )
    rows.extend(run_growth(market))
    if SCALE_SIZES:
        rows.extend(run_scale())
    return rows


# ---------------------------------------------------------------------------- scale (issue 11)

SCALE_SIZES = tuple(
    int(s) for s in os.environ.get("PMARGIN_BENCH_SCALE", "100000,300000,1000000").split(",") if s
)
"""Accounts per scale run (~20 positions each); the largest carries the 2 s target."""

SCALE_MODELS = ("deribit", "standard", "okx")
ES_ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_ES_ACCOUNTS", "100000"))
ES_SCENARIOS = 1000


def book_columns(
    market: MarketSnapshot,
    n_accounts: int,
    seed: int = SEED,
    positions: int = POSITIONS,
    n_instruments: int | None = None,
) -> dict[str, np.ndarray]:
    """The bench's accounts as the columns a venue stores (no object per position).

    Each account draws its underlying (BTC 60 %), ~``positions`` positions from the pool and a
    coin balance with NumPy. ``n_instruments`` keeps about that many of the pool's instruments
    (evenly spaced in each underlying's list, shared pro rata), for the growth in distinct
    instruments.

    Returns
    -------
    dict
        ``symbols`` (instrument per column), ``ids`` (account per row), the CSR arrays
        ``indptr``, ``indices``, ``quantity`` (base units, columns sorted per row, duplicates
        summed), ``assets`` and ``balances`` (``(n_accounts, n_assets)``): what
        :func:`load_book` arranges.
    """
    pool = _pool(market)
    if n_instruments is not None:
        share = n_instruments / sum(len(v) for v in pool.values())
        pool = {
            u: [v[int(j)] for j in np.linspace(0, len(v) - 1, max(1, round(share * len(v))))]
            for u, v in pool.items()
        }
    names = list(pool)
    instruments = [i for u in names for i in pool[u]]
    sizes = np.array([len(pool[u]) for u in names])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    rng = np.random.default_rng(seed)
    underlying = (rng.random(n_accounts) >= 0.6).astype(np.int64)  # 0 BTC, 1 ETH
    count = np.clip(rng.poisson(positions, n_accounts), max(1, positions // 4), 2 * positions)
    owner = np.repeat(np.arange(n_accounts), count)
    u = underlying[owner]
    column = offsets[u] + (rng.random(owner.size) * sizes[u]).astype(np.int64)
    quantity = np.round(rng.normal(0.0, 1.0, owner.size) * np.where(u == 0, 1.0, 20.0), 2)
    quantity[quantity == 0.0] = 0.01
    matrix = sparse.csr_array((quantity, (owner, column)), shape=(n_accounts, len(instruments)))
    matrix.sum_duplicates()
    gross = np.bincount(owner, np.abs(quantity), n_accounts)
    balances = np.zeros((n_accounts, len(names)))
    balances[np.arange(n_accounts), underlying] = np.round(
        gross * rng.uniform(0.2, 1.0, n_accounts), 4
    )
    return {
        "symbols": np.array([i.symbol for i in instruments]),
        "ids": np.array([f"acct-{a}" for a in range(n_accounts)]),
        "indptr": matrix.indptr,
        "indices": matrix.indices,
        "quantity": matrix.data,
        "assets": np.array(names),
        "balances": balances,
    }


def load_book(columns: Any, market: MarketSnapshot) -> BookArrangement:
    """Arrange stored book columns (:func:`book_columns`, or read back from files): loading.

    The instruments are parsed from their symbols and resolved once; the CSR arrays and the
    balances are wrapped as they are (no object per position, no sort).
    """
    symbols = [str(s) for s in columns["symbols"].tolist()]
    resolved = resolve_instruments([parse_symbol(s) for s in symbols], market)
    ids = tuple(columns["ids"].tolist())
    matrix = sparse.csr_array(
        (columns["quantity"], columns["indices"], columns["indptr"]),
        shape=(len(ids), len(symbols)),
    )
    assets = tuple(str(a) for a in columns["assets"].tolist())
    return BookArrangement(ids, resolved, matrix, assets, columns["balances"], market=market)


def array_book(
    market: MarketSnapshot,
    n_accounts: int,
    seed: int = SEED,
    positions: int = POSITIONS,
    n_instruments: int | None = None,
) -> BookArrangement:
    """The bench's accounts built from arrays: :func:`load_book` of :func:`book_columns`."""
    columns = book_columns(market, n_accounts, seed, positions, n_instruments)
    return load_book(columns, market)


def es_model(scenarios: int = ES_SCENARIOS) -> Any:
    """``pmargin-es`` on ``scenarios`` historical days, no stressed or floor sets."""
    model = get_model("pmargin-es")
    return model.with_params(  # type: ignore[attr-defined]
        lookback_days=scenarios,
        stress_method=CorrelationStressMethod.NONE,
        apc_method=ApcMethod.NONE,
    )


def scale_job(name: str, n_accounts: int, reference: bool) -> dict[str, float]:
    """One measurement in this process: book loading, first and best compute, peak memory.

    A small book is margined first (JIT caches, parameter files), then the big book's columns
    are generated (:func:`book_columns`, timed apart: the benchmark's own random draws) and
    saved as one ``.npy`` file per column; book loading (timed) reads those files and arranges
    them (:func:`load_book`); then the book is margined once (first call: fresh memory) and twice
    more (best).
    """
    market = load_market(example_path("example_market.json"))
    model = es_model() if name == "pmargin-es" else get_model(name)
    method = model.compute_reference if reference else model.compute  # type: ignore[union-attr]
    method(array_book(market, 200, seed=SEED + 1))
    start = time.process_time()
    columns = book_columns(market, n_accounts)
    generate = time.process_time() - start
    with tempfile.TemporaryDirectory() as folder:
        for key, values in columns.items():
            np.save(os.path.join(folder, f"{key}.npy"), values)
        names = list(columns)
        del columns
        start = time.process_time()
        stored = {key: np.load(os.path.join(folder, f"{key}.npy")) for key in names}
        book = load_book(stored, market)
        load = time.process_time() - start
    start = time.process_time()
    method(book)
    first = time.process_time() - start
    best = best_time(lambda: method(book), repeats=2, clock=time.process_time)
    peak = _peak_rss()
    return {
        "generate": generate,
        "load": load,
        "first": first,
        "best": best,
        "peak": float(peak),
    }


def _peak_rss() -> int:
    """Bytes: this process's peak resident set since it started its program.

    Linux's ``VmHWM`` (``/proc/self/status``) belongs to the program's own address space;
    ``getrusage``'s ``ru_maxrss`` also carries the peak of the process before ``exec`` (a
    ``make bench`` parent of several GiB forked this one), so it is only the fallback.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def _scale_run(name: str, n_accounts: int, reference: bool = False) -> dict[str, float]:
    """:func:`scale_job` in a fresh interpreter (its own peak memory)."""
    code = (
        "import json, sys; from benchmarks.bench_margin import scale_job; "
        f"print(json.dumps(scale_job({name!r}, {n_accounts}, {reference})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_scale() -> list[Row]:
    """1M accounts x ~20 positions per model from arrays, growth over sizes; ES 1,000 x 100k.

    Each line is one fresh process (CPU time of one core; peak RSS of the process, book
    included). Deribit, standard and okx also run their ``compute_reference`` twin (the previous
    implementation) at the largest size, in the same run: the ratio is the gain; so does
    ``pmargin-es`` (the dense ``(n x S)`` P&L matrix, then its tail, against the fused blocks).
    """
    rows: list[Row] = []
    sizes = list(SCALE_SIZES)
    for name in SCALE_MODELS:
        runs = [_scale_run(name, n) for n in sizes]
        big, n = runs[-1], sizes[-1]
        total = big["load"] + big["first"]
        growth = fit_exponent(sizes, [r["best"] for r in runs]) if len(sizes) > 2 else float("nan")
        note = (
            f"book loading (.npy columns -> arranged) {big['load']:.2f} s + first compute "
            f"{big['first']:.2f} s "
            f"(best {big['best']:.2f} s) = {total:.2f} s: target < 2 s "
            f"{'met' if total < 2.0 else 'missed'}; peak {big['peak'] / 2**30:.2f} GiB; "
            f"growth exponent {growth:.2f} over {', '.join(f'{s:,}' for s in sizes)}; "
            f"the generator's random draws (untimed) {big['generate']:.2f} s"
        )
        if name in ("deribit", "standard", "okx"):
            ref = _scale_run(name, n, reference=True)
            note += (
                f"; compute_reference {ref['best']:.2f} s (x{ref['best'] / big['best']:.1f}), "
                f"peak {ref['peak'] / 2**30:.2f} GiB"
            )
        rows.append(Row(f"margin scale {name}", "compute, book from arrays", n, total, note))
    es = _scale_run("pmargin-es", ES_ACCOUNTS)
    es_ref = _scale_run("pmargin-es", ES_ACCOUNTS, reference=True)
    rows.append(
        Row(
            "margin scale pmargin-es",
            f"compute, {ES_SCENARIOS:,} scenarios",
            ES_ACCOUNTS,
            es["best"],
            f"target < 5 s {'met' if es['best'] < 5.0 else 'missed'}; first call "
            f"{es['first']:.2f} s; peak {es['peak'] / 2**30:.2f} GiB; fused P&L + tail "
            f"({fused_kernel_name()}); compute_reference (dense (n x S) P&L, then its tail) "
            f"{es_ref['best']:.2f} s (x{es_ref['best'] / es['best']:.1f}), "
            f"peak {es_ref['peak'] / 2**30:.2f} GiB",
        )
    )
    return rows


# --------------------------------------------------------------------------- growth (issue 11)

GROWTH_ACCOUNTS = (5_000, 10_000, 20_000, 40_000)
GROWTH_POSITIONS = (5, 10, 20, 40)
GROWTH_INSTRUMENTS = (600, 1_200, 2_400, 4_800)
GROWTH_BASE = 10_000
"""Accounts of the positions and instruments series (~20 positions over the whole pool)."""


def run_growth(market: MarketSnapshot, name: str = "deribit") -> list[Row]:
    """``compute`` of array-built books: growth in accounts, positions per account, instruments.

    CPU seconds, best of 5, the book built outside the timing (:func:`array_book`); one of
    the three variables moves at a time, the others at ``GROWTH_BASE`` accounts of about
    ``POSITIONS`` positions over the whole pool.
    """
    model = get_model(name)

    def job(variable: str, n: int) -> Callable[[], object]:
        size = {"n_accounts": GROWTH_BASE, "positions": POSITIONS, "n_instruments": None}
        book = array_book(market, **{**size, variable: n})  # type: ignore[arg-type]
        return lambda: model.compute(book)

    series = (
        ("accounts", GROWTH_ACCOUNTS, "n_accounts"),
        ("positions per account", GROWTH_POSITIONS, "positions"),
        ("distinct instruments", GROWTH_INSTRUMENTS, "n_instruments"),
    )
    return [
        growth(f"margin growth {name}", v, sizes, functools.partial(job, k), repeats=5)
        for v, sizes, k in series
    ]

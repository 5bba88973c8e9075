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

import os
import time
from datetime import timedelta

import numpy as np

from benchmarks._common import Row, best_time
from pmargin.book import Account, BookArrangement, Portfolio, Position, arrange
from pmargin.engine import example_path
from pmargin.instruments import Instrument, parse_symbol
from pmargin.margin import get_model
from pmargin.margin.deribit import DeribitModel, clamp_delta_one, deribit_scenarios
from pmargin.market import MarketSnapshot, load_market
from pmargin.pretrade import Order, PreTradeChecker
from pmargin.risk import account_pnl, instrument_pnl
from pmargin.risk._kernel_reference import account_pnl_by_currency_reference
from pmargin.scenarios import ScenarioSet

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
    return rows

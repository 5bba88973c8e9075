"""One account's margin after an order, through the account what-if path and its reference.

The book: the example portfolio of ``N_ACCOUNTS`` accounts (seed 7) over the example market,
arranged and margined once per model (not timed). Then ``N_ORDERS`` random orders (a random
account; an instrument the book holds, 1 in 4 times one it does not; a normal quantity of
base units; half at the mark, half within 2 % of it) are answered by
:meth:`AccountWhatIf.margin_after` (the model's incremental path where it has one -- Deribit's
S:PM, ``standard``, ``okx`` with MR8 off --, else the account's one-row book margined alone) and by
:meth:`AccountWhatIf.margin_after_reference` (the account rebuilt from its explicit positions
and balances and margined alone) in the same run: one untimed pass of both over every order
(it fills the models' per-instrument caches for both paths and asserts they agree: equity, IM,
MM to 1e-9 relative), then a timed pass of each. Reported: the median microseconds per call of
each and their ratio. ``pmargin-es`` needs the shared data folder; without it its rows are
skipped with a note.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import numpy as np

from benchmarks._common import Row
from pmargin.book import arrange, example_portfolio
from pmargin.errors import InputError
from pmargin.health import AccountWhatIf, MarginSnapshot, Trade
from pmargin.instruments import Instrument, parse_symbol
from pmargin.margin import get_model
from pmargin.market import load_market

MODELS = ("standard", "deribit", "okx", "pmargin-es")
N_ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_WHATIF_ACCOUNTS", "10000"))
N_ORDERS = int(os.environ.get("PMARGIN_BENCH_WHATIF_ORDERS", "200"))
NEW_SYMBOLS = ("BTC-PERPETUAL", "ETH-26DEC25-5000-C", "BTC_USDC-26DEC25-70000-P")
_EXAMPLE_MARKET = os.path.join(
    os.path.dirname(__file__), "..", "src", "pmargin", "data", "example_market.json"
)


def _orders(whatif: AccountWhatIf, n: int) -> list[tuple[int, Trade]]:
    """``n`` random (row, trade) pairs, reproducible (seed 3)."""
    rng = np.random.default_rng(3)
    held = list(whatif.book.instruments)
    new = [parse_symbol(s) for s in NEW_SYMBOLS]
    out = []
    for _ in range(n):
        row = int(rng.integers(len(whatif.book.account_ids)))
        pool: list[Instrument] = held if rng.random() < 0.75 else new
        instrument = pool[int(rng.integers(len(pool)))]
        price = None
        if rng.random() < 0.5:
            if instrument.is_futures_style:
                mark = float(whatif.resolved(instrument)[0].underlying_price[0])
            else:
                mark = whatif.mark(instrument)
            price = mark * float(rng.uniform(0.98, 1.02))
        out.append((row, Trade(instrument, float(rng.normal(0.0, 5.0)) or 1.0, price)))
    return out


def _timed(
    func: Callable[[int, list[Trade]], MarginSnapshot], orders: list[tuple[int, Trade]]
) -> list[float]:
    """Seconds of each call ``func(row, [trade])``."""
    out = []
    for row, trade in orders:
        start = time.perf_counter()
        func(row, [trade])
        out.append(time.perf_counter() - start)
    return out


def _agree(fast: MarginSnapshot, slow: MarginSnapshot) -> bool:
    pairs = [
        (fast.equity, slow.equity),
        (fast.initial_margin, slow.initial_margin),
        (fast.maintenance_margin, slow.maintenance_margin),
    ]
    return all(abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 1e-9 for a, b in pairs)


def run() -> list[Row]:
    market = load_market(_EXAMPLE_MARKET)
    book = arrange(example_portfolio(market, N_ACCOUNTS), market)
    rows: list[Row] = []
    for name in MODELS:
        model = get_model(name)
        try:
            whatif = AccountWhatIf(model, book, market)
        except InputError as exc:
            print(f"bench_whatif: {name} skipped: {exc}", file=sys.stderr)
            continue
        orders = _orders(whatif, N_ORDERS)
        for row, trade in orders:  # warm-up (model caches filled for both) and agreement
            fast = whatif.margin_after(row, [trade])
            slow = whatif.margin_after_reference(row, [trade])
            assert _agree(fast, slow), f"{name}: fast and reference differ for row {row}"
        fast_s = _timed(whatif.margin_after, orders)
        slow_s = _timed(whatif.margin_after_reference, orders)
        fast_m, slow_m = float(np.median(fast_s)), float(np.median(slow_s))
        path = "incremental" if whatif.incremental is not None else "one-row book"
        rows.append(
            Row(
                f"what-if {name}",
                "margin_after_reference (account rebuilt)",
                1,
                slow_m,
                f"median {slow_m * 1e6:.0f} us over {N_ORDERS} orders, {N_ACCOUNTS} accounts",
            )
        )
        rows.append(
            Row(
                f"what-if {name}",
                f"margin_after ({path})",
                1,
                fast_m,
                f"median {fast_m * 1e6:.0f} us, x{slow_m / fast_m:.1f} the reference; "
                "agree to 1e-9",
            )
        )
    return rows

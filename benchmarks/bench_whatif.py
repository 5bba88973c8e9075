"""One account's margin after an order: the what-if path against re-margining the account.

The book: the example portfolio of ``N_ACCOUNTS`` accounts (seed 7) over the example market,
arranged and margined once per model (not timed); a model that cannot margin every account
(``derive-pmrm2``: linear options and perpetuals only) gets the accounts and order instruments
it supports. Then ``N_ORDERS`` random orders (a random account; an instrument the book holds,
1 in 4 times one it does not; a normal quantity of base units; half at the mark, half within
2 % of it) are answered three ways in the same run:

* **what-if**: :meth:`AccountWhatIf.margin_after`, the model's incremental path where it has
  one (every registered model: Deribit S:PM and X:PM, ``standard``, ``okx`` with MR8 off,
  ``derive-pmrm2``, ``tims``, ``pmargin-es``/``-var``/``-mc``), else the account's one-row
  book margined alone;
* **one-row**: the same call on a what-if built with ``incremental=False``: the account's row
  cut out of the book, changed, and margined alone by the model (re-margining a one-row book,
  the baseline of the targets);
* **reference**: :meth:`AccountWhatIf.margin_after_reference`, the account rebuilt from its
  explicit positions and balances, margined alone, its equity valued from scratch.

One untimed pass of all three over every order fills the caches and asserts they agree
(equity, IM, MM to 1e-9 relative); then each is timed over every order, ``REPEATS`` times,
and the best pass's mean microseconds per call is kept. Reported per model: the what-if's
mean, the one-row mean, their ratio, and the targets (what-if below 200 us for ``standard``,
``deribit`` and ``okx``; at least 20x the one-row re-margin for every model), each marked met or
missed. Every registered model (:data:`pmargin.margin.MODELS`) has a row. The scenario-risk
models need the shared data folder; without it their rows are skipped with a note. Last, the
growth of ``deribit``'s what-if in the accounts of the book (``GROWTH_SHARES`` of it, 100
orders each; CPU seconds): one order's cost should not depend on the book (exponent near 0).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import numpy as np

from benchmarks._common import Row, growth
from pmargin.book import BookArrangement, arrange, example_portfolio
from pmargin.errors import InputError
from pmargin.health import AccountWhatIf, MarginSnapshot, Trade
from pmargin.instruments import Instrument, parse_symbol
from pmargin.margin import MODELS, get_model
from pmargin.market import load_market

UNDER_200_US = ("standard", "deribit", "okx")
TARGET_US = 200.0
TARGET_RATIO = 20.0
N_ACCOUNTS = int(os.environ.get("PMARGIN_BENCH_WHATIF_ACCOUNTS", "10000"))
N_ORDERS = int(os.environ.get("PMARGIN_BENCH_WHATIF_ORDERS", "200"))
REPEATS = 3
GROWTH_MODEL = "deribit"
GROWTH_ORDERS = 100
GROWTH_SHARES = (0.1, 0.3, 1.0)  # of N_ACCOUNTS: the book sizes of the growth series
NEW_SYMBOLS = ("BTC-PERPETUAL", "ETH-26DEC25-5000-C", "BTC_USDC-26DEC25-70000-P")
_EXAMPLE_MARKET = os.path.join(
    os.path.dirname(__file__), "..", "src", "pmargin", "data", "example_market.json"
)


def _orders(
    whatif: AccountWhatIf, n: int, new: list[Instrument] | None = None
) -> list[tuple[int, Trade]]:
    """``n`` random (row, trade) pairs, reproducible (seed 3)."""
    rng = np.random.default_rng(3)
    held = list(whatif.book.instruments)
    new = [parse_symbol(s) for s in NEW_SYMBOLS] if new is None else new
    out = []
    for _ in range(n):
        row = int(rng.integers(len(whatif.book.account_ids)))
        pool: list[Instrument] = held if (rng.random() < 0.75 or not new) else new
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


def _mean_us(
    func: Callable[[int, list[Trade]], MarginSnapshot], orders: list[tuple[int, Trade]]
) -> float:
    """Best of ``REPEATS`` passes: mean microseconds of ``func(row, [trade])`` per order."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for row, trade in orders:
            func(row, [trade])
        best = min(best, (time.perf_counter() - start) / len(orders))
    return best * 1e6


def _agree(fast: MarginSnapshot, slow: MarginSnapshot) -> bool:
    pairs = [
        (fast.equity, slow.equity),
        (fast.initial_margin, slow.initial_margin),
        (fast.maintenance_margin, slow.maintenance_margin),
    ]
    return all(abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 1e-9 for a, b in pairs)


def _book_for(name: str, book: BookArrangement) -> tuple[BookArrangement, list[Instrument]]:
    """The accounts of ``book`` the model can margin, and the new instruments it supports."""
    can = get_model(name).capabilities
    supported = can.supported_accounts(book)
    if not supported.all():
        book = book.take_accounts(np.flatnonzero(supported))
    new = [i for i in (parse_symbol(s) for s in NEW_SYMBOLS) if can.supports(i)]
    return book, new


def _mark(met: bool) -> str:
    return "met" if met else "MISSED"


def run() -> list[Row]:
    market = load_market(_EXAMPLE_MARKET)
    whole = arrange(example_portfolio(market, N_ACCOUNTS), market)
    rows: list[Row] = []
    table: list[str] = []
    for name in MODELS:  # every registered model
        model = get_model(name)
        book, new = _book_for(name, whole)
        try:
            whatif = AccountWhatIf(model, book)
        except InputError as exc:
            print(f"bench_whatif: {name} skipped: {exc}", file=sys.stderr)
            continue
        alone = AccountWhatIf(model, book, whatif.result, incremental=False)
        orders = _orders(whatif, N_ORDERS, new)
        for row, trade in orders:  # warm-up (every cache filled) and agreement
            fast = whatif.margin_after(row, [trade])
            one_row = alone.margin_after(row, [trade])
            slow = whatif.margin_after_reference(row, [trade])
            assert _agree(fast, slow), f"{name}: fast and reference differ for row {row}"
            assert _agree(one_row, slow), f"{name}: one-row and reference differ for row {row}"
        fast_us = _mean_us(whatif.margin_after, orders)
        alone_us = _mean_us(alone.margin_after, orders)
        reference_us = _mean_us(whatif.margin_after_reference, orders)
        ratio = alone_us / fast_us
        path = "incremental" if whatif.incremental is not None else "one-row book"
        accounts = f"{len(book.account_ids)} accounts"
        checks = [f"x{TARGET_RATIO:.0f}: {_mark(ratio >= TARGET_RATIO)}"]
        if name in UNDER_200_US:
            checks.insert(0, f"{TARGET_US:.0f} us: {_mark(fast_us < TARGET_US)}")
        table.append(
            f"{name:<14} {path:<13} {fast_us:>9.0f} {alone_us:>9.0f} {ratio:>7.1f} "
            f"{reference_us:>9.0f}   {', '.join(checks)}"
        )
        label = f"what-if {name}"
        rows.append(
            Row(label, "one-row re-margin", len(orders), alone_us * 1e-6 * len(orders),
                f"mean {alone_us:.0f} us over {N_ORDERS} orders, {accounts}")
        )  # fmt: skip
        rows.append(
            Row(label, "margin_after_reference", len(orders), reference_us * 1e-6 * len(orders),
                f"mean {reference_us:.0f} us (account rebuilt, equity from scratch)")
        )  # fmt: skip
        rows.append(
            Row(label, f"margin_after ({path})", len(orders), fast_us * 1e-6 * len(orders),
                f"mean {fast_us:.0f} us, x{ratio:.1f} the one-row re-margin; {', '.join(checks)}")
        )  # fmt: skip
    rows.append(_growth(whole))
    header = f"{'model':<14} {'path':<13} {'what-if':>9} {'one-row':>9} {'ratio':>7} {'ref':>9}"
    print("bench_whatif: mean us per what-if (best of 3 passes)", file=sys.stderr)
    print(header + "   targets", file=sys.stderr)
    for line in table:
        print(line, file=sys.stderr)
    return rows


def _growth(whole: BookArrangement, name: str = GROWTH_MODEL) -> Row:
    """``margin_after`` over ``GROWTH_ORDERS`` orders as the book grows (CPU, best of 3).

    The book: the first ``GROWTH_SHARES`` of ``whole``'s accounts; the what-if (its margin of
    the book) is built outside the timing. The orders are drawn afresh for each size (same
    seed), so the exponent, ideally 0, says how much one order's cost depends on the book.
    """
    model = get_model(name)

    def job(n: int) -> Callable[[], object]:
        book, new = _book_for(name, whole.take_accounts(np.arange(n)))
        whatif = AccountWhatIf(model, book)
        orders = _orders(whatif, GROWTH_ORDERS, new)
        return lambda: [whatif.margin_after(row, [trade]) for row, trade in orders]

    n = len(whole.account_ids)
    sizes = [max(10, round(n * share)) for share in GROWTH_SHARES]
    return growth(
        f"what-if {name}", "accounts in the book", sizes, job, context=f"{GROWTH_ORDERS} orders"
    )

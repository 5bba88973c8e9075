"""The hedge optimiser's quality and speed (docs/hedge.md): ``python -m benchmarks hedge``.

* Gain over the best single-instrument hedge (the account's delta in a perpetual, whole lots)
  on the backtest's representative books (``pmargin.backtest.default_books``, coin-settled
  accounts struck on the shipped example market), universe: every instrument of the market;
  ``IM + cost`` after each, and the optimiser's time per account.
* Optimality gap against brute force with the true model on small universes (three
  instruments, coarse lots, every lot vector in ``[-3, 3]^3``) for every model that margins
  the book.

``python -m benchmarks.bench_hedge`` prints both tables in Markdown.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._common import Row
from pmargin.backtest import build_portfolio, default_books
from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.engine import EXAMPLE_MARKET, example_path
from pmargin.errors import PmarginError
from pmargin.margin import get_model
from pmargin.market import MarketSnapshot, load_market
from pmargin.optimise import (
    HedgeLimits,
    HedgeProblem,
    TradingRules,
    delta_hedge,
    hedge_universe,
    load_trading_rules,
    optimise_hedge,
    optimise_hedge_reference,
)

GAIN_MODELS = ("deribit", "deribit-cross", "standard", "okx")
GAP_MODELS = ("deribit", "deribit-cross", "standard", "okx")
COARSE = TradingRules(option_base=0.5, linear_base=0.5, inverse_contracts=2_000.0)
SMALL = ("BTC-PERPETUAL", "BTC-28NOV25-95000-P", "BTC-26DEC25")
GAP_BOOKS = {
    "short vol + perp": [
        {"instrument": "BTC-26DEC25-90000-P", "quantity": -3},
        {"instrument": "BTC-28NOV25-110000-C", "quantity": -2},
        {"instrument": "BTC-PERPETUAL", "quantity": 50_000},
    ],
    "long future": [{"instrument": "BTC-27MAR26", "quantity": 80_000}],
    "short put": [{"instrument": "BTC-26DEC25-90000-P", "quantity": -2}],
}


def _market() -> MarketSnapshot:
    return load_market(example_path(EXAMPLE_MARKET))


def gain_rows(market: MarketSnapshot) -> list[tuple[str, str, float, float, float, str, float]]:
    """Per (book, model): IM now, delta hedge and optimiser ``IM + cost``, method, seconds."""
    portfolio, ids = build_portfolio(tuple(default_books().values()), market, linear_twins=False)
    book = arrange(portfolio, market)
    universe = hedge_universe(book, "*", load_trading_rules())
    out = []
    for name in GAIN_MODELS:
        model = get_model(name)
        result = model.compute(book)
        for account in ids:
            problem = HedgeProblem(model, book, account, universe, HedgeLimits(), None, result)
            try:
                baseline = delta_hedge(problem).total_after
            except PmarginError:
                baseline = problem.im_before
            start = time.perf_counter()
            proposal = optimise_hedge(problem)
            seconds = time.perf_counter() - start
            row = (account, name, problem.im_before, baseline, proposal.total_after)
            out.append((*row, proposal.method, seconds))
    return out


def gap_rows(market: MarketSnapshot) -> list[tuple[str, str, str, float, float, float]]:
    """Per (book, model): method, optimiser and brute-force ``IM + cost``, relative gap."""
    out = []
    for label, positions in GAP_BOOKS.items():
        account = {"id": "a", "balances": {"BTC": 2.0}, "positions": positions}
        book: BookArrangement = arrange(portfolio_from_dict({"accounts": [account]}), market)
        everything = hedge_universe(book, "*", COARSE)
        universe = everything.take([everything.symbols.index(s) for s in SMALL])
        for name in GAP_MODELS:
            limits = HedgeLimits(max_size=6_000.0, window=None)
            problem = HedgeProblem(get_model(name), book, "a", universe, limits)
            problem.max_lots = np.minimum(problem.max_lots, 3)
            proposal = optimise_hedge(problem)
            brute = optimise_hedge_reference(problem, 3)
            gap = (proposal.total_after - brute.total_after) / brute.total_after
            out.append((label, name, proposal.method, proposal.total_after, brute.total_after, gap))
    return out


def run() -> list[Row]:
    """Seconds per optimised account (representative books, every model of GAIN_MODELS)."""
    rows = gain_rows(_market())
    out = []
    for name in GAIN_MODELS:
        mine = [r for r in rows if r[1] == name]
        seconds = sum(r[6] for r in mine)
        gain = sum(r[3] - r[4] for r in mine) / max(sum(r[3] for r in mine), 1e-12)
        note = f"IM+cost {gain:.1%} below the perpetual delta hedge over {len(mine)} books"
        out.append(Row("hedge", name, len(mine), seconds, note))
    return out


def main() -> None:
    """Print the gain and gap tables in Markdown."""
    market = _market()
    print("| book | model | IM now | delta hedge IM+cost | optimiser IM+cost | gain | method | s |")
    print("|---|---|---|---|---|---|---|---|")
    for account, name, im, base, best, method, seconds in gain_rows(market):
        gain = (base - best) / base if base > 0 else 0.0
        print(
            f"| {account} | {name} | {im:,.0f} | {base:,.0f} | {best:,.0f} | {gain:.1%} | "
            f"{method} | {seconds:.2f} |"
        )
    print()
    print("| book | model | method | optimiser IM+cost | brute force IM+cost | gap |")
    print("|---|---|---|---|---|---|")
    for label, name, method, best, brute, gap in gap_rows(market):
        print(f"| {label} | {name} | {method} | {best:,.2f} | {brute:,.2f} | {gap:.2e} |")


if __name__ == "__main__":
    main()

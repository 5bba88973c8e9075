"""Committed changes: the what-if's fast path equals the account rebuilt from scratch, always.

Random sequences of what-ifs and commits (one or two trades: opening, closing, halving or
flipping a position, in held and new instruments, at the mark or 3 % away; sometimes a balance
delta) on random accounts, under every registered model that can margin the book (each on the
accounts and instruments it supports). After every step:

* ``margin_after`` (side-effect free) equals ``margin_after_reference`` (the account rebuilt
  from its explicit positions, unrealised P&L and balances after its commits, margined alone,
  equity valued from scratch);
* a commit's snapshot equals the reference of the committed account with no change, and a
  later ``margin_after`` with no change returns it;
* at the end, ``book_after_commits()`` margined whole gives every account's snapshot, and its
  equity every account's equity.

Tolerance: 1e-9 relative (1e-9 USD absolute near 0). The fast paths sum the same P&L terms in
another order and carry increments across commits (each step's rounding is ~1e-16 relative);
the reference re-sums from scratch, so they differ by rounding only; any difference of a rule
(a missed position, a wrong fill booking, a stale cache) is many orders larger.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmargin.book import BookArrangement, arrange, example_portfolio
from pmargin.collateral import account_equity
from pmargin.engine import example_path
from pmargin.errors import InputError
from pmargin.health import AccountWhatIf, MarginSnapshot, Trade
from pmargin.instruments import Instrument, parse_symbol
from pmargin.margin import MODELS, MarginModel, MarginResult, get_model
from pmargin.market import load_market

MARKET = load_market(example_path("example_market.json"))
BOOK = arrange(example_portfolio(MARKET, 40, seed=17), MARKET)
NEW_SYMBOLS = (
    "BTC-PERPETUAL",
    "ETH-26DEC25-5000-C",
    "BTC-26DEC25-150000-P",
    "BTC_USDC-26DEC25-70000-P",
    "ETH_USDC-PERPETUAL",
)
ASSETS = {"BTC": 1.0, "ETH": 10.0, "USDC": 20_000.0}  # scale of a random balance delta
SLOW = {"pmargin-es", "pmargin-var", "pmargin-mc"}  # ~10 ms or more per one-row margin
REL = 1e-9


@functools.cache
def _case(name: str) -> tuple[MarginModel, BookArrangement, MarginResult, tuple[Instrument, ...]]:
    """The model, the accounts of ``BOOK`` it can margin (at most 12), its result, instruments."""
    try:
        model = get_model(name)
    except (InputError, FileNotFoundError) as exc:
        pytest.skip(f"{name}: {exc}")
    can = model.capabilities
    rows = np.flatnonzero(can.supported_accounts(BOOK))[:12]
    if rows.size < 3:
        pytest.skip(f"{name} margins fewer than 3 accounts of the example book")
    book = BOOK.take_accounts(rows)
    pool = [i for i in book.instruments] + [parse_symbol(s) for s in NEW_SYMBOLS]
    instruments = tuple(i for i in pool if can.supports(i))
    try:
        result = model.compute(book)
    except InputError as exc:
        pytest.skip(f"{name}: {exc}")
    return model, book, result, instruments


_TRADE = st.tuples(
    st.integers(0, 10**6),
    st.sampled_from(("open", "close", "half", "flip")),
    st.floats(-8.0, 8.0, allow_nan=False),
    st.sampled_from((None, 0.97, 1.03)),
)
_STEP = st.tuples(
    st.integers(0, 10**6),
    st.lists(_TRADE, min_size=0, max_size=2),
    st.one_of(st.none(), st.tuples(st.sampled_from(tuple(ASSETS)), st.floats(-1.0, 1.0))),
    st.booleans(),
)


def _trade(
    whatif: AccountWhatIf,
    row: int,
    instruments: tuple[Instrument, ...],
    spec: tuple[int, str, float, float | None],
) -> Trade:
    pick, kind, size, away = spec
    held = whatif.account_state(row).positions
    if kind == "open" or not held:
        instrument = instruments[pick % len(instruments)]
        quantity = size or 1.0
    else:
        columns = sorted(held)
        column = columns[pick % len(columns)]
        instrument = whatif.instrument(column)
        quantity = {"close": -1.0, "half": -0.5, "flip": -2.0}[kind] * held[column]
    price = None
    if away is not None:
        if instrument.is_futures_style:
            price = float(whatif.resolved(instrument)[0].underlying_price[0]) * away
        else:
            price = whatif.mark(instrument) * away
    return Trade(instrument, quantity, price)


def _close(fast: MarginSnapshot, slow: MarginSnapshot, what: str) -> None:
    for name in ("equity", "initial_margin", "maintenance_margin"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a == pytest.approx(b, rel=REL, abs=1e-9), (what, name, a, b)


def _run(
    name: str,
    steps: list[
        tuple[int, list[tuple[int, str, float, float | None]], tuple[str, float] | None, bool]
    ],
) -> None:
    model, book, result, instruments = _case(name)
    whatif = AccountWhatIf(model, book, result)
    n = len(book.account_ids)
    for k, (pick, trade_specs, balance, commit) in enumerate(steps):
        row = pick % n
        trades = [_trade(whatif, row, instruments, spec) for spec in trade_specs]
        balances = None if balance is None else {balance[0]: balance[1] * ASSETS[balance[0]]}
        what = f"{name} step {k} row {row}"
        if commit:
            after = whatif.commit(row, trades, balances)
            _close(after, whatif.margin_after_reference(row), what + " commit")
            _close(whatif.margin_after(row), after, what + " after commit")
            _close(whatif.snapshot(row), after, what + " snapshot")
        else:
            fast = whatif.margin_after(row, trades, balances)
            _close(fast, whatif.margin_after_reference(row, trades, balances), what)
    final = whatif.book_after_commits()
    margin = model.compute(final)
    equity = account_equity(final).equity
    for row in range(n):
        whole = MarginSnapshot(
            float(equity[row]),
            float(margin.initial_margin[row]),
            float(margin.maintenance_margin[row]),
        )
        _close(whatif.snapshot(row), whole, f"{name} book_after_commits row {row}")


FAST_MODELS = [m for m in MODELS if m not in SLOW]


@pytest.mark.parametrize("name", FAST_MODELS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_STEP, min_size=1, max_size=8))
def test_commits_and_what_ifs_equal_the_rebuilt_account(name: str, steps: list) -> None:  # type: ignore[type-arg]
    _run(name, steps)


@pytest.mark.parametrize("name", sorted(SLOW))
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_STEP, min_size=1, max_size=5))
def test_commits_under_scenario_risk_models(name: str, steps: list) -> None:  # type: ignore[type-arg]
    _run(name, steps)


def test_the_book_after_no_commit_is_the_book() -> None:
    model, book, result, _ = _case("standard")
    assert AccountWhatIf(model, book, result).book_after_commits() is book


def test_a_commit_changes_only_its_account_and_margin_after_has_no_side_effect() -> None:
    model, book, result, _ = _case("deribit")
    whatif = AccountWhatIf(model, book, result)
    trade = [Trade(parse_symbol("BTC-PERPETUAL"), 3.0)]
    before = [whatif.snapshot(r) for r in range(3)]
    whatif.margin_after(1, trade)
    assert [whatif.snapshot(r) for r in range(3)] == before
    committed = whatif.commit(1, trade)
    assert whatif.snapshot(0) == before[0]
    assert whatif.snapshot(2) == before[2]
    assert whatif.snapshot(1) == committed
    assert whatif.committed_rows == (1,)
    column = whatif.column("BTC-PERPETUAL")
    assert column is not None
    held = whatif.account_state(1).positions[column]
    assert held == pytest.approx(before_held(book, 1, "BTC-PERPETUAL") + 3.0)
    twice = whatif.commit(1, trade)
    _close(twice, whatif.margin_after_reference(1), "second commit")


def before_held(book: BookArrangement, row: int, symbol: str) -> float:
    column = book.column(symbol)
    return 0.0 if column is None else float(book.quantity[[row], :].toarray()[0, column])


def test_closing_a_future_realises_its_unrealised_pnl_into_the_cash_asset() -> None:
    model, book, result, _ = _case("standard")
    whatif = AccountWhatIf(model, book, result)
    perp = parse_symbol("BTC-PERPETUAL")
    forward = float(whatif.resolved(perp)[0].underlying_price[0])
    whatif.commit(0, [Trade(perp, 2.0, forward * 0.99)])  # opens 2 BTC, 1 % below the mark
    column = whatif.column("BTC-PERPETUAL")
    assert column is not None
    state = whatif.account_state(0)
    unrealised, btc = state.unrealised[column], state.balances.get("BTC", 0.0)
    equity = state.equity
    whatif.commit(0, [Trade(perp, -state.positions[column])])  # closes it at the mark
    closed = whatif.account_state(0)
    assert column not in closed.positions
    assert column not in closed.unrealised
    assert closed.balances["BTC"] == pytest.approx(btc + unrealised, rel=1e-15)
    assert closed.equity == pytest.approx(equity, rel=1e-15)

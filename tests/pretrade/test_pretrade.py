"""Pre-trade checks: the account after an order equals the book rebuilt with it from scratch."""

from __future__ import annotations

import math
from typing import Any

import _books
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmargin.book import arrange, portfolio_from_dict
from pmargin.collateral import account_equity
from pmargin.errors import InputError
from pmargin.health import HealthStatus
from pmargin.instruments import Kind, parse_symbol
from pmargin.margin import get_model
from pmargin.pretrade import Order, PreTradeChecker
from pmargin.valuation import resolve_instruments, value_instruments

MARKET = _books.market()
UNIVERSE: tuple[str, ...] = _books.UNIVERSE
MODELS = ("deribit", "standard")

ACCOUNTS: list[dict[str, Any]] = [
    {
        "id": "coin",
        "balances": {"BTC": 3.0, "ETH": 10.0},
        "positions": [
            {"instrument": "BTC-PERPETUAL", "quantity": 50_000.0, "avg_price": 94_000.0},
            {"instrument": "BTC-27DEC24-100000-C", "quantity": -2.0},
            {"instrument": "ETH-27DEC24-3500-C", "quantity": 5.0},
        ],
    },
    {
        "id": "usdc",
        "balances": {"USDC": 50_000.0},
        "positions": [
            {"instrument": "BTC_USDC-PERPETUAL", "quantity": 0.5, "avg_price": 96_000.0},
            {"instrument": "BTC_USDC-27DEC24-95000-P", "quantity": -1.0},
        ],
    },
    {"id": "empty", "balances": {"BTC": 1.0}, "positions": []},
]


def _fill(symbol: str) -> tuple[float, str | None]:
    """Mark price of one base unit of an option or spot (premium currency) and its cash asset."""
    instrument = parse_symbol(symbol)
    if instrument.kind in (Kind.FUTURE, Kind.PERPETUAL):
        return 0.0, None
    resolved = resolve_instruments([instrument], MARKET)
    cash = instrument.quote if instrument.kind is Kind.SPOT else instrument.settlement_currency
    return float(value_instruments(resolved).price[0]), cash


def _from_scratch(account_id: str, symbol: str, quantity: float) -> list[dict[str, Any]]:
    """The accounts with the order added as a position, its premium paid from the balance."""
    accounts = [
        {**a, "balances": dict(a["balances"]), "positions": list(a["positions"])} for a in ACCOUNTS
    ]
    account = next(a for a in accounts if a["id"] == account_id)
    account["positions"].append({"instrument": symbol, "quantity": quantity, "unit": "base"})
    price, cash = _fill(symbol)
    if cash is not None:
        account["balances"][cash] = account["balances"].get(cash, 0.0) - quantity * price
    return accounts


@pytest.fixture(scope="module")
def checkers() -> dict[str, PreTradeChecker]:
    book = arrange(portfolio_from_dict({"accounts": ACCOUNTS}), MARKET)
    return {name: PreTradeChecker(get_model(name), book) for name in MODELS}


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=30, deadline=None)
@given(
    account=st.sampled_from([a["id"] for a in ACCOUNTS]),
    symbol=st.sampled_from(UNIVERSE),
    quantity=st.floats(-10.0, 10.0).filter(lambda q: abs(q) > 1e-3),
)
def test_check_equals_margin_of_the_book_rebuilt_with_the_order(
    checkers: dict[str, PreTradeChecker], model: str, account: str, symbol: str, quantity: float
) -> None:
    # Draws cover instruments the account holds, ones another account holds (in the book)
    # and ones no account holds (resolved alone by the checker).
    check = checkers[model].check(account, Order(parse_symbol(symbol), quantity, "base"))
    book = arrange(
        portfolio_from_dict({"accounts": _from_scratch(account, symbol, quantity)}), MARKET
    )
    result = get_model(model).compute(book)
    row = result.row(account)
    assert check.initial_margin_after == pytest.approx(
        result.initial_margin[row], rel=1e-9, abs=1e-6
    )
    assert check.maintenance_margin_after == pytest.approx(
        result.maintenance_margin[row], rel=1e-9, abs=1e-6
    )
    equity = account_equity(book).equity[row]
    assert check.equity_after == pytest.approx(equity, rel=1e-9, abs=1e-6)
    # An order filled at the mark moves cash into the position: equity is unchanged.
    assert check.equity_after == pytest.approx(check.equity_before, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(
    ("account", "symbol"),
    [("coin", "BTC-27DEC24-100000-C"), ("coin", "BTC-29NOV24-95000-C"), ("empty", "ETH-PERPETUAL")],
    ids=["held", "new-to-account", "first-position"],
)
def test_check_on_a_held_and_a_new_instrument(
    checkers: dict[str, PreTradeChecker], account: str, symbol: str
) -> None:
    check = checkers["deribit"].check(account, Order(parse_symbol(symbol), -1.0, "base"))
    book = arrange(portfolio_from_dict({"accounts": _from_scratch(account, symbol, -1.0)}), MARKET)
    result = get_model("deribit").compute(book)
    assert check.initial_margin_after == pytest.approx(
        result.initial_margin[result.row(account)], rel=1e-12
    )


def _short_call_account(balance: float) -> list[dict[str, Any]]:
    return [
        {
            "id": "writer",
            "balances": {"BTC": balance},
            "positions": [{"instrument": "BTC-27DEC24-100000-C", "quantity": -10.0}],
        }
    ]


def _checker_between_mm_and_im() -> PreTradeChecker:
    """An account whose equity sits between its MM and IM (``reduce_only``)."""
    model = get_model("deribit")
    probe = PreTradeChecker(
        model, arrange(portfolio_from_dict({"accounts": _short_call_account(0.0)}), MARKET)
    )
    im = float(probe.result.initial_margin[0])
    mm = float(probe.result.maintenance_margin[0])
    equity0 = float(probe.equity[0])
    btc = MARKET.usd_price("BTC")
    balance = ((im + mm) / 2 - equity0) / btc  # S:PM: IM does not depend on the balance
    book = arrange(portfolio_from_dict({"accounts": _short_call_account(balance)}), MARKET)
    return PreTradeChecker(model, book)


def test_reduce_only_account_may_place_a_risk_reducing_order() -> None:
    checker = _checker_between_mm_and_im()
    equity = float(checker.equity[0])
    assert checker.result.maintenance_margin[0] <= equity < checker.result.initial_margin[0]
    # Buy back 5% of the short calls at the mark: IM falls, yet stays above equity.
    check = checker.check("writer", Order(parse_symbol("BTC-27DEC24-100000-C"), 0.5, "base"))
    assert check.status_before == HealthStatus.REDUCE_ONLY
    assert check.initial_margin_after < check.initial_margin_before
    assert check.equity_after < check.initial_margin_after  # accepted only as risk-reducing
    assert check.accepted, check.reason


def test_reduce_only_account_may_not_add_risk() -> None:
    checker = _checker_between_mm_and_im()
    check = checker.check("writer", Order(parse_symbol("BTC-27DEC24-100000-C"), -0.5, "base"))
    assert check.status_before == HealthStatus.REDUCE_ONLY
    assert not check.accepted


def test_order_leaving_equity_below_initial_margin_is_rejected() -> None:
    book = arrange(portfolio_from_dict({"accounts": _short_call_account(10.0)}), MARKET)
    checker = PreTradeChecker(get_model("deribit"), book)
    assert checker.result.initial_margin[0] < checker.equity[0]  # healthy before
    check = checker.check("writer", Order(parse_symbol("BTC-27DEC24-90000-P"), -200.0, "base"))
    assert check.equity_after < check.initial_margin_after
    assert not check.accepted
    assert check.status_before == HealthStatus.HEALTHY


def test_order_covered_by_equity_is_accepted() -> None:
    book = arrange(portfolio_from_dict({"accounts": _short_call_account(100.0)}), MARKET)
    checker = PreTradeChecker(get_model("deribit"), book)
    check = checker.check("writer", Order(parse_symbol("BTC-27DEC24-90000-P"), -1.0, "base"))
    assert check.accepted
    assert check.equity_after >= check.initial_margin_after


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda inst: Order(inst, 0.0), "order.quantity"),
        (lambda inst: Order(inst, math.nan), "order.quantity"),
        (lambda inst: Order(inst, 1.0, price=math.nan), "order.price"),
        (lambda inst: Order(inst, 1.0, price=-1.0), "order.price"),
    ],
    ids=["zero-quantity", "nan-quantity", "nan-price", "negative-price"],
)
def test_bad_order_names_the_field(make: Any, field: str) -> None:
    with pytest.raises(InputError) as caught:
        make(parse_symbol("BTC-PERPETUAL"))
    assert caught.value.field == field


def test_unknown_account_names_the_field(checkers: dict[str, PreTradeChecker]) -> None:
    with pytest.raises(InputError) as caught:
        checkers["deribit"].check("nobody", Order(parse_symbol("BTC-PERPETUAL"), 1.0))
    assert caught.value.field == "account"
    assert "nobody" in str(caught.value)


def test_future_filled_at_zero_price_names_the_field(checkers: dict[str, PreTradeChecker]) -> None:
    with pytest.raises(InputError) as caught:
        checkers["deribit"].check("coin", Order(parse_symbol("BTC-PERPETUAL"), 1.0, price=0.0))
    assert caught.value.field == "order.price"


def test_check_leaves_the_cached_book_unchanged(checkers: dict[str, PreTradeChecker]) -> None:
    checker = checkers["deribit"]
    before = checker.book.quantity.toarray().copy()
    checker.check("coin", Order(parse_symbol("BTC-27DEC24-100000-C"), 3.0, "base"))
    np.testing.assert_array_equal(checker.book.quantity.toarray(), before)


def test_a_non_finite_margin_after_the_order_is_an_error_not_a_status() -> None:
    # Inputs are range-checked where they enter; should a model still return NaN, the check
    # names the account and the field instead of calling NaN >= IM "healthy".
    book = arrange(portfolio_from_dict({"accounts": ACCOUNTS}), MARKET)
    checker = PreTradeChecker(get_model("deribit"), book)
    assert checker.whatif.incremental is not None

    class NanMargin:
        reads_balances = False

        def margin_after_changes(self, *args: object) -> tuple[float, float]:
            return math.nan, math.nan

    checker.whatif.incremental = NanMargin()  # type: ignore[assignment]
    with pytest.raises(InputError, match="account coin after: initial_margin: nan"):
        checker.check("coin", Order(parse_symbol("BTC-PERPETUAL"), 1.0))

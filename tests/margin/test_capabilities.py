"""Every margin model declares its capabilities once, and every consumer reads them.

The expected answers are written out independently of the declarations: the scope table the
monitor kept by model name before the models declared it (``monitor/_scope.py``'s
``UNIT_SCOPE``, a model not listed being ``"account"``), Derive's PMRM_2 scope as its
documentation words it (linear options and perpetuals; ``docs/margin-derive-pmrm2.md``) and
the simulate population's own per-row test (USDC-settled options and perpetuals), the models
with an incremental path (Deribit, ``standard``, ``okx`` without MR8, the VaR / ES models) and
the models that read price history (``pmargin-es``, ``-var``, ``-mc``: scenarios from history).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pmargin.book import arrange, example_portfolio, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.instruments import Kind, parse_symbol
from pmargin.margin import MODELS, Capabilities, MarginModel, get_model
from pmargin.market import load_market
from pmargin.monitor import unit_scope

REPO = Path(__file__).resolve().parents[2]
MARKET = load_market(REPO / "src" / "pmargin" / "data" / "example_market.json")

OLD_UNIT_SCOPE = {
    "standard": "underlying",
    "deribit": "underlying",
    "deribit-cross": "underlying",
    "okx": "underlying",
    "derive-pmrm2": "account",
    "tims": "account",
}
"""The monitor's name table before the models declared their scope (others: account)."""

INCREMENTAL = {
    "deribit",
    "deribit-cross",
    "standard",
    "okx",
    "pmargin-es",
    "pmargin-var",
    "pmargin-mc",
    "derive-pmrm2",
    "tims",
}
NEEDS_HISTORY = {"pmargin-es", "pmargin-var", "pmargin-mc"}
DERIVE_LIMIT = "Derive's PMRM_2 margins USDC-settled (linear) options and perpetuals only"


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registered_model_declares_its_capabilities(name: str) -> None:
    model = get_model(name)
    assert isinstance(model, MarginModel)
    capabilities = model.capabilities
    assert isinstance(capabilities, Capabilities)
    assert capabilities.scope in ("underlying", "account")
    assert unit_scope(model) == OLD_UNIT_SCOPE.get(name, "account")
    assert capabilities.incremental == (name in INCREMENTAL)
    assert capabilities.needs_history == (name in NEEDS_HISTORY)
    # a limit comes with its reason, and only Derive's PMRM_2 has one
    assert (capabilities.margins is None) == (capabilities.limit == "")
    assert capabilities.limit == (DERIVE_LIMIT if name == "derive-pmrm2" else "")


def _book(accounts: list[dict[str, Any]]) -> Any:
    return arrange(portfolio_from_dict({"accounts": accounts}), MARKET)


def _pos(symbol: str, quantity: float) -> dict[str, Any]:
    return {"instrument": symbol, "quantity": quantity, "unit": "base"}


ONE_PERP = [{"id": "a", "balances": {"BTC": 1.0}, "positions": [_pos("BTC-PERPETUAL", 0.5)]}]


@pytest.mark.parametrize("name", ["deribit", "deribit-cross", "standard", "okx", "tims"])
def test_the_incremental_flag_says_whether_the_model_gives_an_incremental_path(
    name: str,
) -> None:
    model = get_model(name)
    book = _book(ONE_PERP)
    make = getattr(model, "incremental", None)
    path = None if make is None else make(book, model.compute(book))
    assert (path is not None) == model.capabilities.incremental


@pytest.mark.parametrize(
    ("symbol", "what"),
    [
        ("BTC-PERPETUAL", "a coin-settled (inverse) perpetual"),
        ("BTC-26DEC25-100000-C", "a coin-settled (inverse) option"),
        ("BTC_USDC-26DEC25", "a dated future"),
    ],
)
def test_derive_reason_is_the_one_in_the_model_error_and_the_unsupported_answer(
    symbol: str, what: str
) -> None:
    model = get_model("derive-pmrm2")
    instrument = parse_symbol(symbol)
    assert not model.capabilities.supports(instrument)
    reason = f"instrument {symbol!r} is {what}: {DERIVE_LIMIT}"
    assert model.capabilities.unsupported([parse_symbol("BTC_USDC-PERPETUAL"), instrument]) == (
        reason
    )
    book = _book(
        [{"id": "a", "balances": {"USDC": 1e5}, "positions": [_pos(symbol, 1.0)]}],
    )
    with pytest.raises(InputError) as info:
        model.compute(book)
    # the message the model raised before the declaration, word for word
    assert str(info.value) == (
        f"instrument {symbol!r}: {symbol!r} is {what}: {DERIVE_LIMIT}; remove it from the "
        "book or use another model"
    )


def test_derive_supports_linear_options_and_perpetuals_only() -> None:
    capabilities = get_model("derive-pmrm2").capabilities
    for symbol, expected in [
        ("BTC_USDC-PERPETUAL", True),
        ("ETH_USDC-28NOV25-3600-C", True),
        ("BTC_USDC-26DEC25", False),
        ("BTC-PERPETUAL", False),
        ("ETH-28NOV25-3500-C", False),
        ("BTC-27MAR26", False),
    ]:
        assert capabilities.supports(parse_symbol(symbol)) is expected, symbol
    assert capabilities.unsupported([parse_symbol("BTC_USDC-PERPETUAL")]) is None
    assert get_model("standard").capabilities.unsupported([parse_symbol("BTC-PERPETUAL")]) is None


def test_supported_accounts_equal_a_row_by_row_test_on_a_mixed_book() -> None:
    book = arrange(example_portfolio(MARKET, 200, seed=3, linear_share=0.3), MARKET)
    got = get_model("derive-pmrm2").capabilities.supported_accounts(book)
    quantity = book.quantity.toarray()
    expected = np.array(
        [
            all(
                i.settlement_currency == "USDC" and i.kind in (Kind.OPTION, Kind.PERPETUAL)
                for i, q in zip(book.instruments, row, strict=True)
                if q != 0.0
            )
            for row in quantity
        ]
    )
    assert expected.any()
    assert not expected.all()
    np.testing.assert_array_equal(got, expected)
    assert get_model("deribit").capabilities.supported_accounts(book).all()


def test_supported_accounts_of_an_account_without_positions() -> None:
    book = _book(
        [
            {"id": "empty", "balances": {"USDC": 10.0}, "positions": []},
            {"id": "coin", "balances": {"BTC": 1.0}, "positions": [_pos("BTC-PERPETUAL", 1.0)]},
        ]
    )
    got = get_model("derive-pmrm2").capabilities.supported_accounts(book)
    np.testing.assert_array_equal(got, [True, False])


def test_okx_with_the_borrowing_charge_on_is_margined_per_account() -> None:
    """MR8 charges borrowing in any currency, which every underlying moves: account scope."""
    borrowing = REPO / "tests" / "margin" / "okx" / "okx-borrowing.toml"
    model = get_model("okx", borrowing)
    assert model.capabilities.scope == "account"
    assert not model.capabilities.incremental  # a trade's cash moves the borrowing charge
    assert unit_scope(model) == "account"
    assert get_model("okx").capabilities.scope == "underlying"

"""Arranging a portfolio into unique instruments and a sparse base-unit quantity matrix."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from pmargin.book import arrange, portfolio_from_dict
from pmargin.errors import MarketDataError
from pmargin.market import market_from_dict

MARKET = market_from_dict(
    {
        "timestamp": "2024-11-27T08:00:00Z",
        "index": {"BTC": 95_000.0, "ETH": 3_400.0},
        "prices": {"USDC": 0.999},
        "forwards": {"BTC": {"2024-12-27": 96_000.0}},
        "marks": {
            "BTC-PERPETUAL": {"price": 95_200.0},
            "BTC_USDC-PERPETUAL": {"price": 95_100.0},
            "BTC-27DEC24-100000-C": {"iv": 0.6},
        },
    }
)


def _book(accounts: list[dict[str, object]]) -> dict[str, object]:
    return {"accounts": accounts}


def test_duplicates_summed_and_quantities_in_base_units() -> None:
    portfolio = portfolio_from_dict(
        _book(
            [
                {
                    "id": "a",
                    "positions": [
                        {"instrument": "BTC-PERPETUAL", "quantity": 47_600},
                        {"instrument": "BTC-27DEC24-100000-C", "quantity": -3},
                        {"instrument": "BTC-PERPETUAL", "quantity": 0.5, "unit": "base"},
                    ],
                },
                {"id": "empty"},
                {
                    "id": "b",
                    "positions": [
                        {"instrument": "BTC_USDC-PERPETUAL", "quantity": 2},
                        {"instrument": "BTC-27DEC24-100000-C", "quantity": 1.5},
                    ],
                },
            ]
        )
    )
    book = arrange(portfolio, MARKET)
    assert book.account_ids == ("a", "empty", "b")
    symbols = tuple(i.symbol for i in book.instruments)
    assert symbols == ("BTC-PERPETUAL", "BTC-27DEC24-100000-C", "BTC_USDC-PERPETUAL")
    assert tuple(i.symbol for i in book.resolved.instruments) == symbols
    assert isinstance(book.quantity, sparse.csr_array)
    assert book.quantity.shape == book.shape == (3, 3)
    assert book.quantity.dtype == np.float64
    # Deribit BTC-PERPETUAL: native quantity is USD; base = USD / mark, plus 0.5 BTC given in base.
    expected = np.array(
        [
            [47_600 / 95_200.0 + 0.5, -3.0, 0.0],
            [0.0, 0.0, 0.0],
            [0.0, 1.5, 2.0],
        ]
    )
    np.testing.assert_allclose(book.quantity.toarray(), expected, rtol=1e-15, atol=0.0)
    # One stored entry per distinct (account, instrument) pair held.
    assert book.quantity.nnz == 4
    assert book.settlement_currencies == ("BTC", "BTC", "USDC")


def test_netting_positions_keep_their_entry() -> None:
    portfolio = portfolio_from_dict(
        {
            "id": "a",
            "positions": [
                {"instrument": "BTC_USDC-PERPETUAL", "quantity": 2},
                {"instrument": "BTC_USDC-PERPETUAL", "quantity": -2},
            ],
        }
    )
    book = arrange(portfolio, MARKET)
    assert book.quantity.nnz == 1
    assert book.quantity.toarray().tolist() == [[0.0]]


def test_accounts_without_positions_give_an_empty_matrix() -> None:
    portfolio = portfolio_from_dict(_book([{"id": "x"}, {"id": "y"}]))
    book = arrange(portfolio, MARKET)
    assert book.shape == (2, 0)
    assert book.quantity.shape == (2, 0)
    assert book.quantity.nnz == 0
    assert len(book.resolved) == 0


def test_missing_market_data_names_the_instrument() -> None:
    portfolio = portfolio_from_dict(
        {"id": "a", "positions": [{"instrument": "ETH-27DEC24-4000-C", "quantity": 1}]}
    )
    with pytest.raises(MarketDataError, match="ETH-27DEC24-4000-C"):
        arrange(portfolio, MARKET)

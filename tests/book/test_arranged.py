"""Arranging a portfolio into unique instruments and a sparse base-unit quantity matrix."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.errors import InputError, MarketDataError
from pmargin.market import market_from_dict
from pmargin.valuation import resolve_instruments, value_instruments

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


# ---------------------------------------------------------------- the book's own operations

ACCOUNTS: list[dict[str, object]] = [
    {
        "id": "a",
        "balances": {"BTC": 1.5},
        "positions": [
            {"instrument": "BTC-PERPETUAL", "quantity": 47_600, "avg_price": 90_000},
            {"instrument": "BTC-27DEC24-100000-C", "quantity": -3},
        ],
    },
    {"id": "empty", "balances": {"USDC": 1_000.0}},
    {
        "id": "b",
        "balances": {"USDC": 20_000.0, "BTC": 0.1},
        "positions": [
            {"instrument": "BTC_USDC-PERPETUAL", "quantity": 2, "avg_price": 97_000},
            {"instrument": "BTC-27DEC24-100000-C", "quantity": 1.5},
        ],
    },
]


def _dense(book: BookArrangement, matrix: object) -> dict[tuple[str, str], float]:
    """Stored entries of an ``(n_accounts, n_instruments)`` matrix keyed by (account, symbol)."""
    coo = sparse.coo_array(matrix)
    return {
        (book.account_ids[int(r)], book.instruments[int(c)].symbol): float(v)
        for r, c, v in zip(coo.row, coo.col, coo.data, strict=True)
    }


def _balances(book: BookArrangement) -> dict[tuple[str, str], float]:
    m = book.balance_matrix
    return {
        (a, asset): float(m[r, k])
        for r, a in enumerate(book.account_ids)
        for k, asset in enumerate(book.assets)
        if m[r, k] != 0.0
    }


def _assert_same(got: BookArrangement, want: BookArrangement) -> None:
    """Same accounts, instruments, resolved arrays, stored entries and balances (exact)."""
    assert got.account_ids == want.account_ids
    assert [i.symbol for i in got.instruments] == [i.symbol for i in want.instruments]
    for name in ("underlying_price", "strike", "time", "vol", "rate", "quote_usd"):
        np.testing.assert_array_equal(getattr(got.resolved, name), getattr(want.resolved, name))
    assert got.quantity.shape == want.quantity.shape
    assert _dense(got, got.quantity) == _dense(want, want.quantity)
    assert _dense(got, got.unrealised) == _dense(want, want.unrealised)
    assert _balances(got) == _balances(want)


def test_row_and_column_look_ups() -> None:
    book = arrange(portfolio_from_dict(_book(ACCOUNTS)), MARKET)
    assert [book.row(a) for a in ("a", "empty", "b")] == [0, 1, 2]
    assert book.column("BTC-27DEC24-100000-C") == 1
    assert book.column("BTC_USDC-PERPETUAL") == 2
    assert book.column("ETH-PERPETUAL") is None
    with pytest.raises(InputError, match=r"^account: 'nobody' is not in the book"):
        book.row("nobody")


def test_take_accounts_equals_arranging_those_accounts_afresh() -> None:
    book = arrange(portfolio_from_dict(_book(ACCOUNTS)), MARKET)
    for rows in ([2], [0], [1], [2, 0], [0, 1, 2]):
        taken = book.take_accounts(rows)
        alone = arrange(portfolio_from_dict(_book([ACCOUNTS[r] for r in rows])), MARKET)
        # the book keeps its column order; afresh orders by first appearance: same set
        assert sorted(i.symbol for i in taken.instruments) == sorted(
            i.symbol for i in alone.instruments
        )
        assert _dense(taken, taken.quantity) == _dense(alone, alone.quantity)
        assert _dense(taken, taken.unrealised) == _dense(alone, alone.unrealised)
        assert _balances(taken) == _balances(alone)
        assert taken.assets == book.assets  # every asset column kept
    # book order kept: account b alone holds the option (column 1) before the USDC perp (2)
    assert [i.symbol for i in book.take_accounts([2]).instruments] == [
        "BTC-27DEC24-100000-C",
        "BTC_USDC-PERPETUAL",
    ]


def test_with_account_equals_arranging_the_changed_portfolio_afresh() -> None:
    book = arrange(portfolio_from_dict(_book(ACCOUNTS)), MARKET)
    changed = [dict(a) for a in ACCOUNTS]
    changed[0] = {
        "id": "a",
        "balances": {"BTC": 1.0, "ETH": 2.0},  # ETH: an asset the book did not have
        "positions": [
            {"instrument": "BTC-27DEC24-100000-C", "quantity": 4},
            {"instrument": "BTC_USDC-PERPETUAL", "quantity": -1, "avg_price": 94_000},
        ],
    }
    changed_book = arrange(portfolio_from_dict(_book(changed)), MARKET)
    # the same instruments in both books (order of first appearance differs): map by symbol
    row = changed_book.row("a")
    start, end = changed_book.quantity.indptr[row], changed_book.quantity.indptr[row + 1]
    cols = changed_book.quantity.indices[start:end]
    symbol = {int(j): changed_book.instruments[int(j)].symbol for j in cols}
    upnl = changed_book.unrealised.toarray()[row]
    positions: dict[int, float] = {}
    unrealised: dict[int, float] = {}
    for j, q in zip(cols, changed_book.quantity.data[start:end], strict=True):
        column = book.column(symbol[int(j)])
        assert column is not None
        positions[column] = float(q)
        unrealised[column] = float(upnl[int(j)])
    got = book.with_account(
        book.row("a"), positions=positions, unrealised=unrealised, balances={"BTC": 1.0, "ETH": 2.0}
    )
    assert got.assets == ("BTC", "ETH", "USDC")
    assert got.resolved is book.resolved  # shared, not looked up again
    assert _dense(got, got.quantity) == _dense(changed_book, changed_book.quantity)
    assert _dense(got, got.unrealised) == _dense(changed_book, changed_book.unrealised)
    assert _balances(got) == _balances(changed_book)
    # the original is untouched
    _assert_same(book, arrange(portfolio_from_dict(_book(ACCOUNTS)), MARKET))


def test_with_account_keeps_what_is_not_given() -> None:
    book = arrange(portfolio_from_dict(_book(ACCOUNTS)), MARKET)
    _assert_same(book.with_account(0), book)
    only_cash = book.with_account(2, balances={"USDC": 5.0})
    assert _dense(only_cash, only_cash.quantity) == _dense(book, book.quantity)
    assert only_cash.balance_matrix[2].tolist() == [0.0, 5.0]
    np.testing.assert_array_equal(only_cash.balance_matrix[:2], book.balance_matrix[:2])
    emptied = book.with_account(0, positions={})
    assert emptied.quantity.nnz == book.quantity.nnz - 2
    assert _dense(emptied, emptied.quantity) == {
        k: v for k, v in _dense(book, book.quantity).items() if k[0] != "a"
    }


def test_valuation_is_computed_once_and_equals_value_instruments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    book = arrange(portfolio_from_dict(_book(ACCOUNTS)), MARKET)
    calls: list[int] = []
    real = value_instruments

    def counting(resolved: object) -> object:
        calls.append(1)
        return real(resolved)  # type: ignore[arg-type]

    monkeypatch.setattr("pmargin.book._arranged.value_instruments", counting)
    first = book.valuation
    assert book.valuation is first
    assert calls == [1]
    assert not first.price.flags.writeable  # shared by every caller: read-only
    assert book.resolved.underlying_price.flags.writeable  # the inputs are left as they were
    fresh = value_instruments(book.resolved)
    for name in ("price", "price_usd", "delta", "gamma", "vega", "theta", "delta_coin"):
        np.testing.assert_array_equal(getattr(first, name), getattr(fresh, name))
    # a changed book starts with an empty cache; equality ignores the cache
    assert book.take_accounts([0, 1, 2]).valuation is not first
    assert calls == [1, 1]


def test_rebased_equals_arranging_afresh_at_the_new_market() -> None:
    """With entry prices and native USD inverse perpetuals, rebasing == arrange at the new market.

    Rebasing computes ``q0 F0 / F`` and ``u0 + q0 (F - F0)`` where arranging afresh computes
    ``USD / F`` and ``q (F - avg)``: the same numbers up to rounding (measured: quantities
    equal, unrealised P&L 3.3e-15 relative).
    """
    portfolio = portfolio_from_dict(_book(ACCOUNTS))
    book = arrange(portfolio, MARKET)
    moved = market_from_dict(
        {
            "timestamp": "2024-11-27T09:00:00Z",
            "index": {"BTC": 88_000.0, "ETH": 3_400.0},
            "prices": {"USDC": 0.998},
            "forwards": {"BTC": {"2024-12-27": 89_000.0}},
            "marks": {
                "BTC-PERPETUAL": {"price": 88_100.0},
                "BTC_USDC-PERPETUAL": {"price": 88_050.0},
                "BTC-27DEC24-100000-C": {"iv": 0.65},
            },
        }
    )
    fresh = arrange(portfolio, moved)
    for rebased in (book.rebased(moved), book.rebased(moved, resolve_instruments(
        book.instruments, moved))):  # fmt: skip
        assert rebased.account_ids == fresh.account_ids
        np.testing.assert_array_equal(
            rebased.resolved.underlying_price, fresh.resolved.underlying_price
        )
        np.testing.assert_allclose(
            rebased.quantity.toarray(), fresh.quantity.toarray(), rtol=1e-14, atol=0.0
        )
        np.testing.assert_allclose(
            rebased.unrealised.toarray(), fresh.unrealised.toarray(), rtol=1e-14, atol=0.0
        )
        np.testing.assert_array_equal(rebased.balance_matrix, fresh.balance_matrix)
    # the inverse perpetual keeps its USD notional: 47,600 USD at the new mark
    assert book.rebased(moved).quantity[0, 0] == pytest.approx(47_600 / 88_100.0, rel=1e-15)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_csr_like_is_the_constructor_without_its_checks(index_dtype: type) -> None:
    """_csr_like (a rebase's matrices: kept structure, new data) equals scipy's constructor."""
    from pmargin.book._arranged import _csr_like, _csr_like_reference

    rng = np.random.default_rng(11)
    dense = rng.normal(size=(40, 25)) * (rng.uniform(size=(40, 25)) < 0.2)
    template = sparse.csr_array(dense)
    template = sparse.csr_array(
        (
            template.data,
            template.indices.astype(index_dtype),
            template.indptr.astype(index_dtype),
        ),
        shape=template.shape,
    )
    for _ in range(2):  # before and after scipy caches its format flags on the template
        data = rng.normal(size=template.data.size)
        fast, reference = _csr_like(template, data), _csr_like_reference(template, data)
        assert type(fast) is type(reference)
        assert fast.shape == reference.shape
        assert fast.data is data
        for part in ("data", "indices", "indptr"):
            mine, theirs = getattr(fast, part), getattr(reference, part)
            assert mine.dtype == theirs.dtype, part
            assert mine.tobytes() == theirs.tobytes(), part
        assert fast.indices.ctypes.data == reference.indices.ctypes.data  # shared, as scipy's
        assert fast.has_canonical_format == reference.has_canonical_format
        np.testing.assert_array_equal(fast.toarray(), reference.toarray(), strict=True)
    odd = sparse.csr_array(
        (template.data, template.indices.astype(np.int64), template.indptr.astype(np.int32)),
        shape=template.shape,
    )
    mixed = sparse.csr_array.__new__(sparse.csr_array)
    vars(mixed).update(vars(odd))
    mixed.indptr = odd.indptr.astype(np.int32)  # index arrays of two dtypes: the constructor
    out = _csr_like(mixed, template.data.copy())
    assert out.indices.dtype == out.indptr.dtype

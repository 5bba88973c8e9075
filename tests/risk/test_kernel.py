"""The revaluation kernel: hand values, its reference twin on random books, input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _books import UNIVERSE, market, random_portfolio

from pmargin.book import arrange, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.risk import (
    account_pnl,
    account_pnl_by_currency,
    instrument_pnl,
    settlement_to_usd,
    usd_pnl,
)
from pmargin.risk._kernel_reference import (
    account_pnl_by_currency_reference,
    black76_value_reference,
    instrument_pnl_reference,
)
from pmargin.valuation import ResolvedInstruments, resolve_instruments


def _resolved(*symbols: str) -> ResolvedInstruments:
    portfolio = portfolio_from_dict(
        {"id": "a", "positions": [{"instrument": s, "quantity": 1} for s in symbols]}
    )
    return resolve_instruments(portfolio.unique_instruments(), market())


def test_inverse_future_coin_pnl_is_one_minus_reciprocal_multiplier() -> None:
    resolved = _resolved("BTC-PERPETUAL", "BTC-27DEC24")
    pnl = instrument_pnl(resolved, [0.84, 1.0, 1.3], np.nan)
    expected = [1 - 1 / 0.84, 0.0, 1 - 1 / 1.3]
    for row in pnl:
        np.testing.assert_allclose(row, expected, rtol=1e-15, atol=1e-16)
    # In USD the coin is revalued with the move: (1 - 1/m) * S * m = S (m - 1).
    usd = usd_pnl(resolved, [0.84, 1.0, 1.3], np.nan)
    np.testing.assert_allclose(usd[0], 95_000.0 * np.array([-0.16, 0.0, 0.3]), rtol=1e-12)


def test_linear_future_and_spot_pnl_is_price_times_move() -> None:
    resolved = _resolved("BTC_USDC-PERPETUAL", "BTC_USDC")
    mult = np.array([0.84, 1.0, 1.5])
    pnl = instrument_pnl(resolved, mult, np.nan)
    spot_usdc = 95_000.0 / 0.999
    np.testing.assert_allclose(pnl[0], 95_100.0 * (mult - 1), rtol=1e-14, atol=1e-9)
    np.testing.assert_allclose(pnl[1], spot_usdc * (mult - 1), rtol=1e-14, atol=1e-9)
    # Linear P&L in USD at the (unshocked) USDC price.
    np.testing.assert_allclose(
        settlement_to_usd(resolved, pnl, mult), pnl * 0.999, rtol=1e-15, atol=0.0
    )


def test_option_unchanged_market_gives_zero_and_long_call_rises_with_spot() -> None:
    symbols = ("BTC-27DEC24-100000-C", "BTC_USDC-27DEC24-110000-C", "BTC-27DEC24-90000-P")
    resolved = _resolved(*symbols)
    mult = np.linspace(0.5, 1.5, 41)
    vol = np.broadcast_to(resolved.vol[:, None], (3, mult.size))
    pnl = instrument_pnl(resolved, mult, vol)
    at_one = int(np.flatnonzero(mult == 1.0)[0])
    np.testing.assert_allclose(pnl[:, at_one], 0.0, atol=1e-12)
    # Calls: P&L rises with the multiplier (coin value V/F too: a call's V/F rises with F).
    assert np.all(np.diff(pnl[0]) > 0)
    assert np.all(np.diff(pnl[1]) > 0)
    # A put's coin value falls as the forward rises.
    assert np.all(np.diff(pnl[2]) < 0)


def test_option_values_match_closed_form() -> None:
    resolved = _resolved("BTC-27DEC24-100000-C", "BTC_USDC-27DEC24-95000-P")
    f, k, t, r = (96_000.0, 96_000.0 / 0.999), (100_000.0, 95_000.0), resolved.time, (0.01, 0.04)
    m, sigma, dt = 0.9, 0.8, 3 / 365
    pnl = instrument_pnl(resolved, m, sigma, time_shift=dt)
    inv_after = black76_value_reference(f[0] * m, k[0], t[0] - dt, sigma, True, r[0])
    inv_before = black76_value_reference(f[0], k[0], t[0], 0.6, True, r[0])
    assert pnl[0, 0] == pytest.approx(inv_after / (f[0] * m) - inv_before / f[0], rel=1e-10)
    lin_after = black76_value_reference(f[1] * m, k[1], t[1] - dt, sigma, False, r[1])
    lin_before = black76_value_reference(f[1], k[1], t[1], 0.62, False, r[1])
    assert pnl[1, 0] == pytest.approx(lin_after - lin_before, rel=1e-10)


def test_time_shift_past_expiry_leaves_intrinsic_value() -> None:
    resolved = _resolved("BTC-29NOV24-95000-C")
    f = float(resolved.underlying_price[0])  # no forward given: index x exp(r T)
    (pnl,) = instrument_pnl(resolved, [0.9, 1.1], 0.5, time_shift=10 / 365)
    before = black76_value_reference(f, 95_000.0, float(resolved.time[0]), 0.5, True, 0.01)
    intrinsic = np.maximum(f * np.array([0.9, 1.1]) - 95_000.0, 0.0)
    expected = intrinsic / (f * np.array([0.9, 1.1])) - before / f
    np.testing.assert_allclose(pnl, expected, rtol=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_fast_kernel_matches_reference_on_random_books(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mkt = market()
    portfolio = random_portfolio(rng, n_accounts=int(rng.integers(1, 9)))
    book = arrange(portfolio, mkt)
    pairs = {(a.id, p.instrument.symbol) for a in portfolio.accounts for p in a.positions}
    assert book.quantity.nnz == len(pairs)
    n_i, n_s = len(book.instruments), int(rng.integers(1, 13))
    mult = rng.uniform(0.5, 1.5, size=(n_i, n_s))
    vol = rng.uniform(0.05, 1.5, size=(n_i, n_s))
    vol[~book.resolved.is_option] = np.nan
    time_shift = float(rng.choice([0.0, 1 / 365, 0.1]))

    pnl = instrument_pnl(book.resolved, mult, vol, time_shift=time_shift)
    assert pnl.shape == (n_i, n_s)
    ref = np.array(instrument_pnl_reference(book.resolved, mult, vol, time_shift))
    scale = np.maximum(book.resolved.underlying_price, 1.0)[:, None]
    np.testing.assert_allclose(pnl / scale, ref.reshape(n_i, n_s) / scale, rtol=1e-9, atol=1e-11)

    by_ccy = account_pnl_by_currency(book, pnl)
    ref_by_ccy = account_pnl_by_currency_reference(portfolio, book.resolved, mult, vol, time_shift)
    assert list(by_ccy) == list(ref_by_ccy)
    for currency, table in by_ccy.items():
        assert table.shape == (len(portfolio.accounts), n_s)
        expected = np.array(ref_by_ccy[currency])
        tol = 1e-9 * max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(table, expected, rtol=1e-9, atol=tol)
    # Currencies partition the instruments: their sum is the all-instrument product.
    if by_ccy:
        total = sum(by_ccy.values())
        np.testing.assert_allclose(account_pnl(book.quantity, pnl), total, rtol=1e-12, atol=1e-9)


def test_account_pnl_is_quantity_times_unit_pnl() -> None:
    portfolio = portfolio_from_dict(
        {
            "accounts": [
                {
                    "id": "a",
                    "positions": [
                        {"instrument": "BTC-PERPETUAL", "quantity": 95_200},
                        {"instrument": "BTC-PERPETUAL", "quantity": 1, "unit": "base"},
                    ],
                },
                {"id": "b", "positions": [{"instrument": "BTC_USDC-PERPETUAL", "quantity": -2}]},
            ]
        }
    )
    book = arrange(portfolio, market())
    pnl = instrument_pnl(book.resolved, [0.8, 1.25], np.nan)
    by_ccy = account_pnl_by_currency(book, pnl)
    # 95,200 USD at a 95,200 mark is 1 BTC, plus 1 BTC: 2 (1 - 1/m) BTC.
    np.testing.assert_allclose(by_ccy["BTC"][0], [2 * (1 - 1 / 0.8), 2 * (1 - 1 / 1.25)])
    np.testing.assert_allclose(by_ccy["BTC"][1], [0.0, 0.0])
    np.testing.assert_allclose(by_ccy["USDC"][1], [-2 * 95_100 * -0.2, -2 * 95_100 * 0.25])
    np.testing.assert_allclose(by_ccy["USDC"][0], [0.0, 0.0])


def test_universe_symbols_all_resolve() -> None:
    resolved = _resolved(*UNIVERSE)
    assert len(resolved) == len(UNIVERSE)
    assert resolved.is_inverse.any()
    assert not resolved.is_inverse.all()
    assert resolved.is_option.any()
    assert not resolved.is_option.all()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"spot_multiplier": [1.0, 0.0]}, "spot_multiplier"),
        ({"spot_multiplier": [1.0, math.nan]}, "spot_multiplier"),
        ({"spot_multiplier": np.ones((3, 2))}, "spot_multiplier.shape"),
        ({"vol": [0.5, -0.1]}, "vol"),
        ({"vol": [math.nan, 0.5]}, "vol"),
        ({"time_shift": -1.0}, "time_shift"),
        ({"time_shift": math.inf}, "time_shift"),
    ],
)
def test_bad_inputs_name_the_field(kwargs: dict[str, object], field: str) -> None:
    resolved = _resolved("BTC-PERPETUAL", "BTC-27DEC24-100000-C")
    args: dict[str, object] = {"spot_multiplier": [1.0, 1.1], "vol": 0.5, "time_shift": 0.0}
    args.update(kwargs)
    with pytest.raises(InputError) as info:
        instrument_pnl(
            resolved,
            args["spot_multiplier"],  # type: ignore[arg-type]
            args["vol"],  # type: ignore[arg-type]
            time_shift=args["time_shift"],  # type: ignore[arg-type]
        )
    assert str(info.value).startswith(field)


def test_non_option_rows_ignore_nan_vol() -> None:
    resolved = _resolved("BTC-PERPETUAL", "BTC-27DEC24-100000-C")
    vol = np.array([[np.nan, np.nan], [0.6, 0.7]])
    pnl = instrument_pnl(resolved, [1.0, 1.1], vol)
    assert np.isfinite(pnl).all()


def test_account_pnl_rejects_mismatched_shapes() -> None:
    book = arrange(
        portfolio_from_dict(
            {"id": "a", "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 1}]}
        ),
        market(),
    )
    with pytest.raises(InputError, match=r"instrument_pnl\.shape"):
        account_pnl(book.quantity, np.zeros((2, 3)))

"""Valuation of instruments off a market snapshot, against closed forms written here."""

from __future__ import annotations

import math

import pytest

from pmargin.engine import instruments_for, price_instruments
from pmargin.errors import InputError, MarketDataError
from pmargin.instruments import instrument_from_spec
from pmargin.market import market_from_dict

TS = "2024-11-27T08:00:00Z"
T_DEC = 30.0 / 365.0  # 2024-11-27 08:00 -> 2024-12-27 08:00


def _n(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _black(f: float, k: float, t: float, s: float, call: bool, r: float = 0.0) -> dict:
    """Black-76 value and raw Greeks, written independently of pmargin.pricing."""
    sd = s * math.sqrt(t)
    d1 = math.log(f / k) / sd + sd / 2
    d2 = d1 - sd
    df = math.exp(-r * t)
    pdf = math.exp(-d1 * d1 / 2) / math.sqrt(2 * math.pi)
    if call:
        value, delta = df * (f * _n(d1) - k * _n(d2)), df * _n(d1)
    else:
        value, delta = df * (k * _n(-d2) - f * _n(-d1)), -df * _n(-d1)
    return {
        "value": value,
        "delta": delta,
        "gamma": df * pdf / (f * sd),
        "vega": df * f * pdf * math.sqrt(t),
        "theta": r * value - df * f * pdf * s / (2 * math.sqrt(t)),
    }


def _market(**overrides: object) -> dict:
    doc: dict = {
        "timestamp": TS,
        "index": {"BTC": 95_000.0, "ETH": 3_500.0},
        "prices": {"USDC": 0.9998},
        "forwards": {"BTC": {"2024-12-27": 96_000.0}},
        "marks": {
            "BTC-27DEC24-100000-C": {"iv": 0.60},
            "BTC-27DEC24-90000-P": {"price": 0.0123},
            "BTC-PERPETUAL": {"price": 95_050.0},
        },
        "surfaces": {
            "BTC": [
                {
                    "expiry": "2024-12-27",
                    "svi": {"a": 0.02, "b": 0.05, "rho": -0.2, "m": 0.0, "sigma": 0.1},
                },
            ]
        },
    }
    doc.update(overrides)
    return doc


def test_inverse_option_from_mark_iv_is_black_over_forward() -> None:
    market = market_from_dict(_market())
    (q,) = price_instruments(instruments_for(["BTC-27DEC24-100000-C"]), market)
    ref = _black(96_000.0, 100_000.0, T_DEC, 0.60, call=True)
    assert q.premium_currency == "BTC"
    assert q.forward == 96_000.0
    assert q.iv == 0.60
    assert q.price == pytest.approx(ref["value"] / 96_000.0, rel=1e-12)
    assert q.price_usd == pytest.approx(ref["value"] / 96_000.0 * 95_000.0, rel=1e-12)
    for greek in ("delta", "gamma", "vega", "theta"):
        assert getattr(q, greek) == pytest.approx(ref[greek], rel=1e-10), greek
    assert q.delta_coin == pytest.approx(ref["delta"] - ref["value"] / 96_000.0, rel=1e-12)


def test_mark_price_inverts_to_the_vol_that_reprices_it() -> None:
    market = market_from_dict(_market())
    (q,) = price_instruments(instruments_for(["BTC-27DEC24-90000-P"]), market)
    assert q.vol_source == "mark_price"
    assert q.price == pytest.approx(0.0123, abs=1e-13)
    ref = _black(96_000.0, 90_000.0, T_DEC, q.iv, call=False)
    assert ref["value"] / 96_000.0 == pytest.approx(0.0123, rel=1e-10)


def test_surface_vol_for_unmarked_option() -> None:
    market = market_from_dict(_market())
    (q,) = price_instruments(instruments_for(["BTC-27DEC24-80000-P"]), market)
    k = math.log(80_000.0 / 96_000.0)
    w = 0.02 + 0.05 * (-0.2 * k + math.sqrt(k * k + 0.1**2))
    assert q.vol_source == "surface"
    assert q.iv == pytest.approx(math.sqrt(w / T_DEC), rel=1e-12)


def test_linear_usdc_option_in_usdc_and_usd() -> None:
    market = market_from_dict(_market(marks={"BTC_USDC-27DEC24-100000-C": {"iv": 0.6}}))
    (q,) = price_instruments(instruments_for(["BTC_USDC-27DEC24-100000-C"]), market)
    f_usdc = 96_000.0 / 0.9998
    ref = _black(f_usdc, 100_000.0, T_DEC, 0.6, call=True)
    assert q.premium_currency == "USDC"
    assert q.forward == pytest.approx(f_usdc, rel=1e-14)
    assert q.price == pytest.approx(ref["value"], rel=1e-12)
    assert q.price_usd == pytest.approx(ref["value"] * 0.9998, rel=1e-12)
    # Greeks w.r.t. the USD price of BTC, in USD.
    assert q.delta == pytest.approx(ref["delta"], rel=1e-12)
    assert q.gamma == pytest.approx(ref["gamma"] / 0.9998, rel=1e-10)
    assert q.vega == pytest.approx(ref["vega"] * 0.9998, rel=1e-10)
    assert q.delta_coin is None


def test_rate_discounts_linear_option_and_enters_theta() -> None:
    market = market_from_dict(_market(rates={"USD": 0.05}))
    spec = {
        "symbol": "SPX-C",
        "kind": "option",
        "underlying": "BTC",
        "expiry": "2024-12-27",
        "strike": 100_000,
        "right": "call",
        "settlement": "linear",
        "quote": "USD",
    }
    (q,) = price_instruments([instrument_from_spec(spec)], market)
    ref = _black(96_000.0, 100_000.0, T_DEC, q.iv, call=True, r=0.05)
    assert q.price == pytest.approx(ref["value"], rel=1e-12)
    assert q.theta == pytest.approx(ref["theta"], rel=1e-10)


def test_delta_one_instruments() -> None:
    market = market_from_dict(_market())
    perp, fut, eth_perp, spot = price_instruments(
        instruments_for(["BTC-PERPETUAL", "BTC-27DEC24", "ETH-PERPETUAL", "BTC/USDC"]), market
    )
    assert perp.price == 95_050.0
    assert perp.delta == 1.0
    assert perp.delta_coin == 1.0
    assert perp.gamma == perp.vega == perp.theta == 0.0
    assert fut.price == 96_000.0  # no futures mark: the expiry's forward
    assert eth_perp.price == 3_500.0  # no perp mark: the index
    assert spot.delta_coin is None


def test_expired_option_is_an_input_error() -> None:
    market = market_from_dict(_market())
    with pytest.raises(InputError, match="expired"):
        price_instruments(instruments_for(["BTC-22NOV24-90000-C"]), market)


def test_option_without_mark_or_surface() -> None:
    market = market_from_dict(_market(surfaces={}))
    with pytest.raises(MarketDataError, match="no volatility surface for BTC"):
        price_instruments(instruments_for(["BTC-27DEC24-80000-P"]), market)


def test_mark_price_below_intrinsic_is_reported() -> None:
    market = market_from_dict(_market(marks={"BTC-27DEC24-60000-C": {"price": 0.1}}))
    with pytest.raises(MarketDataError, match=r"BTC-27DEC24-60000-C.*price"):
        price_instruments(instruments_for(["BTC-27DEC24-60000-C"]), market)


def test_missing_quote_price_is_reported() -> None:
    market = market_from_dict(_market(prices={}))
    with pytest.raises(MarketDataError, match="USDC"):
        price_instruments(instruments_for(["BTC_USDC-PERPETUAL"]), market)

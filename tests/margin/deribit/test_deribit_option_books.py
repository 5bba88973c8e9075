"""Deribit PM on option books: the issue's hand books and bounds on random long options/spreads.

Books are built on the shipped example market (``pmargin/data/example_market.json``,
2025-11-13, BTC index 101,654.37, rates 0, so an option's value is its undiscounted premium).
Bounds checked, under the shipped reading and in S:PM and X:PM:

* a long option's IM never exceeds its premium plus its roll shock (its worst loss is at most
  what was paid);
* a debit spread's IM never exceeds its maximum loss (the net premium) plus its roll shock.

Under the earlier readings (``extended_weighting = "full"``, ``extended_dampener_mode =
"subtract"``, ``roll_shock_basis = "abs_size"``) the hand books show the issue's symptoms; they
stay selectable, and these tests pin that they still behave as the issue describes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _deribit_cases import model_from, shipped
from hypothesis import given, settings
from hypothesis import strategies as st

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.engine import example_path
from pmargin.margin import MarginResult, get_model
from pmargin.margin.deribit import DeribitModel
from pmargin.market import load_market
from pmargin.valuation import value_instruments

MARKET = load_market(example_path("example_market.json"))
EARLIER = {
    "extended_weighting": "full",
    "extended_dampener_mode": "subtract",
    "roll_shock_basis": "abs_size",
}
"""The readings shipped before this change (still selectable by name)."""

HAND_BOOKS: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    # the issue's books: balances, then positions in base units (coins)
    "usdc-covered-call": (
        {"USDC": 20_000.0},
        {"BTC_USDC-12DEC25-115000-C": -1.0, "BTC_USDC-PERPETUAL": 1.0},
    ),
    "long-100k-call": ({"BTC": 0.1}, {"BTC-26DEC25-100000-C": 1.0}),
    "debit-call-spread": (
        {"BTC": 0.1},
        {"BTC-26DEC25-100000-C": 1.0, "BTC-26DEC25-110000-C": -1.0},
    ),
    "naked-short-call": ({"USDC": 20_000.0}, {"BTC-26DEC25-115000-C": -1.0}),
}


def _book(accounts: dict[str, tuple[dict[str, float], dict[str, float]]]) -> BookArrangement:
    rows = [
        {
            "id": name,
            "balances": balances,
            "positions": [
                {"instrument": s, "quantity": q, "unit": "base"} for s, q in positions.items()
            ],
        }
        for name, (balances, positions) in accounts.items()
    ]
    return arrange(portfolio_from_dict({"accounts": rows}), MARKET)


def _model(mode: str, **assumptions: str) -> DeribitModel:
    data = shipped()
    data["assumptions"].update(assumptions)
    return model_from(data).with_mode(mode)


def _premium_usd(book: BookArrangement) -> np.ndarray:
    """Shape ``(n_accounts,)``: USD value of each account's positions (rates are 0)."""
    res = book.resolved
    price = value_instruments(res).price
    usd = np.where(res.is_inverse, price * res.settlement_usd, price * res.quote_usd)
    return np.asarray(book.quantity @ usd, dtype=np.float64).reshape(book.shape[0])


def _roll_usd(result: MarginResult) -> np.ndarray:
    """Shape ``(n_accounts,)``: the roll shock of every unit, in USD."""
    total = np.zeros(result.n_accounts)
    for unit in result.risk_units:
        total += unit.components["roll_shock"] * unit.usd_rate
    return total


@pytest.fixture(scope="module")
def hand() -> dict[str, dict[str, float]]:
    """IM (USD) of each hand book under standard, S:PM, X:PM, shipped and earlier readings."""
    book = _book(HAND_BOOKS)
    out: dict[str, dict[str, float]] = {}
    models: dict[str, Any] = {
        "standard": get_model("standard"),
        "spm": _model("segregated"),
        "xpm": _model("cross"),
        "spm-earlier": _model("segregated", **EARLIER),
        "xpm-earlier": _model("cross", **EARLIER),
    }
    for name, model in models.items():
        im = model.compute(book).initial_margin
        out[name] = dict(zip(book.account_ids, im.tolist(), strict=True))
    premium = _premium_usd(book)
    roll = _roll_usd(models["spm"].compute(book))
    roll_x = _roll_usd(models["xpm"].compute(book))
    out["premium"] = dict(zip(book.account_ids, premium.tolist(), strict=True))
    out["roll-spm"] = dict(zip(book.account_ids, roll.tolist(), strict=True))
    out["roll-xpm"] = dict(zip(book.account_ids, roll_x.tolist(), strict=True))
    return out


def test_hand_books_under_the_shipped_reading(hand: dict[str, dict[str, float]]) -> None:
    std, spm, xpm = hand["standard"], hand["spm"], hand["xpm"]
    # USDC covered call: the -16% cell of the synthetic short put (16% of 1 BTC + 1% roll,
    # less the call's gain) against standard's 2% + short-call charge: ~1.24x, not ~34x.
    ratio = spm["usdc-covered-call"] / std["usdc-covered-call"]
    assert 1.0 < ratio < 1.3
    assert xpm["usdc-covered-call"] == pytest.approx(spm["usdc-covered-call"], rel=1e-12)
    # long call and debit spread: at most what was paid plus the roll shock; under X:PM the
    # 0.1 BTC balance moves too, losing at most price_range (16%) of its value (in the
    # extended cells its weighted P&L is exactly its +-16% edge value)
    balance_move = 0.1 * MARKET.usd_price("BTC") * 0.16
    for name in ("long-100k-call", "debit-call-spread"):
        for mode, extra in (("spm", 0.0), ("xpm", balance_move)):
            bound = hand["premium"][name] + hand[f"roll-{mode}"][name] + extra
            assert hand[mode][name] <= bound * (1 + 1e-12), (name, mode)
    # one naked short call: X:PM (USD, USDC collateral) within 1.25x of S:PM (coin)
    assert xpm["naked-short-call"] / spm["naked-short-call"] < 1.25


def test_hand_books_under_the_earlier_readings_show_the_issue(
    hand: dict[str, dict[str, float]],
) -> None:
    std, spm, xpm = hand["standard"], hand["spm-earlier"], hand["xpm-earlier"]
    assert spm["usdc-covered-call"] / std["usdc-covered-call"] > 30.0
    assert spm["long-100k-call"] > hand["premium"]["long-100k-call"]
    assert spm["debit-call-spread"] > hand["premium"]["debit-call-spread"]
    assert xpm["naked-short-call"] / spm["naked-short-call"] > 40.0


# ----------------------------------------------------------------------------- random books

EXPIRIES = ("28NOV25", "26DEC25", "30JAN26")
STRIKES = tuple(range(70_000, 150_001, 5_000))


_option = st.tuples(
    st.sampled_from(("BTC", "BTC_USDC")), st.sampled_from(EXPIRIES), st.sampled_from(("C", "P"))
)
"""(symbol prefix, expiry, right): coin-settled or USDC-settled BTC options."""


def _symbol(prefix: str, expiry: str, strike: int, right: str) -> str:
    return f"{prefix}-{expiry}-{strike}-{right}"


MODES = ("segregated", "cross")


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=25, deadline=None)
@given(
    option=_option,
    strike=st.sampled_from(STRIKES),
    size=st.floats(0.01, 2_000.0),
)
def test_long_option_costs_at_most_its_premium_plus_roll_shock(
    mode: str, option: tuple[str, str, str], strike: int, size: float
) -> None:
    prefix, expiry, right = option
    book = _book({"long": ({}, {_symbol(prefix, expiry, strike, right): size})})
    result = _model(mode).compute(book)
    bound = _premium_usd(book)[0] + _roll_usd(result)[0]
    assert result.initial_margin[0] <= bound * (1 + 1e-9) + 1e-9


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=25, deadline=None)
@given(
    option=_option,
    strikes=st.lists(st.sampled_from(STRIKES), min_size=2, max_size=2, unique=True),
    size=st.floats(0.01, 2_000.0),
)
def test_debit_spread_costs_at_most_its_maximum_loss_plus_roll_shock(
    mode: str, option: tuple[str, str, str], strikes: list[int], size: float
) -> None:
    prefix, expiry, right = option
    low, high = sorted(strikes)
    # a debit spread buys the dearer leg: the lower strike for calls, the higher for puts
    bought, sold = (low, high) if right == "C" else (high, low)
    positions = {
        _symbol(prefix, expiry, bought, right): size,
        _symbol(prefix, expiry, sold, right): -size,
    }
    book = _book({"spread": ({}, positions)})
    result = _model(mode).compute(book)
    max_loss = _premium_usd(book)[0]
    assert max_loss > 0.0
    bound = max_loss + _roll_usd(result)[0]
    assert result.initial_margin[0] <= bound * (1 + 1e-9) + 1e-9


# ----------------------------------------------------------------------------- the reading line


def test_option_books_carry_the_reading_and_delta_one_books_do_not() -> None:
    options = _book({"a": ({}, {"BTC-26DEC25-100000-C": 1.0})})
    futures = _book({"a": ({}, {"BTC-PERPETUAL": 1.0})})
    for name in ("deribit", "deribit-cross"):
        model = get_model(name)
        (note,) = model.compute(options).notes
        assert note.startswith(f"{name} reading of unpublished parts")
        assert "price_range/|m| (distance)" in note
        assert "net delta per expiry" in note
        assert "\n" not in note
        assert model.compute(futures).notes == ()
    earlier = _model("segregated", **EARLIER).compute(options).notes[0]
    for name in ("(full)", "(subtract)", "abs_size"):
        assert name in earlier


# ----------------------------------------------------------------------------- covered calls

_OTM_FINDING = pytest.mark.xfail(
    strict=True,
    reason=(
        "FINDING (published price_range, any reading of the unpublished parts): a covered call "
        "on a call ~8% or more out of the money is a synthetic short put with delta near 1 "
        "below the strike; PM charges the hedge's -16% standard cell (plus its 1% roll shock), "
        "standard margin charges the short call max(15% - OTM, 10%) + mark and the perpetual "
        "2% (a coin balance nothing): on this market PM/SM at 115k is 1.33-1.38 (S:PM, "
        "perpetual), 1.11-1.15 (X:PM, perpetual), 1.26 (X:PM, coin balance), 1.24 (USDC)"
    ),
)
COVERED = [
    # (mode, hedge, call, largest size drawn in BTC): near the money holds in every mode; S:PM
    # with a coin balance holds (a coin balance has no P&L in coin, so the unit is the short
    # call alone) until the extended table outgrows standard margin: the worst cell leaves the
    # standard table ("the dampener stops absorbing it") from 90 BTC (130k) / 124 BTC (115k),
    # and PM exceeds SM from 752 BTC (130k) / 1,475 BTC (115k) (bisection on this market)
    pytest.param("segregated", "BTC-PERPETUAL", "BTC-26DEC25-100000-C", 3000.0, id="spm-perp-100k"),
    pytest.param("cross", "BTC-PERPETUAL", "BTC-26DEC25-100000-C", 3000.0, id="xpm-perp-100k"),
    pytest.param("cross", "BTC", "BTC-26DEC25-100000-C", 3000.0, id="xpm-coin-100k"),
    pytest.param("segregated", "BTC", "BTC-26DEC25-115000-C", 1475.0, id="spm-coin-115k"),
    pytest.param("segregated", "BTC", "BTC-26DEC25-130000-C", 751.0, id="spm-coin-130k"),
    pytest.param(
        "segregated", "BTC", "BTC-26DEC25-130000-C", -3000.0, id="spm-coin-130k-beyond-752",
        marks=pytest.mark.xfail(
            strict=True,
            reason=(
                "FINDING (shipped reading): a coin-hedged 130k covered call of more than 752 BTC "
                "costs more than standard margin under S:PM: beyond the dampener the short "
                "call's weighted +200% loss grows with size faster than standard margin"
            ),
        ),
    ),
    pytest.param(
        "segregated", "BTC-PERPETUAL", "BTC-26DEC25-115000-C", 1000.0, id="spm-perp-115k",
        marks=_OTM_FINDING,
    ),
    pytest.param(
        "cross", "BTC-PERPETUAL", "BTC-26DEC25-115000-C", 1000.0, id="xpm-perp-115k",
        marks=_OTM_FINDING,
    ),
    pytest.param(
        "cross", "BTC", "BTC-26DEC25-115000-C", 1000.0, id="xpm-coin-115k", marks=_OTM_FINDING
    ),
    pytest.param(
        "segregated", "BTC_USDC-PERPETUAL", "BTC_USDC-12DEC25-115000-C", 200.0,
        id="spm-usdc-115k", marks=_OTM_FINDING,
    ),
]  # fmt: skip
"""A negative ``largest`` draws sizes from ``800`` to ``|largest|`` (beyond the crossing)."""


@pytest.mark.parametrize(("mode", "hedge", "call", "largest"), COVERED)
@settings(max_examples=6, deadline=None)
@given(fraction=st.floats(0.0, 1.0))
def test_covered_call_costs_at_most_standard_margin(
    mode: str, hedge: str, call: str, largest: float, fraction: float
) -> None:
    low, high = (0.01, largest) if largest > 0 else (800.0, -largest)
    size = low + (high - low) * fraction
    if hedge == "BTC":
        book = _book({"covered": ({"BTC": size}, {call: -size})})
    else:
        book = _book({"covered": ({}, {hedge: size, call: -size})})
    pm = _model(mode).compute(book).initial_margin[0]
    standard = get_model("standard").compute(book).initial_margin[0]
    assert pm <= standard * (1 + 1e-12)

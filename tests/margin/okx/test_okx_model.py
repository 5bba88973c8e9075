"""The OKX model on small books: hand values as formulas, hedges, attribution, batching.

The rates below are okx.toml's values for BTC (group ``majors``), pinned by OKX's published
position-builder example (test_okx_published.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from _okx_cases import FORWARD_BTC, INDEX, SPECS, YEARS, market, portfolio

from pmargin.book import arrange, portfolio_from_dict
from pmargin.collateral import account_equity
from pmargin.margin import MarginResult, get_model
from pmargin.margin.okx import BORROW_COMPONENTS, COMPONENTS, OkxModel
from pmargin.market import market_from_dict
from pmargin.pricing import black76_value

BTC = INDEX["BTC"]
MR7_RATE = 0.0045  # okx.toml mr7.rates.perpetual.majors (example); futures assumed the same
WEIGHT = 0.5  # okx.toml mr6.weight (example)
PERP_BASIS = 0.002  # okx.toml mr4.perpetual_move.majors (example)
MR8_MMR, MR8_IMR = 0.02, 0.10  # okx.toml mr8 rates (example for USDT; assumed for USD)


BORROWING = Path(__file__).parent / "okx-borrowing.toml"  # okx.toml with MR8 switched on


def _run(*accounts: dict[str, float], params: Path | None = None) -> MarginResult:
    m = market()
    return get_model("okx", params=params).compute(arrange(portfolio(*accounts), m))


def _unit(result: MarginResult, underlying: str) -> dict[str, float]:
    unit = next(u for u in result.risk_units if u.underlying == underlying)
    return {k: float(v[0]) for k, v in unit.components.items()}


def test_long_perpetual_spot_shock_binds() -> None:
    result = _run({"BTC-USD-SWAP": 1.0})
    c = _unit(result, "BTC")
    assert c["mr1"] == pytest.approx(0.12 * BTC)
    assert c["mr6"] == pytest.approx(WEIGHT * 0.24 * BTC)  # = MR1 for a linear exposure
    assert c["mr2"] == c["mr3"] == c["mr5"] == 0.0
    # The perpetual's mark falls 0.2% against the index (the specs here are linear USD).
    mr4 = PERP_BASIS * BTC
    assert c["mr4"] == pytest.approx(mr4)
    assert c["mr7_raw"] == pytest.approx(MR7_RATE * BTC)
    assert c["mr"] == pytest.approx(0.12 * BTC + mr4)
    assert result.maintenance_margin[0] == pytest.approx(0.12 * BTC + mr4)
    assert result.initial_margin[0] == pytest.approx(1.3 * (0.12 * BTC + mr4))
    unit = result.risk_units[0]
    # MR1 at -12% and MR6 at -24% x 0.5 tie; either may bind, at the same loss.
    label = unit.scenario_labels[int(unit.worst[0])]
    assert label in ("MR1 BTC -12% vol up", "MR6 BTC -24% x0.5 vol none")
    assert -unit.pnl[0, int(unit.worst[0])] == pytest.approx(0.12 * BTC)


def test_linear_perpetual_is_shocked_off_the_index_and_charged_off_the_mark(
    tmp_path: Path,
) -> None:
    """okx.toml ``mr1.shock_price.perpetual = "index"``; MR4 and MR7 use the mark."""
    mark, index, usdt, q = 101_000.0, 100_000.0, 0.999, 2.0
    spec = {
        "symbol": "BTC-USDT-SWAP",
        "kind": "perpetual",
        "underlying": "BTC",
        "settlement": "linear",
        "quote": "USDT",
        "contract_size": 1,
    }
    book = portfolio_from_dict(
        {
            "id": "a",
            "positions": [{"instrument": "BTC-USDT-SWAP", "quantity": q}],
            "instruments": [spec],
        }
    )
    m = market_from_dict(
        {
            "timestamp": "2024-12-28T08:00:00Z",
            "index": {"BTC": index},
            "prices": {"USDT": usdt},
            "marks": {"BTC-USDT-SWAP": {"price": mark / usdt}},
        },
        instruments=book.instruments,
    )
    c = _unit(get_model("okx").compute(arrange(book, m)), "BTC")
    assert c["mr1"] == pytest.approx(q * index * 0.12)
    assert c["mr4"] == pytest.approx(q * mark * PERP_BASIS)
    assert c["mr7_raw"] == pytest.approx(q * mark * MR7_RATE)
    own = tmp_path / "okx-mark.toml"
    own.write_text('base = "okx"\n[mr1.shock_price]\nperpetual = "mark"\n', encoding="utf-8")
    c = _unit(get_model("okx", params=own).compute(arrange(book, m)), "BTC")
    assert c["mr1"] == pytest.approx(q * mark * 0.12)


def test_future_adds_basis_charge() -> None:
    c = _unit(_run({"BTC-USD-250328": -2.0}), "BTC")
    assert c["mr1"] == pytest.approx(2 * 0.12 * FORWARD_BTC)
    assert c["mr4"] == pytest.approx(2 * 0.05 * YEARS * FORWARD_BTC)
    assert c["mr"] == pytest.approx(c["mr1"] + c["mr4"])
    assert c["mmr"] == pytest.approx(c["mr"])


def test_calendar_spread_is_charged_basis_not_spot() -> None:
    c = _unit(_run({"BTC-USD-250328": 1.0, "BTC-USD-SWAP": -1.0}), "BTC")
    assert c["mr1"] == pytest.approx(0.12 * (FORWARD_BTC - BTC))
    # Both legs move down together: the long future by 5%/year x T, the short perpetual 0.2%.
    assert c["mr4"] == pytest.approx(0.05 * YEARS * FORWARD_BTC - PERP_BASIS * BTC)
    assert c["mr7_raw"] == pytest.approx(MR7_RATE * (FORWARD_BTC + BTC))


def test_tier_two_coin_uses_its_moves() -> None:
    c = _unit(_run({"XRP-USD-SWAP": 1_000.0}), "XRP")
    assert c["mr1"] == pytest.approx(0.18 * 2.0 * 1_000)
    assert c["mr6"] == pytest.approx(WEIGHT * 0.36 * 2.0 * 1_000)


def test_hedged_book_cheaper_than_its_legs() -> None:
    result = _run(
        {"BTC-USD": 1.0, "BTC-USD-SWAP": -1.0},
        {"BTC-USD": 1.0},
        {"BTC-USD-SWAP": -1.0},
    )
    hedged, spot, perp = result.initial_margin
    assert hedged < spot + perp
    # spot has no minimum charge (not a derivative); the hedge pays only the perp's MR7
    assert hedged == pytest.approx(1.3 * MR7_RATE * BTC)
    assert spot == pytest.approx(1.3 * 0.12 * BTC)


def test_minimum_charge_binds_with_progressive_scaling() -> None:
    n = 200.0
    result = _run({"BTC-USD": n, "BTC-USD-SWAP": -n})
    c = _unit(result, "BTC")
    raw = MR7_RATE * BTC * n
    assert raw == pytest.approx(90_000)
    assert c["mr7_raw"] == pytest.approx(raw)
    assert c["mr7"] == pytest.approx(10_000 * 1 + 60_000 * 2 + 20_000 * 4)
    assert c["mr4"] == pytest.approx(PERP_BASIS * BTC * n)  # below the scaled MR7
    assert result.maintenance_margin[0] == pytest.approx(c["mr7"])
    assert result.initial_margin[0] == pytest.approx(1.3 * c["mr7"])
    contributions = result.contributions(0)
    assert contributions["BTC-USD"] == 0.0
    assert contributions["BTC-USD-SWAP"] == pytest.approx(1.3 * c["mr7"])


def test_long_option_rate_charge() -> None:
    m = market()
    book = arrange(portfolio({"BTC-USD-250328-110000-C": 1.0}), m)
    result = get_model("okx").compute(book)
    c = _unit(result, "BTC")
    value = float(black76_value(FORWARD_BTC, 110_000.0, YEARS, 0.55, True, 0.0))
    assert c["mr5"] == pytest.approx(value * -math.expm1(-0.01 * YEARS))
    assert c["mr3"] == 0.0  # one expiry: nothing to span


def test_option_calendar_has_vol_span_charge() -> None:
    c = _unit(_run({"BTC-USD-250131-100000-C": 1.0, "BTC-USD-250328-110000-C": -1.0}), "BTC")
    assert c["mr3"] > 0.0


BOOKS = [
    {"BTC-USD-250328-110000-C": -3.0, "BTC-USD-250328-90000-P": 2.0, "BTC-USD-SWAP": 0.5},
    {"BTC-USD-250131-100000-C": 1.0, "BTC-USD-250328-110000-C": -1.0, "XRP-USD-SWAP": -500.0},
    {"BTC-USD-250328": 1.0, "BTC-USD-SWAP": -1.0, "BTC-USD": 0.25},
    {"BTC-USD": 2_000.0, "BTC-USD-SWAP": -2_000.0},
    {},
]


@pytest.mark.parametrize("params", [None, BORROWING], ids=["shipped", "borrowing"])
def test_batch_invariants(params: Path | None) -> None:
    result = _run(*BOOKS, params=params)
    assert result.model == "okx"
    assert any(u.underlying == "*" for u in result.risk_units) == (params is not None)
    im_sum = np.zeros(len(BOOKS))
    borrow_mm, borrow_im = np.zeros(len(BOOKS)), np.zeros(len(BOOKS))
    for unit in result.risk_units:
        c = unit.components
        if unit.underlying == "*":  # MR8: short options worth more than the USD held
            m = market()
            usd = account_equity(arrange(portfolio(*BOOKS), m)).by_currency["USD"]
            assert set(c) == set(BORROW_COMPONENTS)
            assert np.allclose(c["borrowed"], np.maximum(-usd, 0.0))
            assert c["borrowed"][0] > 0.0
            assert np.allclose(c["mr8"], MR8_MMR * c["borrowed"])
            assert np.allclose(c["mr8_imr"], MR8_IMR * c["borrowed"])
            assert np.allclose(unit.maintenance_margin, c["mr8"])
            assert np.allclose(unit.initial_margin, c["mr8_imr"])
            assert np.allclose(result.im_other, c["mr8_imr"])
            borrow_mm, borrow_im = unit.maintenance_margin, unit.initial_margin
            im_sum += unit.initial_margin
            continue
        assert set(c) == set(COMPONENTS)
        assert unit.currency == "USD"
        assert np.allclose(unit.initial_margin, 1.3 * unit.maintenance_margin)
        assert np.allclose(
            c["mr"],
            np.maximum.reduce([c["mr1"], c["mr2"], c["mr6"]]) + c["mr3"] + c["mr4"] + c["mr5"],
        )
        assert np.allclose(c["mmr"], np.maximum(c["mr"], c["mr7"]))
        assert np.allclose(unit.maintenance_margin, c["mmr"])
        assert np.all(unit.initial_margin >= 0.0)
        im_sum += unit.initial_margin
    assert np.allclose(result.initial_margin, im_sum)
    derivatives_mm = result.maintenance_margin - borrow_mm
    assert np.allclose(result.initial_margin, 1.3 * derivatives_mm + borrow_im)
    total = np.asarray(result.im_contribution.sum(axis=1)) + result.im_other
    assert np.allclose(total, result.initial_margin)
    assert result.initial_margin[-1] == 0.0
    # Each account margined alone gives the same numbers as the batch.
    for k, positions in enumerate(BOOKS[:-1]):
        alone = _run(positions, params=params)
        assert alone.initial_margin[0] == pytest.approx(result.initial_margin[k])


def _random_books(seed: int, n: int) -> list[dict[str, float]]:
    """Random books over every spec, and hedged spot/perpetual pairs (where MR7 binds)."""
    rng = np.random.default_rng(seed)
    symbols = [s["symbol"] for s in SPECS]
    books: list[dict[str, float]] = []
    for k in range(n):
        if k % 4 == 3:
            size = float(rng.uniform(0.01, 30.0))
            books.append({"BTC-USD": size, "BTC-USD-SWAP": -size})
            continue
        scale = {"XRP-USD-SWAP": 20_000.0}
        books.append(
            {s: float(rng.normal() * scale.get(s, 2.0)) for s in symbols if rng.random() < 0.5}
        )
    return books


@pytest.mark.parametrize("params", [None, BORROWING], ids=["shipped", "borrowing"])
def test_contributions_add_up_to_each_unit_im(params: Path | None) -> None:
    """Per unit, positions' contributions add up to its IMR (1e-9 relative), both branches."""
    m = market()
    book = arrange(portfolio(*_random_books(10, 120)), m)
    result = get_model("okx", params=params).compute(book)
    contribution = result.im_contribution.toarray()
    branches = set()
    for unit in result.risk_units:
        if unit.underlying == "*":
            np.testing.assert_array_equal(unit.initial_margin, result.im_other)
            continue
        columns = [j for j, i in enumerate(book.instruments) if i.underlying == unit.underlying]
        attributed = contribution[:, columns].sum(axis=1)
        bound = 1e-9 * np.maximum(unit.initial_margin, 1.0)
        assert np.all(np.abs(attributed - unit.initial_margin) <= bound)
        c = unit.components
        branches |= set(np.where(c["mr"] >= c["mr7"], "mr", "mr7")[unit.holds].tolist())
    assert branches == {"mr", "mr7"}
    total = contribution.sum(axis=1) + result.im_other
    bound = 1e-9 * np.maximum(result.initial_margin, 1.0)
    assert np.all(np.abs(total - result.initial_margin) <= bound)


def test_held_flags() -> None:
    result = _run({"BTC-USD-SWAP": 1.0}, {"XRP-USD-SWAP": 1.0})
    by_name = {u.underlying: u for u in result.risk_units}
    assert by_name["BTC"].holds.tolist() == [True, False]
    assert by_name["XRP"].holds.tolist() == [False, True]


def test_from_params_builds_the_model() -> None:
    assert isinstance(get_model("okx"), OkxModel)


def test_borrowing_charge_per_currency() -> None:
    """MR8: each currency with negative equity, at its USD price, times its rates."""
    book = portfolio_from_dict(
        {
            "id": "a",
            "balances": {"USDT": -1_000.0, "USDC": -500.0, "BTC": 1.0},
            "positions": [{"instrument": "BTC-USD-SWAP", "quantity": 0.1}],
            "instruments": [SPECS[0]],
        }
    )
    m = market_from_dict(
        {
            "timestamp": "2024-12-28T08:00:00Z",
            "index": {"BTC": BTC},
            "prices": {"USDT": 0.999, "USDC": 1.001},
        }
    )
    shipped = get_model("okx").compute(arrange(book, m))
    assert [u.underlying for u in shipped.risk_units] == ["BTC"]  # MR8 off in okx.toml
    result = get_model("okx", params=BORROWING).compute(arrange(book, m))
    borrow = next(u for u in result.risk_units if u.underlying == "*")
    borrowed = 1_000.0 * 0.999 + 500.0 * 1.001  # the BTC held is not netted against them
    assert borrow.components["borrowed"][0] == pytest.approx(borrowed)
    assert borrow.maintenance_margin[0] == pytest.approx(MR8_MMR * borrowed)
    assert borrow.initial_margin[0] == pytest.approx(MR8_IMR * borrowed)
    btc = next(u for u in result.risk_units if u.underlying == "BTC")
    assert result.maintenance_margin[0] == pytest.approx(
        btc.maintenance_margin[0] + MR8_MMR * borrowed
    )
    assert result.im_other[0] == pytest.approx(MR8_IMR * borrowed)


@pytest.mark.parametrize(
    ("before", "symbol", "quantity"),
    [
        ({"BTC-USD": 200.0, "BTC-USD-SWAP": -200.0}, "BTC-USD-SWAP", 50.0),  # MR7 binds
        ({"BTC-USD": 200.0, "BTC-USD-SWAP": -200.0}, "BTC-USD-SWAP", 200.0),  # closes
        ({"BTC-USD": 200.0, "BTC-USD-SWAP": -200.0}, "BTC-USD-SWAP", -300.0),  # grows
        ({"BTC-USD-250328-110000-C": -3.0}, "BTC-USD-250131-100000-C", 2.0),  # new expiry: MR3
        ({"BTC-USD-250328-110000-C": -3.0}, "BTC-USD-250328-90000-P", -1.0),  # same expiry
        ({"BTC-USD-SWAP": 1.0}, "XRP-USD-SWAP", 1_000.0),  # a unit the account lacks
        ({"BTC-USD-250328": -2.0}, "BTC-USD-250328", 2.0),  # back to flat
    ],
)
def test_incremental_order_equals_the_changed_book_margined(
    before: dict[str, float], symbol: str, quantity: float
) -> None:
    m = market()
    model = get_model("okx")
    book = arrange(portfolio(before), m)
    after = dict(before)
    after[symbol] = after.get(symbol, 0.0) + quantity
    changed = arrange(portfolio({s: q for s, q in after.items() if q != 0.0}), m)
    full = model.compute(changed)
    incremental = model.incremental(book, model.compute(book))  # type: ignore[attr-defined]
    holder = changed if changed.column(symbol) is not None else book  # closed: book has it
    column = holder.column(symbol)
    assert column is not None
    one = holder.resolved.take([column])
    im, mm = incremental.margin_after(0, one, book.column(symbol), quantity)
    assert im == pytest.approx(float(full.initial_margin[0]), rel=1e-9, abs=1e-9)
    assert mm == pytest.approx(float(full.maintenance_margin[0]), rel=1e-9, abs=1e-9)


def test_no_incremental_path_with_borrowing_charge() -> None:
    model = get_model("okx", params=BORROWING)
    m = market()
    book = arrange(portfolio({"BTC-USD-SWAP": 1.0}), m)
    assert not model.capabilities.incremental
    assert model.incremental(book, model.compute(book)) is None  # type: ignore[attr-defined]
    assert get_model("okx").capabilities.incremental

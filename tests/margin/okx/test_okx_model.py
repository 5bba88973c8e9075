"""The OKX model on small books: hand values as formulas, hedges, attribution, batching."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _okx_cases import FORWARD_BTC, INDEX, YEARS, market, portfolio

from pmargin.margin import MarginResult, get_model
from pmargin.margin.okx import COMPONENTS, OkxModel
from pmargin.pricing import black76_value
from pmargin.risk import arrange

BTC = INDEX["BTC"]
MR7_RATE = 0.0005  # okx.toml mr7.rates.perpetual / future (assumed)
WEIGHT = 0.33  # okx.toml mr6.weight (assumed)


def _run(*accounts: dict[str, float]) -> MarginResult:
    m = market()
    return get_model("okx").compute(arrange(portfolio(*accounts), m), m)


def _unit(result: MarginResult, underlying: str) -> dict[str, float]:
    unit = next(u for u in result.risk_units if u.underlying == underlying)
    return {k: float(v[0]) for k, v in unit.components.items()}


def test_long_perpetual_spot_shock_binds() -> None:
    result = _run({"BTC-USD-SWAP": 1.0})
    c = _unit(result, "BTC")
    assert c["mr1"] == pytest.approx(0.12 * BTC)
    assert c["mr6"] == pytest.approx(WEIGHT * 0.24 * BTC)
    assert c["mr2"] == c["mr3"] == c["mr4"] == c["mr5"] == 0.0
    assert c["mr7_raw"] == pytest.approx(MR7_RATE * BTC)
    assert c["mr"] == pytest.approx(0.12 * BTC)
    assert result.maintenance_margin[0] == pytest.approx(0.12 * BTC)
    assert result.initial_margin[0] == pytest.approx(1.3 * 0.12 * BTC)
    unit = result.risk_units[0]
    assert unit.scenario_labels[int(unit.worst[0])] == "MR1 BTC -12% vol down"


def test_future_adds_basis_charge() -> None:
    c = _unit(_run({"BTC-USD-250328": -2.0}), "BTC")
    assert c["mr1"] == pytest.approx(2 * 0.12 * FORWARD_BTC)
    assert c["mr4"] == pytest.approx(2 * 0.05 * YEARS * FORWARD_BTC)
    assert c["mr"] == pytest.approx(c["mr1"] + c["mr4"])
    assert c["mmr"] == pytest.approx(c["mr"])


def test_calendar_spread_is_charged_basis_not_spot() -> None:
    c = _unit(_run({"BTC-USD-250328": 1.0, "BTC-USD-SWAP": -1.0}), "BTC")
    assert c["mr1"] == pytest.approx(0.12 * (FORWARD_BTC - BTC))
    assert c["mr4"] == pytest.approx(0.05 * YEARS * FORWARD_BTC)
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
    n = 2_000.0
    result = _run({"BTC-USD": n, "BTC-USD-SWAP": -n})
    c = _unit(result, "BTC")
    raw = MR7_RATE * BTC * n
    assert raw == pytest.approx(100_000)
    assert c["mr7_raw"] == pytest.approx(raw)
    assert c["mr7"] == pytest.approx(10_000 * 1 + 60_000 * 2 + 30_000 * 4)
    assert result.maintenance_margin[0] == pytest.approx(c["mr7"])
    assert result.initial_margin[0] == pytest.approx(1.3 * c["mr7"])
    contributions = result.contributions(0)
    assert contributions["BTC-USD"] == 0.0
    assert contributions["BTC-USD-SWAP"] == pytest.approx(1.3 * c["mr7"])


def test_long_option_rate_charge() -> None:
    m = market()
    book = arrange(portfolio({"BTC-USD-250328-110000-C": 1.0}), m)
    result = get_model("okx").compute(book, m)
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


def test_batch_invariants() -> None:
    result = _run(*BOOKS)
    assert result.model == "okx"
    im_sum = np.zeros(len(BOOKS))
    for unit in result.risk_units:
        c = unit.components
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
    assert np.allclose(result.initial_margin, 1.3 * result.maintenance_margin)
    total = np.asarray(result.im_contribution.sum(axis=1)) + result.im_other
    assert np.allclose(total, result.initial_margin)
    assert result.initial_margin[-1] == 0.0
    # Each account margined alone gives the same numbers as the batch.
    for k, positions in enumerate(BOOKS[:-1]):
        alone = _run(positions)
        assert alone.initial_margin[0] == pytest.approx(result.initial_margin[k])


def test_held_flags() -> None:
    result = _run({"BTC-USD-SWAP": 1.0}, {"XRP-USD-SWAP": 1.0})
    by_name = {u.underlying: u for u in result.risk_units}
    assert by_name["BTC"].holds.tolist() == [True, False]
    assert by_name["XRP"].holds.tolist() == [False, True]


def test_from_params_builds_the_model() -> None:
    assert isinstance(get_model("okx"), OkxModel)

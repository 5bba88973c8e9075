"""Carry (basis) as a risk factor: the funding carry, its changes per window, and their P&L.

Real-data tests read the shared funding and price files (skipped when absent); the P&L tests
use a synthetic history with a known carry path, and write the expected P&L as formulas.
"""

from __future__ import annotations

import csv
from typing import Any

import _books
import numpy as np
import pytest

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.history import (
    FUNDING_FILE,
    HistoricalMarkets,
    PriceHistory,
    carry_known,
    load_funding,
    load_price_history,
    trailing_carry,
)
from pmargin.margin import get_model
from pmargin.margin.scenario_risk import (
    ApcMethod,
    CorrelationStressMethod,
    ScenarioMethod,
    ScenarioRiskModel,
)
from pmargin.scenarios import MonteCarloModel, historical_scenarios
from pmargin.scenarios._historical import CarryMoveSource
from pmargin.scenarios._monte_carlo import estimate_carry_vol
from shared_paths import shared_data_dir

DAY = np.timedelta64(86_400, "s")
MARKET = _books.market()
AS_OF = "2024-11-27T08:00:00Z"


def _shared() -> Any:
    folder = shared_data_dir()
    if not (folder / FUNDING_FILE).is_file() or not (folder / "binance_BTCUSDT_1d.csv").is_file():
        pytest.skip(f"shared funding / price data not found at {folder} (PMARGIN_SHARED_DATA)")
    return folder


def _direct_carry(folder: Any, when: np.datetime64) -> float:
    """Mean funding print in (when - 30 d, when] x 3 x 365, clipped: straight from the CSV."""
    prints = []
    with (folder / FUNDING_FILE).open(newline="") as handle:
        for row in csv.DictReader(handle):
            t = np.datetime64(row["timestamp"].replace(" ", "T"), "s")
            if when - 30 * DAY < t <= when:
                prints.append(float(row["funding_rate"]))
    assert len(prints) >= 81
    return float(min(max(sum(prints) / len(prints) * 3 * 365, -0.5), 1.0))


# ----------------------------------------------------------------------------- history


def test_carry_change_per_window_equals_the_funding_file_directly() -> None:
    folder = _shared()
    history = load_price_history(folder, with_carry=True)
    s = historical_scenarios(history, as_of="2022-06-20", mpor="2d", lookback_days=30)
    assert np.all(s.carry_source == CarryMoveSource.FUNDING)
    for j in (0, 7, s.n_scenarios - 1):
        expected = _direct_carry(folder, s.end[j]) - _direct_carry(folder, s.start[j])
        assert s.carry_change[0, j] == pytest.approx(expected, abs=1e-12)  # type: ignore[index]
        # ETH takes BTC's funding as its proxy.
        assert s.carry_change[1, j] == s.carry_change[0, j]  # type: ignore[index]


def test_backtest_market_and_scenarios_share_one_carry() -> None:
    folder = _shared()
    history = load_price_history(folder, with_carry=True)
    funding = load_funding(folder)
    markets = HistoricalMarkets(history, funding)
    known = np.isfinite(history.carry[:, 0])  # type: ignore[index]
    np.testing.assert_array_equal(markets.carry[known], history.carry[known, 0])  # type: ignore[index]
    np.testing.assert_array_equal(
        markets.carry, trailing_carry(funding, history.times, 30, (-0.5, 1.0))
    )
    # Unknown only before a full funding window (the series starts 2019-09-10).
    first = history.times[known][0]
    assert np.datetime64("2019-10-05") <= first <= np.datetime64("2019-10-10")
    assert np.all(known[history.times >= first])


def test_no_funding_before_2019_09_10_means_carry_change_zero_source_none() -> None:
    folder = _shared()
    history = load_price_history(folder, with_carry=True)
    s = historical_scenarios(history, as_of="2019-09-30", lookback_days=400)
    assert np.all(s.carry_change == 0.0)
    assert np.all(s.carry_source == CarryMoveSource.NONE)


def test_no_look_ahead_in_the_carry() -> None:
    folder = _shared()
    funding = load_funding(folder)
    when = np.datetime64("2021-05-19T00:00:00", "s")
    grid = np.array([when])
    full = trailing_carry(funding, grid)
    cut = trailing_carry(funding.as_of(when), grid)
    assert full[0] == cut[0]
    assert carry_known(funding.as_of(when), grid)[0]
    history = load_price_history(folder, with_carry=True)
    a = historical_scenarios(history, as_of=when, lookback_days=60)
    b = historical_scenarios(history.as_of(when), as_of=when, lookback_days=60)
    np.testing.assert_array_equal(a.carry_change, b.carry_change)  # type: ignore[arg-type]


def test_carry_shape_is_checked() -> None:
    times = np.datetime64("2024-01-01T00:00:00", "s") + DAY * np.arange(5)
    with pytest.raises(InputError, match="carry"):
        PriceHistory(("BTC",), times, np.ones(5), carry=np.zeros((4, 1)))


# ----------------------------------------------------------------------------- P&L


def _synthetic(seed: int = 3) -> PriceHistory:
    """Daily BTC/ETH closes to 2024-11-27 with a random-walk carry (decimal per year)."""
    rng = np.random.default_rng(seed)
    times = np.arange(
        np.datetime64("2022-01-01T00:00:00"), np.datetime64("2024-11-28T00:00:00"), 86_400
    ).astype("datetime64[s]")
    n = times.size
    r = rng.standard_normal((n - 1, 2)) * [0.03, 0.04]
    closes = np.exp(np.vstack([np.zeros((1, 2)), np.cumsum(r, axis=0)])) * [30_000, 2_000]
    c = 0.1 + np.concatenate([[0.0], np.cumsum(rng.standard_normal(n - 1) * 0.01)])
    c[:40] = np.nan  # unknown at the start, as before the funding series
    return PriceHistory(("BTC", "ETH"), times, closes, None, 24.0, carry=np.column_stack([c, c]))


def _model(name: str, history: PriceHistory, **changes: Any) -> ScenarioRiskModel:
    shipped = get_model(name)
    assert isinstance(shipped, ScenarioRiskModel)
    base: dict[str, Any] = {
        "lookback_days": 365.0,
        "stress_method": CorrelationStressMethod.NONE,
        "apc_method": ApcMethod.NONE,
    }
    if shipped.params.method is ScenarioMethod.MONTE_CARLO:
        base["n_scenarios"] = 500
    return shipped.with_params(**{**base, **changes}).with_history(history)


def _book(legs: dict[str, float]) -> BookArrangement:
    positions = [{"instrument": s, "quantity": q, "unit": "base"} for s, q in legs.items()]
    return arrange(portfolio_from_dict({"accounts": [{"id": "x", "positions": positions}]}), MARKET)


@pytest.mark.parametrize("name", ["pmargin-es", "pmargin-var"])
def test_basis_book_scenario_pnl_formula(name: str) -> None:
    history = _synthetic()
    model = _model(name, history)
    assert model.params.carry is True
    q_perp, q_fut = 1.0, -1.0
    for perp, fut in (("BTC_USDC-PERPETUAL", "BTC_USDC-27DEC24"), ("BTC-PERPETUAL", "BTC-27DEC24")):
        book = _book({perp: q_perp, fut: q_fut})
        pnl = model.compute(book).risk_units[0].pnl[0]
        s = historical_scenarios(
            history,
            as_of=AS_OF,
            lookback_days=365.0,
            filtered=model.params.method is ScenarioMethod.FILTERED_HISTORICAL,
        )
        m = s.spot_multiplier[0]
        dc = s.carry_change[0]  # type: ignore[index]
        assert np.any(dc != 0.0)
        resolved = book.resolved
        j_fut = [i.symbol for i in resolved.instruments].index(fut)
        j_perp = 1 - j_fut
        big_t = resolved.time[j_fut]
        f = resolved.underlying_price[j_fut]  # the future's forward
        s0 = resolved.underlying_price[j_perp]  # the perpetual's mark
        if perp.startswith("BTC_USDC"):
            usdc = MARKET.usd_price("USDC")
            expected = (q_perp * s0 * (m - 1.0) + q_fut * f * (np.exp(dc * big_t) * m - 1.0)) * usdc
        else:
            coin_usd = MARKET.usd_price("BTC") * m  # the coin moves with spot, not the forward
            expected = (
                q_perp * (1.0 - 1.0 / m) + q_fut * (1.0 - 1.0 / (np.exp(dc * big_t) * m))
            ) * coin_usd
        np.testing.assert_allclose(pnl, expected, rtol=1e-12, atol=1e-8)


@pytest.mark.parametrize("name", ["pmargin-es", "pmargin-var", "pmargin-mc"])
def test_books_without_dated_instruments_do_not_change_with_the_carry(name: str) -> None:
    history = _synthetic()
    book = _book({"BTC-PERPETUAL": 2.0, "BTC_USDC-PERPETUAL": -1.0, "ETH-PERPETUAL": 30.0})
    on = _model(name, history).compute(book)
    off = _model(name, history, carry=False).compute(book)
    np.testing.assert_array_equal(on.risk_units[0].pnl, off.risk_units[0].pnl)
    np.testing.assert_array_equal(on.initial_margin, off.initial_margin)


@pytest.mark.parametrize("name", ["pmargin-es", "pmargin-var", "pmargin-mc"])
def test_switch_off_equals_a_history_without_carry(name: str) -> None:
    history = _synthetic()
    bare = PriceHistory(history.names, history.times, history.closes, None, 24.0)
    book = _book({"BTC-PERPETUAL": 1.0, "BTC-27DEC24": -1.0, "BTC-27DEC24-100000-C": 2.0})
    off = _model(name, history, carry=False).compute(book)
    none = _model(name, bare).compute(book)
    on = _model(name, history).compute(book)
    np.testing.assert_array_equal(off.risk_units[0].pnl, none.risk_units[0].pnl)
    assert not np.array_equal(on.risk_units[0].pnl, off.risk_units[0].pnl)


def test_the_switch_is_read_from_the_parameter_file(tmp_path: Any) -> None:
    assert get_model("pmargin-es").params.carry is True  # type: ignore[attr-defined]
    assert get_model("pmargin-mc").params.carry is True  # type: ignore[attr-defined]
    path = tmp_path / "off.toml"
    path.write_text('base = "pmargin-es"\n[scenarios]\ncarry = false\n')
    assert get_model("pmargin-es", path).params.carry is False  # type: ignore[attr-defined]
    path.write_text('base = "pmargin-es"\n[scenarios]\ncarry = "yes"\n')
    with pytest.raises(InputError, match=r"scenarios\.carry"):
        get_model("pmargin-es", path)


def test_filtering_leaves_the_carry_change_unfiltered() -> None:
    history = _synthetic()
    plain = historical_scenarios(history, as_of=AS_OF, lookback_days=365.0)
    fhs = historical_scenarios(history, as_of=AS_OF, lookback_days=365.0, filtered=True)
    np.testing.assert_array_equal(plain.carry_change, fhs.carry_change)  # type: ignore[arg-type]
    assert not np.array_equal(plain.spot_multiplier, fhs.spot_multiplier)


# ----------------------------------------------------------------------------- Monte Carlo


def test_monte_carlo_carry_shock() -> None:
    history = _synthetic()
    with_carry = MonteCarloModel.from_history(
        history, as_of=AS_OF, lookback_days=365.0, marginal="student_t", dof=5.0
    )
    without = MonteCarloModel.from_history(
        history, as_of=AS_OF, lookback_days=365.0, marginal="student_t", dof=5.0, carry=False
    )
    c = history.as_of(AS_OF).carry[-366:, 0]  # type: ignore[index]
    rms = np.sqrt(np.mean(np.diff(c) ** 2))
    assert with_carry.carry_vol == pytest.approx(rms * np.sqrt(365.0), rel=1e-12)
    assert estimate_carry_vol(c, 24.0, 24.0) == pytest.approx(with_carry.carry_vol, rel=1e-12)
    assert without.carry_vol == 0.0
    a = with_carry.generate(20_000, seed=5)
    b = without.generate(20_000, seed=5)
    # The carry draw comes after the spot draws: the spot moves are the same bit for bit.
    np.testing.assert_array_equal(a.spot_multiplier, b.spot_multiplier)
    np.testing.assert_array_equal(b.carry_change, 0.0)  # type: ignore[arg-type]
    dc = a.carry_change
    assert dc is not None
    np.testing.assert_array_equal(dc[0], dc[1])  # one carry factor for every underlying
    assert np.std(dc[0]) == pytest.approx(rms, rel=0.05)
    assert abs(np.corrcoef(dc[0], np.log(a.spot_multiplier[0]))[0, 1]) < 0.03

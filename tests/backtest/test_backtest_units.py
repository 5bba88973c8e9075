"""Backtest pieces that need no shared data: books, summary, engine on a synthetic history."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from pmargin.backtest import (
    BacktestConfig,
    book_stats,
    build_portfolio,
    default_books,
    gross_notional,
    max_increase,
    parse_duration,
    run_backtest,
)
from pmargin.backtest._books import _expiry, _strike
from pmargin.errors import InputError
from pmargin.history import (
    HistoricalMarkets,
    MarketAssumptions,
    PriceHistory,
    market_at,
    surface_arbitrage,
)
from pmargin.market import market_to_dict

DAY = np.timedelta64(86_400, "s")


def _history(n: int = 120, seed: int = 3) -> PriceHistory:
    rng = np.random.default_rng(seed)
    times = np.datetime64("2021-01-01T00:00:00", "s") + DAY * np.arange(n)
    returns = rng.normal(0.0, 0.03, size=(n, 2))
    closes = np.array([30_000.0, 1_000.0]) * np.exp(np.cumsum(returns, axis=0))
    return PriceHistory(("BTC", "ETH"), times, closes, step_hours=24.0)


def test_strike_rounding_and_symbols() -> None:
    assert _strike(71_234.0) == (71_200.0, "71200")
    assert _strike(93.46) == (93.5, "93d5")
    assert _strike(99.96) == (100.0, "100")
    assert _strike(3_149.0) == (3_150.0, "3150")
    from datetime import UTC, datetime

    assert _expiry(datetime(2024, 1, 1, tzinfo=UTC), 30) == datetime(2024, 1, 31, 8, tzinfo=UTC)
    assert _expiry(datetime(2024, 1, 1, 12, tzinfo=UTC), 1) == datetime(2024, 1, 3, 8, tzinfo=UTC)


def test_books_on_a_market() -> None:
    history = _history()
    market = HistoricalMarkets(history).market(60)
    books = list(default_books(notional=1e6).values())
    portfolio, ids = build_portfolio(books, market)
    assert len(ids) == 2 * len(books)
    assert ids[len(books)] == "long_perp/usdc"
    notional = gross_notional(portfolio, market)
    by_id = dict(zip(ids, notional, strict=True))
    assert by_id["long_perp"] == pytest.approx(1e6)
    assert by_id["short_strangle"] == pytest.approx(2e6)
    symbols = {p.instrument.symbol for p in portfolio.accounts[ids.index("covered_call")].positions}
    assert "BTC-PERPETUAL" in symbols
    hedged = portfolio.accounts[ids.index("delta_hedged_short_vol")].positions
    assert hedged[-1].instrument.symbol == "BTC-PERPETUAL"
    assert abs(hedged[-1].quantity) < 0.2 * abs(hedged[0].quantity)


def test_market_without_look_ahead_and_arbitrage_free() -> None:
    history = _history()
    markets = HistoricalMarkets(history)
    assert markets.first_valid == 30
    for i in (30, 77, history.n_times - 1):
        full = markets.market(i)
        assert market_to_dict(full) == market_to_dict(market_at(history, history.times[i]))
        for name in ("BTC", "ETH"):
            min_g, calendar = surface_arbitrage(full.surface(name))
            assert min_g >= 0
            assert calendar == []
    # No DVOL: ATM = realised vol x premium (BTC); ETH = BTC x clipped ratio.
    a = MarketAssumptions()
    i = 77
    r = np.diff(np.log(history.closes[i - 30 : i + 1]), axis=0)
    rv = np.sqrt((r**2).mean(axis=0) * 365.0)
    assert markets.atm_vol[i, 0] == pytest.approx(rv[0] * a.implied_realised_premium)
    ratio = np.clip(rv[1] / rv[0], *a.vol_ratio_bounds)
    assert markets.atm_vol[i, 1] == pytest.approx(rv[0] * a.implied_realised_premium * ratio)
    with pytest.raises(InputError, match="close"):
        markets.market(10)


def test_max_increase_and_book_stats() -> None:
    margin = np.array([100.0, 150.0, np.nan, 90.0, 180.0, 170.0])
    assert max_increase(margin, 1) == pytest.approx(1.0)
    assert max_increase(margin, 3) == pytest.approx(180.0 / 150.0 - 1.0)
    assert math.isnan(max_increase(margin, 0))
    pnl = np.array([-120.0, 10.0, -5.0, -95.0, 0.0, -1.0])
    notional = np.full(6, 1000.0)
    stats = book_stats("m", "b", margin, pnl, notional, margin * 2, 0.01, 24.0)
    assert stats is not None
    assert (stats.n_obs, stats.n_exceptions) == (5, 2)
    assert stats.margin_to_standard == pytest.approx(0.5)
    assert stats.worst_excess == pytest.approx(20.0)
    weekly = book_stats("m", "b", margin, pnl, notional, None, 0.01, 168.0)
    assert weekly is not None
    assert math.isnan(weekly.max_increase_1d)


def test_parse_duration() -> None:
    assert parse_duration("4h", "step") == 4.0
    assert parse_duration("2d", "mpor") == 48.0
    for bad in ("x", "0d", "-1h", "3w"):
        with pytest.raises(InputError):
            parse_duration(bad, "mpor")


def test_engine_on_synthetic_history(tmp_path: Path) -> None:
    history = _history()
    config = BacktestConfig(models=("standard", "deribit"), books=("long_perp", "calendar"))
    result = run_backtest(history, config)
    assert result.n_obs == history.n_times - 30 - 1
    assert {s.model for s in result.stats} == {"standard", "deribit"}
    assert any("no carry" in n for n in result.notes)
    with pytest.raises(InputError, match="books"):
        run_backtest(history, BacktestConfig(books=("nope",)))
    with pytest.raises(InputError, match="mpor"):
        run_backtest(history, BacktestConfig(mpor_hours=10.0))
    with pytest.raises(InputError, match="mpor"):
        run_backtest(history, BacktestConfig(books=("short_strangle",), mpor_hours=24.0 * 30))


def test_backtest_command(tmp_path: Path, shared_data: Path) -> None:
    from pmargin.cli._backtest_command import backtest

    app = typer.Typer()
    app.command()(backtest)
    app.command("other")(lambda: None)
    out = tmp_path / "bt"
    args = [
        "backtest",
        "--models",
        "standard,deribit",
        "--books",
        "long_perp,short_strangle",
        "--start",
        "2024-01-01",
        "--end",
        "2024-03-01",
        "--out",
        str(out),
        "--data",
        str(shared_data),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "short_strangle/usdc" in result.output
    assert {p.name for p in out.iterdir()} == {
        "report.html",
        "results.json",
        "results.csv",
        "series.csv",
    }
    as_json = CliRunner().invoke(app, [*args, "--json", "--no-html"])
    assert as_json.exit_code == 0, as_json.output
    assert '"summary"' in as_json.output

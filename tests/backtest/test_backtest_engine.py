"""Walk-forward backtest on the shared real history (reduced: weekly steps, few models/books)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from pmargin.backtest import (
    BacktestConfig,
    BacktestResult,
    BookSpec,
    Leg,
    build_portfolio,
    christoffersen,
    default_books,
    kupiec_pof,
    run_backtest,
    traffic_light,
    write_report,
)
from pmargin.book import arrange
from pmargin.history import (
    FundingHistory,
    HistoricalMarkets,
    PriceHistory,
    load_funding,
    load_price_history,
    market_at,
    surface_arbitrage,
)
from pmargin.margin import MODELS, get_model
from pmargin.market import market_to_dict
from shared_paths import shared_data_dir

BOOKS = ("long_perp", "short_strangle", "calendar", "pair", "delta_hedged_short_vol")
MODELS_RUN = tuple(m for m in ("standard", "deribit", "derive-pmrm2", "pmargin-es") if m in MODELS)


@pytest.fixture(scope="module")
def data() -> tuple[PriceHistory, FundingHistory]:
    folder = shared_data_dir()
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder} (set PMARGIN_SHARED_DATA)")
    return load_price_history(folder), load_funding(folder)


@pytest.fixture(scope="module")
def weekly(data: tuple[PriceHistory, FundingHistory]) -> BacktestResult:
    history, funding = data
    config = BacktestConfig(models=MODELS_RUN, books=BOOKS, step_hours=168.0, mpor_hours=24.0)
    return run_backtest(history, config, funding=funding)


def test_counts_cover_the_full_history(weekly: BacktestResult) -> None:
    n_accounts = 2 * len(BOOKS)
    assert weekly.accounts == (*BOOKS, *(f"{b}/usdc" for b in BOOKS))
    assert weekly.pnl.shape == weekly.notional.shape == (weekly.n_obs, n_accounts)
    steps = np.diff(weekly.times).astype(np.int64)
    assert np.all(steps == 7 * 86_400)
    assert np.all((weekly.horizons - weekly.times).astype(np.int64) == 86_400)
    # The first step needs 30 days of returns; the last one a close one day later.
    assert weekly.times[0] >= np.datetime64("2017-09-17")
    assert weekly.times[0] <= np.datetime64("2017-09-25")
    assert weekly.horizons[-1] >= np.datetime64("2025-12-30")
    assert weekly.n_obs > 420
    assert np.all(np.isfinite(weekly.pnl))
    assert np.all(weekly.notional > 0)
    assert len(weekly.stats) == sum(
        int(np.isfinite(weekly.margin[m][:, a]).sum() >= 2)
        for m in MODELS_RUN
        for a in range(n_accounts)
    )


def test_margins_positive_and_applicability(weekly: BacktestResult) -> None:
    for model, margin in weekly.margin.items():
        finite = np.isfinite(margin)
        assert np.all(margin[finite] > 0), model
        if model == "derive-pmrm2":
            inverse = [not a.endswith("/usdc") for a in weekly.accounts]
            assert not finite[:, inverse].any()
            assert finite[:, ~np.array(inverse)].all()
            assert "derive-pmrm2" in weekly.errors
        elif model == "pmargin-es":
            # Needs two years of history: no margin before, every book margined after.
            first = int(np.argmax(finite.all(axis=1)))
            assert weekly.times[first] > np.datetime64("2019-08-01")
            assert not finite[:first].any()
            assert finite[first:].all()
            assert "lookback" in weekly.errors[model]
        else:
            assert finite.all(), model


def test_statistics_recomputed_from_the_stored_series(weekly: BacktestResult) -> None:
    p = weekly.config.p
    for s in weekly.stats:
        a = weekly.accounts.index(s.book)
        margin = weekly.margin[s.model][:, a]
        loss = -weekly.pnl[:, a]
        ok = np.isfinite(margin)
        hits = loss[ok] > margin[ok]
        assert s.n_obs == int(ok.sum())
        assert s.n_exceptions == int(hits.sum())
        kupiec = kupiec_pof(s.n_obs, s.n_exceptions, p)
        chris = christoffersen(hits, p)
        assert s.kupiec_lr == pytest.approx(kupiec.statistic)
        assert s.kupiec_p_value == pytest.approx(kupiec.p_value)
        assert s.ind_lr == pytest.approx(chris.lr_ind)
        assert s.cc_lr == pytest.approx(chris.lr_cc)
        assert s.zone == traffic_light(s.n_exceptions, s.n_obs, p).zone
        assert s.margin_to_notional == pytest.approx(
            margin[ok].mean() / weekly.notional[ok, a].mean()
        )
        np.testing.assert_array_equal(weekly.hits(s.model)[ok, a], hits)
    standard = {s.book: s for s in weekly.stats if s.model == "standard"}
    assert all(s.margin_to_standard == pytest.approx(1.0) for s in standard.values())


def test_overlap_note(weekly: BacktestResult) -> None:
    assert weekly.config.overlap < 1
    assert any("do not overlap" in n for n in weekly.notes)


def test_no_look_ahead(data: tuple[PriceHistory, FundingHistory], weekly: BacktestResult) -> None:
    history, funding = data
    markets = HistoricalMarkets(history, funding)
    model = get_model("deribit")
    specs = [default_books()[b] for b in BOOKS]
    for s in (0, 150, weekly.n_obs - 1):
        t = weekly.times[s]
        i = markets.index_of(t)
        full = markets.market(i)
        truncated = market_at(history.as_of(t), t, funding.as_of(t))
        assert market_to_dict(full) == market_to_dict(truncated)
        portfolio, _ = build_portfolio(specs, truncated)
        margin = model.compute(arrange(portfolio, truncated)).initial_margin
        np.testing.assert_allclose(weekly.margin["deribit"][s], margin, rtol=1e-12)


def test_surfaces_free_of_arbitrage(data: tuple[PriceHistory, FundingHistory]) -> None:
    history, funding = data
    markets = HistoricalMarkets(history, funding)
    for i in (markets.first_valid, 1000, 2000, history.n_times - 1):
        market = markets.market(i)
        for name in ("BTC", "ETH"):
            min_g, calendar = surface_arbitrage(market.surface(name))
            assert min_g >= 0.0
            assert calendar == []
        # 30-day ATM vol is the DVOL where one is known.
        if np.isfinite(history.iv[i, 0]):
            t = 30.0 / 365.0
            f = market.forward("BTC", market.timestamp + timedelta(days=30))
            vol = market.surface_vols("BTC", f, f, t)
            assert float(vol) == pytest.approx(history.iv[i, 0], rel=1e-9)


def test_one_perp_book_pnl(data: tuple[PriceHistory, FundingHistory]) -> None:
    history, funding = data
    notional = 250_000.0
    books = {"lp": BookSpec("lp", (Leg("perp", "BTC", notional),))}
    config = BacktestConfig(
        models=("standard",),
        start=np.datetime64("2021-05-10").astype(object),
        end=np.datetime64("2021-06-10").astype(object),
        mpor_hours=48.0,
    )
    result = run_backtest(history, config, funding=funding, books=books)
    j = history.index("BTC")
    s0 = history.closes[np.searchsorted(history.times, result.times), j]
    s1 = history.closes[np.searchsorted(history.times, result.horizons), j]
    q = notional / s0
    np.testing.assert_allclose(result.pnl[:, 1], q * (s1 - s0), rtol=1e-12)  # linear (USDC)
    coin = notional * (1.0 / s0 - 1.0 / s1)  # inverse: USD notional, P&L in BTC
    np.testing.assert_allclose(result.pnl[:, 0], coin * s1, rtol=1e-12)
    assert result.config.overlap == 2.0
    assert any("overlapping" in n for n in result.notes)


def test_report_files(weekly: BacktestResult, tmp_path: Path) -> None:
    paths = write_report(weekly, tmp_path)
    text = paths["html"].read_text()
    assert text.count("data:image/png;base64,") == 1 + len(weekly.accounts)
    assert "efficiency vs coverage" in text
    assert paths["csv"].read_text().count("\n") == 1 + len(weekly.stats)
    assert paths["series"].read_text().count("\n") == 1 + weekly.n_obs * len(weekly.accounts)
    doc = json.loads(paths["json"].read_text())
    assert len(doc["summary"]) == len(weekly.stats)
    assert doc["series"]["accounts"] == list(weekly.accounts)

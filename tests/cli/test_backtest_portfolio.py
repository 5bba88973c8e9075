"""``backtest --portfolio``, exceptions by year, and the progress hooks behind long commands."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmargin.backtest import books_from_portfolio, build_portfolio, exceptions_by_year
from pmargin.book import base_quantity
from pmargin.cli.main import app
from pmargin.engine import backtest_report, example_path, load_inputs
from pmargin.errors import InputError

PORTFOLIO = example_path("example_portfolio.json")
MARKET = example_path("example_market.json")
PERIOD = ["--start", "2024-01-01", "--end", "2024-03-01"]


def test_books_from_portfolio_give_back_the_files_contracts_at_its_market() -> None:
    """At the portfolio's own market the re-strike rule rebuilds the file's positions."""
    market, portfolio = load_inputs(MARKET, PORTFOLIO)
    books = books_from_portfolio(portfolio, market)
    assert list(books) == [a.id for a in portfolio.accounts if a.positions]
    rebuilt, ids = build_portfolio(list(books.values()), market, linear_twins=False)
    assert ids == list(books)
    for account, again in zip(portfolio.accounts, rebuilt.accounts, strict=True):
        assert [p.instrument.symbol for p in again.positions] == [
            p.instrument.symbol for p in account.positions
        ]
        for before, after in zip(account.positions, again.positions, strict=True):
            inst = before.instrument
            price = (
                market.index_price(inst.underlying)
                if inst.expiry is None
                else market.forward(inst.underlying, inst.expiry)
            )
            assert math.isclose(after.quantity, base_quantity(before, price), rel_tol=1e-12)


def test_books_from_portfolio_refuses_what_has_no_history(tmp_path: Path) -> None:
    market, _ = load_inputs(MARKET, None)
    doc = {
        "accounts": [{"id": "sol", "positions": [{"instrument": "SOL-PERPETUAL", "quantity": 1}]}]
    }
    path = tmp_path / "sol.json"
    path.write_text(json.dumps(doc))
    _, portfolio = load_inputs(MARKET, path)
    with pytest.raises(InputError, match="history"):
        books_from_portfolio(portfolio, market)


def test_backtest_portfolio_through_the_cli(tmp_path: Path, shared_data: Path) -> None:
    args = [
        "backtest",
        "--portfolio",
        str(PORTFOLIO),
        "--models",
        "standard,deribit",
        *PERIOD,
        "--out",
        str(tmp_path / "bt"),
        "--data",
        str(shared_data),
        "--no-html",
    ]
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "exceptions by year" in table.output
    assert "btc-collar/usdc" not in table.output  # a user's book keeps its own settlement
    as_json = CliRunner().invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.output)
    by_year = doc["exceptions_by_year"]
    assert {r["year"] for r in by_year} == {2024}
    assert {r["book"] for r in by_year} == {
        "btc-collar",
        "btc-short-strangle",
        "eth-calendar",
        "usdc-linear",
    }


def test_exceptions_by_year_add_up_to_the_summary(tmp_path: Path, shared_data: Path) -> None:
    steps: list[tuple[int, int]] = []
    report = backtest_report(
        tmp_path / "bt",
        models=("standard", "deribit"),
        books=("long_perp", "short_strangle"),
        start="2023-11-01",
        end="2024-02-01",
        data=shared_data,
        html=False,
        progress=lambda done, total: steps.append((done, total)),
    )
    result = report.result
    assert steps == [(k, result.n_obs) for k in range(1, result.n_obs + 1)]
    rows = exceptions_by_year(result)
    assert {r["year"] for r in rows} == {2023, 2024}
    for s in result.stats:
        mine = [r for r in rows if r["model"] == s.model and r["book"] == s.book]
        assert sum(r["n_obs"] for r in mine) == s.n_obs
        assert sum(r["n_exceptions"] for r in mine) == s.n_exceptions


def test_simulate_reports_progress(shared_data: Path) -> None:
    from pmargin.simulate import SimulationConfig, simulate_crash

    seen: list[tuple[int, int]] = []
    config = SimulationConfig(models=("standard", "deribit"), n_accounts=20)
    simulate_crash(config, data=shared_data, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (4, 4)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

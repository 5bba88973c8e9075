"""One owner at several venues: the sum, the union, what netting frees, the joint hedge.

Each venue's margin is its account margined alone; the union is every position and balance
in one account; the totals are sums. The hedge across venues keeps the owner's joint limits,
and without them equals each venue hedged alone (the objective separates by venue).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _hedge_cases import COARSE
from typer.testing import CliRunner

from pmargin.book import arrange, portfolio_from_dict
from pmargin.cli.main import app
from pmargin.collateral import account_equity
from pmargin.engine import example_path
from pmargin.margin import get_model
from pmargin.market import MarketSnapshot
from pmargin.optimise import (
    HedgeLimits,
    HedgeProblem,
    VenuePart,
    consolidate,
    hedge_across,
    hedge_universe,
    optimise_hedge,
    union_portfolio,
)

RTOL = 1e-9
LONG: dict[str, Any] = {
    "id": "me",
    "balances": {"BTC": 1.0},
    "positions": [
        {"instrument": "BTC-PERPETUAL", "quantity": 100_000},
        {"instrument": "BTC-26DEC25-90000-P", "quantity": -2},
    ],
}
SHORT: dict[str, Any] = {
    "id": "me-too",
    "balances": {"USDC": 30_000.0},
    "positions": [{"instrument": "BTC-26DEC25", "quantity": -90_000}],
}


def _parts(models: tuple[str, str] = ("deribit", "deribit")) -> list[VenuePart]:
    return [
        VenuePart("a", portfolio_from_dict({"accounts": [LONG]}), "me", get_model(models[0])),
        VenuePart("b", portfolio_from_dict({"accounts": [SHORT]}), "me-too", get_model(models[1])),
    ]


def test_sum_union_and_freed(example_market: MarketSnapshot) -> None:
    """Totals are sums; the union is the merged account's margin; freed is their difference."""
    parts = _parts(("deribit", "standard"))
    result = consolidate(parts, example_market, get_model("deribit"))
    for part, venue in zip(parts, result.venues, strict=True):
        book = arrange(part.portfolio, example_market)
        assert venue.initial_margin == float(part.model.compute(book).initial_margin[0])
        assert venue.equity == pytest.approx(float(account_equity(book).equity[0]), rel=RTOL)
    union = arrange(union_portfolio(parts, "u"), example_market)
    assert result.union.initial_margin == float(
        get_model("deribit").compute(union).initial_margin[0]
    )
    total = sum(v.initial_margin for v in result.venues)
    assert result.total_initial_margin == pytest.approx(total, rel=RTOL)
    assert result.freed == pytest.approx(total - result.union.initial_margin, rel=RTOL)
    assert result.freed > 0  # a long perpetual at one venue, a short future at the other
    equity = sum(v.equity for v in result.venues)
    assert result.union.equity == pytest.approx(equity, rel=RTOL)


def test_one_venue_frees_nothing(example_market: MarketSnapshot) -> None:
    """One part under the union's own model: the union is that account, nothing freed."""
    result = consolidate(_parts()[:1], example_market, get_model("deribit"))
    assert result.union.initial_margin == pytest.approx(result.venues[0].initial_margin, rel=RTOL)
    assert result.freed == pytest.approx(0.0, abs=1e-9)


def _problems(example_market: MarketSnapshot) -> list[HedgeProblem]:
    out = []
    for part in _parts():
        book = arrange(part.portfolio, example_market)
        everything = hedge_universe(book, "BTC-*", COARSE)
        universe = everything.take(
            [everything.symbols.index(s) for s in ("BTC-PERPETUAL", "BTC-28NOV25-95000-P")]
        )
        out.append(
            HedgeProblem(part.model, book, part.account, universe, HedgeLimits(max_size=60_000.0))
        )
    return out


def test_hedge_across_separates_without_joint_limits(example_market: MarketSnapshot) -> None:
    """No joint limit: each venue's hedge is its own optimum (IM + cost to 1e-9)."""
    joint = hedge_across(_problems(example_market))
    alone = [optimise_hedge(p) for p in _problems(example_market)]
    assert [h.method for h in joint] == ["exact", "exact"]
    for j, a in zip(joint, alone, strict=True):
        assert j.total_after == pytest.approx(a.total_after, rel=RTOL)
        assert j.core_im == pytest.approx(j.im_after, rel=RTOL)


def test_hedge_across_keeps_joint_limits(example_market: MarketSnapshot) -> None:
    """The owner's delta band over both venues and the total cost hold after the trades."""
    problems = _problems(example_market)
    joint = hedge_across(problems, delta_band=(-0.1, 0.1), max_cost=300.0)
    assert sum(h.cost for h in joint) <= 300.0 * (1 + 1e-12)
    delta = sum(p.delta_exposure("BTC")[0] for p in problems)
    for p, h in zip(problems, joint, strict=True):
        for t in h.trades:
            delta += (
                float(p.universe.delta[p.universe.symbols.index(t.instrument)]) * t.base_quantity
            )
    assert -0.1 - 1e-9 <= delta <= 0.1 + 1e-9
    assert np.isfinite(sum(h.im_after for h in joint))


def test_consolidate_command(tmp_path: Path) -> None:
    """``pmargin consolidate --json``: venues, total, union, freed; the hedge on request."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"accounts": [LONG]}))
    b.write_text(json.dumps({"accounts": [SHORT]}))
    market = str(example_path("example_market.json"))
    args = ["consolidate", "-m", market, "--part", f"deribit={a}", "--part", f"venue2={b}"]
    result = CliRunner().invoke(app, [*args, "--model-of", "venue2=deribit", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [v["venue"] for v in document["venues"]] == ["deribit", "venue2"]
    total = sum(v["initial_margin"] for v in document["venues"])
    assert document["total"]["initial_margin"] == pytest.approx(total, rel=RTOL)
    assert document["freed"] == pytest.approx(total - document["union"]["initial_margin"], rel=RTOL)
    hedged = CliRunner().invoke(app, [*args, "--hedge", "BTC-PERPETUAL", "--json"])
    assert hedged.exit_code == 0, hedged.output
    assert len(json.loads(hedged.stdout)["hedge"]["venues"]) == 2
    twice = CliRunner().invoke(
        app, ["consolidate", "-m", market, "--part", f"x={a}", "--part", f"x={b}"]
    )
    assert twice.exit_code == 2
    assert "--part" in twice.stderr

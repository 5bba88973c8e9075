"""``pmargin consolidate`` reading a venue's saved replies and a venue's own market.

A venue given as saved API replies (``--replies VENUE=PATH``, read by the importers as
``--from VENUE`` reads them) is the same part as the portfolio file ``pmargin import`` writes
from those replies; a venue with its own market (``--venue-market VENUE=FILE``) is margined
at that market, and the union stays at ``--market``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pmargin.book import arrange
from pmargin.cli.main import app
from pmargin.engine import EXAMPLE_MARKET, example_path
from pmargin.io import import_portfolio, read_replies
from pmargin.margin import get_model
from pmargin.market import load_market
from pmargin.optimise import VenuePart, consolidate

FIXTURES = Path(__file__).resolve().parents[1] / "io" / "fixtures"
MARKET = str(example_path(EXAMPLE_MARKET))
DERIBIT = [FIXTURES / "deribit" / n for n in ("get_account_summary_btc.json", "get_positions.json")]
OKX = [FIXTURES / "okx" / n for n in ("positions.json", "balance.json")]
RUNNER = CliRunner()


def _run(*args: str) -> Any:
    result = RUNNER.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _fails(*args: str) -> str:
    result = RUNNER.invoke(app, list(args))
    assert result.exit_code != 0
    return result.stderr


def _imported(tmp_path: Path, venue: str, replies: list[Path]) -> Path:
    out = tmp_path / f"{venue}.json"
    result = RUNNER.invoke(
        app, ["import", venue, *map(str, replies), "--account", venue, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def _lower_btc_market(tmp_path: Path, factor: float) -> Path:
    """The example market with BTC's index, forwards and delta-one marks times ``factor``."""
    document = json.loads(Path(MARKET).read_text())
    document["index"]["BTC"] *= factor
    document["forwards"]["BTC"] = {k: v * factor for k, v in document["forwards"]["BTC"].items()}
    for symbol, mark in document["marks"].items():
        if symbol.startswith("BTC") and "price" in mark and mark["price"] > 1.0:
            mark["price"] *= factor
    path = tmp_path / "venue-market.json"
    path.write_text(json.dumps(document))
    return path


def test_replies_are_the_imported_portfolio(tmp_path: Path) -> None:
    deribit, okx = _imported(tmp_path, "deribit", DERIBIT), _imported(tmp_path, "okx", OKX)
    common = ["consolidate", "-m", MARKET, "--union-model", "pmargin-es", "--json"]
    from_files = _run(*common, "--part", f"deribit={deribit}", "--part", f"okx={okx}")
    replies = [f"deribit={p}" for p in DERIBIT] + [f"okx={p}" for p in OKX]
    from_replies = _run(*common, *(a for r in replies for a in ("--replies", r)))
    assert from_replies == from_files
    assert [v["venue"] for v in from_replies["venues"]] == ["deribit", "okx"]
    assert [v["model"] for v in from_replies["venues"]] == ["deribit", "okx"]
    assert from_replies["freed"] == pytest.approx(
        from_replies["total"]["initial_margin"] - from_replies["union"]["initial_margin"],
        rel=1e-12,
    )
    # a mix: one venue from a file, the other from its replies
    mixed = _run(
        *common,
        "--part",
        f"deribit={deribit}",
        *(a for p in OKX for a in ("--replies", f"okx={p}")),
    )
    assert mixed == from_files


def test_a_venue_market_margins_that_venue_there_and_the_union_at_the_market(
    tmp_path: Path,
) -> None:
    okx_file = _imported(tmp_path, "okx", OKX)
    deribit_file = _imported(tmp_path, "deribit", DERIBIT)
    lower = _lower_btc_market(tmp_path, 0.97)
    common = ["consolidate", "-m", MARKET, "--part", f"deribit={deribit_file}",
              "--part", f"okx={okx_file}", "--union-model", "okx", "--json"]  # fmt: skip
    plain = _run(*common)
    own = _run(*common, "--venue-market", f"okx={lower}")
    assert own["venues"][0] == plain["venues"][0]
    assert own["union"] == plain["union"]
    alone = _run("margin", "-p", str(okx_file), "-m", str(lower), "--model", "okx", "--json")
    okx = alone["accounts"][0]
    assert own["venues"][1]["initial_margin"] == pytest.approx(okx["initial_margin"], rel=1e-12)
    assert own["venues"][1]["equity"] == pytest.approx(okx["equity"], rel=1e-12)
    assert own["venues"][1]["initial_margin"] != plain["venues"][1]["initial_margin"]
    assert own["total"]["initial_margin"] == pytest.approx(
        sum(v["initial_margin"] for v in own["venues"]), rel=1e-12
    )


def test_library_part_market() -> None:
    portfolio = import_portfolio("okx", read_replies("okx", OKX), account="okx")
    market = load_market(MARKET)
    moved = market.moved({"BTC": -0.1})
    model = get_model("okx")
    result = consolidate([VenuePart("okx", portfolio, "okx", model, moved)], market, model)
    expected = model.compute(arrange(portfolio, moved))
    assert result.venues[0].initial_margin == float(expected.initial_margin[0])
    assert result.union.initial_margin == float(
        model.compute(arrange(portfolio, market)).initial_margin[0]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--part", "okx=X.json", "--replies", "okx=Y.json"], "also given as a portfolio file"),
        (["--replies", "kraken=Y.json"], "kraken"),
        (
            ["--replies", f"okx={OKX[0]}", "--venue-market", f"deribit={MARKET}"],
            "not one of the parts",
        ),
    ],
)
def test_bad_sources_are_one_line_errors(args: list[str], message: str) -> None:
    stderr = _fails("consolidate", "-m", MARKET, *args)
    assert message in stderr
    assert stderr.count("\n") <= 1

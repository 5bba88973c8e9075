"""Two-sided backtest verdict (over-margin factor) and the parameter sweep."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from pmargin.backtest import (
    BacktestConfig,
    book_stats,
    kupiec_pof,
    over_margin_factor,
    parse_sweep,
    run_backtest,
    sweep_models,
    sweep_rows,
    variant_model,
    verdict,
    write_sweep,
)
from pmargin.errors import InputError
from pmargin.history import PriceHistory

DAY = np.timedelta64(86_400, "s")


def _history(n: int = 90, seed: int = 5) -> PriceHistory:
    rng = np.random.default_rng(seed)
    times = np.datetime64("2021-01-01T00:00:00", "s") + DAY * np.arange(n)
    closes = np.array([30_000.0, 1_000.0]) * np.exp(
        np.cumsum(rng.normal(0.0, 0.03, size=(n, 2)), axis=0)
    )
    return PriceHistory(("BTC", "ETH"), times, closes, step_hours=24.0)


# ------------------------------------------------------------------ over-margin factor


def test_over_margin_factor_closed_form() -> None:
    # T = 200, p = 1 %: k = ceil(2) = 2; losses / margin sorted: 0.5, 0.25, 0.1, ...
    margin = np.full(200, 100.0)
    pnl = np.full(200, 5.0)  # gains
    pnl[[3, 50, 120]] = [-25.0, -50.0, -10.0]
    assert over_margin_factor(margin, pnl, 0.01) == pytest.approx(4.0)  # 1 / 0.25
    # 2.5 % -> k = 5: fewer than 5 losses at all -> inf.
    assert over_margin_factor(margin, pnl, 0.025) == math.inf
    # Under-margined: 10 losses of 2 x margin, k = 2 -> N = 0.5.
    pnl[:10] = -200.0
    assert over_margin_factor(margin, pnl, 0.01) == pytest.approx(0.5)
    assert math.isnan(over_margin_factor(np.array([np.nan]), np.array([1.0]), 0.01))


@given(
    st.lists(st.floats(-3.0, 1.0, allow_nan=False), min_size=20, max_size=300),
    st.sampled_from([0.01, 0.025, 0.05]),
)
@example([0.0] * 19 + [-2.2e-311], 0.01)  # a subnormal loss: no finite factor reaches it
def test_dividing_by_the_factor_reaches_the_expected_count(pnl: list[float], p: float) -> None:
    pnl_arr = np.asarray(pnl)
    margin = np.linspace(0.5, 1.5, pnl_arr.size)
    n = over_margin_factor(margin, pnl_arr, p)
    k = max(1, math.ceil(p * pnl_arr.size - 1e-9))
    if not math.isfinite(n):
        # Fewer than k losses that the largest finite factor turns into exceptions (a loss
        # below margin / float max, e.g. subnormal, stays below every finite division).
        assert np.sum(-pnl_arr > margin / sys.float_info.max) < k
        return
    # Just above N: at least k exceptions; just below: fewer than k.
    assert np.sum(-pnl_arr > margin / (n * (1 + 1e-9))) >= k
    assert np.sum(-pnl_arr > margin / (n * (1 - 1e-9))) < k


# ------------------------------------------------------------------ verdict


def test_verdict_strings() -> None:
    assert verdict("none", False, "green", 1.1) == "pass"
    assert verdict("too_few", False, "green", 3.14) == "over-margined by about 3.1x"
    assert verdict("too_few", False, "green", math.inf).startswith("over-margined (fewer")
    assert verdict("too_many", False, "red", 0.5) == (
        "under-margined (red: IM x 2.00 for the expected count)"
    )
    assert verdict("none", True, "green", 1.0) == "exceptions cluster (Christoffersen)"


def test_book_stats_two_sided() -> None:
    t = 2000
    margin = np.full(t, 100.0)
    notional = np.full(t, 1000.0)
    rng = np.random.default_rng(1)
    loss = rng.uniform(0.0, 40.0, t)  # never above the margin: 0 exceptions of 20 expected
    loss[::100] = 50.0  # the 20 largest ratios are 0.5
    over = book_stats("m", "b", margin, -loss, notional, None, 0.01, 24.0)
    assert over is not None
    assert over.n_exceptions == 0
    assert over.kupiec_reject
    assert over.kupiec_side == "too_few"
    assert over.expected_exceptions == pytest.approx(20.0)
    assert over.over_margin_factor == pytest.approx(2.0)
    assert over.verdict == "over-margined by about 2.0x"
    assert not over.coverage_pass

    spread = loss.copy()
    spread[::100] = 150.0  # 20 exceptions, evenly spread: calibrated
    ok = book_stats("m", "b", margin, -spread, notional, None, 0.01, 24.0)
    assert ok is not None
    assert ok.n_exceptions == 20
    assert not kupiec_pof(t, 20, 0.01).reject
    assert ok.kupiec_side == "none"
    assert ok.coverage_pass
    assert ok.verdict == "pass"

    many = loss.copy()
    many[::25] = 300.0  # 80 exceptions of loss 3 x margin
    bad = book_stats("m", "b", margin, -many, notional, None, 0.01, 24.0)
    assert bad is not None
    assert bad.kupiec_side == "too_many"
    assert bad.zone == "red"
    assert bad.over_margin_factor == pytest.approx(1.0 / 3.0)
    assert bad.verdict.startswith("under-margined (red: IM x 3.00")
    assert bad.to_dict()["coverage_pass"] is False


# ------------------------------------------------------------------ sweep


def test_parse_sweep() -> None:
    spec = parse_sweep("measure.confidence=0.975, 0.99", "pmargin-es")
    assert spec.path == "measure.confidence"
    assert spec.parsed == (0.975, 0.99)
    assert spec.labels == (
        "pmargin-es[measure.confidence=0.975]",
        "pmargin-es[measure.confidence=0.99]",
    )
    words = parse_sweep("apc.method=floor,none", "pmargin-es")
    assert words.parsed == ("floor", "none")
    assert parse_sweep("apc.floor_lookback_days=all,730", "pmargin-es").parsed == ("all", 730)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("measure.confidance=0.9", r"sweep.*measure\.confidance.*measure has: kind, confidence"),
        ("nope=1", r"nope.*not a parameter of pmargin-es\.toml"),
        ("measure=1", "is a table"),
        ("measure.confidence", "PARAM=v1,v2"),
        ("measure.confidence=", "PARAM=v1,v2"),
        ("measure.confidence=0.9,,0.99", "PARAM=v1,v2"),
        ("name=x", "identity"),
    ],
)
def test_parse_sweep_errors_name_the_field(text: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        parse_sweep(text, "pmargin-es")


def test_sweep_values_are_validated_by_the_model() -> None:
    spec = parse_sweep("measure.confidence=0.99,1.5", "pmargin-es")
    with pytest.raises(InputError, match=r"measure\.confidence"):
        sweep_models(spec)
    models = sweep_models(parse_sweep("measure.confidence=0.975,0.99", "pmargin-es"))
    confidences = [m.params.confidence for m in models.values()]  # type: ignore[attr-defined]
    assert confidences == [0.975, 0.99]


def test_variant_with_several_fields() -> None:
    model = variant_model(
        "pmargin-es",
        {"measure.confidence": "0.97", "apc.floor_lookback_days": "365", "apc.method": "floor"},
        "x",
    )
    params = model.params  # type: ignore[attr-defined]
    assert (params.confidence, params.floor_lookback_days) == (0.97, 365.0)
    with pytest.raises(InputError, match=r"apc\.nope"):
        variant_model("pmargin-es", {"apc.nope": "1"}, "x")
    with pytest.raises(InputError, match=r"apc\.method"):
        variant_model("pmargin-es", {"apc.method": "cap"}, "x")


def test_sweep_of_standard_on_a_synthetic_history(tmp_path: Path) -> None:
    """IM = |q| (im_rate + |q| rate_per_unit) x price: raising im_rate by 0.02 adds 2 % of the
    perpetual's notional to every step's margin."""
    spec = parse_sweep("futures.BTC.im_rate=0.02,0.04", "standard")
    variants = sweep_models(spec)
    config = BacktestConfig(models=tuple(variants), books=("long_perp",), linear_twins=True)
    result = run_backtest(_history(), config, instances=variants)
    low, high = (result.margin[label] for label in spec.labels)
    np.testing.assert_allclose(high - low, 0.02 * result.notional, rtol=1e-9)
    rows = sweep_rows(result, spec)
    assert [r.value for r in rows] == ["0.02", "0.04"]
    for row, label in zip(rows, spec.labels, strict=True):
        stats = [s for s in result.stats if s.model == label]
        assert row.books == 2
        assert row.n_exceptions == sum(s.n_exceptions for s in stats)
        assert row.expected_exceptions == pytest.approx(0.01 * sum(s.n_obs for s in stats))
        assert row.margin_to_notional == pytest.approx(
            np.mean(
                [result.margin[label][:, a].mean() / result.notional[:, a].mean() for a in range(2)]
            )
        )
    assert rows[1].margin_to_notional > rows[0].margin_to_notional
    assert rows[1].n_exceptions <= rows[0].n_exceptions
    assert any("over-margin factor N" in note for note in result.notes)
    paths = write_sweep(rows, spec, tmp_path)
    doc = json.loads(paths["sweep_json"].read_text())
    assert doc["parameter"] == "futures.BTC.im_rate"
    assert [r["value"] for r in doc["rows"]] == ["0.02", "0.04"]
    assert paths["sweep_png"].read_bytes()[:4] == b"\x89PNG"
    assert paths["sweep_csv"].read_text().count("\n") == 3


def _app() -> typer.Typer:
    from pmargin.cli._backtest_command import backtest

    app = typer.Typer()
    app.command()(backtest)
    app.command("other")(lambda: None)
    return app


def test_sweep_command_weekly(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "sweep"
    args = [
        "backtest",
        "--books",
        "long_perp",
        "--start",
        "2024-01-01",
        "--step",
        "7d",
        "--sweep",
        "measure.confidence=0.975,0.99",
        "--out",
        str(out),
        "--data",
        str(shared_data),
    ]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert "sweep of pmargin-es measure.confidence" in result.output
    assert "pmargin-es[measure.confidence=0.975]" in result.output
    assert {"sweep.json", "sweep.csv", "sweep.png", "report.html"} <= {
        p.name for p in out.iterdir()
    }
    as_json = CliRunner().invoke(_app(), [*args, "--json", "--no-html"])
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.output)
    rows = doc["sweep"]["rows"]
    assert [r["value"] for r in rows] == ["0.975", "0.99"]
    # ES at a higher confidence charges more on the same steps.
    assert rows[1]["margin_to_notional"] > rows[0]["margin_to_notional"]
    assert {m["model"] for m in doc["models"]} == {"standard", *(r["label"] for r in rows)}
    for s in doc["summary"]:
        assert s["verdict"]
        assert s["kupiec_side"] in ("none", "too_few", "too_many")


def test_sweep_command_unknown_parameter_is_one_line(tmp_path: Path) -> None:
    from pmargin.cli.main import app

    result = CliRunner().invoke(
        app, ["backtest", "--sweep", "apc.flor=1,2", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "apc.flor" in result.output
    assert "Traceback" not in result.output

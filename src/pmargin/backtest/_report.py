"""Write a backtest out: JSON, CSV and one self-contained HTML report with plots.

Files (:func:`write_report`):

* ``results.json``: the configuration, notes, timings, errors, the per model x book summary
  and (unless ``series=False``) the step series: times, horizons, accounts, realised P&L,
  gross notional and each model's margin (USD; ``null`` where a model does not apply);
* ``results.csv``: the per model x book summary, one row each;
* ``series.csv``: one row per step and book: time, horizon, notional, realised P&L, and per
  model the margin and the exception flag;
* ``report.html``: notes, the summary table, an efficiency-vs-coverage chart across models and
  one chart per book of each model's margin against the realised loss over time, exceptions
  marked; PNG images (matplotlib, Agg backend) embedded as base64, no external file.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from pmargin._outputs import output_folder
from pmargin._typing import FloatArray
from pmargin.backtest._engine import BacktestResult
from pmargin.backtest._summary import BookStats
from pmargin.backtest._sweep import SWEEP_FILES, SweepRow, SweepSpec, write_sweep

__all__ = [
    "REPORT_FILES",
    "exceptions_by_year",
    "model_totals",
    "result_to_dict",
    "write_report",
]

_COLUMNS = (
    "model",
    "book",
    "n_obs",
    "n_exceptions",
    "exception_rate",
    "expected_rate",
    "kupiec_lr",
    "kupiec_p_value",
    "kupiec_reject",
    "ind_lr",
    "ind_p_value",
    "ind_reject",
    "cc_lr",
    "cc_p_value",
    "cc_reject",
    "zone",
    "mean_margin",
    "mean_notional",
    "margin_to_notional",
    "margin_to_standard",
    "max_increase_1d",
    "max_increase_5d",
    "peak_to_trough",
    "worst_excess",
    "expected_exceptions",
    "kupiec_side",
    "over_margin_factor",
    "coverage_pass",
    "verdict",
    "ind_note",
)


def _clean(values: FloatArray) -> list[float | None]:
    return [None if not math.isfinite(float(v)) else float(v) for v in values.ravel()]


def _matrix(values: FloatArray) -> list[list[float | None]]:
    return [_clean(row) for row in values]


def model_totals(result: BacktestResult) -> list[dict[str, Any]]:
    """Per model, pooled over its books: observations, exceptions, mean margin/notional.

    Returns one dict per model: ``model``, ``books``, ``n_obs``, ``n_exceptions``,
    ``expected_exceptions`` (``p x n_obs``), ``exception_rate``, ``margin_to_notional`` (mean
    over books), ``margin_to_standard`` (mean over books where defined), and the two-sided
    verdict counted over books: ``books_pass``, ``books_over`` (Kupiec rejects for too few
    exceptions), ``books_under`` (too many, or a zone not green), ``books_clustered``
    (Christoffersen's independence rejects) and ``median_over_margin`` (median over books of
    the over-margin factor, :func:`~pmargin.backtest.over_margin_factor`).
    """
    rows = []
    for model in result.margin:
        stats = [s for s in result.stats if s.model == model]
        if not stats:
            continue
        n = sum(s.n_obs for s in stats)
        x = sum(s.n_exceptions for s in stats)
        to_std = [s.margin_to_standard for s in stats if math.isfinite(s.margin_to_standard)]
        factors = [s.over_margin_factor for s in stats if not math.isnan(s.over_margin_factor)]
        median = float(np.median(factors)) if factors else math.nan
        rows.append(
            {
                "model": model,
                "books": len(stats),
                "n_obs": n,
                "n_exceptions": x,
                "expected_exceptions": sum(s.expected_exceptions for s in stats),
                "exception_rate": x / n,
                "margin_to_notional": float(np.mean([s.margin_to_notional for s in stats])),
                "margin_to_standard": float(np.mean(to_std)) if to_std else None,
                "books_pass": sum(s.coverage_pass for s in stats),
                "books_over": sum(s.kupiec_side == "too_few" for s in stats),
                "books_under": sum(s.kupiec_side == "too_many" or s.zone != "green" for s in stats),
                "books_clustered": sum(s.ind_reject for s in stats),
                "median_over_margin": median if math.isfinite(median) else None,
            }
        )
    return rows


def exceptions_by_year(result: BacktestResult) -> list[dict[str, Any]]:
    """Exceptions of each model and book by calendar year (UTC) of the step ``t``.

    A step counts where the model has a margin (finite); an exception is a realised loss over
    the MPOR above it (:meth:`BacktestResult.hits`). Books a model never margins are left out.

    Returns
    -------
    list of dict
        One per model x book x year, in model, book, year order: ``model``, ``book``,
        ``year``, ``n_obs`` (steps), ``n_exceptions`` and ``expected_exceptions``
        (``p x n_obs``).
    """
    years = result.times.astype("datetime64[Y]").astype(np.int64) + 1970
    rows: list[dict[str, Any]] = []
    for model, margin in result.margin.items():
        hits = result.hits(model)
        observed = np.isfinite(margin)
        for a, book in enumerate(result.accounts):
            if not observed[:, a].any():
                continue
            for year in np.unique(years[observed[:, a]]):
                steps = observed[:, a] & (years == year)
                n = int(steps.sum())
                rows.append(
                    {
                        "model": model,
                        "book": book,
                        "year": int(year),
                        "n_obs": n,
                        "n_exceptions": int(hits[steps, a].sum()),
                        "expected_exceptions": result.config.p * n,
                    }
                )
    return rows


def result_to_dict(result: BacktestResult, *, series: bool = True) -> dict[str, Any]:
    """Return the JSON document of a backtest (see the module docstring)."""
    c = result.config
    doc: dict[str, Any] = {
        "config": {
            "models": list(c.models),
            "books": None if c.books is None else list(c.books),
            "start": str(result.times[0]) if result.n_obs else None,
            "end": str(result.times[-1]) if result.n_obs else None,
            "step_hours": c.step_hours,
            "mpor_hours": c.mpor_hours,
            "overlap": c.overlap,
            "expected_rate": c.p,
            "notional_usd": c.notional,
            "linear_twins": c.linear_twins,
        },
        "notes": list(result.notes),
        "seconds": result.seconds,
        "errors": result.errors,
        "models": model_totals(result),
        "summary": [s.to_dict() for s in result.stats],
    }
    if series:
        doc["series"] = {
            "times": [str(t) for t in result.times],
            "horizons": [str(t) for t in result.horizons],
            "accounts": list(result.accounts),
            "pnl_usd": _matrix(result.pnl),
            "notional_usd": _matrix(result.notional),
            "margin_usd": {m: _matrix(v) for m, v in result.margin.items()},
        }
    return doc


def _write_summary_csv(stats: tuple[BookStats, ...], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS)
        for s in stats:
            d = s.to_dict()
            writer.writerow(["" if d[c] is None else d[c] for c in _COLUMNS])


def _write_series_csv(result: BacktestResult, path: Path) -> None:
    models = list(result.margin)
    hits = {m: result.hits(m) for m in models}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        header = ["time", "horizon", "book", "notional_usd", "pnl_usd"]
        for m in models:
            header += [f"margin_{m}", f"exception_{m}"]
        writer.writerow(header)
        for s in range(result.n_obs):
            for a, account in enumerate(result.accounts):
                row: list[Any] = [
                    str(result.times[s]),
                    str(result.horizons[s]),
                    account,
                    f"{result.notional[s, a]:.2f}",
                    f"{result.pnl[s, a]:.2f}",
                ]
                for m in models:
                    value = result.margin[m][s, a]
                    row += [
                        f"{value:.2f}" if math.isfinite(value) else "",
                        int(hits[m][s, a]) if math.isfinite(value) else "",
                    ]
                writer.writerow(row)


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(result: BacktestResult) -> tuple[str, list[tuple[str, str]]]:
    """Base64 PNGs: the efficiency-vs-coverage chart, and (account, chart) per book."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    model_color = {m: colors[k % len(colors)] for k, m in enumerate(result.margin)}
    times = result.times.astype("datetime64[s]").astype("O")

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for s in result.stats:
        ax.scatter(
            s.margin_to_notional, s.exception_rate, color=model_color[s.model], alpha=0.25, s=14
        )
    for row in model_totals(result):
        ax.scatter(
            row["margin_to_notional"],
            row["exception_rate"],
            color=model_color[row["model"]],
            s=80,
            edgecolor="black",
            label=row["model"],
        )
    ax.axhline(result.config.p, color="grey", linestyle="--", linewidth=1, label="expected rate")
    ax.set_xscale("log")
    ax.set_xlabel("mean margin / gross notional (log)")
    ax.set_ylabel("exception rate")
    ax.set_title("efficiency vs coverage (large: model over all books; small: one book)")
    ax.legend(fontsize=8)
    efficiency = _png(fig)
    plt.close(fig)

    charts = []
    for a, account in enumerate(result.accounts):
        fig, ax = plt.subplots(figsize=(10, 3.2))
        loss = -result.pnl[:, a]
        positive = loss > 0
        ax.scatter(
            times[positive],
            loss[positive],
            s=4,
            color="grey",
            alpha=0.6,
            label="realised loss over MPOR",
        )
        for m, series in result.margin.items():
            margin = series[:, a]
            if not np.isfinite(margin).any():
                continue
            ax.plot(times, margin, color=model_color[m], linewidth=1, label=m)
            hit = np.isfinite(margin) & (loss > margin)
            if hit.any():
                ax.scatter(times[hit], loss[hit], marker="x", s=22, color=model_color[m])
        ax.set_yscale("log")
        ax.set_ylabel("USD (log)")
        ax.set_title(f"{account}: initial margin vs realised loss (x = exception)")
        ax.legend(fontsize=7, ncol=4, loc="upper left")
        charts.append((account, _png(fig)))
        plt.close(fig)
    return efficiency, charts


def _fmt(value: float, digits: int = 3) -> str:
    return "" if not math.isfinite(value) else f"{value:.{digits}f}"


def _totals_html(result: BacktestResult) -> str:
    """Per model pooled line: exceptions against expected, books by verdict, cost."""
    head = (
        "<tr><th>model</th><th>books</th><th>T</th><th>x</th><th>expected</th>"
        "<th>pass</th><th>over-margined</th><th>under-margined</th><th>clustered</th>"
        "<th>median N</th><th>margin / notional</th><th>vs standard</th></tr>"
    )
    body = []
    for row in model_totals(result):
        median = row["median_over_margin"]
        ratio = row["margin_to_standard"]
        cells = [
            html.escape(row["model"]),
            row["books"],
            row["n_obs"],
            row["n_exceptions"],
            f"{row['expected_exceptions']:.0f}",
            row["books_pass"],
            row["books_over"],
            row["books_under"],
            row["books_clustered"],
            "" if median is None else f"{median:.2f}",
            f"{row['margin_to_notional']:.4f}",
            "" if ratio is None else f"{ratio:.2f}",
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table>{head}\n{''.join(body)}</table>"


def _html(result: BacktestResult) -> str:
    efficiency, charts = _plots(result)
    c = result.config
    rows = []
    for s in result.stats:
        cells = [
            html.escape(str(v))
            for v in (
                s.model,
                s.book,
                s.n_obs,
                s.n_exceptions,
                _fmt(s.exception_rate, 4),
                _fmt(s.kupiec_lr, 2),
                _fmt(s.kupiec_p_value, 3),
                _fmt(s.ind_lr, 2),
                _fmt(s.cc_lr, 2),
            )
        ]
        cells.append(f'<span class="{s.zone}">{s.zone}</span>')
        verdict_class = "green" if s.coverage_pass else "red"
        cells += [
            _fmt(s.margin_to_notional, 4),
            _fmt(s.margin_to_standard, 2),
            _fmt(s.max_increase_1d, 2),
            _fmt(s.max_increase_5d, 2),
            _fmt(s.over_margin_factor, 2),
            f'<span class="{verdict_class}">{html.escape(s.verdict)}</span>',
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    table = "\n".join(rows)
    head = (
        "<tr><th>model</th><th>book</th><th>T</th><th>x</th><th>rate</th><th>Kupiec LR</th>"
        "<th>p</th><th>LR ind</th><th>LR cc</th><th>zone</th><th>margin / notional</th>"
        "<th>vs standard</th><th>max 1d incr.</th><th>max 5d incr.</th><th>over-margin N</th>"
        "<th>verdict</th></tr>"
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    errors = "".join(
        f"<li><b>{html.escape(m)}</b>: {html.escape(e)}</li>" for m, e in result.errors.items()
    )
    books = "\n".join(
        f'<h3>{html.escape(name)}</h3><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{png}">'
        for name, png in charts
    )
    period = f"{result.times[0]} to {result.times[-1]}" if result.n_obs else "empty"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pmargin backtest</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border: 1px solid #ccc; padding: 2px 6px; text-align: right; }}
.green {{ color: #080; }} .yellow {{ color: #b80; }} .red {{ color: #c00; font-weight: bold; }}
</style></head><body>
<h1>pmargin backtest</h1>
<p>{result.n_obs} steps, {period}; step {c.step_hours:g}h, MPOR {c.mpor_hours:g}h
(overlap {c.overlap:g}); expected exception rate p = {c.p:g}; models {", ".join(c.models)};
book notional {c.notional:,.0f} USD per leg.</p>
<h2>Notes</h2><ul>{notes}</ul>
{"<h2>Errors</h2><ul>" + errors + "</ul>" if errors else ""}
<h2>Efficiency vs coverage</h2>
<img alt="efficiency vs coverage" src="data:image/png;base64,{efficiency}">
<h2>Summary (model x book)</h2>
<p>Two-sided verdict: coverage passes when Kupiec (95 %, too many OR too few exceptions) and
Christoffersen's independence test do not reject and the traffic light is green. Over-margin
factor N: the factor by which the model's margins on that book could be divided before the
exceptions reach the expected count ceil(p T) (one over the ceil(p T)-th largest ratio of
realised loss to margin); "over-margined by about N x" where Kupiec rejects for too few.</p>
{_totals_html(result)}
<table>{head}
{table}
</table>
<h2>Margin against realised loss, per book</h2>
{books}
</body></html>
"""


REPORT_FILES = frozenset({"results.json", "results.csv", "series.csv", "report.html", *SWEEP_FILES})
"""Every file a backtest report folder may hold (a folder of only these may be replaced)."""


def write_report(
    result: BacktestResult,
    out_dir: str | Path,
    *,
    html_report: bool = True,
    series: bool = True,
    sweep: tuple[SweepSpec, list[SweepRow]] | None = None,
) -> dict[str, Path]:
    """Write ``results.json``, ``results.csv``, ``series.csv`` and ``report.html``.

    Parameters
    ----------
    result
        The backtest.
    out_dir
        Folder, written whole or not at all (:func:`pmargin._outputs.output_folder`: a
        temporary sibling renamed into place when complete, replacing an earlier report).
    html_report
        Also render the HTML report (needs matplotlib).
    series
        Include the step series in ``results.json``.
    sweep
        A parameter sweep's spec and rows: also ``sweep.json``, ``sweep.csv`` and (with
        ``html_report``) ``sweep.png`` (:func:`~pmargin.backtest.write_sweep`).

    Returns
    -------
    dict[str, Path]
        ``"json"``, ``"csv"``, ``"series"``, (with ``html_report``) ``"html"`` and the sweep's
        paths.
    """
    target = Path(out_dir)
    with output_folder(target, names=REPORT_FILES, field="out") as folder:
        paths = _write_files(result, folder, html_report=html_report, series=series)
        if sweep is not None:
            paths.update(write_sweep(sweep[1], sweep[0], folder, plot=html_report))
    return {name: target / path.name for name, path in paths.items()}


def _write_files(
    result: BacktestResult, folder: Path, *, html_report: bool, series: bool
) -> dict[str, Path]:
    """Write every file of the report into ``folder``; name -> path."""
    paths = {
        "json": folder / "results.json",
        "csv": folder / "results.csv",
        "series": folder / "series.csv",
    }
    paths["json"].write_text(
        json.dumps(result_to_dict(result, series=series), indent=1, allow_nan=False) + "\n"
    )
    _write_summary_csv(result.stats, paths["csv"])
    _write_series_csv(result, paths["series"])
    if html_report:
        paths["html"] = folder / "report.html"
        paths["html"].write_text(_html(result))
    return paths

"""The crash replay's outputs: ``results.json``, three plots and a self-contained HTML page.

Plots (matplotlib, Agg backend, PNG):

* ``insurance_fund.png``: the insurance fund of each model over time (impact on: solid; off:
  dashed);
* ``margin.png``: aggregate equity and maintenance margin of each model's accounts over
  time, with the BTC index (impact on and historical) on a second axis;
* ``bad_debt_vs_efficiency.png``: bad debt (USD) per model against its capital efficiency
  (IM at the start / gross notional), impact off and on.

``report.html`` embeds the plots (base64) and the per-model table.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np

from pmargin._outputs import finite_json, output_folder
from pmargin.simulate._simulate import SimulationResult

__all__ = ["REPORT_FILES", "TABLE_COLUMNS", "write_report"]

REPORT_FILES = frozenset(
    {
        "results.json",
        "insurance_fund.png",
        "margin.png",
        "bad_debt_vs_efficiency.png",
        "report.html",
    }
)
"""Every file :func:`write_report` may write: a folder holding anything else is never replaced."""

TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "model"),
    ("accounts", "accounts"),
    ("capital_required_usd", "capital required (sum IM t0)"),
    ("capital_posted_usd", "capital posted"),
    ("im_to_notional", "IM / notional"),
    ("liquidated_accounts", "liquidated"),
    ("fills", "fills"),
    ("positions_closed", "positions closed"),
    ("penalties_usd", "penalties"),
    ("fund_end_usd", "fund end"),
    ("fund_min_usd", "fund min"),
    ("bad_debt_usd", "bad debt"),
    ("bad_debt_added_usd", "bad debt added by impact"),
    ("adl_events", "ADL"),
    ("cascade_rounds", "cascade rounds"),
    ("amplification", "amplification"),
)
"""Columns of the per-model table: key of :meth:`SimulationResult.table` rows, header."""


def _times(result: SimulationResult) -> Any:
    return result.path.times.astype("datetime64[s]").astype(object)


def _plot_fund(result: SimulationResult, file: Path) -> None:
    import matplotlib.pyplot as plt

    times = _times(result)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for (model, on), run in result.runs.items():
        ax.plot(
            times,
            [s.fund_usd / 1e6 for s in run.steps],
            linestyle="-" if on else "--",
            label=f"{model} ({'impact' if on else 'no impact'})",
        )
    ax.set_ylabel("insurance fund (M USD)")
    ax.set_title(f"{result.path.title}: insurance fund")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(file, dpi=110)
    plt.close(fig)


def _plot_margin(result: SimulationResult, file: Path) -> None:
    import matplotlib.pyplot as plt

    times = _times(result)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for (model, on), run in result.runs.items():
        if not on and (model, True) in result.runs:
            continue
        line = ax.plot(times, [s.equity_usd / 1e6 for s in run.steps], label=f"{model} equity")
        ax.plot(
            times,
            [s.maintenance_margin_usd / 1e6 for s in run.steps],
            linestyle=":",
            color=line[0].get_color(),
            label=f"{model} MM",
        )
    ax.set_ylabel("sum over accounts (M USD)")
    twin = ax.twinx()
    j = result.path.names.index("BTC") if "BTC" in result.path.names else 0
    twin.plot(times, result.path.index[:, j], color="grey", alpha=0.5, label="index (historical)")
    first = next(iter(result.runs.values()))
    twin.plot(times, first.index_path[:, j], color="black", alpha=0.5, label="index applied")
    twin.set_ylabel(f"{result.path.names[j]} index (USD)")
    ax.set_title(f"{result.path.title}: aggregate equity and maintenance margin")
    ax.legend(fontsize=7, loc="lower left")
    twin.legend(fontsize=7, loc="upper right")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(file, dpi=110)
    plt.close(fig)


def _plot_efficiency(result: SimulationResult, file: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for (model, on), run in result.runs.items():
        s = run.summary()
        ax.scatter(
            s["im_to_notional"],
            s["bad_debt_usd"] / 1e6,
            marker="o" if on else "x",
            s=60,
        )
        ax.annotate(
            f"{model}{'' if on else ' (no impact)'}",
            (s["im_to_notional"], s["bad_debt_usd"] / 1e6),
            fontsize=8,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xlabel("capital required: IM at start / gross notional")
    ax.set_ylabel("bad debt (M USD)")
    ax.set_title(f"{result.path.title}: bad debt against capital efficiency")
    fig.tight_layout()
    fig.savefig(file, dpi=110)
    plt.close(fig)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.3f}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.0f}"
    return "" if value is None else str(value)


def _html(result: SimulationResult, images: dict[str, Path]) -> str:
    data = result.to_dict()
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in TABLE_COLUMNS)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(_cell(row.get(k)))}</td>" for k, _ in TABLE_COLUMNS)
        + "</tr>"
        for row in data["models"]
    )
    pictures = "".join(
        f'<h2>{html.escape(name)}</h2><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}">'
        for name, path in images.items()
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in data["notes"])
    moves = ", ".join(f"{k} {v:+.1%}" for k, v in data["historical_drawdown"].items())
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>pmargin simulate: {html.escape(data['title'])}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}</style></head><body>"
        f"<h1>Crash replay: {html.escape(data['title'])}</h1>"
        f"<p>{data['start']} to {data['end']}, {data['steps']} steps "
        f"({html.escape(data['interpolation'])}, {data['substeps']} per 4h close); "
        f"historical drawdown {html.escape(moves)}; population: "
        f"{html.escape(str(data['population']))}.</p>"
        f"<table><tr>{head}</tr>{body}</table><ul>{notes}</ul>{pictures}"
        "<p>Price data: Binance closes (yanniedog/binance-historical-OHLCV-data), Deribit DVOL "
        "(kalyar197/eth-dashboard), Binance funding (sky1241/HSBC-algo-genetic).</p>"
        "</body></html>"
    )


def write_report(
    result: SimulationResult, out: str | Path, *, html_report: bool = True, field: str = "out"
) -> dict[str, Path]:
    """Write ``results.json``, the plots and ``report.html`` as the folder ``out``.

    The folder is written whole or not at all (:func:`pmargin._outputs.output_folder`): files
    go to a temporary sibling renamed to ``out`` once complete, replacing an earlier report
    there; a failure mid-write leaves ``out`` as it was.

    Parameters
    ----------
    result
        The replay.
    out
        Target folder.
    html_report
        Also draw the plots and ``report.html``.
    field
        Name of the target in error messages (``"--out"`` from the command).

    Returns
    -------
    dict
        Name -> path of every file written (under ``out``).

    Raises
    ------
    InputError
        ``out`` is a file or a non-empty folder pmargin did not write, or cannot be written.
    """
    import matplotlib

    matplotlib.use("Agg")
    target = Path(out)
    with output_folder(target, names=REPORT_FILES, field=field) as folder:
        paths = _write_files(result, folder, html_report)
    return {name: target / path.name for name, path in paths.items()}


def _write_files(result: SimulationResult, folder: Path, html_report: bool) -> dict[str, Path]:
    """Write every file of the report into ``folder``; name -> path."""
    paths = {"results": folder / "results.json"}
    paths["results"].write_text(finite_json(result.to_dict(), indent=2, default=float))
    if html_report:
        images = {
            "insurance fund": folder / "insurance_fund.png",
            "aggregate margin": folder / "margin.png",
            "bad debt vs capital efficiency": folder / "bad_debt_vs_efficiency.png",
        }
        with np.errstate(all="ignore"):
            _plot_fund(result, images["insurance fund"])
            _plot_margin(result, images["aggregate margin"])
            _plot_efficiency(result, images["bad debt vs capital efficiency"])
        paths.update({f"plot: {k}": v for k, v in images.items()})
        paths["html"] = folder / "report.html"
        paths["html"].write_text(_html(result, images))
    return paths

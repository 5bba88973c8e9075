"""``pmargin backtest``: walk-forward backtest of margin models on the shared real history.

A plain function with Typer annotations; ``main.py`` registers it. It parses, calls
:func:`pmargin.engine.backtest_report`, prints the per model x book table with its two-sided
verdict and writes ``report.html``, ``results.json``, ``results.csv`` and ``series.csv`` under
``--out``. ``--sweep PARAM=v1,v2,...`` backtests one variant of ``--sweep-model`` per value
and adds the sweep table, ``sweep.json``, ``sweep.csv`` and ``sweep.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pmargin.cli._format import num, pct
from pmargin.cli._options import DataOption
from pmargin.cli._output import ClusterOption, CsvOption

if TYPE_CHECKING:
    from pmargin.backtest import SweepRow, SweepSpec
    from pmargin.engine import BacktestReport

__all__ = ["backtest", "by_year_table", "summary_table", "sweep_table"]

_ZONE_STYLE = {"green": "green", "yellow": "yellow", "red": "bold red"}


def _names(text: str | None, field: str) -> tuple[str, ...] | None:
    from pmargin.errors import InputError

    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise InputError(field, text, "must list at least one name (comma-separated)")
    return names


def _vs_standard(ratio: float | None) -> str:
    """IM / standard's IM - 1 from the ratio, signed (the CLI's one convention)."""
    return str(pct(None if ratio is None else ratio - 1.0, signed=True))


def summary_table(report: BacktestReport) -> Table:
    """Rich table of the per model x book summary, then one line per model (pooled)."""
    result = report.result
    c = result.config
    table = Table(
        title=(
            f"backtest {result.times[0]} to {result.times[-1]}: {result.n_obs} steps of "
            f"{c.step_hours:g}h, MPOR {c.mpor_hours:g}h, p = {c.p:g}"
        ),
        caption=(
            "T: steps; x: exceptions (loss > margin); rate: x / T; LR cc: Christoffersen "
            "conditional coverage; zone: Basel traffic light; vs standard: IM / standard's IM "
            "- 1 (negative: less margin); over-margin N: margin / the loss quantile it should "
            "cover. The bold rows pool every book of a model: x and T summed, vs standard the "
            "mean of the books' ratios, N the median of the books'."
        ),
        caption_justify="left",
    )
    for header in (
        "model",
        "book",
        "T",
        "x",
        "rate",
        "Kupiec LR",
        "p-value",
        "LR cc",
        "zone",
        "IM/notional",
        "vs standard",
        "over-margin N",
        "verdict",
    ):
        names = header in ("model", "book")
        table.add_column(header, justify="left" if names else "right", no_wrap=names)
    for s in result.stats:
        table.add_row(
            escape(s.model),
            s.book,
            str(s.n_obs),
            str(s.n_exceptions),
            num(s.exception_rate, 4),
            num(s.kupiec_lr, 2),
            num(s.kupiec_p_value, 3),
            num(s.cc_lr, 2),
            f"[{_ZONE_STYLE[s.zone]}]{s.zone}[/]",
            num(s.margin_to_notional, 4),
            _vs_standard(s.margin_to_standard),
            num(s.over_margin_factor, 2),
            escape(s.verdict) if s.coverage_pass else f"[yellow]{escape(s.verdict)}[/]",
        )
    for row in report.totals():
        ratio = row["margin_to_standard"]
        median = row["median_over_margin"]
        table.add_row(
            f"[bold]{escape(row['model'])}[/]",
            f"all {row['books']} books",
            str(row["n_obs"]),
            f"{row['n_exceptions']} of {row['expected_exceptions']:.0f} exp.",
            num(row["exception_rate"], 4),
            "",
            "",
            "",
            "",
            num(row["margin_to_notional"], 4),
            _vs_standard(ratio) + " (mean)",
            num(median, 2) + " (median)",
            f"{row['books_pass']} pass, {row['books_over']} over, {row['books_under']} under, "
            f"{row['books_clustered']} clustered",
        )
    return table


def by_year_table(report: BacktestReport) -> Table:
    """Exceptions by calendar year: one row per model and book, one ``x / T`` column per year."""
    rows = report.by_year()
    years = sorted({r["year"] for r in rows})
    table = Table(
        title="exceptions by year",
        caption="x / T: exceptions / steps with a margin in the year (UTC); expected p x T.",
        caption_justify="left",
    )
    table.add_column("model", no_wrap=True)
    table.add_column("book", no_wrap=True)
    for year in years:
        table.add_column(str(year), justify="right")
    table.add_column("all", justify="right")
    cells: dict[tuple[str, str], dict[int, tuple[int, int]]] = {}
    for r in rows:
        cells.setdefault((r["model"], r["book"]), {})[r["year"]] = (r["n_exceptions"], r["n_obs"])
    for (model, book), by_year in cells.items():
        x = sum(v[0] for v in by_year.values())
        n = sum(v[1] for v in by_year.values())
        shown = [f"{by_year[y][0]}/{by_year[y][1]}" if y in by_year else "" for y in years]
        table.add_row(escape(model), escape(book), *shown, f"{x}/{n}")
    return table


def sweep_table(rows: list[SweepRow], spec: SweepSpec) -> Table:
    """Rich table of a sweep: per value, coverage and IM / notional over every book."""
    table = Table(title=f"sweep of {spec.model} {spec.path}")
    for header in (
        spec.path,
        "books",
        "x",
        "expected",
        "pass",
        "over",
        "under",
        "green",
        "median N",
        "IM/notional",
    ):
        table.add_column(header, justify="right")
    for r in rows:
        table.add_row(
            r.value,
            str(r.books),
            str(r.n_exceptions),
            num(r.expected_exceptions, 1),
            str(r.books_pass),
            str(r.books_over),
            str(r.books_under),
            str(r.books_green),
            num(r.median_over_margin, 2),
            num(r.margin_to_notional, 4),
        )
    return table


def backtest(
    models: Annotated[
        str | None,
        typer.Option(
            "--models", help="Comma-separated model names (default: every registered one)."
        ),
    ] = None,
    books: Annotated[
        str | None,
        typer.Option("--books", help="Comma-separated book names (default: all)."),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First step, e.g. 2020-01-01 (UTC).")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last step (UTC).")] = None,
    step: Annotated[str, typer.Option("--step", help="Step: 1d, 4h or 7d.")] = "1d",
    mpor: Annotated[
        str, typer.Option("--mpor", help="Margin period of risk, e.g. 1d, 4h, 2d.")
    ] = "1d",
    confidence: Annotated[
        float, typer.Option("--confidence", help="Margin confidence the tests expect.")
    ] = 0.99,
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="DIR", help="Folder for report.html, results.json, results.csv."
        ),
    ] = Path("backtest-out"),
    data: DataOption = None,
    no_html: Annotated[bool, typer.Option("--no-html", help="Skip the HTML report.")] = False,
    sweep: Annotated[
        str | None,
        typer.Option(
            "--sweep",
            help="PARAM=v1,v2,...: one backtest of --sweep-model per value of a dotted "
            "parameter of its TOML file, e.g. measure.confidence=0.97,0.975,0.99.",
        ),
    ] = None,
    sweep_model: Annotated[
        str, typer.Option("--sweep-model", help="Model whose parameter --sweep varies.")
    ] = "pmargin-es",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON summary instead of the table.")
    ] = False,
    as_csv: CsvOption = False,
    cluster: ClusterOption = None,
    portfolio: Annotated[
        Path | None,
        typer.Option(
            "--portfolio",
            "-p",
            metavar="FILE",
            help="Backtest these accounts instead of the representative books: each position "
            "re-struck every step at its USD notional, tenor and moneyness (strike / forward) "
            "read at --market. --books then selects account ids.",
        ),
    ] = None,
    market: Annotated[
        Path | None,
        typer.Option(
            "--market",
            "-m",
            metavar="FILE",
            help="Market the --portfolio is marked at (default: the shipped example market).",
        ),
    ] = None,
) -> None:
    """Backtest margin models on real BTC/ETH history: exceptions, Kupiec, zones, efficiency.

    Every step rebuilds the market from history alone, re-strikes the representative books,
    margins them under every model and compares each margin with the book's realised loss
    over the margin period of risk. See docs/backtesting.md.
    """
    from pmargin.cli._output import console, emit_table, print_json
    from pmargin.cli._progress import progress_callback
    from pmargin.engine import backtest_report

    with progress_callback("backtest steps") as report_progress:
        report = backtest_report(
            out,
            models=_names(models, "models"),
            books=_names(books, "books"),
            start=start,
            end=end,
            step=step,
            mpor=mpor,
            confidence=confidence,
            data=data,
            html=not no_html,
            sweep=sweep,
            sweep_model=sweep_model,
            out_field="--out",
            cluster=cluster,
            progress=report_progress,
            portfolio=portfolio,
            market=market,
        )
    if as_json:
        print_json(report.to_dict())
        return
    result = report.result
    if as_csv:
        emit_table(summary_table(report), as_csv=True)
        return
    out_console = console()
    out_console.print(summary_table(report))
    if portfolio is not None:
        out_console.print(by_year_table(report))
    if report.sweep is not None:
        out_console.print(sweep_table(report.sweep_rows, report.sweep))
    for note in result.notes:
        out_console.print(f"note: {note}")
    for model, error in result.errors.items():
        out_console.print(f"[yellow]{model}[/]: {error}")
    written = ", ".join(str(p) for p in report.paths.values())
    out_console.print(f"{result.seconds['total']:.1f} s; wrote {written}")

"""``pmargin margin``: IM, MM, equity and status of every account, or what binds in one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pmargin.cli._options import (
    ForceOption,
    JsonOption,
    MarketOption,
    ModelOption,
    MoveOption,
    ParamsOption,
    PortfolioOption,
)
from pmargin.cli._output import ClusterOption, CsvOption

if TYPE_CHECKING:
    from pmargin.engine import MarginReport

__all__ = ["margin", "print_notes"]


def margin(
    portfolio: PortfolioOption,
    market: MarketOption,
    model: ModelOption = "deribit",
    params: ParamsOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    scenarios: Annotated[
        bool,
        typer.Option(
            "--scenarios", help="With --json: each risk unit's scenario labels and P&L vector."
        ),
    ] = False,
    liquidation: Annotated[
        bool,
        typer.Option(
            "--liquidation",
            help="Distance to liquidation: the index moves (each underlying alone and all "
            "together) at which equity reaches MM, and the liquidation prices.",
        ),
    ] = False,
    move: MoveOption = None,
    breakdown: Annotated[
        str | None,
        typer.Option(
            "--breakdown",
            metavar="ID",
            help="Print what binds in one account: each risk unit's components (worst loss "
            "and its scenario, roll shock, add-ons, floors) and each position's IM "
            "contribution.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Write one row per account to FILE (.csv or .parquet) instead of printing "
            "them; prints a one-line confirmation.",
        ),
    ] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Print only the totals by status (--json too).")
    ] = False,
    force: ForceOption = False,
    balances: Annotated[
        Path | None,
        typer.Option(
            "--balances",
            metavar="FILE",
            help="Balances table (CSV, Parquet or Arrow: account, asset, amount) of a "
            "portfolio table.",
        ),
    ] = None,
    cluster: ClusterOption = None,
) -> None:
    """Compute initial and maintenance margin, equity and status of every account.

    JSON: per account the totals in USD, each risk unit in its own currency (coin for
    coin-settled Deribit units) with its components and worst scenario, and each position's
    quantity (base units), value, raw Greeks and IM contribution. A portfolio table (CSV,
    Parquet, Arrow) is arranged column-wise; --out and --summary are for books too large to
    print (docs/portfolio-tables.md). --move re-margins the whole book after a market move.
    """
    from pmargin._outputs import check_output_file
    from pmargin.cli._margin_out import (
        MARGIN_FILE_SUFFIXES,
        status_totals,
        totals_table,
        write_margin_file,
    )
    from pmargin.cli._output import clean, emit_table, print_json
    from pmargin.cli._render_margin import accounts_table, breakdown_tables
    from pmargin.engine import load_book, margin_report

    if out is not None:
        check_output_file(out, force=force, suffixes=MARGIN_FILE_SUFFIXES)
    snapshot, book = load_book(market, portfolio, balances)
    report = margin_report(
        book, snapshot, model, params, liquidation=liquidation, cluster=cluster, move=move
    )
    stamp = snapshot.timestamp.isoformat() + ("" if move is None else f", after {move}")
    if breakdown is not None:
        row = report.result.row(breakdown)
        if as_json:
            print_json(report.account(row, scenarios=scenarios))
            return
        for table in breakdown_tables(report, row):
            emit_table(table, as_csv=as_csv)
        if not as_csv:
            print_notes(report)
        return
    if out is not None:
        write_margin_file(report, out, force=force)
        n = report.result.n_accounts
        print(f"pmargin margin --model {model}: {n:,} accounts written to {clean(out)}")
    if summary:
        totals = status_totals(report)
        if as_json and out is None:
            print_json(
                {"model": model, "timestamp": snapshot.timestamp.isoformat(), "totals": totals}
            )
            return
        title = f"pmargin margin --model {model} @ {stamp}: totals (USD)"
        emit_table(totals_table(totals, title), as_csv=as_csv)
        if not as_csv:
            print_notes(report)
    if out is not None or summary:
        return
    if as_json:
        print_json(report.to_dict(scenarios=scenarios))
        return
    title = f"pmargin margin --model {model} @ {stamp} (USD)"
    emit_table(accounts_table(report, range(report.result.n_accounts), title), as_csv=as_csv)
    if not as_csv:
        print_notes(report)


def print_notes(report: MarginReport) -> None:
    """Print the model's one-line notes (Deribit: the reading of its unpublished parts)."""
    from pmargin.cli._output import console

    for note in report.result.notes:
        console().print(note, markup=False, highlight=False)

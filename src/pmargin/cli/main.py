"""The ``pmargin`` command line: a thin adapter over :mod:`pmargin.engine`.

Every error caused by input (files, symbols, market data) is printed on one line to stderr
and exits with code 2; no traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer

from pmargin._outputs import check_output_file
from pmargin.book import Portfolio
from pmargin.cli._backtest_command import backtest
from pmargin.cli._margin_out import (
    MARGIN_FILE_SUFFIXES,
    status_totals,
    totals_table,
    write_margin_file,
)
from pmargin.cli._output import (
    ClusterOption,
    check_arguments,
    clean,
    console,
    markup_safe,
    print_json,
    short_value,
)
from pmargin.cli._render import account_table, quotes_table
from pmargin.cli._render_margin import (
    accounts_table,
    compare_table,
    order_table,
    risk_matrix_table,
    summary_table,
)
from pmargin.cli._serve_command import keys_app, keys_create, serve
from pmargin.cli._simulate_command import simulate
from pmargin.cli._stress_command import stress
from pmargin.cli._verify_command import params_app, params_import, verify
from pmargin.engine import (
    EXAMPLE_MARKET,
    MODELS,
    MarginReport,
    ModelComparison,
    compare_margins,
    example_inputs,
    instruments_for,
    load_book,
    load_inputs,
    margin_report,
    margin_reports,
    order_report,
    position_risk,
    price_instruments,
    supported_accounts,
)
from pmargin.errors import InputError, PmarginError

__all__ = ["app"]

app = typer.Typer(
    name="pmargin",
    help="Portfolio margin engine for crypto derivatives.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_BAD_INPUT = 2
_F = TypeVar("_F", bound=Callable[..., Any])


def _one_line_errors(command: _F) -> _F:
    """Turn pmargin errors into a one-line message on stderr and exit code 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PmarginError as exc:
            if isinstance(exc, InputError):
                text = f"{exc.field}: {short_value(exc.value)} {exc.reason}"
            else:
                text = str(exc)
            message = clean(" ".join(text.split()))
            print(f"pmargin: error: {message}", file=sys.stderr)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper  # type: ignore[return-value]


MarketOption = Annotated[
    Path, typer.Option("--market", "-m", help="Market snapshot file (JSON or YAML).")
]


@app.command()
@_one_line_errors
def price(
    market: MarketOption,
    symbols: Annotated[
        list[str] | None, typer.Argument(help="Venue symbols, e.g. BTC-27DEC24-60000-C.")
    ] = None,
    portfolio: Annotated[
        Path | None,
        typer.Option("--portfolio", "-p", help="Portfolio file: price every instrument held."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Price instruments: mark value, forward, implied vol and Greeks.

    JSON rows carry raw Greeks (per unit of underlying: delta, gamma per USD, vega per 1.00 vol,
    theta per year); the table shows vega per vol point and theta per day.
    """
    if (portfolio is None) == (not symbols):
        given = "both" if symbols else "neither"
        raise InputError("price", given, "needs either --portfolio FILE or SYMBOLs (not both)")
    snapshot, book = load_inputs(market, portfolio)
    if book is not None:
        instruments = list(book.unique_instruments())
    else:
        instruments = instruments_for(symbols or [])
    quotes = price_instruments(instruments, snapshot)
    if as_json:
        print_json([q.to_dict() for q in quotes])
        return
    title = f"pmargin price @ {snapshot.timestamp.isoformat()}"
    console().print(quotes_table(quotes, title))


PortfolioOption = Annotated[
    Path,
    typer.Option("--portfolio", "-p", help="Portfolio file (JSON, YAML, CSV, Parquet or Arrow)."),
]
ModelOption = Annotated[str, typer.Option("--model", help=f"Margin model: {', '.join(MODELS)}.")]
ParamsOption = Annotated[
    Path | None,
    typer.Option("--params", help="TOML parameter file replacing the model's shipped one."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DEMO_ACCOUNTS = 1_000
DEMO_MODELS = ["standard", "deribit", "deribit-cross", "okx"]
HISTORY_MODELS = ["pmargin-es"]
"""Shown in the demo when the price history (../shared/data or $PMARGIN_SHARED_DATA) is there."""
LINEAR_MODELS = ["standard", "deribit", "okx", "derive-pmrm2"]
"""Models compared on the USDC-settled accounts (Derive lists USDC-settled contracts only)."""


@app.command()
@_one_line_errors
def margin(
    portfolio: PortfolioOption,
    market: MarketOption,
    model: ModelOption = "deribit",
    params: ParamsOption = None,
    as_json: JsonOption = False,
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
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write one row per account to FILE (.csv or .parquet) instead of printing "
            "them; prints a one-line confirmation.",
        ),
    ] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Print only the totals by status (--json too).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
    balances: Annotated[
        Path | None,
        typer.Option(
            "--balances",
            help="Balances table (CSV, Parquet or Arrow: account, asset, amount) of a "
            "portfolio table.",
        ),
    ] = None,
    cluster: ClusterOption = None,
) -> None:
    """Compute initial and maintenance margin, equity and status of every account.

    JSON follows DESIGN.md: per account the totals in USD, each risk unit in its own currency
    (coin for coin-settled Deribit units) with its components and worst scenario, and each
    position's quantity (base units), value, raw Greeks and IM contribution. A portfolio table
    (CSV, Parquet, Arrow) is arranged column-wise; ``--out`` and ``--summary`` are for books
    too large to print (docs/portfolio-tables.md).
    """
    if out is not None:
        check_output_file(out, force=force, suffixes=MARGIN_FILE_SUFFIXES)
    snapshot, book = load_book(market, portfolio, balances)
    report = margin_report(book, snapshot, model, params, liquidation=liquidation, cluster=cluster)
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
        title = f"pmargin margin --model {model} @ {snapshot.timestamp.isoformat()}: totals (USD)"
        console().print(totals_table(totals, title))
        _print_notes(report)
    if out is not None or summary:
        return
    if as_json:
        print_json(report.to_dict(scenarios=scenarios))
        return
    title = f"pmargin margin --model {model} @ {snapshot.timestamp.isoformat()} (USD)"
    console().print(accounts_table(report, range(report.result.n_accounts), title))
    _print_notes(report)


def _print_notes(report: MarginReport) -> None:
    """Print the model's one-line notes (Deribit: the reading of its unpublished parts)."""
    for note in report.result.notes:
        console().print(note, markup=False, highlight=False)


@app.command()
@_one_line_errors
def compare(
    portfolio: PortfolioOption,
    market: MarketOption,
    models: Annotated[
        str, typer.Option("--models", help="Comma-separated model names.")
    ] = "standard,deribit,okx,derive-pmrm2",
    as_json: JsonOption = False,
    cluster: ClusterOption = None,
) -> None:
    """Compare every model's IM per account, with the saving against ``standard``.

    An account a model cannot margin (Derive lists only USDC-settled options and perpetuals)
    shows n/a, with the reason (JSON: null and ``errors``).
    """
    snapshot, book = load_inputs(market, portfolio)
    names = [m.strip() for m in models.split(",") if m.strip()]
    comparison = compare_margins(book, snapshot, names, cluster=cluster)
    if as_json:
        print_json({"timestamp": snapshot.timestamp.isoformat(), **comparison.to_dict()})
        return
    rows = range(len(comparison.account_ids))
    console().print(compare_table(comparison, rows, "initial margin by model (USD)"))
    for note in dict.fromkeys(n for notes in comparison.notes.values() for n in notes):
        console().print(note, markup=False, highlight=False)


@app.command("risk-matrix")
@_one_line_errors
def risk_matrix(
    portfolio: PortfolioOption,
    market: MarketOption,
    account: Annotated[str, typer.Option("--account", "-a", help="Account id.")],
    model: ModelOption = "deribit",
    params: ParamsOption = None,
) -> None:
    """Show one account's positions and scenario grid: spot moves by vol shocks, per unit."""
    snapshot, book = load_inputs(market, portfolio)
    report = margin_report(book, snapshot, model, params)
    row = report.result.row(account)
    held = Portfolio((book.accounts[row],), book.instruments)
    console().print(account_table(account, position_risk(held, snapshot)))
    _print_risk_matrices(report, row)
    _print_notes(report)


def _print_risk_matrices(report: MarginReport, row: int) -> None:
    out = console()
    result = report.result
    shown = 0
    for unit in result.risk_units:
        if unit.holds[row] and unit.scenario_labels:
            title = (
                f"{result.model} risk matrix: {result.account_ids[row]} "
                f"{unit.underlying}/{unit.currency} (P&L in {unit.currency})"
            )
            out.print(risk_matrix_table(unit, row, title))
            shown += 1
    if not shown:
        out.print(f"{result.model}: no scenario grid for {result.account_ids[row]}")


@app.command("check-order")
@_one_line_errors
def check_order(
    portfolio: PortfolioOption,
    market: MarketOption,
    account: Annotated[str, typer.Option("--account", "-a", help="Account id.")],
    instrument: Annotated[str, typer.Option("--instrument", "-i", help="Venue symbol.")],
    quantity: Annotated[float, typer.Option("--quantity", "-q", help="Signed, buy > 0.")],
    unit: Annotated[
        str, typer.Option("--unit", help="native | base | quote | contracts.")
    ] = "native",
    price: Annotated[
        float | None,
        typer.Option(
            "--price",
            help="Fill price (coin per coin for inverse options); default the mark. Must be "
            "possible and within a band around the mark (--price-bounds).",
        ),
    ] = None,
    price_bounds: Annotated[
        Path | None,
        typer.Option("--price-bounds", help="TOML file replacing fill_price_bounds.toml."),
    ] = None,
    model: ModelOption = "deribit",
    params: ParamsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pre-trade check: the account's IM and MM after an order, and accept or reject."""
    snapshot, book = load_inputs(market, portfolio)
    try:
        report = order_report(
            book,
            snapshot,
            account,
            instrument,
            quantity,
            unit=unit,
            price=price,
            model=model,
            params=params,
            price_bounds=price_bounds,
        )
    except InputError as exc:
        option = {"order.price": "--price", "order.quantity": "--quantity"}.get(exc.field)
        if option is not None:
            raise InputError(option, exc.value, exc.reason) from None
        raise
    if as_json:
        print_json(report.to_dict())
        return
    console().print(order_table(report.check, f"check-order {account}: {quantity:+g} {instrument}"))
    for note in report.notes:
        console().print(note, markup=False, highlight=False)


@app.command()
@_one_line_errors
def demo(
    accounts: Annotated[
        int, typer.Option("--accounts", help="Number of example accounts.")
    ] = DEMO_ACCOUNTS,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the example book.")] = 7,
) -> None:
    """Margin a seeded book of example accounts on the shipped market (no network, no server)."""
    check_arguments("demo", {"accounts": accounts, "seed": seed})
    snapshot, book = example_inputs(accounts, seed)
    out = console()
    out.print(
        f"[bold]pmargin demo[/bold]: {accounts:,} example accounts (seed {seed}) on "
        f"{EXAMPLE_MARKET} @ {snapshot.timestamp.isoformat()}"
    )
    reports = margin_reports(book, snapshot, DEMO_MODELS)
    try:
        reports |= margin_reports(book, snapshot, HISTORY_MODELS)
    except PmarginError as exc:
        reason = markup_safe(" ".join(str(exc).split()))
        out.print(f"[dim]{', '.join(HISTORY_MODELS)} left out: {reason}[/dim]")
    out.print(summary_table(reports, "book totals by model (USD)"))
    linear = supported_accounts(book, "derive-pmrm2")
    if linear.accounts:
        title = (
            f"the {len(linear.accounts)} accounts in USDC-settled options and perpetuals, "
            "with derive-pmrm2 (USD)"
        )
        out.print(summary_table(margin_reports(linear, snapshot, LINEAR_MODELS), title))
    pm = reports["deribit"]
    utilization = np.nan_to_num(pm.health.im_utilization, posinf=np.inf)
    riskiest = [int(a) for a in np.argsort(-utilization, kind="stable")[:10]]
    out.print(accounts_table(pm, riskiest, "riskiest accounts under deribit (USD)"))
    comparison = ModelComparison.from_reports(reports)
    out.print(compare_table(comparison, riskiest, "the same accounts under every model (USD)"))
    _print_risk_matrices(pm, riskiest[0])
    _print_notes(pm)


app.command("stress")(_one_line_errors(stress))
app.command("backtest")(_one_line_errors(backtest))
app.command("simulate")(_one_line_errors(simulate))
app.command("verify")(_one_line_errors(verify))
params_app.command("import")(_one_line_errors(params_import))
app.add_typer(params_app, name="params")
app.command("serve")(_one_line_errors(serve))
keys_app.command("create")(_one_line_errors(keys_create))
app.add_typer(keys_app, name="keys")


if __name__ == "__main__":  # pragma: no cover
    app()

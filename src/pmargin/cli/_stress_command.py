"""``pmargin stress``: named historical episodes and user shocks against equity and margin.

Register in :mod:`pmargin.cli.main` with
``app.command("stress")(_one_line_errors(stress))``. The command only parses, calls
:func:`pmargin.engine.stress_report` and renders; the maths lives in :mod:`pmargin.stress`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmargin.cli._options import (
    DataOption,
    MarketOption,
    ModelOption,
    ParamsOption,
    PortfolioOption,
)
from pmargin.cli._output import ClusterOption, CsvOption

__all__ = ["stress"]


def stress(
    portfolio: PortfolioOption,
    market: MarketOption,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            "-s",
            metavar="NAME",
            help="Named episode (repeatable): {episodes}, or a key such as ftx for both horizons.",
        ),
    ] = None,
    shock: Annotated[
        list[str] | None,
        typer.Option(
            "--shock",
            metavar="SHOCK",
            help="User shock (repeatable), e.g. 'BTC=-0.3,ETH=-0.4,vol=+0.5', 'vol=+10pt', "
            "'corr=0.9,q=0.99'.",
        ),
    ] = None,
    scenarios_file: Annotated[
        Path | None,
        typer.Option("--scenarios-file", metavar="FILE", help="JSON/YAML file of named shocks."),
    ] = None,
    model: ModelOption = "deribit",
    params: ParamsOption = None,
    data: DataOption = None,
    remargin: Annotated[
        bool,
        typer.Option(
            "--remargin",
            help="Also re-margin every account after each scenario: IM, MM and status after "
            "the move (correlation shocks have no single move and are left out).",
        ),
    ] = False,
    allow_unheld: Annotated[
        bool,
        typer.Option(
            "--allow-unheld",
            help="Run shocks naming underlyings or assets the book does not hold (they move "
            "nothing; refused by default as probable typos).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    as_csv: CsvOption = False,
    cluster: ClusterOption = None,
) -> None:
    """Stress-test every account: loss under each shock against equity and initial margin.

    Without --scenario, --shock or --scenarios-file every named episode is run (its window
    and moves are found in the price data). A shock naming an underlying or asset the book
    does not hold is refused unless --allow-unheld. Shock ranges: spot moves in (-1, 10],
    relative vol moves in (-1, 10], vol points in [-200, +500].
    Flags: loss > IM is a margin breach, loss > equity
    a default; a coin-settled account (every position settles in one coin, every balance is
    that coin) is measured in its coin, so a book that gains coin as the coin falls is no
    breach. JSON: per scenario its definition and per account loss, equity, equity_after,
    initial_margin, maintenance_margin, margin_breach, default (USD), and for a coin-settled
    account currency, loss_currency and initial_margin_currency.
    """
    from pmargin.cli._output import console, emit_table, print_json
    from pmargin.cli._progress import progress
    from pmargin.cli._render_stress import remargin_table, results_table, scenarios_table
    from pmargin.engine import load_inputs, stress_remargin, stress_report

    snapshot, book = load_inputs(market, portfolio)
    steps = 2 if remargin else 1
    with progress("stress", steps) as advance:
        report = stress_report(
            book,
            snapshot,
            episodes=scenario or (),
            shocks=shock or (),
            shocks_file=scenarios_file,
            model=model,
            params=params,
            data=data,
            allow_unheld=allow_unheld,
            cluster=cluster,
        )
        advance()
        after = None
        if remargin:
            after = stress_remargin(
                book,
                snapshot,
                episodes=scenario or (),
                shocks=shock or (),
                shocks_file=scenarios_file,
                model=model,
                params=params,
                data=data,
            )
            advance()
    if as_json:
        document = report.to_dict()
        if after is not None:
            document["remargin"] = {
                name: None
                if health is None
                else [
                    {
                        "account": account,
                        "equity": float(health.equity[a]),
                        "initial_margin": float(health.initial_margin[a]),
                        "maintenance_margin": float(health.maintenance_margin[a]),
                        "status": str(health.status[a]),
                    }
                    for a, account in enumerate(report.account_ids)
                ]
                for name, health in after
            }
        print_json(document)
        return
    stamp = snapshot.timestamp.isoformat()
    if as_csv:
        emit_table(results_table(report, ""), as_csv=True)
        return
    out = console()
    out.print(scenarios_table(report, f"pmargin stress --model {model} @ {stamp}: scenarios"))
    out.print(results_table(report, "loss per account (USD)"))
    if after is not None:
        out.print(remargin_table(report.account_ids, after, "after each scenario (USD)"))
    for note in report.notes:
        out.print(note, markup=False, highlight=False)

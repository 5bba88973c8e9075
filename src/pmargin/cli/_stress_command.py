"""``pmargin stress``: named historical episodes and user shocks against equity and margin.

Register in :mod:`pmargin.cli.main` with
``app.command("stress")(_one_line_errors(stress))``. The command only parses, calls
:func:`pmargin.engine.stress_report` and renders; the maths lives in :mod:`pmargin.stress`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmargin.cli._output import ClusterOption, console, print_json
from pmargin.cli._render_stress import results_table, scenarios_table
from pmargin.engine import MODELS, episode_names, load_inputs, stress_report

__all__ = ["stress"]


def stress(
    portfolio: Annotated[
        Path, typer.Option("--portfolio", "-p", help="Portfolio file (JSON, YAML or CSV).")
    ],
    market: Annotated[
        Path, typer.Option("--market", "-m", help="Market snapshot file (JSON or YAML).")
    ],
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            "-s",
            help=f"Named episode (repeatable): {', '.join(episode_names())}, or a key "
            "such as ftx for both horizons.",
        ),
    ] = None,
    shock: Annotated[
        list[str] | None,
        typer.Option(
            "--shock",
            help="User shock (repeatable), e.g. 'BTC=-0.3,ETH=-0.4,vol=+0.5', 'vol=+10pt', "
            "'corr=0.9,q=0.99'.",
        ),
    ] = None,
    scenarios_file: Annotated[
        Path | None,
        typer.Option("--scenarios-file", help="JSON/YAML file of named shocks."),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", help=f"Margin model: {', '.join(MODELS)}.")
    ] = "deribit",
    params: Annotated[
        Path | None,
        typer.Option("--params", help="TOML parameter file replacing the model's shipped one."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Shared price data folder (default $PMARGIN_SHARED_DATA, else ../shared/data).",
        ),
    ] = None,
    allow_unheld: Annotated[
        bool,
        typer.Option(
            "--allow-unheld",
            help="Run shocks naming underlyings or assets the book does not hold (they move "
            "nothing; refused by default as probable typos).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    cluster: ClusterOption = None,
) -> None:
    """Stress-test every account: loss under each shock against equity and initial margin.

    Without --scenario, --shock or --scenarios-file every named episode is run (its window
    and moves are found in the price data). A shock naming an underlying or asset the book
    does not hold is refused unless --allow-unheld. Shock ranges: spot moves in (-1, 10],
    relative vol moves in (-1, 10], vol points in [-200, +500] (stress/shock_limits.toml).
    Flags: loss > IM is a margin breach, loss > equity
    a default. JSON: per scenario its definition and per account loss, equity, equity_after,
    initial_margin, maintenance_margin, margin_breach, default (USD).
    """
    snapshot, book = load_inputs(market, portfolio)
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
    if as_json:
        print_json(report.to_dict())
        return
    out = console()
    stamp = snapshot.timestamp.isoformat()
    out.print(scenarios_table(report, f"pmargin stress --model {model} @ {stamp}: scenarios"))
    out.print(results_table(report, "loss per account (USD; loss > IM: breach, > equity: default)"))
    for note in report.notes:
        out.print(note, markup=False, highlight=False)

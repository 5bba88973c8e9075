"""``pmargin simulate``: replay a real crash on a population under each margin model.

A plain function with Typer annotations; ``main.py`` registers it with
``app.command("simulate")(_one_line_errors(simulate))``. It parses, calls
:func:`pmargin.engine.simulation_report`, prints the per-model table and writes
``results.json``, the plots and ``report.html`` as the folder ``--out``: checked before the
replay starts (an existing report is replaced only with ``--force``) and written whole or not
at all (:func:`pmargin._outputs.output_folder`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from pmargin.cli._options import DataOption
from pmargin.cli._output import plain

if TYPE_CHECKING:
    from pmargin.simulate import SimulationResult

__all__ = ["results_table", "simulate"]


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k} {v:.3f}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.0f}"
    return "" if value is None else str(value)


def results_table(result: SimulationResult) -> Table:
    """Rich table: one row per model (impact-on run, USD), see ``pmargin.engine.TABLE_COLUMNS``."""
    from pmargin.engine import TABLE_COLUMNS

    data = result.to_dict()
    moves = " ".join(f"{k} {v:+.1%}" for k, v in data["historical_drawdown"].items())
    table = Table(
        title=plain(
            f"pmargin simulate {data['episode']}: {data['start']} to {data['end']}, "
            f"{data['steps']} steps, historical drawdown {moves} (USD)"
        )
    )
    for key, header in TABLE_COLUMNS:
        table.add_column(header, justify="left" if key == "model" else "right")
    for row in data["models"]:
        table.add_row(*(plain(_cell(row.get(key))) for key, _ in TABLE_COLUMNS))
    return table


def simulate(
    episode: Annotated[
        str, typer.Option("--episode", metavar="NAME", help="Crash to replay: {episode_keys}.")
    ] = "ftx",
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            metavar="NAMES",
            help="Comma-separated margin models (default {simulation_models}).",
        ),
    ] = None,
    accounts: Annotated[int, typer.Option("--accounts", help="Accounts generated.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of population and path.")] = 7,
    portfolio: Annotated[
        Path | None,
        typer.Option(
            "--portfolio", "-p", metavar="FILE", help="Portfolio file instead of a generated one."
        ),
    ] = None,
    impact: Annotated[
        bool,
        typer.Option(
            "--impact/--no-impact",
            help="Also run with liquidation flow fed back into the price (impact off always runs).",
        ),
    ] = True,
    funding: Annotated[
        str, typer.Option("--funding", metavar="MODE", help="Capital per model: {funding_modes}.")
    ] = "leverage",
    substeps: Annotated[
        int, typer.Option("--substeps", help="Path points per 4-hour close (1 = closes).")
    ] = 1,
    interpolation: Annotated[
        str,
        typer.Option("--interpolation", metavar="NAME", help="Between closes: {interpolations}."),
    ] = "bridge",
    depth: Annotated[
        float,
        typer.Option("--depth", help="Net flow moving the price 1 %, as a fraction of OI."),
    ] = 0.03,
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="DIR", help="Folder for results.json, plots and report.html."
        ),
    ] = Path("simulate-out"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier report in --out.")
    ] = False,
    data: DataOption = None,
    agents: Annotated[
        float, typer.Option("--agents", help="Share of accounts running the hedging agent (0-1).")
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Replay a real crash: liquidations, insurance fund, bad debt and cascades per model.

    The population is funded under each model (capital required = sum of IM at the start),
    the 4-hourly path of the episode is replayed through the health monitor and the
    liquidation engine, with and without the liquidation flow moving the price. See
    docs/simulate.md.
    """
    from pmargin.cli._output import check_arguments, console, print_json
    from pmargin.cli._progress import progress_callback
    from pmargin.engine import SIMULATION_MODELS, simulation_report
    from pmargin.errors import InputError

    if models is None:
        models = ",".join(SIMULATION_MODELS)
    check_arguments(
        "simulate", {"accounts": accounts, "seed": seed, "substeps": substeps, "depth": depth}
    )
    names = tuple(n.strip() for n in models.split(",") if n.strip())
    if not names:
        raise InputError("models", models, "must list at least one model (comma-separated)")
    with progress_callback("crash replays") as report_progress:
        report = simulation_report(
            out,
            episode=episode,
            models=names,
            n_accounts=accounts,
            seed=seed,
            portfolio=portfolio,
            funding=funding,
            substeps=substeps,
            interpolation=interpolation,
            depth=depth,
            impact=impact,
            agents=agents,
            force=force,
            data=data,
            out_field="--out",
            progress=report_progress,
        )
    result, paths = report.result, report.paths
    if as_json:
        print_json(result.to_dict())
        return
    out_console = console()
    out_console.print(results_table(result))
    for note in result.notes:
        out_console.print(plain(f"note: {note}"))
    for row in result.table() if agents > 0 else ():
        out_console.print(
            plain(f"agents ({row['model']}): {row['agent_hedges']:.0f} hedges, "
                  f"{row['hedge_cost_usd']:,.0f} USD spread, "
                  f"{row['agent_targets_missed']:.0f} targets out of reach")
        )  # fmt: skip
    written = ", ".join(str(p) for p in paths.values())
    out_console.print(plain(f"{result.seconds['total']:.1f} s; wrote {written}"))

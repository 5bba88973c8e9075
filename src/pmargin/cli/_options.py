"""Options several commands share (Typer annotations; no library import, see ``_help``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "AccountOption",
    "DataOption",
    "ForceOption",
    "JsonOption",
    "MarketOption",
    "ModelOption",
    "MoveOption",
    "ParamsOption",
    "PortfolioOption",
]

MarketOption = Annotated[
    Path,
    typer.Option("--market", "-m", metavar="FILE", help="Market snapshot file (JSON or YAML)."),
]
PortfolioOption = Annotated[
    Path,
    typer.Option(
        "--portfolio",
        "-p",
        metavar="FILE",
        help="Portfolio file (JSON, YAML, CSV, Parquet or Arrow).",
    ),
]
ModelOption = Annotated[
    str, typer.Option("--model", metavar="NAME", help="Margin model: {models}.")
]
ParamsOption = Annotated[
    Path | None,
    typer.Option(
        "--params", metavar="FILE", help="TOML parameter file replacing the model's shipped one."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")]
DataOption = Annotated[
    Path | None,
    typer.Option("--data", metavar="DIR", help="Price data folder (default $PMARGIN_SHARED_DATA)."),
]
AccountOption = Annotated[str, typer.Option("--account", "-a", metavar="ID", help="Account id.")]
MoveOption = Annotated[
    str | None,
    typer.Option(
        "--move",
        metavar="MOVES",
        help="Market move before margining, e.g. BTC=-0.1,vol=+0.2: relative index moves "
        "per underlying and a relative vol move (stress shock syntax; vol=+10pt for points).",
    ),
]

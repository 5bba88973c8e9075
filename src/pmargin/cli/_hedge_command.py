"""``pmargin hedge``: the trades that minimise one account's margin plus their cost.

Register in :mod:`pmargin.cli.main` with ``app.command("hedge")(_one_line_errors(hedge))``.
The command only parses, calls :func:`pmargin.engine.hedge_report` and renders; the maths
lives in :mod:`pmargin.optimise` (docs/hedge.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmargin.cli._options import JsonOption
from pmargin.errors import InputError

__all__ = ["hedge", "parse_band"]


def parse_band(text: str) -> tuple[float, float]:
    """Parse ``--delta-band LO,HI`` (base units).

    Raises
    ------
    InputError
        Field ``--delta-band`` unless two numbers ``LO <= HI``.
    """
    parts = text.split(",")
    try:
        low, high = (float(p) for p in parts)
    except ValueError as error:
        raise InputError("--delta-band", text, "must be LO,HI (two numbers)") from error
    if not low <= high:
        raise InputError("--delta-band", text, "must have LO <= HI")
    return low, high


def hedge(
    portfolio: Annotated[
        Path, typer.Option("--portfolio", "-p", help="Portfolio file (JSON, YAML or CSV).")
    ],
    market: Annotated[
        Path, typer.Option("--market", "-m", help="Market snapshot file (JSON or YAML).")
    ],
    account: Annotated[str, typer.Option("--account", help="Account id to hedge.")],
    model: Annotated[
        str, typer.Option("--model", metavar="NAME", help="Margin model: {models}.")
    ] = "deribit",
    params: Annotated[
        Path | None,
        typer.Option("--params", help="TOML parameter file replacing the model's shipped one."),
    ] = None,
    universe: Annotated[
        str,
        typer.Option("--universe", help="Glob over the market's symbols, e.g. 'BTC-*'."),
    ] = "*",
    target_util: Annotated[
        float | None,
        typer.Option(
            "--target-util",
            help="Reach this IM utilisation (IM / equity, e.g. 0.5) at least cost instead of "
            "minimising IM + cost.",
        ),
    ] = None,
    max_size: Annotated[
        float | None,
        typer.Option("--max-size", help="Most native units traded per instrument."),
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", help="Most USD the trades may cost.")
    ] = None,
    delta_band: Annotated[
        str | None,
        typer.Option(
            "--delta-band",
            help="LO,HI: the account's net delta (base units) per underlying after the trades.",
        ),
    ] = None,
    no_lots: Annotated[
        bool, typer.Option("--no-lots", help="Trade any amount instead of whole lots.")
    ] = False,
    quotes: Annotated[
        Path | None,
        typer.Option(
            "--quotes",
            help="JSON/YAML file mapping symbols to a bid and an ask (else the spread rule).",
        ),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="Trading rules file replacing the shipped hedge.toml."),
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Seconds the solver may take.")
    ] = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Find the trades that minimise an account's IM plus their cost (or reach a target).

    Candidates are the market's instruments matching --universe, priced at --quotes or the
    shipped spread rule; quantities are in the portfolio file's native units, so adding the
    trades to the book and re-margining gives im_after. JSON: trades (instrument, quantity,
    price), cost, im_before, im_after (USD) and how they were found (method, objective,
    bound, gap).
    """
    from pmargin.cli._output import console, print_json
    from pmargin.engine import hedge_report, load_inputs

    band = None if delta_band is None else parse_band(delta_band)
    snapshot, book = load_inputs(market, portfolio)
    proposal = hedge_report(
        book,
        snapshot,
        account,
        model=model,
        params=params,
        universe=universe,
        target_util=target_util,
        max_size=max_size,
        max_cost=max_cost,
        delta_band=band,
        lots=not no_lots,
        time_limit=time_limit,
        quotes=quotes,
        rules=rules,
    )
    if as_json:
        print_json(proposal.to_dict())
        return
    from rich.table import Table

    from pmargin.cli._output import clean

    out = console()
    table = Table(title=f"hedge of {clean(account)} under {clean(model)}", title_justify="left")
    for name in ("instrument", "quantity (native)", "price"):
        table.add_column(name, justify="left" if name == "instrument" else "right")
    for trade in proposal.trades:
        table.add_row(clean(trade.instrument), f"{trade.quantity:,.6g}", f"{trade.price:,.6g}")
    out.print(table)
    out.print(
        f"IM {proposal.im_before:,.2f} -> {proposal.im_after:,.2f} USD, cost "
        f"{proposal.cost:,.2f} USD, equity {proposal.equity_after:,.2f} USD ({proposal.method}"
        + (f", gap {proposal.gap:.2%}" if proposal.gap is not None else "")
        + ")"
    )
    if proposal.reason:
        out.print(f"note: {clean(proposal.reason)}")

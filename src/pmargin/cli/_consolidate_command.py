"""``pmargin consolidate``: one owner's accounts at several venues, apart and together.

Register in :mod:`pmargin.cli.main` with
``app.command("consolidate")(_one_line_errors(consolidate))``. The command only parses,
calls :func:`pmargin.engine.consolidate_report` and renders; the maths lives in
:mod:`pmargin.optimise` (docs/hedge.md, "Across venues").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmargin.cli._options import JsonOption

__all__ = ["consolidate", "parse_pairs"]


def parse_pairs(texts: list[str] | None, option: str) -> list[tuple[str, str]]:
    """Parse repeated ``VENUE=VALUE`` options, in order.

    Raises
    ------
    InputError
        Field ``option``: a part without ``=`` or with an empty side.
    """
    from pmargin.errors import InputError

    pairs = []
    for text in texts or []:
        venue, eq, value = (part.strip() for part in text.partition("="))
        if not eq or not venue or not value:
            raise InputError(option, text, "must be VENUE=VALUE")
        pairs.append((venue, value))
    return pairs


def consolidate(
    market: Annotated[
        Path, typer.Option("--market", "-m", help="Market snapshot file (JSON or YAML).")
    ],
    part: Annotated[
        list[str] | None,
        typer.Option(
            "--part",
            help="VENUE=FILE (repeatable): a venue's portfolio file (pmargin import writes "
            "one from the venue's saved replies).",
        ),
    ] = None,
    replies: Annotated[
        list[str] | None,
        typer.Option(
            "--replies",
            help="VENUE=PATH (repeatable): a venue's saved API replies (a file or a folder; "
            "deribit, okx, bybit, binance, ccxt), read like --from VENUE; the account is "
            "named after the venue.",
        ),
    ] = None,
    venue_market: Annotated[
        list[str] | None,
        typer.Option(
            "--venue-market",
            help="VENUE=FILE (repeatable): the venue's own market snapshot, where its part "
            "is margined and hedged (the union stays at --market).",
        ),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", help="VENUE=ID (repeatable): the account of a venue's file."),
    ] = None,
    model_of: Annotated[
        list[str] | None,
        typer.Option(
            "--model-of",
            help="VENUE=MODEL (repeatable): the model a venue margins with (default: the "
            "venue's own where pmargin has it, else standard).",
        ),
    ] = None,
    union_model: Annotated[
        str,
        typer.Option("--union-model", metavar="NAME", help="Model of the union: {models}."),
    ] = "deribit",
    universe: Annotated[
        str | None,
        typer.Option(
            "--hedge",
            metavar="GLOB",
            help="Also hedge across venues over the market's symbols matching GLOB, each leg "
            "margined at its own venue.",
        ),
    ] = None,
    max_size: Annotated[
        float | None,
        typer.Option("--max-size", help="Hedge: most native units per instrument and venue."),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", help="Hedge: most USD all the trades may cost together."),
    ] = None,
    delta_band: Annotated[
        str | None,
        typer.Option(
            "--delta-band",
            help="Hedge: LO,HI, the owner's net delta (base units) per underlying over every "
            "venue after the trades.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Margin one owner's accounts at several venues: each alone, the sum, and the union.

    Each venue's part (a portfolio file, --part, or its saved API replies, --replies) is
    margined under its own model, at its own market where --venue-market gives one; the
    union (every position and balance in one account) under --union-model; freed = the
    venues' IM summed minus the union's, the capital cross-venue netting would free. With
    --hedge, the trades minimising the sum of the venues' IM plus cost. JSON: venues,
    total, union, freed (USD) and hedge.
    """
    from pmargin.cli._hedge_command import parse_band
    from pmargin.cli._output import clean, console, print_json
    from pmargin.engine import consolidate_report

    report = consolidate_report(
        market,
        parse_pairs(part, "--part"),
        replies=parse_pairs(replies, "--replies"),
        venue_markets=dict(parse_pairs(venue_market, "--venue-market")),
        accounts=dict(parse_pairs(account, "--account")),
        models=dict(parse_pairs(model_of, "--model-of")),
        union_model=union_model,
        universe=universe,
        max_size=max_size,
        max_cost=max_cost,
        delta_band=None if delta_band is None else parse_band(delta_band),
    )
    if as_json:
        print_json(report.to_dict())
        return
    from rich.table import Table

    result = report.consolidation
    table = Table(title="margin by venue and consolidated (USD)", title_justify="left")
    for name in ("venue", "model", "equity", "IM", "MM"):
        table.add_column(name, justify="left" if name in ("venue", "model") else "right")
    for v in (*result.venues, result.union):
        table.add_row(
            clean(v.venue), clean(v.model), f"{v.equity:,.2f}", f"{v.initial_margin:,.2f}",
            f"{v.maintenance_margin:,.2f}",
        )  # fmt: skip
    out = console()
    out.print(table)
    out.print(
        f"venues' IM {result.total_initial_margin:,.2f} USD, union "
        f"{result.union.initial_margin:,.2f} USD: netting frees {result.freed:,.2f} USD"
    )
    for h in report.hedges:
        legs = ", ".join(f"{clean(t.instrument)} {t.quantity:,.6g}" for t in h.trades) or "none"
        out.print(
            f"hedge at {clean(h.model)}: {legs}; IM {h.im_before:,.2f} -> {h.im_after:,.2f} USD, "
            f"cost {h.cost:,.2f} USD ({h.method})"
        )

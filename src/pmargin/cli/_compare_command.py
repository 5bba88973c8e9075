"""``pmargin compare``: every model's IM per account, side by side."""

from __future__ import annotations

from typing import Annotated

import typer

from pmargin.cli._options import JsonOption, MarketOption, PortfolioOption
from pmargin.cli._output import ClusterOption, CsvOption

__all__ = ["compare"]


def compare(
    portfolio: PortfolioOption,
    market: MarketOption,
    models: Annotated[
        str, typer.Option("--models", metavar="NAMES", help="Comma-separated model names.")
    ] = "standard,deribit,okx,derive-pmrm2",
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    cluster: ClusterOption = None,
) -> None:
    """Compare every model's IM per account, each against standard (IM / standard's IM - 1).

    An account a model cannot margin (Derive lists only USDC-settled options and perpetuals)
    shows n/a, with the reason (JSON: null and errors).
    """
    from pmargin.cli._output import console, emit_table, print_json
    from pmargin.cli._render_margin import compare_table
    from pmargin.engine import compare_margins, load_inputs

    snapshot, book = load_inputs(market, portfolio)
    names = [m.strip() for m in models.split(",") if m.strip()]
    comparison = compare_margins(book, snapshot, names, cluster=cluster)
    if as_json:
        print_json({"timestamp": snapshot.timestamp.isoformat(), **comparison.to_dict()})
        return
    rows = range(len(comparison.account_ids))
    emit_table(compare_table(comparison, rows, "initial margin by model (USD)"), as_csv=as_csv)
    if as_csv:
        return
    for note in dict.fromkeys(n for notes in comparison.notes.values() for n in notes):
        console().print(note, markup=False, highlight=False)

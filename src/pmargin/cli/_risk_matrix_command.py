"""``pmargin risk-matrix``: one account's positions and what its margin's scenarios show."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmargin.cli._options import (
    AccountOption,
    MarketOption,
    ModelOption,
    ParamsOption,
    PortfolioOption,
)
from pmargin.cli._output import CsvOption

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pmargin._typing import FloatArray
    from pmargin.engine import MarginReport

__all__ = ["print_risk_matrices", "risk_matrix"]

GRID_LIMIT = 60
"""A unit with more scenarios than this and no risk-matrix grid is shown as its tail."""


def risk_matrix(
    portfolio: PortfolioOption,
    market: MarketOption,
    account: AccountOption,
    model: ModelOption = "deribit",
    params: ParamsOption = None,
    as_csv: CsvOption = False,
) -> None:
    """Show one account's positions (coin balances included) and each unit's scenarios.

    A risk-matrix model (Deribit, OKX, ...) prints its grid, spot moves by vol shocks, with
    the binding cell marked and the IM lines under it; where the model offsets gains and
    dampens extended cells (Deribit), the cells before those steps (raw) beside the ones
    after. A VaR/ES model prints its tail: the worst scenarios with their dates, and VaR, ES,
    IM and MM.
    """
    from pmargin.book import Portfolio
    from pmargin.cli._margin_command import print_notes
    from pmargin.cli._output import emit_table
    from pmargin.cli._render import account_table, coin_balances
    from pmargin.engine import cells_before_offsets, load_inputs, margin_report, position_risk

    snapshot, book = load_inputs(market, portfolio)
    report = margin_report(book, snapshot, model, params)
    row = report.result.row(account)
    held = Portfolio((book.accounts[row],), book.instruments)
    coins = coin_balances(book.accounts[row].balances, snapshot.index)
    emit_table(account_table(account, position_risk(held, snapshot), coins), as_csv=as_csv)
    before = cells_before_offsets(book, snapshot, model, account, params)
    print_risk_matrices(report, row, as_csv=as_csv, before=before)
    if not as_csv:
        print_notes(report)


def print_risk_matrices(
    report: MarginReport,
    row: int,
    *,
    as_csv: bool = False,
    before: Mapping[tuple[str, str], FloatArray] | None = None,
) -> None:
    """Print every unit of account ``row`` that has scenarios: its grid, or its tail.

    ``before``: ``(underlying, currency)`` -> the unit's cells before the model's offsets and
    dampeners (:func:`pmargin.engine.cells_before_offsets`), shown beside the grid.
    """
    from pmargin.cli._output import console, emit_table
    from pmargin.cli._render_margin import risk_matrix_table, tail_table

    result = report.result
    shown = 0
    for unit in result.risk_units:
        if unit.holds[row] and unit.scenario_labels:
            title = (
                f"{result.model} risk matrix: {result.account_ids[row]} "
                f"{unit.underlying}/{unit.currency} (P&L in {unit.currency})"
            )
            if unit.scenarios or len(unit.scenario_labels) <= GRID_LIMIT:
                raw = (before or {}).get((unit.underlying, unit.currency))
                emit_table(risk_matrix_table(unit, row, title, raw), as_csv=as_csv)
            else:
                title = title.replace("risk matrix", "tail")
                emit_table(tail_table(unit, row, title), as_csv=as_csv)
            shown += 1
    if not shown and not as_csv:
        console().print(f"{result.model}: no scenario grid for {result.account_ids[row]}")

"""Rich tables for the margin commands: accounts, model comparison, risk matrix, order check.

Amounts are USD unless a column names a risk unit's currency; every number is printed from
the report, rounded for display only (JSON output carries full float64). Titles and every
name a user supplied (account ids, underlyings, currencies, scenario labels, reasons) are
shown as plain text (:func:`~pmargin.cli._output.plain`), never read as markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from rich.table import Table
from rich.text import Text

from pmargin.cli._output import plain
from pmargin.engine import MarginReport, ModelComparison
from pmargin.health import LiquidationDistance
from pmargin.margin import RiskUnitMargin
from pmargin.pretrade import OrderCheck
from pmargin.scenarios import VolShockKind

__all__ = [
    "accounts_table",
    "compare_table",
    "order_table",
    "risk_matrix_table",
    "summary_table",
]

_STATUS_STYLE = {
    "healthy": "green",
    "reduce_only": "yellow",
    "liquidation": "red",
    "bankrupt": "bold red",
}


def _usd(x: float) -> str:
    return f"{x + 0.0:,.0f}"


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100.0 * x:.1f}%"


def _status(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, ""))


def accounts_table(report: MarginReport, rows: Sequence[int], title: str) -> Table:
    """One row per account: equity, IM, MM, available, utilisation and status.

    With a distance to liquidation in the report, a last column gives each underlying's index
    move down / up at which equity reaches MM (``-`` where no move within range does).
    """
    table = Table(title=plain(title), title_justify="left")
    names = ["account", "equity", "IM", "MM", "available", "IM util", "status", "units"]
    distance = report.liquidation
    if distance is not None:
        names.append("to MM (index move down / up)")
    for name in names:
        table.add_column(
            name,
            justify="right" if name in ("equity", "IM", "MM", "available", "IM util") else "left",
        )
    h = report.health
    result = report.result
    for a in rows:
        units = ", ".join(
            f"{u.underlying}/{u.currency} {u.initial_margin[a]:,.4g}"
            for u in result.risk_units
            if u.holds[a] and u.initial_margin[a] > 0
        )
        table.add_row(
            plain(result.account_ids[a]),
            _usd(h.equity[a]),
            _usd(h.initial_margin[a]),
            _usd(h.maintenance_margin[a]),
            _usd(h.available[a]),
            _pct(h.im_utilization[a]),
            _status(str(h.status[a])),
            plain(units),
            *([] if distance is None else [plain(_distance_cell(distance, a))]),
        )
    return table


def _distance_cell(distance: LiquidationDistance, row: int) -> str:
    if distance.below_maintenance[row]:
        return "below MM"
    parts = []
    for k, name in enumerate(distance.underlyings):
        if distance.exposed[row, k]:
            down, up = distance.move_down[row, k], distance.move_up[row, k]
            parts.append(f"{name} {_move(down)} / {_move(up)}")
    return ", ".join(parts)


def _move(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{100.0 * x:+.1f}%"


def compare_table(comparison: ModelComparison, rows: Sequence[int], title: str) -> Table:
    """IM of every model side by side per account, and the saving against ``standard``.

    ``n/a`` marks an account a model cannot margin; the caption lists why.
    """
    table = Table(title=plain(title), title_justify="left")
    table.add_column("account")
    im = comparison.initial_margin
    names = list(im)
    for name in names:
        table.add_column(plain(f"IM {name}"), justify="right")
    others = [n for n in names if n != "standard"] if "standard" in im else []
    for name in others:
        table.add_column(plain(f"saving {name}"), justify="right")
    for a in rows:
        cells: list[str | Text] = [plain(comparison.account_ids[a])]
        cells += [_usd(im[n][a]) if np.isfinite(im[n][a]) else "n/a" for n in names]
        base = float(im["standard"][a]) if others else 0.0
        cells += [_pct((base - float(im[n][a])) / base) if base > 0 else "n/a" for n in others]
        table.add_row(*cells)
    reasons = {f"{n}: {next(iter(e.values()))}" for n, e in comparison.errors.items() if e}
    if reasons:
        table.caption = plain("n/a: " + "; ".join(sorted(reasons)))
    return table


def summary_table(reports: Mapping[str, MarginReport], title: str) -> Table:
    """Book totals per model: IM, MM, saving against standard, accounts per status."""
    table = Table(title=plain(title), title_justify="left")
    for name in (
        "model",
        "total IM",
        "total MM",
        "vs standard",
        "healthy",
        "reduce_only",
        "liquidation",
        "bankrupt",
    ):
        table.add_column(name, justify="left" if name == "model" else "right")
    base = reports.get("standard")
    base_im = float(base.result.initial_margin.sum()) if base is not None else float("nan")
    for name, report in reports.items():
        im = float(report.result.initial_margin.sum())
        status = report.health.status
        table.add_row(
            plain(name),
            _usd(im),
            _usd(float(report.result.maintenance_margin.sum())),
            _pct(im / base_im - 1.0) if base_im > 0 else "n/a",
            *(str(int(np.sum(status == s))) for s in _STATUS_STYLE),
        )
    return table


def risk_matrix_table(unit: RiskUnitMargin, row: int, title: str) -> Table:
    """Scenario P&L of one account's unit: spot moves (rows) by vol shocks (columns).

    Cells are in the unit's currency; losses red, gains green, the binding cell bold. Units
    whose columns are not risk-matrix scenarios are listed one scenario per row.
    """
    table = Table(title=plain(title), title_justify="left")
    pnl = unit.pnl[row]
    worst = int(unit.worst[row])
    scale = float(np.max(np.abs(pnl))) if pnl.size else 0.0

    def cell(k: int) -> Text:
        value = float(pnl[k])
        shade = "red" if value < 0 else "green"
        strength = "bold " if k == worst else ""
        if scale > 0 and abs(value) < 0.05 * scale:
            shade = "white"
        return Text(f"{value + 0.0:,.6g}", style=f"{strength}{shade}")

    if not unit.scenarios:
        table.add_column("scenario")
        table.add_column(plain(f"P&L {unit.currency}"), justify="right")
        for k, label in enumerate(unit.scenario_labels):
            table.add_row(plain(label), cell(k))
        return table
    kinds = (VolShockKind.DOWN, VolShockKind.NONE, VolShockKind.UP)
    weighted = any(scenario.weight != 1.0 for scenario in unit.scenarios)
    table.add_column("spot move")
    if weighted:
        table.add_column("weight", justify="right")
    for kind in kinds:
        table.add_column(f"vol {kind.value}", justify="right")
    grid: dict[tuple[float, float], dict[VolShockKind, int]] = {}
    for k, scenario in enumerate(unit.scenarios):
        grid.setdefault((scenario.spot_move, scenario.weight), {})[scenario.vol_shock] = k
    for (move, weight), by_kind in sorted(grid.items(), key=lambda item: item[0][0]):
        cells = [cell(by_kind[kind]) if kind in by_kind else Text("") for kind in kinds]
        head = [f"{100 * move:+.1f}%", *([f"{weight:g}"] if weighted else [])]
        table.add_row(*head, *cells)
    return table


def order_table(check: OrderCheck, title: str) -> Table:
    """Before / after of a pre-trade check."""
    table = Table(title=plain(title), title_justify="left")
    for name in ("", "before", "after"):
        table.add_column(name, justify="left" if name == "" else "right")
    table.add_row("equity", _usd(check.equity_before), _usd(check.equity_after))
    table.add_row("IM", _usd(check.initial_margin_before), _usd(check.initial_margin_after))
    table.add_row("MM", _usd(check.maintenance_margin_before), _usd(check.maintenance_margin_after))
    table.add_row("status", _status(check.status_before), _status(check.status_after))
    verdict = Text(
        "ACCEPT" if check.accepted else "REJECT",
        style="bold green" if check.accepted else "bold red",
    )
    table.add_row("decision", "", verdict)
    table.caption = plain(check.reason)
    return table

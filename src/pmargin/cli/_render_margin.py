"""Rich tables for the margin commands: accounts, model comparison, risk matrix, order check.

Amounts are USD unless a column names a risk unit's currency; every number goes through the
one formatter (:mod:`pmargin.cli._format`), rounded for display only (JSON and ``--csv``
carry full float64). Titles and every name a user supplied (account ids, underlyings,
currencies, scenario labels, reasons) are shown as plain text
(:func:`~pmargin.cli._output.plain`), never read as markup.

One sign convention for comparing a model with ``standard``: **vs standard = IM of the model /
IM of standard - 1**, so -60% means 60% less margin than standard (:data:`VS_STANDARD`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from rich.table import Table
from rich.text import Text

from pmargin._typing import FloatArray
from pmargin.cli._format import num, pct, sig_decimals, usd
from pmargin.cli._output import plain
from pmargin.engine import MarginReport, ModelComparison, OrderReport
from pmargin.health import LiquidationDistance
from pmargin.margin import RiskUnitMargin
from pmargin.scenarios import VolShockKind

__all__ = [
    "VS_STANDARD",
    "accounts_table",
    "breakdown_tables",
    "compare_table",
    "order_table",
    "risk_matrix_table",
    "summary_table",
    "tail_table",
    "vs_standard",
]

VS_STANDARD = "vs standard: IM / standard's IM - 1 (negative: less margin than standard)"
"""The legend of every "vs standard" column (the one sign convention)."""
TAIL_ROWS = 10
"""Worst scenarios a VaR/ES unit's tail view lists."""

_STATUS_STYLE = {
    "healthy": "green",
    "reduce_only": "yellow",
    "liquidation": "red",
    "bankrupt": "bold red",
}


def vs_standard(im: float, standard: float) -> float:
    """``im / standard - 1`` (NaN when standard's IM is not positive)."""
    return im / standard - 1.0 if standard > 0 else float("nan")


def _status(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, ""))


def _table(title: str, caption: str = "") -> Table:
    table = Table(title=plain(title), title_justify="left", caption_justify="left")
    if caption:
        table.caption = plain(caption)
    return table


def accounts_table(report: MarginReport, rows: Sequence[int], title: str) -> Table:
    """One row per account: equity, IM, MM, available, utilisation and status.

    A last column gives each risk unit's IM in the unit's own currency; with a distance to
    liquidation in the report, another gives each underlying's index move down / up at which
    equity reaches MM (``none`` where no move within range does).
    """
    distance = report.liquidation
    legend = "IM by unit: each risk unit's IM in its own currency"
    if distance is not None:
        legend += "; to MM: index move down / up at which equity reaches MM (none: no move does)"
    table = _table(title, legend)
    numbers = ("equity", "IM", "MM", "available", "IM util")
    names = ["account", *numbers, "status", "IM by unit"]
    if distance is not None:
        names.append("to MM")
    for name in names:
        table.add_column(name, justify="right" if name in numbers else "left")
    h = report.health
    result = report.result
    for a in rows:
        units = ", ".join(
            f"{u.underlying}/{u.currency} {num(float(u.initial_margin[a]), _unit_decimals(u))}"
            for u in result.risk_units
            if u.holds[a] and u.initial_margin[a] > 0
        )
        table.add_row(
            plain(result.account_ids[a]),
            usd(h.equity[a]),
            usd(h.initial_margin[a]),
            usd(h.maintenance_margin[a]),
            usd(h.available[a]),
            pct(h.im_utilization[a]),
            _status(str(h.status[a])),
            plain(units),
            *([] if distance is None else [plain(_distance_cell(distance, a))]),
        )
    return table


def _unit_decimals(unit: RiskUnitMargin) -> int:
    """Decimals of a unit's amounts: whole USD, 4 decimals of a coin."""
    return 0 if unit.currency in ("USD", "USDC", "USDT") else 4


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
    return "none" if not np.isfinite(x) else str(pct(x, signed=True))


def compare_table(comparison: ModelComparison, rows: Sequence[int], title: str) -> Table:
    """IM of every model side by side per account, and each model against ``standard``.

    ``n/a`` marks an account a model cannot margin; the caption lists why, and the sign
    convention (:data:`VS_STANDARD`).
    """
    im = comparison.initial_margin
    names = list(im)
    others = [n for n in names if n != "standard"] if "standard" in im else []
    captions = [VS_STANDARD] if others else []
    reasons = {f"{n}: {next(iter(e.values()))}" for n, e in comparison.errors.items() if e}
    if reasons:
        captions.append("n/a: " + "; ".join(sorted(reasons)))
    table = _table(title, "\n".join(captions))
    table.add_column("account")
    for name in names:
        table.add_column(plain(f"IM {name}"), justify="right")
    for name in others:
        table.add_column(plain(f"{name} vs std"), justify="right")
    for a in rows:
        cells: list[str | Text] = [plain(comparison.account_ids[a])]
        cells += [usd(im[n][a]) for n in names]
        base = float(im["standard"][a]) if others else 0.0
        cells += [pct(vs_standard(float(im[n][a]), base), signed=True) for n in others]
        table.add_row(*cells)
    return table


def summary_table(reports: Mapping[str, MarginReport], title: str) -> Table:
    """Book totals per model: IM, MM, against standard, accounts per status."""
    base = reports.get("standard")
    table = _table(title, VS_STANDARD if base is not None else "")
    for name in ("model", "total IM", "total MM", "vs standard", *_STATUS_STYLE):
        table.add_column(name, justify="left" if name == "model" else "right")
    base_im = float(base.result.initial_margin.sum()) if base is not None else float("nan")
    for name, report in reports.items():
        im = float(report.result.initial_margin.sum())
        status = report.health.status
        table.add_row(
            plain(name),
            usd(im),
            usd(float(report.result.maintenance_margin.sum())),
            pct(vs_standard(im, base_im), signed=True),
            *(num(int(np.sum(status == s))) for s in _STATUS_STYLE),
        )
    return table


BEFORE_LEGEND = (
    "raw: the positions' P&L before the model's P&L offset on gains and its extended-cell "
    "dampener; vol columns: after them, what IM reads"
)
"""The legend a risk matrix with cells before offsets adds to its caption."""


def risk_matrix_table(
    unit: RiskUnitMargin, row: int, title: str, before: FloatArray | None = None
) -> Table:
    """Scenario P&L of one account's unit: spot moves (rows) by vol shocks (columns).

    Cells are in the unit's currency, as the model reduces them (after its weights,
    dampeners and offsets); losses red, gains green; the binding cell (the worst loss) is
    marked ``*``. The caption gives the unit's IM lines: each component and IM and MM.
    Units whose columns are not risk-matrix scenarios are listed one scenario per row.

    ``before``: the unit's cells before the model's offsets and dampeners, shape
    ``(n_scenarios,)`` (:func:`pmargin.engine.cells_before_offsets`): shown as ``raw``
    columns left of the reduced ones.
    """
    pnl = unit.pnl[row]
    worst = int(unit.worst[row])
    shown = [pnl] if before is None else [pnl, before]
    scale = max((float(np.max(np.abs(p))) for p in shown if p.size), default=0.0)
    digits = sig_decimals([scale], 5)
    caption = _im_lines(unit, row, digits)
    if before is not None:
        caption += "; " + BEFORE_LEGEND
    table = _table(title, caption)

    def cell(k: int, values: FloatArray = pnl, mark: bool = True) -> Text:
        value = float(values[k])
        shade = "red" if value < 0 else "green"
        if scale > 0 and abs(value) < 0.05 * scale:
            shade = "white"
        binding = mark and k == worst
        text = num(value, digits, style=("bold " if binding else "") + shade)
        if binding:
            text.append("*")
        return text

    def raw(k: int) -> list[Text]:
        return [] if before is None else [cell(k, before, mark=False)]

    if not unit.scenarios:
        table.add_column("scenario")
        if before is not None:
            table.add_column("raw", justify="right")
        table.add_column(plain(f"P&L {unit.currency}"), justify="right")
        for k, label in enumerate(unit.scenario_labels):
            table.add_row(plain(label), *raw(k), cell(k))
        return table
    kinds = (VolShockKind.DOWN, VolShockKind.NONE, VolShockKind.UP)
    weighted = any(scenario.weight != 1.0 for scenario in unit.scenarios)
    table.add_column("spot move")
    if weighted:
        table.add_column("weight", justify="right")
    if before is not None:
        for kind in kinds:
            table.add_column(f"raw {kind.value}", justify="right")
    for kind in kinds:
        table.add_column(f"vol {kind.value}", justify="right")
    grid: dict[tuple[float, float], dict[VolShockKind, int]] = {}
    for k, scenario in enumerate(unit.scenarios):
        grid.setdefault((scenario.spot_move, scenario.weight), {})[scenario.vol_shock] = k
    for (move, weight), by_kind in sorted(grid.items(), key=lambda item: item[0][0]):
        raws = (
            []
            if before is None
            else [
                cell(by_kind[kind], before, mark=False) if kind in by_kind else Text("")
                for kind in kinds
            ]
        )
        cells = [cell(by_kind[kind]) if kind in by_kind else Text("") for kind in kinds]
        head = [pct(move, signed=True), *([num(weight, 2)] if weighted else [])]
        table.add_row(*head, *raws, *cells)
    return table


def _im_lines(unit: RiskUnitMargin, row: int, digits: int) -> str:
    """``* binding cell; worst_loss 1.2345, roll_shock 0.1, IM 1.3345, MM 1.0 BTC``."""
    parts = [
        f"{name} {num(float(values[row]), digits)}" for name, values in unit.components.items()
    ]
    parts.append(f"IM {num(float(unit.initial_margin[row]), digits)}")
    parts.append(f"MM {num(float(unit.maintenance_margin[row]), digits)}")
    return f"* binding cell (worst loss); {', '.join(parts)} {unit.currency}"


def tail_table(unit: RiskUnitMargin, row: int, title: str, rows: int = TAIL_ROWS) -> Table:
    """Show the tail of a VaR/ES unit: its worst scenarios (label: the date) and P&L, worst first.

    The caption gives the unit's IM lines (components such as VaR and ES, IM and MM) and how
    many scenarios the unit has.
    """
    pnl = unit.pnl[row]
    order = np.argsort(pnl, kind="stable")[:rows]
    digits = sig_decimals([float(np.max(np.abs(pnl)))] if pnl.size else [0.0], 5)
    caption = f"{len(pnl):,} scenarios; " + _im_lines(unit, row, digits).split("; ", 1)[1]
    table = _table(title, caption)
    table.add_column("rank", justify="right")
    table.add_column("scenario")
    table.add_column(plain(f"P&L {unit.currency}"), justify="right")
    for rank, k in enumerate(order.tolist(), start=1):
        table.add_row(num(rank), plain(unit.scenario_labels[k]), num(float(pnl[k]), digits))
    return table


def breakdown_tables(report: MarginReport, row: int) -> list[Table]:
    """Show what binds in one account: each risk unit's components, and each position's IM share.

    The first table has one column per risk unit (in the unit's currency) and one row per
    component, then IM, MM and the binding scenario; the second one row per position (its
    USD IM contribution and share of the account's IM).
    """
    result = report.result
    account = result.account_ids[row]
    units = [u for u in result.risk_units if u.holds[row]]
    components = list(dict.fromkeys(name for u in units for name in u.components))
    table = _table(
        f"{result.model} breakdown of {account}: risk units (each in its currency)",
        "binding: the scenario that sets the worst loss",
    )
    table.add_column("")
    for u in units:
        table.add_column(plain(f"{u.underlying}/{u.currency}"), justify="right")
    lines: list[list[str | Text]] = [
        [
            plain(name),
            *[
                num(float(u.components[name][row]), _unit_decimals(u))
                if name in u.components
                else ""
                for u in units
            ],
        ]
        for name in components
    ]
    lines.append(["IM", *(num(float(u.initial_margin[row]), _unit_decimals(u)) for u in units)])
    lines.append(["MM", *(num(float(u.maintenance_margin[row]), _unit_decimals(u)) for u in units)])
    binding: list[str | Text] = ["binding"]
    for u in units:
        worst = int(u.worst[row])
        binding.append(
            plain(u.scenario_labels[worst] if 0 <= worst < len(u.scenario_labels) else "")
        )
    lines.append(binding)
    for line in lines:
        table.add_row(*line)
    positions = _table(
        f"{result.model} breakdown of {account}: IM contribution per position (USD)",
        "contributions are the model's own split of the account's IM",
    )
    positions.add_column("instrument", no_wrap=True)
    positions.add_column("IM contribution", justify="right")
    positions.add_column("share", justify="right")
    im = float(result.initial_margin[row])
    for symbol, value in sorted(result.contributions(row).items(), key=lambda kv: -kv[1]):
        positions.add_row(plain(symbol), usd(value), pct(value / im if im > 0 else float("nan")))
    return [table, positions]


def order_table(report: OrderReport, title: str) -> Table:
    """Before -> after of a pre-trade check, with the change; with a move, today first."""
    check = report.check
    table = _table(title, check.reason)
    table.add_column("")
    moved = report.now is not None
    if moved:
        table.add_column("now", justify="right")
    table.add_column("after move" if moved else "before", justify="right")
    table.add_column("after", justify="right")
    table.add_column("change", justify="right")
    now = report.now
    today: dict[str, float | None] = {
        "equity": None if now is None else now.equity,
        "IM": None if now is None else now.initial_margin,
        "MM": None if now is None else now.maintenance_margin,
        "available": None if now is None else now.equity - now.initial_margin,
    }
    lines = [
        ("equity", check.equity_before, check.equity_after),
        ("IM", check.initial_margin_before, check.initial_margin_after),
        ("MM", check.maintenance_margin_before, check.maintenance_margin_after),
        ("available", check.equity_before - check.initial_margin_before, check.available_after),
    ]
    for name, before, after in lines:
        first = today[name]
        start = first if first is not None else before
        table.add_row(
            name,
            *([usd(first)] if moved else []),
            usd(before),
            usd(after),
            usd(after - start, signed=True),
        )
    table.add_row(
        "status",
        *([_status(now.status.value)] if now is not None else []),
        _status(check.status_before),
        _status(check.status_after),
        "",
    )
    verdict = Text(
        "ACCEPT" if check.accepted else "REJECT",
        style="bold green" if check.accepted else "bold red",
    )
    table.add_row("decision", *([""] if moved else []), "", verdict, "")
    return table

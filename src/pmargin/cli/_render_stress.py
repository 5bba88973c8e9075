"""Rich tables for ``pmargin stress``: what each scenario is, and every account's loss.

Amounts are USD, rounded for display only (``--json`` carries full float64). Titles, scenario
names and definitions and account ids are shown as plain text
(:func:`~pmargin.cli._output.plain`), never read as markup.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.table import Table
from rich.text import Text

from pmargin.cli._output import plain
from pmargin.stress import StressReport

__all__ = ["results_table", "scenarios_table"]


def _usd(x: float) -> str:
    return f"{x + 0.0:,.0f}"


def _pct(x: float) -> str:
    return f"{100.0 * x:+.1f}%"


def _moves(details: dict[str, Any]) -> str:
    """``BTC -39.5% vol +121.3% (rv30-proxy)`` per underlying of an episode, else the moves."""
    if "underlyings" in details and isinstance(details["underlyings"], dict):
        return "; ".join(
            f"{u} {_pct(d['spot_move'])} vol {_pct(d['vol_move'])} ({d['vol_source']})"
            for u, d in details["underlyings"].items()
        )
    return ""


def scenarios_table(report: StressReport, title: str) -> Table:
    """One row per scenario: its definition, and how many accounts breach IM or default."""
    table = Table(title=plain(title), title_justify="left")
    for name in ("scenario", "kind", "definition", "IM breach", "default", "total loss"):
        table.add_column(name, justify="right" if name in ("IM breach", "default") else "left")
    table.columns[-1].justify = "right"
    breach, default = report.margin_breach, report.default
    n = len(report.account_ids)
    for j, info in enumerate(report.scenarios):
        moves = _moves(info.details)
        definition = f"{info.description}\n{moves}" if moves else info.description
        if info.unshocked:
            definition += f"\nunshocked: {', '.join(info.unshocked)}"
        table.add_row(
            plain(info.name),
            plain(info.kind),
            plain(definition),
            f"{int(breach[:, j].sum())}/{n}",
            f"{int(default[:, j].sum())}/{n}",
            _usd(float(np.sum(report.loss[:, j]))),
        )
    return table


def results_table(report: StressReport, title: str) -> Table:
    """One row per scenario and account: loss, equity before and after, IM and the flags."""
    table = Table(title=plain(title), title_justify="left")
    for name in ("scenario", "account", "loss", "equity", "equity after", "IM", "loss/IM", "flag"):
        table.add_column(
            name, justify="left" if name in ("scenario", "account", "flag") else "right"
        )
    after, breach, default = report.equity_after, report.margin_breach, report.default
    for j, info in enumerate(report.scenarios):
        for a, account_id in enumerate(report.account_ids):
            im = report.initial_margin[a]
            ratio = f"{report.loss[a, j] / im:.2f}" if im > 0 else "n/a"
            if default[a, j]:
                flag = Text("default", style="bold red")
            elif breach[a, j]:
                flag = Text("margin breach", style="yellow")
            else:
                flag = Text("ok", style="green")
            table.add_row(
                plain(info.name),
                plain(account_id),
                _usd(report.loss[a, j]),
                _usd(report.equity[a]),
                _usd(after[a, j]),
                _usd(im),
                ratio,
                flag,
            )
    return table

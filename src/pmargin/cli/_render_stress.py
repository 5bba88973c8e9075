"""Rich tables for ``pmargin stress``: what each scenario is, and every account's loss.

Amounts are USD, rounded for display only (``--json`` and ``--csv`` carry full float64), through
the one formatter (:mod:`pmargin.cli._format`). Titles, scenario names and definitions and
account ids are shown as plain text (:func:`~pmargin.cli._output.plain`), never read as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.table import Table
from rich.text import Text

from pmargin.cli._format import Num, num, pct, usd
from pmargin.cli._output import plain
from pmargin.health import AccountHealth
from pmargin.stress import StressReport

__all__ = ["remargin_table", "results_table", "scenarios_table"]

_FLAGS = (
    "flag: breach when loss > IM (a coin-settled account: in its coin), default when loss > equity"
)
_IN_COIN = (
    "ccy: the account's currency (a coin where every position settles in it and every balance "
    "is it); loss ccy: the loss in it (equity in coin before minus after)"
)


def _moves(details: dict[str, Any]) -> str:
    """``BTC -39.5% vol +121.3% (rv30-proxy)`` per underlying of an episode, else the moves."""
    if "underlyings" in details and isinstance(details["underlyings"], dict):
        return "; ".join(
            f"{u} {pct(d['spot_move'], signed=True)} vol {pct(d['vol_move'], signed=True)} "
            f"({d['vol_source']})"
            for u, d in details["underlyings"].items()
        )
    return ""


def scenarios_table(report: StressReport, title: str) -> Table:
    """One row per scenario: its definition, and how many accounts breach IM or default."""
    table = Table(title=plain(title), title_justify="left", caption=_FLAGS, caption_justify="left")
    for name in ("scenario", "kind", "definition", "breach", "default", "total loss"):
        table.add_column(
            name, justify="left" if name in ("scenario", "kind", "definition") else "right"
        )
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
            usd(float(np.sum(report.loss[:, j]))),
        )
    return table


def results_table(report: StressReport, title: str) -> Table:
    """One row per scenario and account: loss, equity before and after, IM and the flags.

    Amounts in USD; with a coin-settled account, also each account's currency and the loss
    in it (on which its breach flag is decided).
    """
    coins = any(c != "USD" for c in report.currency)
    caption = _FLAGS + "; loss/IM: the loss in multiples of today's IM (in ccy)"
    table = Table(
        title=plain(title) if title else None,
        title_justify="left",
        caption=caption + ("; " + _IN_COIN if coins else ""),
        caption_justify="left",
    )
    names = ["scenario", "account", "loss", "equity", "equity after", "IM"]
    if coins:
        names += ["ccy", "loss ccy"]
    for name in (*names, "loss/IM", "flag"):
        table.add_column(
            name, justify="left" if name in ("scenario", "account", "flag", "ccy") else "right"
        )
    after, breach, default = report.equity_after, report.margin_breach, report.default
    in_ccy, im_ccy = report.loss_in_currency, report.initial_margin_in_currency
    for j, info in enumerate(report.scenarios):
        for a, account_id in enumerate(report.account_ids):
            im = report.initial_margin[a]
            if default[a, j]:
                flag = Text("default", style="bold red")
            elif breach[a, j]:
                flag = Text("breach", style="yellow")
            else:
                flag = Text("ok", style="green")
            ccy = report.currency[a] if coins else "USD"
            extra: list[Text] = [] if not coins else [plain(ccy), _amount(in_ccy[a, j], ccy)]
            table.add_row(
                plain(info.name),
                plain(account_id),
                usd(report.loss[a, j]),
                usd(report.equity[a]),
                usd(after[a, j]),
                usd(im),
                *extra,
                num(in_ccy[a, j] / im_ccy[a] if im > 0 else float("nan"), 2),
                flag,
            )
    return table


def _amount(value: float, currency: str) -> Num:
    """USD as whole dollars, a coin with 4 decimals (the one formatter's conventions)."""
    return usd(value) if currency == "USD" else num(value, 4)


def remargin_table(
    account_ids: Sequence[str],
    after: Sequence[tuple[str, AccountHealth | None]],
    title: str,
) -> Table:
    """One row per scenario and account: equity, IM, MM and status re-margined after the move."""
    table = Table(
        title=plain(title),
        title_justify="left",
        caption="re-margined by the model at the moved market; correlation shocks: n/a",
        caption_justify="left",
    )
    for name in ("scenario", "account", "equity", "IM", "MM", "status"):
        table.add_column(
            name, justify="left" if name in ("scenario", "account", "status") else "right"
        )
    for name, health in after:
        for a, account_id in enumerate(account_ids):
            if health is None:
                table.add_row(plain(name), plain(account_id), "", "", "", "n/a")
                continue
            table.add_row(
                plain(name),
                plain(account_id),
                usd(health.equity[a]),
                usd(health.initial_margin[a]),
                usd(health.maintenance_margin[a]),
                plain(str(health.status[a])),
            )
    return table

"""Rich tables for the CLI. Display units: vega per vol point, theta per day."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from pmargin.cli._output import plain
from pmargin.engine import InstrumentQuote, PositionRisk
from pmargin.timeutil import DAYS_PER_YEAR

__all__ = ["account_table", "quotes_table"]

_VOL_POINT = 0.01


def _plain(x: float) -> float:
    """Drop the sign of a negative zero so that it displays as 0."""
    return x + 0.0


def _num(x: float | None, fmt: str) -> str:
    return "" if x is None else format(_plain(x), fmt)


def quotes_table(quotes: Sequence[InstrumentQuote], title: str) -> Table:
    """One row per instrument: value in premium currency and USD, forward, vol, Greeks.

    ``title`` and symbols are shown as plain text (:func:`~pmargin.cli._output.plain`).
    """
    table = Table(title=plain(title), title_justify="left")
    for name in (
        "instrument",
        "price",
        "ccy",
        "price USD",
        "forward",
        "iv %",
        "delta",
        "gamma",
        "vega/1%",
        "theta/day",
        "delta coin",
    ):
        table.add_column(name, justify="left" if name in ("instrument", "ccy") else "right")
    for q in quotes:
        table.add_row(
            plain(q.instrument.symbol),
            _num(q.price, ",.8g"),
            plain(q.premium_currency),
            _num(q.price_usd, ",.2f"),
            _num(q.forward, ",.2f"),
            _num(None if q.iv is None else 100 * q.iv, ".2f"),
            _num(q.delta, ".5f"),
            _num(q.gamma, ".3e"),
            _num(q.vega * _VOL_POINT, ",.4f"),
            _num(q.theta / DAYS_PER_YEAR, ",.4f"),
            _num(q.delta_coin, ".5f"),
        )
    return table


def account_table(account: str, rows: Sequence[PositionRisk]) -> Table:
    """Positions of one account with USD value and Greeks, and their totals."""
    table = Table(title=plain(f"account {account}"), title_justify="left", show_footer=True)
    value = sum(r.value_usd for r in rows)
    vega = sum(r.vega for r in rows) * _VOL_POINT
    theta = sum(r.theta for r in rows) / DAYS_PER_YEAR
    # Delta and gamma add up only within one underlying.
    underlyings = {r.position.instrument.underlying for r in rows}
    one = len(underlyings) == 1
    delta = f"{_plain(sum(r.delta for r in rows)):,.4f}" if one else ""
    gamma = f"{_plain(sum(r.gamma for r in rows)):.3e}" if one else ""
    columns = [
        ("instrument", plain("total" + (f" ({underlyings.pop()})" if one else "")), "left"),
        ("quantity", "", "right"),
        ("unit", "", "left"),
        ("base qty", "", "right"),
        ("notional USD", "", "right"),
        ("value USD", f"{_plain(value):,.2f}", "right"),
        ("delta", delta, "right"),
        ("gamma", gamma, "right"),
        ("vega USD/1%", f"{_plain(vega):,.2f}", "right"),
        ("theta USD/day", f"{_plain(theta):,.2f}", "right"),
    ]
    for name, footer, justify in columns:
        table.add_column(name, footer=footer, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            plain(r.position.instrument.symbol),
            f"{r.position.quantity:,.6g}",
            r.position.resolved_unit.value,
            f"{r.base_quantity:,.6g}",
            f"{r.notional_usd:,.2f}",
            f"{_plain(r.value_usd):,.2f}",
            f"{_plain(r.delta):,.4f}",
            f"{_plain(r.gamma):.3e}",
            f"{_plain(r.vega * _VOL_POINT):,.2f}",
            f"{_plain(r.theta / DAYS_PER_YEAR):,.2f}",
        )
    return table

"""Rich tables of instruments and one account's positions.

Display units: vega USD (or premium currency) per vol point, theta per day, gamma as the
change of delta for a 1 % move of the underlying (``gamma x forward / 100``); JSON carries the
raw Greeks. Numbers through the one formatter (:mod:`pmargin.cli._format`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.table import Table

from pmargin.cli._format import num, sig_decimals
from pmargin.cli._output import plain
from pmargin.engine import InstrumentQuote, PositionRisk
from pmargin.timeutil import DAYS_PER_YEAR

__all__ = ["QUOTES_LEGEND", "account_table", "coin_balances", "quotes_table"]

_VOL_POINT = 0.01
_ONE_PERCENT = 0.01
QUOTES_LEGEND = (
    "price in ccy per unit of underlying; delta per unit of underlying; gamma/1%: delta "
    "change for a 1% move; vega per vol point and theta per day in ccy; delta coin: delta "
    "of the coin-settled value in coin"
)
"""The legend printed under :func:`quotes_table`."""


def quotes_table(quotes: Sequence[InstrumentQuote], title: str) -> Table:
    """One row per instrument: value in premium currency and USD, forward, vol, Greeks.

    ``title`` and symbols are shown as plain text (:func:`~pmargin.cli._output.plain`).
    """
    table = Table(title=plain(title), title_justify="left", caption=QUOTES_LEGEND)
    table.caption_justify = "left"
    for name in (
        "instrument",
        "price",
        "ccy",
        "price USD",
        "forward",
        "iv %",
        "delta",
        "gamma/1%",
        "vega/1%",
        "theta/day",
        "delta coin",
    ):
        left = name in ("instrument", "ccy")
        table.add_column(name, justify="left" if left else "right", no_wrap=left)
    digits = sig_decimals([q.price for q in quotes], 5)
    for q in quotes:
        table.add_row(
            plain(q.instrument.symbol),
            num(q.price, digits),
            plain(q.premium_currency),
            num(q.price_usd, 2),
            num(q.forward, 2),
            num(None if q.iv is None else 100 * q.iv, 2),
            num(q.delta, 4),
            num(q.gamma * q.forward * _ONE_PERCENT, 4),
            num(q.vega * _VOL_POINT, 4),
            num(q.theta / DAYS_PER_YEAR, 4),
            num(q.delta_coin, 4),
        )
    return table


def account_table(
    account: str,
    rows: Sequence[PositionRisk],
    coins: Mapping[str, tuple[float, float]] | None = None,
) -> Table:
    """Positions of one account with USD value and Greeks, its coin balances, and totals.

    ``coins``: balance asset -> (amount, USD price) of the balances whose price moves with an
    underlying (a coin: delta = its amount); stablecoins and cash are left out.
    """
    table = Table(title=plain(f"account {account}"), title_justify="left", show_footer=True)
    coins = coins or {}
    value = sum(r.value_usd for r in rows) + sum(a * p for a, p in coins.values())
    vega = sum(r.vega for r in rows) * _VOL_POINT
    theta = sum(r.theta for r in rows) / DAYS_PER_YEAR
    # Delta and gamma add up only within one underlying.
    underlyings = {r.position.instrument.underlying for r in rows} | set(coins)
    one = len(underlyings) == 1
    delta = sum(r.delta for r in rows) + sum(a for a, _ in coins.values())
    gamma = sum(r.gamma * r.quote.forward * _ONE_PERCENT for r in rows)
    columns = [
        ("instrument", plain("total" + (f" ({next(iter(underlyings))})" if one else "")), "left"),
        ("quantity", "", "right"),
        ("unit", "", "left"),
        ("base qty", "", "right"),
        ("notional USD", "", "right"),
        ("value USD", num(value, 2), "right"),
        ("delta", num(delta, 4) if one else "", "right"),
        ("gamma/1%", num(gamma, 4) if one else "", "right"),
        ("vega USD/1%", num(vega, 2), "right"),
        ("theta USD/day", num(theta, 2), "right"),
    ]
    for name, footer, justify in columns:
        table.add_column(name, footer=footer, justify=justify)  # type: ignore[arg-type]
    qty_digits = sig_decimals([r.position.quantity for r in rows] + [a for a, _ in coins.values()])
    for r in rows:
        table.add_row(
            plain(r.position.instrument.symbol),
            num(r.position.quantity, qty_digits),
            r.position.resolved_unit.value,
            num(r.base_quantity, qty_digits),
            num(r.notional_usd, 2),
            num(r.value_usd, 2),
            num(r.delta, 4),
            num(r.gamma * r.quote.forward * _ONE_PERCENT, 4),
            num(r.vega * _VOL_POINT, 2),
            num(r.theta / DAYS_PER_YEAR, 2),
        )
    for asset, (amount, usd_price) in coins.items():
        table.add_row(
            plain(f"{asset} balance"),
            num(amount, qty_digits),
            "coin",
            num(amount, qty_digits),
            num(abs(amount) * usd_price, 2),
            num(amount * usd_price, 2),
            num(amount, 4),
            num(0.0, 4),
            num(0.0, 2),
            num(0.0, 2),
        )
    table.caption = (
        "delta in units of the underlying (a coin balance: its amount); gamma/1%: delta change "
        "for a 1% move; totals of delta and gamma only for one underlying"
    )
    table.caption_justify = "left"
    return table


def coin_balances(
    balances: Mapping[str, float], index: Mapping[str, float]
) -> dict[str, tuple[float, float]]:
    """Return the balances that move with an underlying: asset -> (amount, USD index price).

    ``index``: the market's index prices by underlying; an asset with an index is a coin
    (its delta is its amount); others (USD, stablecoins) are left out, as are zero balances.
    """
    return {
        asset: (float(amount), float(index[asset]))
        for asset, amount in balances.items()
        if asset in index and amount != 0.0
    }

"""``pmargin check-order``: an account before and after orders, deposits and a market move."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pmargin.cli._options import (
    AccountOption,
    JsonOption,
    MarketOption,
    ModelOption,
    MoveOption,
    ParamsOption,
    PortfolioOption,
)
from pmargin.cli._output import CsvOption

if TYPE_CHECKING:
    from pmargin.engine import OrderLeg

__all__ = ["check_order", "parse_amounts", "parse_leg"]


def parse_leg(text: str) -> OrderLeg:
    """Read ``--leg SYMBOL=QTY[@PRICE]`` (native units; a price in the venue's quote).

    Raises
    ------
    InputError
        Field ``--leg``: no ``=``, or a quantity or price that is not a number.
    """
    from pmargin.engine import OrderLeg
    from pmargin.errors import InputError

    symbol, eq, rest = (part.strip() for part in text.partition("="))
    quantity, at, price = (part.strip() for part in rest.partition("@"))
    if not eq or not symbol or not quantity:
        raise InputError("--leg", text, "must be SYMBOL=QTY or SYMBOL=QTY@PRICE")
    try:
        return OrderLeg(symbol, float(quantity), "native", float(price) if at else None)
    except ValueError:
        raise InputError("--leg", text, "has a quantity or price that is not a number") from None


def parse_amounts(texts: list[str], option: str, sign: float) -> dict[str, float]:
    """Read repeated ``ASSET=AMOUNT`` (or ``A=1,B=2``) into asset -> ``sign x`` amount.

    Raises
    ------
    InputError
        Field ``option``: a part without ``=``, an amount that is not a positive number.
    """
    from pmargin.errors import InputError

    amounts: dict[str, float] = {}
    for text in texts:
        for part in text.split(","):
            asset, eq, value = (p.strip() for p in part.partition("="))
            try:
                amount = float(value)
            except ValueError:
                amount = float("nan")
            if not eq or not asset or not amount > 0 or amount == float("inf"):
                raise InputError(option, part, "must be ASSET=AMOUNT with a positive amount")
            key = asset.upper()
            amounts[key] = amounts.get(key, 0.0) + sign * amount
    return amounts


def check_order(
    portfolio: PortfolioOption,
    market: MarketOption,
    account: AccountOption,
    leg: Annotated[
        list[str] | None,
        typer.Option(
            "--leg",
            metavar="SYMBOL=QTY",
            help="An order leg, signed (buy > 0), in the venue's units; SYMBOL=QTY@PRICE fills "
            "at PRICE. Repeatable: the legs are checked together.",
        ),
    ] = None,
    orders: Annotated[
        Path | None,
        typer.Option(
            "--orders",
            metavar="FILE",
            help="Legs from a file: CSV with instrument,quantity[,unit][,price], or a "
            "JSON/YAML list of such objects.",
        ),
    ] = None,
    instrument: Annotated[
        str | None,
        typer.Option("--instrument", "-i", metavar="SYMBOL", help="One leg's venue symbol."),
    ] = None,
    quantity: Annotated[
        float | None,
        typer.Option("--quantity", "-q", help="That leg's quantity, signed (buy > 0)."),
    ] = None,
    unit: Annotated[
        str, typer.Option("--unit", help="Unit of --quantity: native, base, quote or contracts.")
    ] = "native",
    price: Annotated[
        float | None,
        typer.Option(
            "--price",
            help="Fill price of --instrument (coin per coin for inverse options); default the "
            "mark. Must be possible and within a band around the mark (--price-bounds).",
        ),
    ] = None,
    deposit: Annotated[
        list[str] | None,
        typer.Option(
            "--deposit", metavar="ASSET=AMOUNT", help="Deposit with the orders (repeatable)."
        ),
    ] = None,
    withdraw: Annotated[
        list[str] | None,
        typer.Option(
            "--withdraw", metavar="ASSET=AMOUNT", help="Withdrawal with the orders (repeatable)."
        ),
    ] = None,
    move: MoveOption = None,
    max_size: Annotated[
        bool,
        typer.Option(
            "--max-size",
            help="Also find the largest size of the first leg (its sign, the other legs, "
            "deposits and move kept) that is still accepted: bisection on the accept rule "
            "to 1e-6 relative.",
        ),
    ] = False,
    price_bounds: Annotated[
        Path | None,
        typer.Option(
            "--price-bounds", metavar="FILE", help="TOML file replacing fill_price_bounds.toml."
        ),
    ] = None,
    model: ModelOption = "deribit",
    params: ParamsOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Pre-trade check: an account before and after orders, deposits and withdrawals.

    Prints equity, IM, MM, available and status before and after, with the change, and
    accept or reject: accepted when equity after covers IM after, or when the orders lower
    IM without leaving equity below MM. With --move the account is first moved with the
    market (columns now, after move, after; the change is after - now).
    """
    from pmargin.cli._output import console, emit_table, print_json
    from pmargin.cli._render_margin import order_table
    from pmargin.engine import OrderLeg, legs_report, load_inputs, load_order_legs
    from pmargin.errors import InputError

    legs = [parse_leg(text) for text in leg or []]
    if orders is not None:
        legs += load_order_legs(orders)
    if (instrument is None) != (quantity is None):
        raise InputError("--instrument", instrument, "goes with --quantity (one leg)")
    if instrument is not None and quantity is not None:
        legs.insert(0, OrderLeg(instrument, quantity, unit, price))
    elif price is not None:
        raise InputError("--price", price, "goes with --instrument (use SYMBOL=QTY@PRICE)")
    balances = parse_amounts(deposit or [], "--deposit", 1.0)
    for asset, amount in parse_amounts(withdraw or [], "--withdraw", -1.0).items():
        balances[asset] = balances.get(asset, 0.0) + amount
    if not legs and not balances:
        raise InputError("--leg", [], "needs a leg (--leg, --orders, --instrument) or a deposit")
    snapshot, book = load_inputs(market, portfolio)
    try:
        report = legs_report(
            book,
            snapshot,
            account,
            legs,
            model=model,
            params=params,
            price_bounds=price_bounds,
            balances=balances or None,
            move=move,
            max_size=max_size,
        )
    except InputError as exc:
        option = {"order.price": "--price", "order.quantity": "--quantity"}.get(exc.field)
        if option is not None:
            raise InputError(option, exc.value, exc.reason) from None
        raise
    if as_json:
        print_json(report.to_dict())
        return
    what = [f"{x.quantity:+g} {x.instrument}" for x in legs]
    what += [f"{'deposit' if v > 0 else 'withdraw'} {abs(v):g} {a}" for a, v in balances.items()]
    emit_table(order_table(report, f"check-order {account}: {', '.join(what)}"), as_csv=as_csv)
    if as_csv:
        return
    out = console()
    if report.max_size is not None:
        size = report.max_size
        limit = " (the quantity limit)" if size.at_limit else ""
        out.print(
            f"max size: {size.quantity:+,.4f} {size.instrument} ({size.unit}){limit}, by "
            f"bisection on the accept rule to 1e-6 relative ({size.checks} checks)",
            markup=False,
            highlight=False,
        )
    for note in report.notes:
        out.print(note, markup=False, highlight=False)

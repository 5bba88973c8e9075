"""The CLI's one number formatter: every number a table shows is a :class:`Num`.

A column shows its numbers one way: fixed decimals with thousands separators
(``10,085``, ``-924``, ``0.0421``), never scientific notation next to plain numbers; a
negative zero shows as ``0``; NaN and infinities as ``n/a``. Percentages are ``12.3%``
(``+12.3%`` when signed). A :class:`Num` keeps the number it shows, so ``--csv`` writes the
full float64 value, not the rounded text (:func:`pmargin.cli._output.emit_table`).
"""

from __future__ import annotations

import math

from rich.text import Text

__all__ = ["Num", "num", "pct", "sig_decimals", "usd"]


class Num(Text):
    """A table cell showing a number; ``value`` is the number itself (``None``: no number)."""

    value: float | None


def num(
    x: float | None,
    decimals: int = 0,
    *,
    signed: bool = False,
    percent: bool = False,
    style: str = "",
) -> Num:
    """Format ``x`` for a table cell.

    Parameters
    ----------
    x
        The number (``None``: an empty cell).
    decimals
        Digits after the decimal point (of the percentage when ``percent``).
    signed
        Always show the sign (``+12.3%``).
    percent
        Show ``100 x`` followed by ``%``; the CSV value stays ``x`` (a fraction).
    style
        Rich style of the cell.
    """
    if x is None:
        cell = Num("", style=style)
        cell.value = None
        return cell
    value = float(x)
    if not math.isfinite(value):
        text = "n/a"
    else:
        shown = 100.0 * value if percent else value
        shown = round(shown, decimals) + 0.0  # -0.0 after rounding shows as 0
        text = f"{shown:{'+' if signed else ''},.{decimals}f}" + ("%" if percent else "")
    cell = Num(text, style=style)
    cell.value = value
    return cell


def usd(x: float | None, *, signed: bool = False, style: str = "") -> Num:
    """Format a USD amount: whole dollars with thousands separators (``10,085``)."""
    return num(x, 0, signed=signed, style=style)


def pct(x: float | None, decimals: int = 1, *, signed: bool = False, style: str = "") -> Num:
    """Format a fraction as a percentage (``0.123`` -> ``12.3%``)."""
    return num(x, decimals, signed=signed, percent=True, style=style)


def sig_decimals(values: list[float], digits: int = 4) -> int:
    """Decimals that give the column's largest magnitude ``digits`` significant digits.

    One count of decimals per column (coin amounts: ``0.0421`` and ``1.2500`` alike), at
    least 0 and at most 8.
    """
    largest = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    if largest == 0.0:
        return 0
    return min(8, max(0, digits - 1 - math.floor(math.log10(largest))))

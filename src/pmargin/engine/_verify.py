"""Check pmargin against a saved Deribit reply, and import its parameters: ``pmargin verify``.

The comparison and the parameter file live in :mod:`pmargin.margin.deribit`
(:func:`~pmargin.margin.deribit.verify_capture`, :func:`~pmargin.margin.deribit.override_toml`);
the facade maps the model name to Deribit's margin mode and reads the files.
"""

from __future__ import annotations

from pathlib import Path

from pmargin.book import load_portfolio
from pmargin.errors import InputError
from pmargin.margin.deribit import (
    TOLERANCE,
    CaptureCheck,
    override_toml,
    read_capture,
    verify_capture,
)

__all__ = ["CAPTURE_TOLERANCE", "capture_report", "params_from_capture"]

CAPTURE_TOLERANCE = TOLERANCE
"""Largest accepted difference of a published number (:data:`pmargin.margin.deribit.
TOLERANCE`: Deribit rounds margins to 9 decimals), in the unit's currency."""

_MODES = {"deribit": "segregated", "deribit-cross": "cross"}


def capture_report(
    model: str, capture: str | Path, portfolio: str | Path | None = None
) -> CaptureCheck:
    """Margin a saved ``private/pme/simulate`` reply's book and compare every published number.

    Parameters
    ----------
    model
        ``deribit`` (S:PM) or ``deribit-cross`` (X:PM).
    capture
        The reply (JSON).
    portfolio
        Portfolio file with the positions, where the reply lacks them (one account).

    Raises
    ------
    InputError
        Another model name, an unreadable reply or portfolio (naming the field).
    """
    if model not in _MODES:
        raise InputError("model", model, f"must be one of {', '.join(_MODES)}")
    reply = read_capture(capture)
    held = None if portfolio is None else load_portfolio(portfolio)
    return verify_capture(reply, mode=_MODES[model], portfolio=held)


def params_from_capture(model: str, capture: str | Path) -> str:
    """Return a reply's ``model_params`` as a parameter file (``base = "deribit"``).

    ``deribit-cross`` adds ``[model] mode = "cross"``.

    Raises
    ------
    InputError
        A model other than ``deribit`` or ``deribit-cross``, or an unreadable reply.
    """
    if model not in _MODES:
        raise InputError("model", model, "must be deribit (the only venue with an import)")
    text = override_toml(read_capture(capture))
    if model == "deribit-cross":
        text += '\n[model]\nmode = "cross"\n'
    return text

"""Where the shared real-data files live and where they came from.

The folder is, in order: the ``path`` argument, ``$PMARGIN_SHARED_DATA``, or ``../shared/data``
relative to the current working directory. A missing folder or file is an
:class:`~pmargin.errors.InputError` naming the path and the variable to set.
"""

from __future__ import annotations

import os
from pathlib import Path

from pmargin.errors import InputError

__all__ = ["DATA_ENV_VAR", "SOURCES", "data_file", "resolve_data_dir"]

DATA_ENV_VAR = "PMARGIN_SHARED_DATA"
"""Environment variable naming the shared data folder."""

SOURCES: dict[str, str] = {
    "binance_BTCUSDT_1d.csv": (
        "Binance BTCUSDT daily candles, from yanniedog/binance-historical-OHLCV-data @ 1a00f07 "
        "(BTCUSDT_1d.csv); raw exchange prints"
    ),
    "binance_ETHUSDT_1d.csv": (
        "Binance ETHUSDT daily candles, from yanniedog/binance-historical-OHLCV-data @ 1a00f07 "
        "(ETHUSDT_1d.csv); raw exchange prints"
    ),
    "binance_BTCUSDT_4h.csv": (
        "Binance BTCUSDT 4-hourly candles, from yanniedog/binance-historical-OHLCV-data @ "
        "1a00f07 (BTCUSDT_4h.csv); raw exchange prints"
    ),
    "binance_ETHUSDT_4h.csv": (
        "Binance ETHUSDT 4-hourly candles, from yanniedog/binance-historical-OHLCV-data @ "
        "1a00f07 (ETHUSDT_4h.csv); raw exchange prints"
    ),
    "deribit_dvol_btc_1d.json": (
        "Deribit BTC DVOL daily closes, from kalyar197/eth-dashboard @ 7f581ec "
        "(historical_data/dvol_btc.json)"
    ),
    "binance_funding_rate_BTCUSDT_8h.csv": (
        "Binance BTCUSDT funding rates every 8 h, from sky1241/HSBC-algo-genetic @ 6cde086 "
        "(MIT) (data/funding_rate_BTCUSDT.csv)"
    ),
}
"""Credit line of every file the loaders read (see ``../shared/data/README.md``)."""


def resolve_data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the shared data folder, checking that it exists.

    Parameters
    ----------
    path
        Folder to use; ``None`` takes ``$PMARGIN_SHARED_DATA``, else ``../shared/data``
        relative to the current working directory.

    Raises
    ------
    InputError
        If the folder does not exist (the message names the variable to set).
    """
    if path is not None:
        folder, field = Path(path), "path"
    elif os.environ.get(DATA_ENV_VAR):
        folder, field = Path(os.environ[DATA_ENV_VAR]), DATA_ENV_VAR
    else:
        folder, field = Path.cwd().parent / "shared" / "data", "path"
    if not folder.is_dir():
        raise InputError(
            field,
            str(folder),
            f"is not a folder; pass path= or set {DATA_ENV_VAR} to the shared data folder",
        )
    return folder


def data_file(folder: Path, name: str) -> Path:
    """Return ``folder / name``, raising an :class:`InputError` naming it when missing."""
    file = folder / name
    if not file.is_file():
        raise InputError(
            "path",
            str(file),
            f"does not exist; pass path= or set {DATA_ENV_VAR} to a folder holding {name}",
        )
    return file

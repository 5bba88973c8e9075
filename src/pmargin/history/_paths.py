"""Where the history files are found, and where they came from.

The data folder is the first of (``docs/data.md``):

1. the ``path`` argument (the CLI's ``--data DIR``);
2. ``$PMARGIN_DATA``;
3. ``$PMARGIN_SHARED_DATA`` (this workspace's name for it), else ``../shared/data`` relative to
   the current working directory when that folder exists;
4. the user cache that ``pmargin data fetch`` fills: ``$XDG_CACHE_HOME/pmargin``, else
   ``~/.cache/pmargin``, when it holds a history file;
5. the compact history shipped in the package (``pmargin/data/history``: BTC and ETH daily
   and 4-hourly closes, BTC funding, BTC DVOL), so a plain install works.

A folder named by 1-3 must exist (an error names the flag or variable); 3's default, 4 and 5
are used only when present. Files are read by name (:func:`data_file`); a CSV file may also be
stored gzip-compressed as ``<name>.gz`` (the packaged ones are). A file missing in the
folder used is an error that says how to get it (``--data`` or ``pmargin data fetch``), never a
silent switch to another folder or frequency.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pmargin.errors import InputError

__all__ = [
    "CACHE_ENV_VAR",
    "DATA_ENV_VAR",
    "HISTORY_FILES",
    "SOURCES",
    "USER_DATA_ENV_VAR",
    "DataFolder",
    "data_file",
    "data_folders",
    "packaged_data_dir",
    "resolve_data_dir",
    "user_cache_dir",
]

DATA_ENV_VAR = "PMARGIN_SHARED_DATA"
"""Environment variable naming the shared data folder of this workspace (step 3)."""
USER_DATA_ENV_VAR = "PMARGIN_DATA"
"""Environment variable naming a user's data folder (step 2)."""
CACHE_ENV_VAR = "XDG_CACHE_HOME"
"""The cache root of the XDG base directory rule (step 4: ``$XDG_CACHE_HOME/pmargin``)."""

HISTORY_FILES = (
    "binance_BTCUSDT_1d.csv",
    "binance_ETHUSDT_1d.csv",
    "binance_BTCUSDT_4h.csv",
    "binance_ETHUSDT_4h.csv",
    "binance_funding_rate_BTCUSDT_8h.csv",
    "deribit_dvol_btc_1d.json",
)
"""Names of the history files the loaders read (any of them marks a folder as a data folder)."""

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

_HOW = (
    "pass --data DIR (or set PMARGIN_DATA) to a folder holding it, or run `pmargin data "
    "fetch`; search order in docs/data.md"
)


@dataclass(frozen=True, slots=True)
class DataFolder:
    """One step of the search order.

    Attributes
    ----------
    source
        What named it: ``"--data"``, ``"PMARGIN_DATA"``, ``"PMARGIN_SHARED_DATA"``,
        ``"../shared/data"``, ``"user cache"`` or ``"packaged"``.
    folder
        The folder.
    usable
        Whether this step would be used (named and existing, or present with history files).
    """

    source: str
    folder: Path
    usable: bool


def packaged_data_dir() -> Path:
    """Return the folder of the compact history shipped in the package."""
    return Path(str(resources.files("pmargin").joinpath("data", "history")))


def user_cache_dir() -> Path:
    """Return ``$XDG_CACHE_HOME/pmargin`` (when set and absolute), else ``~/.cache/pmargin``."""
    root = os.environ.get(CACHE_ENV_VAR, "")
    if root and Path(root).is_absolute():
        return Path(root) / "pmargin"
    return Path.home() / ".cache" / "pmargin"


def _has_history(folder: Path) -> bool:
    return folder.is_dir() and any(
        (folder / name).is_file() or (folder / f"{name}.gz").is_file() for name in HISTORY_FILES
    )


def data_folders(path: str | os.PathLike[str] | None = None) -> list[DataFolder]:
    """Return every step of the search order (module docstring), first to last.

    Parameters
    ----------
    path
        The ``--data`` folder, or ``None``.

    Returns
    -------
    list of DataFolder
        One per step that applies (``--data`` only when given, the variables only when set).
    """
    steps: list[DataFolder] = []
    if path is not None:
        steps.append(DataFolder("--data", Path(path), Path(path).is_dir()))
    for name in (USER_DATA_ENV_VAR, DATA_ENV_VAR):
        if os.environ.get(name):
            folder = Path(os.environ[name])
            steps.append(DataFolder(name, folder, folder.is_dir()))
    if not os.environ.get(DATA_ENV_VAR):
        shared = Path.cwd().parent / "shared" / "data"
        steps.append(DataFolder("../shared/data", shared, shared.is_dir()))
    cache = user_cache_dir()
    steps.append(DataFolder("user cache", cache, _has_history(cache)))
    packaged = packaged_data_dir()
    steps.append(DataFolder("packaged", packaged, _has_history(packaged)))
    return steps


def resolve_data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the data folder: the first usable step of the search order.

    Parameters
    ----------
    path
        The ``--data`` folder; ``None`` searches ``$PMARGIN_DATA``, ``$PMARGIN_SHARED_DATA`` /
        ``../shared/data``, the user cache and the packaged history, in that order.

    Raises
    ------
    InputError
        If a folder named by ``--data``, ``$PMARGIN_DATA`` or ``$PMARGIN_SHARED_DATA`` does not
        exist (naming that flag or variable), or, in a broken install, when none is found.
    """
    for step in data_folders(path):
        if step.source in ("--data", USER_DATA_ENV_VAR, DATA_ENV_VAR) and not step.usable:
            raise InputError(
                step.source,
                str(step.folder),
                "is not a folder; give a folder of history files, or leave it out to search "
                "PMARGIN_DATA, PMARGIN_SHARED_DATA or ../shared/data, the user cache and the "
                "packaged history, in that order (docs/data.md)",
            )
        if step.usable:
            return step.folder
    raise InputError("--data", None, f"no history folder found; {_HOW}")


def data_file(folder: Path, name: str) -> Path:
    """Return ``folder / name`` (a CSV may be ``name.gz``); an error naming it if missing.

    Raises
    ------
    InputError
        Naming the file, the folder and ``--data``.
    """
    file = folder / name
    if file.is_file():
        return file
    packed = folder / f"{name}.gz"
    if name.endswith(".csv") and packed.is_file():
        return packed
    raise InputError("--data", name, f"is not in {folder}; {_HOW}")

"""History data folders for the adapters: the search order and ``pmargin data fetch``.

Composes :func:`pmargin.history.data_folders`, :func:`pmargin.history.resolve_data_dir` and
:func:`pmargin.history.fetch_history`; the rules are in ``docs/data.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from pmargin.history import (
    FETCH_SOURCES,
    DataFolder,
    FetchedFile,
    data_folders,
    fetch_history,
    resolve_data_dir,
    user_cache_dir,
)

__all__ = ["FETCH_SOURCES", "DataFolder", "FetchedFile", "data_search", "fetch_data"]


def data_search(path: str | os.PathLike[str] | None = None) -> tuple[list[DataFolder], Path]:
    """Return the steps of the history search order and the folder it resolves to.

    Parameters
    ----------
    path
        The ``--data`` folder, or ``None``.

    Returns
    -------
    steps, folder
        Every step (first to last) and the folder the loaders would read.

    Raises
    ------
    InputError
        If a folder named by ``--data``, ``PMARGIN_DATA`` or ``PMARGIN_SHARED_DATA`` is missing.
    """
    return data_folders(path), resolve_data_dir(path)


def fetch_data(
    to: str | os.PathLike[str] | None = None,
    *,
    sources: Sequence[str] = FETCH_SOURCES,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[Path, list[FetchedFile]]:
    """Download fresh history from Binance and Deribit public endpoints.

    Parameters
    ----------
    to
        Folder to write; default the user cache (``$XDG_CACHE_HOME/pmargin`` or
        ``~/.cache/pmargin``).
    sources
        ``"binance"`` and/or ``"deribit"``.
    progress
        ``progress(file name, rows so far)`` after every page.

    Returns
    -------
    folder, files
        Where the files went and what each holds.
    """
    folder = user_cache_dir() if to is None else Path(to)
    return folder, fetch_history(folder, sources=sources, progress=progress)

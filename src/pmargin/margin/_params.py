"""Methodology parameter files: TOML under ``pmargin/margin/methodologies``, validated on load.

Every number a methodology uses (shock sizes, factors, tiers) lives in such a file, never in
code (DESIGN.md). :func:`load_parameter_file` finds a shipped file by model name or reads a
user's own file, checked against the shipped one; the tables it returns and the loading rules
(``base``, ``extensible``) are the foundation :mod:`pmargin._params`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pmargin._params import ParamTable, load_parameter_table

__all__ = ["load_parameter_file", "methodology_path"]


def methodology_path(name: str) -> Path:
    """Path of the parameter file shipped for model ``name`` (``methodologies/<name>.toml``)."""
    return Path(str(resources.files("pmargin.margin") / "methodologies" / f"{name}.toml"))


def load_parameter_file(model: str, path: str | Path | None = None) -> ParamTable:
    """Read a methodology parameter file.

    Parameters
    ----------
    model
        Model name; without ``path`` the shipped ``methodologies/<model>.toml`` is read.
    path
        A user's own TOML file with the same fields.

    Returns
    -------
    ParamTable
        The top-level table, whose errors name the file; :meth:`ParamTable.added` lists the
        entries a user's file adds to the shipped file's open tables.

    Notes
    -----
    A file whose top level has ``base = "<model>"`` holds overrides only: it is merged, table by
    table, over the shipped file of that model (``base = "deribit"`` plus ``[model] mode =
    "cross"`` selects Deribit's X:PM). A user's file may only hold fields the shipped file of
    ``model`` has, except new entries of the tables that file names in its ``extensible`` list
    (the rules are :func:`pmargin._params.load_parameter_table`'s).

    Raises
    ------
    InputError
        Naming the file or the field (see :func:`pmargin._params.load_parameter_table`).
    """
    shipped = methodology_path(model)
    if path is None:
        return load_parameter_table(shipped, base_file=methodology_path)
    return load_parameter_table(
        Path(path), base_file=methodology_path, shipped=shipped if shipped.is_file() else None
    )

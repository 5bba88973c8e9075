"""Writing an imported portfolio: the portfolio file's JSON, or flat CSV rows.

The document is read back by :func:`pmargin.book.portfolio_from_dict` before anything is
written, so a file pmargin writes is one pmargin reads; the file is written whole (a
temporary sibling renamed into place, :func:`pmargin._outputs.output_file`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from pmargin._outputs import output_file
from pmargin.book import FLAT_COLUMNS, Portfolio, portfolio_from_dict, portfolio_rows

__all__ = ["PORTFOLIO_SUFFIXES", "write_portfolio"]

PORTFOLIO_SUFFIXES = (".json", ".csv")
"""What :func:`write_portfolio` writes: the portfolio file (``.json``) or flat rows (``.csv``)."""


def write_portfolio(
    document: dict[str, Any], path: str | Path, *, force: bool, field: str = "--out"
) -> Portfolio:
    """Check a portfolio document and write it to ``path``.

    Parameters
    ----------
    document
        The portfolio file's document (:func:`pmargin.io.import_document`).
    path
        ``.json`` (the document itself) or ``.csv`` (flat rows, docs/import.md).
    force
        Whether an existing file may be replaced.
    field
        What names ``path`` in errors.

    Returns
    -------
    Portfolio
        The portfolio written.

    Raises
    ------
    InputError
        The document is not a valid portfolio; the target cannot be written (see
        :func:`pmargin._outputs.check_output_file`); an explicit instrument spec for CSV.
    """
    portfolio = portfolio_from_dict(document)
    target = Path(path)
    csv_rows = portfolio_rows(portfolio, field=field) if target.suffix.lower() == ".csv" else None
    with output_file(target, force=force, suffixes=PORTFOLIO_SUFFIXES, field=field) as work:
        if csv_rows is None:
            work.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        else:
            with work.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=FLAT_COLUMNS)
                writer.writeheader()
                writer.writerows(csv_rows)
    return portfolio

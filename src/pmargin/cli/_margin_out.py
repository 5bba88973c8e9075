"""``pmargin margin --out FILE`` and ``--summary``: results of many accounts, not printed.

``--out`` writes one row per account, as columns (no object per account), to a ``.csv`` or
``.parquet`` file: the per-account fields of ``pmargin margin --json`` (DESIGN.md), with
``account`` for ``id`` and the model's name, amounts in USD:

``account, model, currency, equity, initial_margin, maintenance_margin, available,
im_utilization, mm_utilization, status``

Utilisation is empty (null) where it is infinite (no positive equity), as JSON's ``null``.
Risk units and positions are left to ``--json``. The file is written whole or not at all
(:func:`pmargin._outputs.output_file`); an existing file is replaced only with ``--force``.

``--summary`` gives the totals by status (accounts, equity, IM, MM, available) and for the
whole book: what a terminal can show of a million accounts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from rich.table import Table

from pmargin._outputs import output_file
from pmargin.cli._output import plain
from pmargin.engine import HealthStatus, MarginReport

__all__ = [
    "MARGIN_FILE_COLUMNS",
    "MARGIN_FILE_SUFFIXES",
    "margin_columns",
    "status_totals",
    "totals_table",
    "write_margin_file",
]

MARGIN_FILE_SUFFIXES = (".csv", ".parquet")
"""Extensions ``--out`` writes (the format follows the extension)."""
MARGIN_FILE_COLUMNS = (
    "account",
    "model",
    "currency",
    "equity",
    "initial_margin",
    "maintenance_margin",
    "available",
    "im_utilization",
    "mm_utilization",
    "status",
)
"""Columns of the ``--out`` file, one row per account."""
_AMOUNTS = ("equity", "initial_margin", "maintenance_margin", "available")


def margin_columns(report: MarginReport) -> pa.Table:
    """Return the per-account results as an Arrow table of :data:`MARGIN_FILE_COLUMNS`.

    Each column has ``n_accounts`` rows, in book order; amounts are float64 USD.
    """
    h = report.health
    n = report.result.n_accounts

    def utilisation(values: Any) -> pa.Array:
        array = np.asarray(values, dtype=np.float64)
        return pa.array(array, mask=~np.isfinite(array))

    return pa.table(
        {
            "account": pa.array(report.result.account_ids, pa.string()),
            "model": pa.array(np.full(n, report.result.model, dtype=object), pa.string()),
            "currency": pa.array(np.full(n, report.result.currency, dtype=object), pa.string()),
            **{name: pa.array(np.asarray(getattr(h, name), np.float64)) for name in _AMOUNTS},
            "im_utilization": utilisation(h.im_utilization),
            "mm_utilization": utilisation(h.mm_utilization),
            "status": pa.array(np.asarray(h.status, dtype=object).astype(str), pa.string()),
        }
    )


def write_margin_file(report: MarginReport, path: Path, *, force: bool) -> None:
    """Write :func:`margin_columns` to ``path`` (``.csv`` or ``.parquet``), whole or not at all.

    Raises
    ------
    InputError
        Field ``--out``: see :func:`pmargin._outputs.check_output_file`.
    """
    table = margin_columns(report)
    with output_file(path, force=force, suffixes=MARGIN_FILE_SUFFIXES) as work:
        if path.suffix.lower() == ".csv":
            pa_csv.write_csv(table, work)
        else:
            pq.write_table(table, work)


def status_totals(report: MarginReport) -> list[dict[str, Any]]:
    """Return totals by status, then ``all``: accounts and summed USD amounts.

    Returns
    -------
    list of dict
        One ``{"status", "accounts", "equity", "initial_margin", "maintenance_margin",
        "available"}`` per status (every status, in order of severity, zeros included), then
        the book's totals with status ``"all"``.
    """
    h = report.health
    status = np.asarray(h.status, dtype=object)
    rows = []
    groups = [(s.value, status == s.value) for s in HealthStatus]
    for name, mask in [*groups, ("all", np.ones(status.size, dtype=bool))]:
        row: dict[str, Any] = {"status": name, "accounts": int(mask.sum())}
        for amount in _AMOUNTS:
            row[amount] = float(np.asarray(getattr(h, amount))[mask].sum())
        rows.append(row)
    return rows


def totals_table(totals: list[dict[str, Any]], title: str) -> Table:
    """Render :func:`status_totals` as a table: one row per status and the total (USD)."""
    table = Table(title=plain(title), title_justify="left")
    for name in ("status", "accounts", "equity", "IM", "MM", "available"):
        table.add_column(name, justify="left" if name == "status" else "right")
    for row in totals:
        table.add_row(
            plain(row["status"]),
            f"{row['accounts']:,}",
            *(f"{row[a] + 0.0:,.0f}" for a in _AMOUNTS),
        )
    return table

"""``pmargin verify deribit CAPTURE.json`` and ``pmargin params import deribit CAPTURE.json``.

Registered in :mod:`pmargin.cli.main` with ``app.command("verify")(_one_line_errors(verify))``,
``params_app.command("import")(_one_line_errors(params_import))`` and
``app.add_typer(params_app, name="params")``.
The commands only parse, call :func:`pmargin.engine.capture_report` and
:func:`pmargin.engine.params_from_capture`, and render; the comparison lives in
:mod:`pmargin.margin.deribit`.

Exit codes of ``verify``: 0 when every published number agrees within Deribit's 9-decimal
rounding, 1 on a mismatch, 2 (one line on stderr) on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from pmargin.cli._options import JsonOption
from pmargin.cli._output import console, plain, print_json

if TYPE_CHECKING:
    from pmargin.margin.deribit import CaptureCheck

__all__ = ["EXIT_MISMATCH", "params_app", "params_import", "verify"]

EXIT_MISMATCH = 1
"""Exit code of ``verify`` when a published number differs beyond the tolerance."""

params_app = typer.Typer(
    name="params",
    help="Methodology parameter files: import a venue's published parameters.",
    no_args_is_help=True,
)


def verify(
    model: Annotated[str, typer.Argument(help="deribit (S:PM) or deribit-cross (X:PM).")],
    capture: Annotated[Path, typer.Argument(help="A saved private/pme/simulate reply (JSON).")],
    portfolio: Annotated[
        Path | None,
        typer.Option(
            "--portfolio", "-p", help="The positions, where the reply lacks them (one account)."
        ),
    ] = None,
    all_rows: Annotated[
        bool, typer.Option("--all", help="Show every compared cell, not only the mismatches.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check pmargin against a saved Deribit private/pme/simulate reply.

    The book is rebuilt from the reply's positions (or --portfolio), the market from its index
    and mark prices, and its model_params override the shipped parameters. Each position's
    initial risk vector, each unit's pre-aggregated and aggregated vectors (cell by cell), the
    worst case and its cell, the roll and delta shocks, risk-matrix margin, IM and MM are
    compared; exit 1 on a difference beyond Deribit's 9-decimal rounding.
    """
    from pmargin.engine import capture_report

    check = capture_report(model, capture, portfolio)
    if as_json:
        print_json(check.to_dict())
    else:
        _render(check, f"pmargin verify {model} {capture.name}", all_rows=all_rows)
    if not check.ok:
        raise typer.Exit(EXIT_MISMATCH)


def _render(check: CaptureCheck, title: str, *, all_rows: bool) -> None:
    from pmargin.engine import CAPTURE_TOLERANCE

    out = console()
    vectors = [r for r in check.rows if r.quantity.split(" ")[0] in _VECTOR_KINDS]
    margins = [r for r in check.rows if r not in vectors]
    shown = vectors if all_rows else [r for r in vectors if not r.ok]
    table = Table(title=plain(f"{title}: risk vectors"), title_justify="left")
    for name in ("unit", "cell", "published", "pmargin", "difference", ""):
        table.add_column(name, justify="left" if name in ("unit", "cell", "") else "right")
    for r in shown:
        table.add_row(*_cells(r.unit, r.quantity, r.published, r.pmargin, r.difference, r.ok))
    if shown:
        out.print(table)
    bad = sum(not r.ok for r in vectors)
    out.print(
        plain(f"risk vectors: {len(vectors)} cells compared, {bad} beyond {CAPTURE_TOLERANCE:g}"
              + ("" if all_rows or not vectors else " (--all shows every cell)"))
    )  # fmt: skip
    summary = Table(title=plain(f"{title}: margins"), title_justify="left")
    for name in ("currency", "quantity", "published", "pmargin", "difference", ""):
        summary.add_column(
            name, justify="left" if name in ("currency", "quantity", "") else "right"
        )
    for r in margins:
        summary.add_row(*_cells(r.unit, r.quantity, r.published, r.pmargin, r.difference, r.ok))
    out.print(summary)
    for note in check.notes:
        out.print(plain(note))
    verdict = "match" if check.ok else f"MISMATCH ({len(check.mismatches)} numbers)"
    out.print(plain(f"{verdict} within Deribit's 9-decimal rounding ({CAPTURE_TOLERANCE:g})"))


_VECTOR_KINDS = ("initial", "pre_aggregated", "aggregated")


def _cells(
    unit: str, quantity: str, published: float, ours: float, diff: float, ok: bool
) -> tuple[str, ...]:
    return (
        unit,
        quantity,
        f"{published:.12g}",
        f"{ours:.12g}",
        f"{diff:+.2e}",
        "ok" if ok else "MISMATCH",
    )


def params_import(
    model: Annotated[str, typer.Argument(help="deribit: the only venue with an import.")],
    capture: Annotated[Path, typer.Argument(help="A saved private/pme/simulate reply (JSON).")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="TOML file to write (default: print it)."),
    ] = None,
) -> None:
    """Write a reply's model_params as a parameter file (base = "deribit") for --params."""
    from pmargin.engine import params_from_capture
    from pmargin.errors import InputError

    text = params_from_capture(model, capture)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError("--output", str(output), f"cannot be written ({exc.strerror})") from None
    console().print(plain(f"wrote {output} (pass it with --params {output})"))

"""``pmargin demo``: a seeded book margined under every model, and what the tables show.

The book is the crash replay's seeded population on the shipped market, funded like a venue
would fund it for :data:`VENUE` (:func:`pmargin.engine.venue_funded_example`: 10 % of the
accounts close to MM, the others above IM), so no account starts bankrupt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import typer

__all__ = ["demo"]

DEMO_ACCOUNTS = 1_000
DEMO_MODELS = ["standard", "deribit", "deribit-cross", "okx"]
HISTORY_MODELS = ["pmargin-es"]
"""Shown in the demo when the price history ($PMARGIN_SHARED_DATA) is there."""
LINEAR_MODELS = ["standard", "deribit", "okx", "derive-pmrm2"]
"""Models compared on the USDC-settled accounts (Derive lists USDC-settled contracts only)."""
VENUE = "deribit"
"""The venue whose margin model funds the demo's accounts."""


def demo(
    accounts: Annotated[
        int, typer.Option("--accounts", help="Number of example accounts.")
    ] = DEMO_ACCOUNTS,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the example book.")] = 7,
) -> None:
    """Margin a seeded book of example accounts on the shipped market (no network, no server)."""
    import numpy as np

    from pmargin.cli._margin_command import print_notes
    from pmargin.cli._output import check_arguments, console, markup_safe
    from pmargin.cli._progress import track
    from pmargin.cli._render_margin import accounts_table, compare_table, summary_table
    from pmargin.cli._risk_matrix_command import print_risk_matrices
    from pmargin.engine import (
        EXAMPLE_MARKET,
        MarginReport,
        ModelComparison,
        margin_reports,
        supported_accounts,
        venue_funded_example,
    )
    from pmargin.errors import PmarginError

    check_arguments("demo", {"accounts": accounts, "seed": seed})
    snapshot, funded = venue_funded_example(accounts, seed, VENUE)
    book = funded.book
    out = console()
    out.print(
        f"[bold]pmargin demo[/bold]: {accounts:,} example accounts (seed {seed}) on "
        f"{EXAMPLE_MARKET} @ {snapshot.timestamp.isoformat()}, funded for {VENUE}"
    )
    reports: dict[str, MarginReport] = {}
    for name in track([*DEMO_MODELS, *HISTORY_MODELS], "margining"):
        try:
            reports |= margin_reports(book, snapshot, [name])
        except PmarginError as exc:
            if name not in HISTORY_MODELS:
                raise
            reason = markup_safe(" ".join(str(exc).split()))
            out.print(f"[dim]{name} left out: {reason}[/dim]")
    out.print(summary_table(reports, "book totals by model (USD)"))
    linear = supported_accounts(book, "derive-pmrm2")
    if linear.account_ids:
        title = (
            f"the {len(linear.account_ids)} accounts in USDC-settled options and perpetuals, "
            "with derive-pmrm2 (USD)"
        )
        out.print(summary_table(margin_reports(linear, snapshot, LINEAR_MODELS), title))
    pm = reports["deribit"]
    utilization = np.nan_to_num(pm.health.im_utilization, posinf=np.inf)
    riskiest = [int(a) for a in np.argsort(-utilization, kind="stable")[:10]]
    out.print(accounts_table(pm, riskiest, "riskiest accounts under deribit (USD)"))
    comparison = ModelComparison.from_reports(reports)
    out.print(compare_table(comparison, riskiest, "the same accounts under every model (USD)"))
    print_risk_matrices(pm, riskiest[0])
    print_notes(pm)
    near_mm = 0 if funded.near_mm is None else int(funded.near_mm.sum())
    for line in summary_lines(reports, near_mm):
        out.print(line, markup=False, highlight=False)


def summary_lines(reports: Mapping[str, object], near_mm: int = 0) -> list[str]:
    """Return the demo's closing summary: what the tables show, in a few sentences.

    ``near_mm``: accounts funded close to :data:`VENUE`'s MM (the rest above its IM).
    """
    import numpy as np

    from pmargin.cli._render_margin import vs_standard
    from pmargin.engine import MarginReport

    lines = ["", "What the tables show:"]
    typed = {n: r for n, r in reports.items() if isinstance(r, MarginReport)}
    base = typed.get("standard")
    if base is not None:
        base_im = float(base.result.initial_margin.sum())
        for name, report in typed.items():
            if name == "standard":
                continue
            change = vs_standard(float(report.result.initial_margin.sum()), base_im)
            word = "less" if change < 0 else "more"
            lines.append(
                f"- {name} asks {abs(100 * change):.0f}% {word} initial margin than standard "
                "for the same book: offsets between positions of one underlying."
            )
    pm = typed.get(VENUE)
    if pm is not None:
        status = np.asarray(pm.health.status)
        below = int(np.sum(status != "healthy"))
        share = near_mm / max(status.size, 1)
        lines.append(
            f"- The accounts are funded like {VENUE} would fund them: {near_mm:,} "
            f"({share:.0%}) hold equity of 1.05-1.2x MM, the others 1.1-3x IM, so none starts "
            f"below MM. Under {VENUE} {below:,} of {status.size:,} are below IM (reduce_only), "
            "the ones funded close to MM whose positions are not worth more."
        )
        for name, report in typed.items():
            if name == VENUE:
                continue
            under_mm = int(np.sum(report.result.maintenance_margin > report.equity.equity))
            if under_mm:
                lines.append(
                    f"- The same balances under {name}: {under_mm:,} accounts below its MM: "
                    f"{VENUE}'s funding is not enough there."
                )
    lines.append(
        "- The risk matrix is the riskiest account's scenario grid; its binding cell (*) is "
        "the worst loss that sets IM."
    )
    return lines

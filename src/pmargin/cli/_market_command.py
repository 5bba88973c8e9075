"""``pmargin market from-deribit|from-okx FILE... -o market.json``: a market from a chain.

Registered in :mod:`pmargin.cli.main` with one line, ``register_market(app,
_one_line_errors)`` (the sub-app ``market`` with each command wrapped so that input errors print
on one line). The commands parse, call :func:`pmargin.engine.venue_market` and print a
summary: per underlying the SVI fit (RMSE in vol points, butterfly and calendar checks), the
expiries left without a slice, and how many options the market reprices outside their bid-ask
(the worst named). Rules: ``docs/market.md``.

Imports of the library are lazy (inside the functions), so ``pmargin --help`` stays quick.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmargin.cli._options import ForceOption

if TYPE_CHECKING:
    from pmargin.engine import VenueMarket

__all__ = ["from_deribit", "from_okx", "register_market"]

_Out = Annotated[
    Path,
    typer.Option(
        "--out", "-o", metavar="FILE", help="Market file to write (.json).", show_default=False
    ),
]
_Method = Annotated[
    str,
    typer.Option(
        "--method",
        help="SVI fit: raw (each expiry on its own, closest) or ssvi (one shape, "
        "arbitrage-free by construction).",
    ),
]
_NoMarks = Annotated[
    bool,
    typer.Option("--no-marks", help="Leave the options' mark prices out (surfaces only)."),
]
_Json = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]


def from_deribit(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE",
            help="Saved public/get_book_summary_by_currency or public/ticker replies (JSON), "
            "or a chain CSV with Deribit's field names.",
            show_default=False,
        ),
    ],
    out: _Out,
    method: _Method = "raw",
    no_marks: _NoMarks = False,
    force: ForceOption = False,
    as_json: _Json = False,
) -> None:
    """Build a market file from a saved Deribit option chain.

    Index: median index price; forward per expiry: median underlying_price of its rows;
    futures marked at their expiry's forward; option marks as given; raw SVI per expiry
    fitted to out-of-the-money mark IVs (docs/market.md).
    """
    _build("deribit", files, out, method=method, marks=not no_marks, force=force, js=as_json)


def from_okx(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE",
            help="Saved OKX replies (JSON): public/opt-summary and public/mark-price, "
            "optionally market/index-tickers and market/tickers.",
            show_default=False,
        ),
    ],
    out: _Out,
    method: _Method = "raw",
    no_marks: _NoMarks = False,
    force: ForceOption = False,
    as_json: _Json = False,
) -> None:
    """Build a market file from saved OKX option summary and mark price replies.

    Index: idxPx of the index tickers (else the nearest expiry's forward); forward per
    expiry: median fwdPx; option marks: markPx; raw SVI per expiry fitted to markVol
    (docs/market.md).
    """
    _build("okx", files, out, method=method, marks=not no_marks, force=force, js=as_json)


def register_market(app: typer.Typer, wrap: Callable[[Any], Any]) -> None:
    """Add the ``market`` sub-app to ``app``, each command wrapped by ``wrap``."""
    market_app = typer.Typer(
        name="market",
        help="Market files: build one from a venue's saved option chain.",
        no_args_is_help=True,
    )
    market_app.command("from-deribit")(wrap(from_deribit))
    market_app.command("from-okx")(wrap(from_okx))
    app.add_typer(market_app, name="market")


def _build(
    venue: str, files: list[Path], out: Path, *, method: str, marks: bool, force: bool, js: bool
) -> None:
    from pmargin._outputs import check_output_file, output_file
    from pmargin.engine import venue_market
    from pmargin.errors import InputError

    if method not in ("raw", "ssvi"):
        raise InputError("--method", method, "is not one of raw, ssvi")
    target = check_output_file(out, force=force, suffixes=(".json",))
    built = venue_market(venue, files, marks=marks, method="raw" if method == "raw" else "ssvi")
    with output_file(target, force=force, suffixes=(".json",)) as work:
        work.write_text(json.dumps(built.chain.document, indent=1) + "\n", encoding="utf-8")
    lines, summary = _summary(built, out)
    if js:
        print(json.dumps(summary, indent=1))
        return
    for line in lines:
        print(line)


def _summary(built: VenueMarket, out: Path) -> tuple[list[str], dict[str, object]]:
    chain, reprice = built.chain, built.reprice
    worst_symbol, worst = reprice.worst
    lines = [
        f"pmargin market from-{built.venue}: {len(reprice.symbols)} options, "
        f"{len(chain.document['marks'])} marks, underlyings "
        f"{', '.join(chain.document['index'])}, timestamp {chain.document['timestamp']} "
        f"-> {out}"
    ]
    for fit in chain.fits.values():
        lines.append(
            f"{fit.underlying}: {len(fit.slices)} expiries, RMSE {fit.rmse_vol_points:.2f} vol "
            f"points ({fit.method}); butterfly {'ok' if fit.butterfly_ok else 'FAILS'}, "
            f"calendar {'ok' if fit.calendar.ok else 'FAILS'}"
        )
        lines.extend("  " + line for line in fit.summary())
    lines.extend(f"skipped {line}" for line in chain.skipped)
    lines.append(
        f"repriced from the surfaces: {reprice.n_outside} of {len(reprice.symbols)} outside "
        f"their bid-ask; worst {worst_symbol} by {worst:.6g} (premium currency)"
    )
    return lines, {
        "out": str(out),
        "timestamp": chain.document["timestamp"],
        "fits": {
            name: {
                "method": fit.method,
                "rmse_vol_points": fit.rmse_vol_points,
                "butterfly_ok": fit.butterfly_ok,
                "calendar_ok": fit.calendar.ok,
                "slices": [
                    {
                        "expiry": s.expiry.isoformat(),
                        "n_quotes": s.n_quotes,
                        "rmse_vol_points": s.rmse_vol_points,
                        "max_error_vol_points": s.max_error_vol_points,
                        "butterfly_min_g": s.butterfly.min_g,
                    }
                    for s in fit.slices
                ],
                "calendar_min_gaps": list(fit.calendar.min_gaps),
            }
            for name, fit in chain.fits.items()
        },
        "skipped": list(chain.skipped),
        "reprice": {
            "options": len(reprice.symbols),
            "outside": reprice.n_outside,
            "worst": worst_symbol,
            "worst_outside": worst,
        },
    }

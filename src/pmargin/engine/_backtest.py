"""Walk-forward backtests on the shared history, with an optional sweep: ``pmargin backtest``.

The facade checks the options and the report folder before anything is computed, loads the
price and funding history, calls :func:`pmargin.backtest.run_backtest` (with one model variant
per swept value) and writes the report folder; the backtest itself lives in
:mod:`pmargin.backtest`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pmargin._outputs import check_output_folder
from pmargin.backtest import (
    REPORT_FILES,
    STEPS,
    BacktestConfig,
    BacktestResult,
    SweepRow,
    SweepSpec,
    books_from_portfolio,
    default_models,
    exceptions_by_year,
    model_totals,
    parse_duration,
    parse_sweep,
    result_to_dict,
    run_backtest,
    sweep_models,
    sweep_rows,
    write_report,
)
from pmargin.engine._cluster import Cluster, cluster_session
from pmargin.engine._inputs import EXAMPLE_MARKET, example_path, load_inputs
from pmargin.errors import InputError
from pmargin.history import load_funding, load_price_history
from pmargin.timeutil import parse_timestamp

__all__ = ["BacktestReport", "backtest_report"]


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """A backtest, its sweep (if any) and the report files written.

    Attributes
    ----------
    result
        Per model x book statistics and series.
    sweep
        The swept parameter, ``None`` without ``--sweep``.
    sweep_rows
        One row per swept value (empty without a sweep).
    paths
        Report file name -> path written.
    """

    result: BacktestResult
    sweep: SweepSpec | None
    sweep_rows: list[SweepRow]
    paths: dict[str, Path]

    def totals(self) -> list[dict[str, Any]]:
        """One pooled row per model over every book (:func:`pmargin.backtest.model_totals`)."""
        return model_totals(self.result)

    def by_year(self) -> list[dict[str, Any]]:
        """Exceptions per model, book and year (:func:`pmargin.backtest.exceptions_by_year`)."""
        return exceptions_by_year(self.result)

    def to_dict(self) -> dict[str, Any]:
        """Return the ``pmargin backtest --json`` document (summary without the series).

        The summary of :func:`pmargin.backtest.result_to_dict`, plus ``exceptions_by_year``
        (:meth:`by_year`) and, after a sweep, ``sweep``.
        """
        doc = result_to_dict(self.result, series=False)
        doc["exceptions_by_year"] = self.by_year()
        if self.sweep is not None:
            doc["sweep"] = {
                "model": self.sweep.model,
                "parameter": self.sweep.path,
                "values": list(self.sweep.values),
                "rows": [r.to_dict() for r in self.sweep_rows],
            }
        return doc


def backtest_report(
    out: str | Path,
    *,
    models: Sequence[str] | None = None,
    books: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    step: str = "1d",
    mpor: str = "1d",
    confidence: float = 0.99,
    data: str | Path | None = None,
    html: bool = True,
    sweep: str | None = None,
    sweep_model: str = "pmargin-es",
    out_field: str = "out",
    cluster: Cluster | str | None = None,
    progress: Callable[[int, int], None] | None = None,
    portfolio: str | Path | None = None,
    market: str | Path | None = None,
) -> BacktestReport:
    """Backtest margin models on real history and write the report folder ``out``.

    Parameters
    ----------
    out
        Report folder (replaced whole when it holds an earlier report).
    models
        Model names; default every registered one, or ``standard`` next to a sweep.
    books
        Book names; default all.
    start, end
        First and last step (UTC timestamps); default the whole history.
    step, mpor
        Step (one of ``1d``, ``4h``, ``7d``) and margin period of risk (``4h``, ``2d``, ...).
    confidence
        Margin confidence the coverage tests expect, in (0.5, 1).
    data
        Shared data folder (default ``$PMARGIN_SHARED_DATA``).
    html
        Also write ``report.html``.
    sweep, sweep_model
        ``PARAM=v1,v2,...``: one variant of ``sweep_model`` per value of a dotted parameter.
    out_field
        Name of ``out`` in error messages (``--out``).
    cluster
        A :class:`~pmargin.engine._cluster.Cluster` or ``--cluster`` text: runs of consecutive
        steps go there (:func:`pmargin.backtest.run_backtest`'s ``tasks``; the same numbers,
        bit for bit).
    progress
        Called as ``progress(done, total)`` after each step (:func:`pmargin.backtest.run_backtest`;
        on a cluster once, at the end).
    portfolio
        A portfolio file: backtest its accounts instead of the representative books, each
        position re-struck every step by the representative books' rule (constant USD
        notional, tenor and moneyness, read at ``market``:
        :func:`pmargin.backtest.books_from_portfolio`); ``books`` then selects account ids.
    market
        The market the portfolio is marked at (default the shipped example market).

    Raises
    ------
    InputError
        An option out of range, a sweep the model's parameters refuse, an unusable folder.
    """
    if step not in STEPS:
        raise InputError("step", step, f"is not one of {'|'.join(STEPS)}")
    if not 0.5 < confidence < 1.0:
        raise InputError("confidence", confidence, "must be in (0.5, 1), e.g. 0.99")
    spec = None if sweep is None else parse_sweep(sweep, sweep_model)
    variants = {} if spec is None else sweep_models(spec)
    given = None if models is None else tuple(models)
    # With a sweep: the models given for comparison (standard by default), then the variants.
    names = (given or default_models()) if spec is None else (*(given or ("standard",)), *variants)
    check_output_folder(out, force=True, names=REPORT_FILES, field=out_field)
    step_hours = STEPS[step]
    mpor_hours = parse_duration(mpor, "mpor")
    frequency = "4h" if step_hours % 24 or mpor_hours % 24 else "1d"
    history = load_price_history(data, frequency=frequency)
    funding = load_funding(data)
    config = BacktestConfig(
        models=names,
        books=None if books is None else tuple(books),
        start=None if start is None else parse_timestamp(start, "start"),
        end=None if end is None else parse_timestamp(end, "end"),
        step_hours=step_hours,
        mpor_hours=mpor_hours,
        p=1.0 - confidence,
    )
    templates = None
    if portfolio is not None:
        at, held = load_inputs(
            example_path(EXAMPLE_MARKET) if market is None else market, portfolio
        )
        templates = books_from_portfolio(held, at)
        config = replace(config, linear_twins=False)
    with cluster_session(cluster) as tasks:
        result = run_backtest(
            history,
            config,
            funding=funding,
            books=templates,
            instances=variants,
            tasks=tasks,
            progress=progress,
        )
    rows = [] if spec is None else sweep_rows(result, spec)
    swept = None if spec is None else (spec, rows)
    paths = write_report(result, out, html_report=html, sweep=swept)
    return BacktestReport(result, spec, rows, paths)

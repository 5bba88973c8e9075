"""Backtesting of margin and VaR models: coverage statistics (Kupiec, Christoffersen, Basel).

On real history: :class:`~pmargin.history.HistoricalMarkets` rebuilds the market of each close
without look-ahead, :func:`default_books` defines representative books re-struck at every step, and
:func:`run_backtest` walks forward, margining every book under every model and comparing the
margin with the realised loss over the margin period of risk; :func:`write_report` writes
JSON, CSV and a self-contained HTML report. See ``docs/backtesting.md``.
"""

from pmargin.backtest._books import (
    BOOKS,
    BookSpec,
    Leg,
    books_from_portfolio,
    build_portfolio,
    default_books,
    gross_notional,
)
from pmargin.backtest._engine import (
    DEFAULT_MODELS,
    STEPS,
    BacktestConfig,
    BacktestResult,
    default_models,
    instrument_realised_pnl,
    parse_duration,
    realised_pnl,
    run_backtest,
)
from pmargin.backtest._report import (
    REPORT_FILES,
    exceptions_by_year,
    model_totals,
    result_to_dict,
    write_report,
)
from pmargin.backtest._stats import (
    ChristoffersenResult,
    KupiecResult,
    TrafficLightResult,
    christoffersen,
    kupiec_pof,
    traffic_light,
)
from pmargin.backtest._summary import (
    BookStats,
    book_stats,
    exceptions,
    max_increase,
    over_margin_factor,
    verdict,
)
from pmargin.backtest._sweep import (
    SWEEP_FILES,
    SweepRow,
    SweepSpec,
    check_parameter,
    parse_sweep,
    sweep_models,
    sweep_rows,
    variant_model,
    write_sweep,
)

__all__ = [
    "BOOKS",
    "DEFAULT_MODELS",
    "REPORT_FILES",
    "STEPS",
    "SWEEP_FILES",
    "BacktestConfig",
    "BacktestResult",
    "BookSpec",
    "BookStats",
    "ChristoffersenResult",
    "KupiecResult",
    "Leg",
    "SweepRow",
    "SweepSpec",
    "TrafficLightResult",
    "book_stats",
    "books_from_portfolio",
    "build_portfolio",
    "check_parameter",
    "christoffersen",
    "default_books",
    "default_models",
    "exceptions",
    "exceptions_by_year",
    "gross_notional",
    "instrument_realised_pnl",
    "kupiec_pof",
    "max_increase",
    "model_totals",
    "over_margin_factor",
    "parse_duration",
    "parse_sweep",
    "realised_pnl",
    "result_to_dict",
    "run_backtest",
    "sweep_models",
    "sweep_rows",
    "traffic_light",
    "variant_model",
    "verdict",
    "write_report",
    "write_sweep",
]

"""The one facade the adapters (CLI, service) call: load inputs, call, return a result.

One module per job, each small and named for it:

- ``_inputs``: market and portfolio files, symbols, the example book (:func:`load_inputs`,
  :func:`example_inputs`, :func:`instruments_for`, :func:`example_path`);
- ``_price``: instrument quotes and position risk (:func:`price_instruments`,
  :func:`position_risk`);
- ``_margin``: one model's margin with equity, health and Greeks (:func:`margin_report`,
  :func:`margin_reports`);
- ``_compare``: several models side by side (:func:`compare_margins`) and the accounts a
  model can margin (:func:`supported_accounts`);
- ``_order``: the what-if of one order or several legs (:func:`order_report`,
  :func:`legs_report`);
- ``_stress``, ``_backtest``, ``_simulate``: the applications (:func:`stress_report`,
  :func:`backtest_report`, :func:`simulation_report`);
- ``_documents``: parsed documents for the service (:func:`margin_document`,
  :func:`order_document`, :func:`book_fill`, :func:`check_market_document`);
- ``_feed``: the monitor over documents for the service's ticks (:func:`start_monitor`,
  :func:`monitor_rebooked`, :func:`book_status_changes`, :func:`tick_update`,
  :func:`market_document_of`);
- ``_liquidate``: the liquidation engine at the monitor's market, its events as ledger
  bookings for the service (:func:`liquidate_monitor`, :func:`needs_liquidation`,
  :func:`fund_value_usd`, :func:`liquidation_config`);
- ``_dashboard``, ``_live_demo``: the dashboard's reads over documents and the live demo's
  inputs (:func:`models_document`, :func:`profile_document`, :func:`whatif_document`,
  :func:`demo_inputs`, ...);
- ``_hedge``: the margin-minimising hedge of one account (:func:`hedge_report`);
- ``_agent``: the hedging agent's proposal and the crash replay's agents
  (:func:`hedge_proposal_document`, :func:`replay_agents`);
- ``_consolidate``: one owner at several venues, apart and together
  (:func:`consolidate_report`);
- ``_verify``: a saved Deribit reply (:func:`capture_report`, :func:`params_from_capture`).

The facade only composes: the maths lives in the layers below and in the applications, which
never import the facade (they import the layers below it), so no import runs both ways. The
names the adapters need for help texts and tables are re-exported here (:class:`Monitor`,
the type the service's feed holds; :data:`MODELS`,
:func:`episode_names`, the crash replay's choices).
"""

from typing import TYPE_CHECKING

from pmargin._lazy import lazy_exports

if TYPE_CHECKING:
    from pmargin.engine._agent import hedge_proposal_document, replay_agents
    from pmargin.engine._backtest import BacktestReport, backtest_report
    from pmargin.engine._compare import ModelComparison, compare_margins, supported_accounts
    from pmargin.engine._consolidate import ConsolidationReport, consolidate_report
    from pmargin.engine._dashboard import (
        holdings_document,
        largest_leg_document,
        models_document,
        profile_document,
        stress_document,
        venue_document,
        whatif_document,
    )
    from pmargin.engine._data import data_search, fetch_data
    from pmargin.engine._documents import (
        DEFAULT_MODEL,
        LedgerFill,
        book_fill,
        check_market_document,
        margin_document,
        order_document,
    )
    from pmargin.engine._feed import (
        BookStatusChange,
        KeptBook,
        MarginFigures,
        book_status_changes,
        changed_figures,
        changed_figures_reference,
        margin_figures,
        market_document_of,
        monitor_of_kept,
        monitor_rebooked,
        monitor_with_accounts,
        monitor_with_kept,
        start_monitor,
        tick_update,
    )
    from pmargin.engine._hedge import hedge_report
    from pmargin.engine._inputs import (
        EXAMPLE_MARKET,
        example_inputs,
        example_path,
        instruments_for,
        load_book,
        load_inputs,
        venue_funded_example,
    )
    from pmargin.engine._liquidate import (
        LiquidationEpisode,
        LiquidationStep,
        LiquidationTrade,
        fund_value_usd,
        liquidate_monitor,
        liquidation_config,
        needs_liquidation,
    )
    from pmargin.engine._live_demo import demo_inputs
    from pmargin.engine._margin import MarginReport, margin_report, margin_reports
    from pmargin.engine._order import (
        OrderLeg,
        OrderReport,
        legs_report,
        load_order_legs,
        order_report,
    )
    from pmargin.engine._price import (
        InstrumentQuote,
        PositionRisk,
        position_risk,
        price_instruments,
    )
    from pmargin.engine._risk_cells import cells_before_offsets
    from pmargin.engine._simulate import SIMULATION_MODELS, SimulationReport, simulation_report
    from pmargin.engine._stress import stress_remargin, stress_report
    from pmargin.engine._venue_market import CHAIN_VENUES, VenueMarket, venue_market
    from pmargin.engine._verify import CAPTURE_TOLERANCE, capture_report, params_from_capture
    from pmargin.health import HealthStatus
    from pmargin.history import episode_names
    from pmargin.io import (
        IMPORT_VENUES,
        PORTFOLIO_SUFFIXES,
        import_document,
        read_replies,
        write_portfolio,
    )
    from pmargin.liquidation import LiquidationConfig
    from pmargin.margin import MODELS
    from pmargin.monitor import BreakerConfig, Monitor
    from pmargin.simulate import EPISODE_KEYS, FUNDING_MODES, INTERPOLATIONS, TABLE_COLUMNS

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "CAPTURE_TOLERANCE",
    "CHAIN_VENUES",
    "DEFAULT_MODEL",
    "EPISODE_KEYS",
    "EXAMPLE_MARKET",
    "FUNDING_MODES",
    "IMPORT_VENUES",
    "INTERPOLATIONS",
    "MODELS",
    "PORTFOLIO_SUFFIXES",
    "SIMULATION_MODELS",
    "TABLE_COLUMNS",
    "BacktestReport",
    "BookStatusChange",
    "BreakerConfig",
    "ConsolidationReport",
    "HealthStatus",
    "InstrumentQuote",
    "KeptBook",
    "LedgerFill",
    "LiquidationConfig",
    "LiquidationEpisode",
    "LiquidationStep",
    "LiquidationTrade",
    "MarginFigures",
    "MarginReport",
    "ModelComparison",
    "Monitor",
    "OrderLeg",
    "OrderReport",
    "PositionRisk",
    "SimulationReport",
    "VenueMarket",
    "backtest_report",
    "book_fill",
    "book_status_changes",
    "capture_report",
    "cells_before_offsets",
    "changed_figures",
    "changed_figures_reference",
    "check_market_document",
    "compare_margins",
    "consolidate_report",
    "data_search",
    "demo_inputs",
    "episode_names",
    "example_inputs",
    "example_path",
    "fetch_data",
    "fund_value_usd",
    "hedge_proposal_document",
    "hedge_report",
    "holdings_document",
    "import_document",
    "instruments_for",
    "largest_leg_document",
    "legs_report",
    "liquidate_monitor",
    "liquidation_config",
    "load_book",
    "load_inputs",
    "load_order_legs",
    "margin_document",
    "margin_figures",
    "margin_report",
    "margin_reports",
    "market_document_of",
    "models_document",
    "monitor_of_kept",
    "monitor_rebooked",
    "monitor_with_accounts",
    "monitor_with_kept",
    "needs_liquidation",
    "order_document",
    "order_report",
    "params_from_capture",
    "position_risk",
    "price_instruments",
    "profile_document",
    "read_replies",
    "replay_agents",
    "simulation_report",
    "start_monitor",
    "stress_document",
    "stress_remargin",
    "stress_report",
    "supported_accounts",
    "tick_update",
    "venue_document",
    "venue_funded_example",
    "venue_market",
    "whatif_document",
    "write_portfolio",
]

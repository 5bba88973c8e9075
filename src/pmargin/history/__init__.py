"""Real price history of crypto underlyings: Binance closes and Deribit DVOL, aligned.

:func:`load_price_history` reads the shared data folder into a :class:`PriceHistory` (an
aligned ``(n_times, n_underlyings)`` close matrix, UTC close instants, implied vols where a
DVOL series exists); :meth:`PriceHistory.as_of` slices it without look-ahead. The estimators
(log returns, EWMA variance, realised vol) feed the historical and Monte Carlo scenario
generators in :mod:`pmargin.scenarios`. The named stress episodes (:data:`EPISODES`) and the
search for their windows in the closes (:func:`find_window`) live here too.

Where the files are found: :func:`resolve_data_dir` (``--data``, ``$PMARGIN_DATA``,
``$PMARGIN_SHARED_DATA`` / ``../shared/data``, the user cache that :func:`fetch_history` fills,
the compact history shipped in the package; ``docs/data.md``).

Sources (see ``SOURCES``): Binance BTCUSDT/ETHUSDT candles from
yanniedog/binance-historical-OHLCV-data @ 1a00f07; Deribit BTC DVOL from
kalyar197/eth-dashboard @ 7f581ec; Binance BTCUSDT funding (the carry of
:func:`trailing_carry`, ``load_price_history(with_carry=True)``) from
sky1241/HSBC-algo-genetic @ 6cde086 (MIT).
"""

from pmargin.history._binance import read_binance_closes
from pmargin.history._dvol import read_dvol
from pmargin.history._episodes import (
    EPISODES,
    WINDOW_RULES,
    EpisodeSpec,
    WindowRule,
    episode_names,
    find_window,
    select_episodes,
)
from pmargin.history._estimators import (
    annualise,
    ewma_covariance,
    ewma_variance,
    log_returns,
    per_step_lambda,
    realised_vol,
)
from pmargin.history._fetch import (
    FETCH_SOURCES,
    FetchedFile,
    fetch_history,
    parse_dvol,
    parse_funding,
    parse_klines,
)
from pmargin.history._funding import (
    CARRY_BOUNDS,
    CARRY_MIN_COVERAGE,
    CARRY_WINDOW_DAYS,
    FUNDING_FILE,
    FUNDING_SOURCE,
    FundingHistory,
    carry_known,
    load_funding,
    trailing_carry,
)
from pmargin.history._markets import (
    EXAMPLE_SHAPES,
    HistoricalMarkets,
    MarketAssumptions,
    SmileShape,
    market_at,
    surface_arbitrage,
)
from pmargin.history._paths import (
    CACHE_ENV_VAR,
    DATA_ENV_VAR,
    HISTORY_FILES,
    SOURCES,
    USER_DATA_ENV_VAR,
    DataFolder,
    data_folders,
    packaged_data_dir,
    resolve_data_dir,
    user_cache_dir,
)
from pmargin.history._price_history import PriceHistory, load_price_history, to_datetime64

__all__ = [
    "CACHE_ENV_VAR",
    "CARRY_BOUNDS",
    "CARRY_MIN_COVERAGE",
    "CARRY_WINDOW_DAYS",
    "DATA_ENV_VAR",
    "EPISODES",
    "EXAMPLE_SHAPES",
    "FETCH_SOURCES",
    "FUNDING_FILE",
    "FUNDING_SOURCE",
    "HISTORY_FILES",
    "SOURCES",
    "USER_DATA_ENV_VAR",
    "WINDOW_RULES",
    "DataFolder",
    "EpisodeSpec",
    "FetchedFile",
    "FundingHistory",
    "HistoricalMarkets",
    "MarketAssumptions",
    "PriceHistory",
    "SmileShape",
    "WindowRule",
    "annualise",
    "carry_known",
    "data_folders",
    "episode_names",
    "ewma_covariance",
    "ewma_variance",
    "fetch_history",
    "find_window",
    "load_funding",
    "load_price_history",
    "log_returns",
    "market_at",
    "packaged_data_dir",
    "parse_dvol",
    "parse_funding",
    "parse_klines",
    "per_step_lambda",
    "read_binance_closes",
    "read_dvol",
    "realised_vol",
    "resolve_data_dir",
    "select_episodes",
    "surface_arbitrage",
    "to_datetime64",
    "trailing_carry",
    "user_cache_dir",
]

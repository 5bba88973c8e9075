"""A seeded synthetic price history for the VaR / ES models, off the shared data folder."""

from __future__ import annotations

import numpy as np

from pmargin.history import PriceHistory


def synthetic_history(seed: int = 1) -> PriceHistory:
    """Daily BTC and ETH closes 2021-01-01 .. 2024-12-31: Student-t BTC, ETH = 1.1 BTC + noise.

    Parameters
    ----------
    seed
        Seed of the generator (the same seed gives the same closes, bit for bit).

    Returns
    -------
    PriceHistory
        Closes in USD of shape ``(n_days, 2)`` (BTC, ETH), starting at 30,000 and 2,000; daily
        log returns of BTC are Student-t (4 degrees of freedom) scaled by 0.025.
    """
    rng = np.random.default_rng(seed)
    times = np.arange(
        np.datetime64("2021-01-01T00:00:00"), np.datetime64("2025-01-01T00:00:00"), 86_400
    ).astype("datetime64[s]")
    btc = rng.standard_t(4, times.size - 1) * 0.025
    eth = 1.1 * btc + 0.02 * rng.standard_normal(times.size - 1)
    closes = np.column_stack(
        [
            30_000 * np.exp(np.concatenate([[0.0], np.cumsum(btc)])),
            2_000 * np.exp(np.concatenate([[0.0], np.cumsum(eth)])),
        ]
    )
    return PriceHistory(("BTC", "ETH"), times, closes, None, 24.0)

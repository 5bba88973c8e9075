"""Stress tests from names, shock texts and files: ``pmargin stress``.

The facade gathers the scenarios (named episodes found in the price data, user shocks in the
compact syntax, a file of named shocks) and calls :func:`pmargin.stress.stress_test`; the
maths lives there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pmargin.book import Portfolio, arrange
from pmargin.engine._cluster import Cluster, cluster_session
from pmargin.engine._move import moved_book
from pmargin.health import AccountHealth, margin_book
from pmargin.margin import get_model
from pmargin.market import MarketSnapshot
from pmargin.stress import (
    CorrelationShock,
    HistoricalEpisode,
    StressInput,
    StressReport,
    historical_episodes,
    load_shocks,
    parse_shock,
    stress_test,
)

__all__ = ["stress_remargin", "stress_report"]


def stress_report(
    portfolio: Portfolio,
    market: MarketSnapshot,
    *,
    episodes: Sequence[str] = (),
    shocks: Sequence[str] = (),
    shocks_file: str | Path | None = None,
    model: str = "deribit",
    params: str | Path | None = None,
    data: str | Path | None = None,
    allow_unheld: bool = False,
    cluster: Cluster | str | None = None,
) -> StressReport:
    """Stress every account under the scenarios named, in this order: episodes, shocks, file.

    Parameters
    ----------
    portfolio, market
        The book and the snapshot.
    episodes
        Episode scenario names or keys (``ftx-1d``, ``ftx``). With no ``shocks`` and no
        ``shocks_file``, an empty list runs every named episode.
    shocks
        User shocks in the compact syntax (``"BTC=-0.3,ETH=-0.4,vol=+0.5"``).
    shocks_file
        JSON or YAML file of named shocks.
    model, params
        Margin model and an optional parameter file replacing its shipped one.
    data
        Shared data folder for the episodes and correlation shocks.
    allow_unheld
        Run user shocks naming underlyings or assets the book does not hold.
    cluster
        A :class:`~pmargin.engine._cluster.Cluster` or ``--cluster`` text: the accounts'
        losses and margin run there in blocks (the same numbers, bit for bit).

    Returns
    -------
    StressReport
        Losses of shape ``(n_accounts, n_scenarios)`` in USD against equity and margin.
    """
    items = _stress_items(episodes, shocks, shocks_file, data)
    with cluster_session(cluster) as tasks:
        return stress_test(
            portfolio,
            market,
            items,
            model=model,
            params=params,
            data=data,
            allow_unheld=allow_unheld,
            tasks=tasks,
        )


def _stress_items(
    episodes: Sequence[str],
    shocks: Sequence[str],
    shocks_file: str | Path | None,
    data: str | Path | None,
) -> list[StressInput]:
    """Gather the scenarios named, in order: episodes (all when nothing is named), shocks, file."""
    items: list[StressInput] = []
    if episodes or not (shocks or shocks_file):
        items.extend(historical_episodes(list(episodes) or None, path=data))
    items.extend(parse_shock(text) for text in shocks)
    if shocks_file is not None:
        items.extend(load_shocks(shocks_file))
    return items


def stress_remargin(
    portfolio: Portfolio,
    market: MarketSnapshot,
    *,
    episodes: Sequence[str] = (),
    shocks: Sequence[str] = (),
    shocks_file: str | Path | None = None,
    model: str = "deribit",
    params: str | Path | None = None,
    data: str | Path | None = None,
) -> list[tuple[str, AccountHealth | None]]:
    """Every account re-margined after each scenario of :func:`stress_report`.

    Each deterministic scenario (an episode's joint move, a user shock) moves the book
    (:func:`pmargin.engine._move.moved_book`) and the model margins it whole
    (:func:`pmargin.health.margin_book`): IM, MM, equity and status after the move.

    Returns
    -------
    list of (str, AccountHealth or None)
        Per scenario, in :func:`stress_report`'s order, its name and the health after it
        (USD); ``None`` for a correlation shock (a loss quantile, not one move).
    """
    items = _stress_items(episodes, shocks, shocks_file, data)
    book = arrange(portfolio, market)
    built = get_model(model, params)
    out: list[tuple[str, AccountHealth | None]] = []
    for item in items:
        if isinstance(item, CorrelationShock):
            out.append((item.name, None))
            continue
        shock = item.shock if isinstance(item, HistoricalEpisode) else item
        out.append((item.name, margin_book(built, moved_book(book, shock)).health()))
    return out

"""The precompute stage of the VaR / ES models: what depends on the market but not on the book.

A scenario-risk margin depends on the market through its timestamp only as far as its
scenario sets go: the base, correlation-stressed and floor sets (:func:`build_sets`: filtered
historical returns, stressed weighting, Monte Carlo draws, Iman-Conover re-pairings) are built
from the model's parameters and the price history known at that instant, never from the
book. :func:`market_scenarios` builds them once per ``(parameters, history, as-of instant)``
and keeps the last :data:`CACHE_SIZE` in a bounded least-recently-used cache, so that repeated
computations at one market (a pre-trade what-if, a liquidation trial, one account
re-margined) reuse them; :func:`market_scenarios_reference` is the uncached twin that builds
everything anew. Both return the same arrays (the cached entry IS the first build, its arrays
made read-only), so margins are bit for bit those of a fresh build.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from pmargin.history import PriceHistory
from pmargin.margin.scenario_risk._params import ScenarioRiskParams
from pmargin.margin.scenario_risk._sources import (
    ScenarioSets,
    as_of_instant,
    build_sets,
    check_fresh,
    load_history,
)

__all__ = [
    "CACHE_SIZE",
    "MarketScenarios",
    "clear_market_scenarios",
    "market_scenarios",
    "market_scenarios_reference",
]

CACHE_SIZE = 8
"""Markets (as-of instants) kept per process, over all parameter sets: the latest few ticks."""


@dataclass(frozen=True, slots=True)
class MarketScenarios:
    """The book-independent inputs of one scenario-risk computation at one as-of instant.

    Attributes
    ----------
    as_of
        The market's timestamp, ``datetime64[s]`` UTC; no later close was read.
    sets
        Base, correlation-stressed and floor scenario sets (arrays read-only).
    labels
        One label per base scenario, length ``n_scenarios`` of the base set.
    """

    as_of: np.datetime64
    sets: ScenarioSets
    labels: tuple[str, ...]


_Key = tuple[ScenarioRiskParams, int, np.datetime64]

_cache: OrderedDict[_Key, tuple[PriceHistory, MarketScenarios]] = OrderedDict()
_lock = threading.Lock()


def _source_history(params: ScenarioRiskParams, history: PriceHistory | None) -> PriceHistory:
    """Return the model's own history, else the shared folder's (cached by folder and names)."""
    return history if history is not None else load_history(params)


def _build(
    params: ScenarioRiskParams, source: PriceHistory, as_of: np.datetime64
) -> MarketScenarios:
    history = source.select(params.underlyings, "scenarios.underlyings")
    check_fresh(history, as_of, params.max_age_days)
    sets = build_sets(params, history, as_of)
    return MarketScenarios(as_of, sets, tuple(sets.base.labels))


def market_scenarios_reference(
    params: ScenarioRiskParams, history: PriceHistory | None, timestamp: object
) -> MarketScenarios:
    """Build the scenario sets at ``timestamp`` anew: the uncached twin of :func:`market_scenarios`.

    Parameters
    ----------
    params
        The model's parameters.
    history
        The model's price history, or ``None`` for the shared data folder's.
    timestamp
        The market's timestamp (any form :func:`~pmargin.history.to_datetime64` reads).

    Raises
    ------
    InputError
        A missing history folder, a bad timestamp (field ``market.timestamp``) or a history
        that ends too long before it.
    """
    as_of = as_of_instant(timestamp)
    return _build(params, _source_history(params, history), as_of)


def market_scenarios(
    params: ScenarioRiskParams, history: PriceHistory | None, timestamp: object
) -> MarketScenarios:
    """Return the scenario sets at ``timestamp``, built once per parameters, history and instant.

    Same parameters, arguments and errors as :func:`market_scenarios_reference`; a failed build
    is not cached. The key holds the parameters (compared by value), the history object (by
    identity: the entry keeps it alive, so its identity cannot be reused) and the as-of
    instant; the least recently used of more than :data:`CACHE_SIZE` entries is dropped.
    """
    as_of = as_of_instant(timestamp)
    source = _source_history(params, history)
    key: _Key = (params, id(source), as_of)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is source:
            _cache.move_to_end(key)
            return hit[1]
    built = _build(params, source, as_of)
    _freeze(built.sets)
    with _lock:
        _cache[key] = (source, built)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return built


def clear_market_scenarios() -> None:
    """Empty the cache (tests; a process that changed its history files)."""
    with _lock:
        _cache.clear()


def _freeze(sets: ScenarioSets) -> None:
    """Make every array of the cached sets read-only, so no caller can change a later result."""
    sources = [sets.base, *(s for _, s in sets.stressed)]
    if sets.floor is not None:
        sources.append(sets.floor)
    if sets.correlation is not None:
        sets.correlation.flags.writeable = False
    for source in sources:
        for name in getattr(source, "__dataclass_fields__", {}):
            value = getattr(source, name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

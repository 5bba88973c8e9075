"""The precompute stage of the VaR / ES models: what depends on the market but not on the book.

A scenario-risk margin depends on the market through its timestamp only as far as its
scenario sets go: the base, correlation-stressed and floor sets (:func:`build_sets`: filtered
historical returns, stressed weighting, Monte Carlo draws, Iman-Conover re-pairings) are built
from the model's parameters and the price history known at that instant, never from the
book. Every generator first cuts the history at the timestamp
(:meth:`~pmargin.history.PriceHistory.as_of`) and then reads only the cut, so the sets are
those of the last close known at the timestamp: every timestamp between two closes gives the
same sets. :func:`market_scenarios` builds them once per ``(parameters, history, last close)``
and keeps the last :data:`CACHE_SIZE` in a bounded least-recently-used cache, so that repeated
computations at one market (a pre-trade what-if, a liquidation trial, one account
re-margined) and at every tick until the next close reuse them; the history's age is checked
against the timestamp on every call. :func:`market_scenarios_reference` is the uncached twin
that builds everything anew at the timestamp. Both return the same arrays (the cached entry
IS the first build, its arrays made read-only), so margins are bit for bit those of a fresh
build.

A cached stage also keeps, in :class:`RevaluedRows`, the USD P&L per base unit of each
instrument it has revalued under each of its sets, keyed by the exact inputs of that row (the
underlying and the bits of the resolved numbers: underlying price, strike, time, vol, rate, the
settlement and quote USD prices and the option, call and inverse flags). The row of an
instrument depends on nothing else (the pricing kernel works element by element), so a
later book holding the same instrument at the same market takes the row instead of revaluing
it; the store is bounded by :data:`ROW_CELLS` cells per stage.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.history import PriceHistory
from pmargin.margin.scenario_risk._params import ScenarioRiskParams
from pmargin.margin.scenario_risk._sources import (
    ScenarioSets,
    as_of_instant,
    build_sets,
    check_age,
    check_fresh,
    load_history,
)
from pmargin.valuation import ResolvedInstruments

__all__ = [
    "CACHE_SIZE",
    "ROW_CELLS",
    "MarketScenarios",
    "RevaluedRows",
    "clear_market_scenarios",
    "market_scenarios",
    "market_scenarios_reference",
]

CACHE_SIZE = 8
"""Markets (as-of instants) kept per process, over all parameter sets: the latest few ticks."""

ROW_CELLS = 2_000_000
"""Instrument x scenario cells of revalued rows kept per cached stage (16 MB of float64: about
380 instruments under ``pmargin-es``'s 5,199 scenarios; at most 128 MB over the cache)."""

_ROW_FLOATS = (
    "underlying_price",
    "strike",
    "time",
    "vol",
    "rate",
    "settlement_usd",
    "quote_usd",
)
_ROW_FLAGS = ("is_option", "is_call", "is_inverse")


class RevaluedRows:
    """Instrument rows of one stage's scenario sets, each computed once (bounded, thread-safe).

    Parameters
    ----------
    max_cells
        Most instrument x scenario cells kept; the least recently used rows are dropped.
    """

    def __init__(self, max_cells: int = ROW_CELLS) -> None:
        self._max_cells = max_cells
        self._cells = 0
        self._rows: OrderedDict[tuple[int, str, bytes], FloatArray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    @staticmethod
    def signatures(resolved: ResolvedInstruments) -> list[tuple[str, bytes]]:
        """Return each instrument's row key: its underlying and the bits of its row's inputs.

        Two instruments with the same key have the same row under every set of the stage.
        """
        floats = np.column_stack([getattr(resolved, n) for n in _ROW_FLOATS]).astype(np.float64)
        flags = np.column_stack([getattr(resolved, n) for n in _ROW_FLAGS]).astype(np.bool_)
        return [
            (inst.underlying, floats[i].tobytes() + flags[i].tobytes())
            for i, inst in enumerate(resolved.instruments)
        ]

    def unit_pnl(
        self,
        tag: int,
        signatures: list[tuple[str, bytes]],
        resolved: ResolvedInstruments,
        revalue: Callable[[ResolvedInstruments], FloatArray],
    ) -> FloatArray:
        """USD P&L per base unit of every instrument under set ``tag``, reusing kept rows.

        Parameters
        ----------
        tag
            Which set of the stage (0 the base set, then the stressed ones, -1 the floor).
        signatures
            :meth:`signatures` of ``resolved``.
        resolved
            ``n_instruments`` resolved instruments.
        revalue
            The revaluation of a subset of instruments, ``(n_subset, n_scenarios)`` USD per
            base unit; called once, on the instruments without a kept row.

        Returns
        -------
        FloatArray
            Shape ``(n_instruments, n_scenarios)``, USD per base unit: row ``i`` is exactly
            what ``revalue(resolved)[i]`` gives.
        """
        keys = [(tag, *signature) for signature in signatures]
        with self._lock:
            kept = [self._rows.get(key) for key in keys]
            for key, row in zip(keys, kept, strict=True):
                if row is not None:
                    self._rows.move_to_end(key)
        missing = [i for i, row in enumerate(kept) if row is None]
        if len(missing) == len(keys):
            out = revalue(resolved)
            self._keep(keys, out)
            return out
        n_scen = next(row for row in kept if row is not None).shape[0]
        out = np.empty((len(keys), n_scen))
        if missing:
            try:
                fresh = revalue(resolved.take(missing))
            except InputError:
                revalue(resolved)  # raises the error as the whole book names it
                raise
            out[missing] = fresh
            self._keep([keys[i] for i in missing], fresh)
        for i, row in enumerate(kept):
            if row is not None:
                out[i] = row
        return out

    def _keep(self, keys: list[tuple[int, str, bytes]], rows: FloatArray) -> None:
        n_scen = rows.shape[1]
        if len(keys) * n_scen > self._max_cells:
            return
        with self._lock:
            for key, row in zip(keys, rows, strict=True):
                if key not in self._rows:
                    kept = row.copy()  # the caller's array stays its own
                    kept.flags.writeable = False
                    self._rows[key] = kept
                    self._cells += n_scen
            while self._cells > self._max_cells:
                _, dropped = self._rows.popitem(last=False)
                self._cells -= dropped.size


@dataclass(frozen=True, slots=True)
class MarketScenarios:
    """The book-independent inputs of one scenario-risk computation at one as-of instant.

    Attributes
    ----------
    last_close
        The last close of the history known at the market's timestamp, ``datetime64[s]``
        UTC: the sets' as-of instant (no later close was read).
    sets
        Base, correlation-stressed and floor scenario sets (arrays read-only).
    labels
        One label per base scenario, length ``n_scenarios`` of the base set.
    rows
        The instrument rows revalued so far under these sets (cached stages), or ``None``
        (the reference twin: every row revalued by every call).
    """

    last_close: np.datetime64
    sets: ScenarioSets
    labels: tuple[str, ...]
    rows: RevaluedRows | None = None


_Key = tuple[ScenarioRiskParams, int, np.datetime64]

_cache: OrderedDict[_Key, tuple[PriceHistory, MarketScenarios]] = OrderedDict()
_lock = threading.Lock()


def _source_history(params: ScenarioRiskParams, history: PriceHistory | None) -> PriceHistory:
    """Return the model's own history, else the shared folder's (cached by folder and names)."""
    return history if history is not None else load_history(params)


def _build(
    params: ScenarioRiskParams, source: PriceHistory, as_of: np.datetime64, rows: bool
) -> MarketScenarios:
    history = source.select(params.underlyings, "scenarios.underlyings")
    check_fresh(history, as_of, params.max_age_days)
    sets = build_sets(params, history, as_of)
    last = history.times[int(np.searchsorted(history.times, as_of, side="right")) - 1]
    return MarketScenarios(last, sets, tuple(sets.base.labels), RevaluedRows() if rows else None)


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
    return _build(params, _source_history(params, history), as_of, rows=False)


def market_scenarios(
    params: ScenarioRiskParams, history: PriceHistory | None, timestamp: object
) -> MarketScenarios:
    """Return the scenario sets at ``timestamp``, built once per parameters, history and close.

    Same parameters, arguments and errors as :func:`market_scenarios_reference`; a failed build
    is not cached. The key holds the parameters (compared by value), the history object (by
    identity: the entry keeps it alive, so its identity cannot be reused) and the last close
    known at ``timestamp``; the least recently used of more than :data:`CACHE_SIZE` entries is
    dropped. A hit checks the history's age at ``timestamp`` as a build does.
    """
    as_of = as_of_instant(timestamp)
    source = _source_history(params, history)
    try:
        hash(params)
    except TypeError:  # a list passed through with_params: correct, only not cacheable
        return _build(params, source, as_of, rows=False)
    known = int(np.searchsorted(source.times, as_of, side="right"))
    if known >= 2:  # else the build raises the error a fresh build raises
        key: _Key = (params, id(source), source.times[known - 1])
        with _lock:
            hit = _cache.get(key)
            if hit is not None and hit[0] is source:
                _cache.move_to_end(key)
        if hit is not None and hit[0] is source:
            check_age(as_of, hit[1].last_close, params.max_age_days)
            return hit[1]
    built = _build(params, source, as_of, rows=True)
    key = (params, id(source), built.last_close)
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

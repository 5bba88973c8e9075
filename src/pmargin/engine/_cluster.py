"""The batch jobs on a Dask cluster: ``--cluster local:N`` or ``--cluster tcp://host:port``.

One home for the plumbing (Dask distributed does the scheduling, the transport and the
workers; nothing here is a pool of our own):

- :func:`parse_cluster` reads the option; :meth:`Cluster.open` starts a ``LocalCluster`` of
  ``N`` single-threaded worker processes, or connects to a running scheduler within
  :data:`CONNECT_TIMEOUT_S`; :meth:`Cluster.close` shuts down what it started.
- :meth:`Cluster.split` cuts ``n`` accounts (or steps) into consecutive blocks: at least one
  per worker, at most :data:`SHARD_ROWS` each (a block's temporaries stay in cache-sized
  pages).
- :meth:`Cluster.map` runs ``fn(item, *shared)`` on the workers and returns the results in
  item order, ``shared`` scattered once to every worker; :meth:`Cluster.map_accounts` runs
  ``fn`` on the account blocks of an arranged book: a block travels as its rows
  (:func:`book_rows`), the resolved instruments, assets and market are scattered once, and the
  worker rebuilds the block as a book holding every column (:func:`rows_book`).
- :func:`margin_shards` margins a book under several models block by block: the models are
  built once by the caller and scattered, so a worker keeps one model object and its
  per-market precompute (the scenario sets of ``pmargin-es``/``-var``/``-mc``, cached per
  process by parameters, history and close) is built once per worker, never per block; the
  results are joined in account order by :meth:`~pmargin.margin.MarginResult.concat`.

Results are those of the single-process run bit for bit: a block holds every column, so each
model builds the whole book's units and scenarios and margins an account from its own row with
the same operations in the same order (docs/scale.md).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np

from pmargin._typing import FloatArray, IntArray, TaskMap
from pmargin.book import BookArrangement
from pmargin.errors import InputError, PmarginError
from pmargin.margin import MarginModel, MarginResult
from pmargin.market import MarketSnapshot
from pmargin.valuation import ResolvedInstruments

__all__ = [
    "CLUSTER_FIELD",
    "CONNECT_TIMEOUT_S",
    "MAX_LOCAL_WORKERS",
    "SHARD_ROWS",
    "Cluster",
    "ClusterSpec",
    "LeanShard",
    "book_rows",
    "cluster_session",
    "lean_shard",
    "margin_shards",
    "parse_cluster",
    "rows_book",
]

CLUSTER_FIELD = "--cluster"
"""The option's name in error messages."""

MAX_LOCAL_WORKERS = 256
"""Most worker processes ``local:N`` starts on one machine."""

CONNECT_TIMEOUT_S = 10.0
"""Seconds to reach a scheduler (and for a local cluster's workers to start) before failing."""

SHARD_ROWS = 65_536
"""Most accounts (or steps) per shard: past this a block's temporaries cost more in fresh
pages than they save in calls (PERFORMANCE.md: 65,536-account blocks margin 1 M accounts in
6.9 s against 12.3 s whole)."""

_R = TypeVar("_R")
_ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc)://[^\s/]+(:\d+)?/?$")


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """What ``--cluster`` asks for.

    Attributes
    ----------
    text
        The option as given.
    local_workers
        ``N`` of ``local:N`` (a ``LocalCluster`` of ``N`` worker processes), else ``None``.
    address
        The scheduler's address (``tcp://host:8786``), else ``None``.
    """

    text: str
    local_workers: int | None = None
    address: str | None = None


def parse_cluster(text: str) -> ClusterSpec:
    """Read ``--cluster``: ``local:N`` (1 <= N <= :data:`MAX_LOCAL_WORKERS`) or an address.

    Raises
    ------
    InputError
        Field ``--cluster``: neither form, or ``N`` out of range.
    """
    value = text.strip()
    if value.lower().startswith("local:"):
        count = value.split(":", 1)[1]
        if not count.isdigit() or not 1 <= int(count) <= MAX_LOCAL_WORKERS:
            raise InputError(
                CLUSTER_FIELD,
                text,
                f"must give local:N with 1 <= N <= {MAX_LOCAL_WORKERS} worker processes",
            )
        return ClusterSpec(text, local_workers=int(count))
    if not _ADDRESS.match(value):
        raise InputError(
            CLUSTER_FIELD,
            text,
            "must be local:N (a local cluster of N workers) or a scheduler address such as "
            "tcp://scheduler:8786",
        )
    return ClusterSpec(text, address=value)


class Cluster:
    """A Dask client and the workers it reaches: a :class:`~pmargin._typing.TaskMap`.

    Parameters
    ----------
    client
        A connected ``distributed.Client``.
    owned
        The ``LocalCluster`` this object started (closed with it), else ``None``.
    shard_rows
        Most items per block of :meth:`split`.
    """

    def __init__(self, client: Any, owned: Any = None, shard_rows: int = SHARD_ROWS) -> None:
        self.client = client
        self._owned = owned
        self.shard_rows = shard_rows

    @classmethod
    def open(cls, spec: ClusterSpec | str, timeout: float = CONNECT_TIMEOUT_S) -> Cluster:
        """Start ``local:N`` or connect to a scheduler; the caller closes it (or uses ``with``).

        Raises
        ------
        InputError
            Field ``--cluster``: a bad option, Dask distributed not installed, a scheduler
            not reached within ``timeout`` seconds, or a cluster without workers.
        """
        spec = parse_cluster(spec) if isinstance(spec, str) else spec
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError(
                CLUSTER_FIELD,
                spec.text,
                "needs Dask distributed: pip install 'pmargin[cluster]'",
            ) from None
        owned = None
        try:
            if spec.local_workers is not None:
                owned = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=spec.local_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    timeout=timeout,
                )
                client = Client(owned, timeout=timeout)  # type: ignore[no-untyped-call]
            else:
                client = Client(spec.address, timeout=timeout)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            if owned is not None:
                owned.close()
            raise InputError(
                CLUSTER_FIELD,
                spec.text,
                f"could not be reached within {timeout:g} s ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:200]})",
            ) from None
        cluster = cls(client, owned)
        if cluster.n_workers < 1:
            try:
                client.wait_for_workers(1, timeout=timeout)
            except TimeoutError:
                cluster.close()
                raise InputError(
                    CLUSTER_FIELD, spec.text, f"has no worker after {timeout:g} s"
                ) from None
        return cluster

    @property
    def n_workers(self) -> int:
        """Workers the scheduler knows now."""
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def split(self, n: int) -> list[IntArray]:
        """Cut ``range(n)`` into consecutive blocks of near-equal size.

        ``max(n_workers, ceil(n / shard_rows))`` blocks (never more than ``n``), so every
        worker gets a block and none holds more than :attr:`shard_rows` items.
        """
        if n <= 0:
            return []
        count = min(n, max(self.n_workers, math.ceil(n / self.shard_rows)))
        edges = np.linspace(0, n, count + 1).round().astype(np.int64)
        return [np.arange(a, b, dtype=np.int64) for a, b in itertools.pairwise(edges)]

    def map(self, fn: Callable[..., _R], items: Sequence[Any], /, *shared: Any) -> list[_R]:
        """Return ``[fn(item, *shared) for item in items]``, computed on the workers.

        ``shared`` is scattered once to every worker; each item travels with its own task.
        The first exception (in item order) is raised here as the worker raised it.
        """
        return self._run(_call, fn, list(items), shared)

    def map_accounts(self, fn: Callable[..., _R], book: Any, /, *shared: Any) -> list[_R]:
        """Return ``fn(block, *shared)`` for the account blocks of ``book``, in row order.

        A block (:func:`book_rows`) travels as its rows alone (ids, quantities, balances,
        unrealised P&L); what every block shares, the resolved instruments, the assets and
        the market, is scattered once to every worker with ``shared``, and the worker puts the
        block back together as a book holding every column (:func:`rows_book`).
        """
        blocks = self.split(book.shape[0])
        if not blocks:
            return [fn(book, *shared)]
        common = (book.resolved, book.assets, book.market)
        payloads = [book_rows(book, rows) for rows in blocks]
        return self._run(_call_on_rows, fn, payloads, (common, *shared))

    def _run(
        self, call: Callable[..., Any], fn: Any, items: list[Any], shared: Sequence[Any]
    ) -> list[Any]:
        if not items:
            return []
        scattered = [self._broadcast(value) for value in shared]
        futures = [self.client.submit(call, item, fn, *scattered, pure=False) for item in items]
        try:
            return list(self.client.gather(futures))
        finally:
            for future in futures:
                future.release()

    def _broadcast(self, value: Any) -> Any:
        # In a list of one: Dask scatters a list or a dict element by element.
        return self.client.scatter([value], broadcast=True, hash=False)[0]

    def close(self) -> None:
        """Close the client, and the local cluster it started."""
        self.client.close()
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def cluster_session(cluster: Cluster | str | None) -> Iterator[Cluster | None]:
    """Yield a cluster for one job: ``None`` (single process), one given, or one opened here.

    A cluster given as a :class:`Cluster` stays open; one given as ``--cluster`` text is
    opened for the job and closed after it.
    """
    if cluster is None or isinstance(cluster, Cluster):
        yield cluster
        return
    with Cluster.open(cluster) as opened:
        yield opened


def book_rows(book: BookArrangement, rows: IntArray) -> dict[str, Any]:
    """Return what one account block of ``book`` travels with: its rows, every column.

    ``rows`` are consecutive (:meth:`Cluster.split`). The market, the resolved instruments and
    the assets are left out: every block shares them (sent once, :meth:`Cluster.map_accounts`).
    """
    a, b = int(rows[0]), int(rows[-1]) + 1
    return {
        "account_ids": book.account_ids[a:b],
        "quantity": book.quantity[a:b],
        "balances": book.balance_matrix[a:b],
        "unrealised": book.unrealised[a:b],
        "row_moves": None if book.row_moves is None else book.row_moves.take(rows, None),
    }


def rows_book(
    payload: dict[str, Any], common: tuple[ResolvedInstruments, tuple[str, ...], MarketSnapshot]
) -> BookArrangement:
    """Put one block back together: its rows with every column, at the shared market."""
    resolved, assets, market = common
    return BookArrangement(resolved=resolved, assets=assets, market=market, **payload)


def _call(item: Any, fn: Callable[..., _R], *shared: Any) -> _R:
    return fn(item, *shared)


def _call_on_rows(payload: dict[str, Any], fn: Callable[..., _R], common: Any, *shared: Any) -> _R:
    return fn(rows_book(payload, common), *shared)


def _margin_models(
    shard: BookArrangement, models: Mapping[str, MarginModel]
) -> dict[str, MarginResult | PmarginError]:
    """Return each model's margin of one shard, or the error it raised (keeping the others)."""
    out: dict[str, MarginResult | PmarginError] = {}
    for name, model in models.items():
        try:
            out[name] = model.compute(shard)
        except PmarginError as exc:
            out[name] = exc
    return out


def margin_shards(
    cluster: TaskMap,
    book: BookArrangement,
    models: Mapping[str, MarginModel],
    *,
    vectors: bool = True,
) -> dict[str, MarginResult | PmarginError]:
    """Margin ``book`` under each model on the cluster, block by block, joined in row order.

    Parameters
    ----------
    cluster
        Where the blocks run (:meth:`Cluster.map_accounts`).
    book
        The arranged book, shape ``(n_accounts, n_instruments)``.
    models
        Name -> model, built once by the caller and scattered once.
    vectors
        ``True``: every block sends its risk units' scenario P&L vectors back (``n_accounts x
        n_scenarios`` floats per unit). ``False`` (the lean result): a block sends every
        per-account array but those (totals, components, worst scenario, held flags, the
        position contributions); each joined unit's vectors are computed here, from the whole
        book in this process, the first time one is read (:attr:`~pmargin.margin.
        RiskUnitMargin.pnl`): the same numbers, paid only by a caller that reads them.

    Returns
    -------
    dict
        Name -> the book's :class:`~pmargin.margin.MarginResult` (what ``model.compute(book)``
        gives, bit for bit: each block holds every column, so units, scenarios and each
        account's operations are the whole book's), or the error the first failing block
        raised for that model (a check over the book's instruments: the whole book's error).
    """
    fn: Callable[..., Mapping[str, Any]] = _margin_models if vectors else _lean_margin_models
    parts = cluster.map_accounts(fn, book, dict(models))
    out: dict[str, MarginResult | PmarginError] = {}
    for name, model in models.items():
        results = [part[name] for part in parts]
        error = next((r for r in results if isinstance(r, PmarginError)), None)
        if error is not None:
            out[name] = error
        elif vectors:
            out[name] = MarginResult.concat([r for r in results if isinstance(r, MarginResult)])
        else:
            lean = [r for r in results if isinstance(r, LeanShard)]
            out[name] = _with_vectors_on_demand(
                MarginResult.concat([r.result for r in lean]), lean[0].columns, model, book
            )
    return out


@dataclass(frozen=True, slots=True)
class LeanShard:
    """One block's margin without its scenario vectors: what a lean block sends back.

    Attributes
    ----------
    result
        The block's result with each unit's scenario columns taken off (no labels, no
        scenarios, an ``(n, 0)`` P&L matrix): every per-account array is there.
    columns
        Per unit, its ``(scenario_labels, scenarios)``, put back on the joined units.
    """

    result: MarginResult
    columns: tuple[tuple[tuple[str, ...], tuple[Any, ...]], ...]


def lean_shard(result: MarginResult) -> LeanShard:
    """Return ``result`` without the units' scenario vectors (nothing is computed for them)."""
    n = result.n_accounts
    units = tuple(
        replace(u, scenario_labels=(), scenarios=(), scenario_pnl=np.zeros((n, 0)), pnl_source=None)
        for u in result.risk_units
    )
    columns = tuple((u.scenario_labels, u.scenarios) for u in result.risk_units)
    return LeanShard(replace(result, risk_units=units), columns)


def _lean_margin_models(
    shard: BookArrangement, models: Mapping[str, MarginModel]
) -> dict[str, LeanShard | PmarginError]:
    """:func:`_margin_models` of one shard, each result lean (:func:`lean_shard`)."""
    return {
        name: r if isinstance(r, PmarginError) else lean_shard(r)
        for name, r in _margin_models(shard, models).items()
    }


class _WholeVectors:
    """A model's scenario vectors of a whole book, computed in this process when first read."""

    def __init__(self, model: MarginModel, book: BookArrangement) -> None:
        self._model: MarginModel | None = model
        self._book: BookArrangement | None = book
        self._units: tuple[Any, ...] = ()

    def unit(self, k: int) -> FloatArray:
        """Return unit ``k``'s vectors, shape ``(n_accounts, n_scenarios)``."""
        if self._model is not None:
            assert self._book is not None
            self._units = self._model.compute(self._book).risk_units
            self._model, self._book = None, None
        pnl: FloatArray = self._units[k].pnl
        return pnl


def _with_vectors_on_demand(
    joined: MarginResult,
    columns: tuple[tuple[tuple[str, ...], tuple[Any, ...]], ...],
    model: MarginModel,
    book: BookArrangement,
) -> MarginResult:
    """Return ``joined`` (of lean blocks) with its units' scenario columns, vectors on demand."""
    source = _WholeVectors(model, book)
    units = tuple(
        replace(
            u,
            scenario_labels=labels,
            scenarios=scenarios,
            scenario_pnl=None,
            pnl_source=functools.partial(source.unit, k),
        )
        for k, (u, (labels, scenarios)) in enumerate(zip(joined.risk_units, columns, strict=True))
    )
    return replace(joined, risk_units=units)

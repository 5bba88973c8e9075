"""The batch jobs on a Dask cluster give the single-process numbers, bit for bit.

One ``LocalCluster`` of 2 single-threaded worker processes serves the module (started once).
Each job runs with and without it and every array is compared with ``np.array_equal`` (exact):
every model, stress and the backtest compute an account's (or a step's) numbers from that
account's own row (step) with the same operations in the same order, so no tolerance is
needed. Blocks are made small (a few accounts) so that every job really is split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import cloudpickle
import numpy as np
import pytest

from pmargin.backtest import BacktestConfig, BacktestResult, run_backtest
from pmargin.book import Portfolio, arrange
from pmargin.engine import compare_margins, example_inputs, margin_reports, stress_report
from pmargin.engine._cluster import (
    MAX_LOCAL_WORKERS,
    Cluster,
    book_rows,
    lean_shard,
    margin_shards,
    parse_cluster,
    rows_book,
)
from pmargin.errors import InputError
from pmargin.history import load_funding, load_price_history
from pmargin.margin import MarginResult, get_model
from pmargin.market import MarketSnapshot
from pmargin.stress import CorrelationShock
from shared_paths import shared_data_dir

distributed = pytest.importorskip("distributed")

HAS_DATA = shared_data_dir().is_dir()
needs_data = pytest.mark.skipif(not HAS_DATA, reason="shared data not found")
BLOCK_ROWS = 5
"""Accounts per block in these tests: 23 accounts make 5 blocks."""


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    local = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    connected = distributed.Client(local)
    yield connected
    connected.close()
    local.close()


@pytest.fixture
def cluster(client: Any) -> Cluster:
    return Cluster(client, shard_rows=BLOCK_ROWS)


@pytest.fixture(scope="module")
def inputs() -> tuple[MarketSnapshot, Portfolio]:
    return example_inputs(23, 7)


class SerialTasks:
    """A :class:`~pmargin._typing.TaskMap` in this process (the split logic without Dask)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows

    def split(self, n: int) -> list[np.ndarray]:
        return [np.arange(a, min(a + self.rows, n)) for a in range(0, n, self.rows)]

    def map(self, fn: Callable[..., Any], items: Sequence[Any], /, *shared: Any) -> list[Any]:
        return [fn(item, *shared) for item in items]

    def map_accounts(self, fn: Callable[..., Any], book: Any, /, *shared: Any) -> list[Any]:
        common = (book.resolved, book.assets, book.market)
        blocks = [rows_book(book_rows(book, r), common) for r in self.split(book.shape[0])]
        return [fn(b, *shared) for b in blocks]


def assert_same_result(a: MarginResult, b: MarginResult) -> None:
    """Every field of two margin results equal, bit for bit."""
    assert (a.model, a.timestamp, a.account_ids, a.instruments) == (
        b.model,
        b.timestamp,
        b.account_ids,
        b.instruments,
    )
    assert a.notes == b.notes
    for name in ("initial_margin", "maintenance_margin", "im_other"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.im_contribution.toarray(), b.im_contribution.toarray())
    assert len(a.risk_units) == len(b.risk_units)
    for u, v in zip(a.risk_units, b.risk_units, strict=True):
        assert (u.underlying, u.currency, u.usd_rate) == (v.underlying, v.currency, v.usd_rate)
        assert (u.scenario_labels, u.scenarios) == (v.scenario_labels, v.scenarios)
        for name in ("initial_margin", "maintenance_margin", "pnl", "worst", "holds"):
            assert np.array_equal(getattr(u, name), getattr(v, name)), (u.underlying, name)
        assert list(u.components) == list(v.components)
        for key, value in u.components.items():
            assert np.array_equal(value, v.components[key]), key


# --- the option and the plumbing ---------------------------------------------------------------


def test_parse_cluster_forms_and_errors() -> None:
    assert parse_cluster("local:2").local_workers == 2
    assert parse_cluster(" LOCAL:16 ").local_workers == 16
    assert parse_cluster("tcp://scheduler:8786").address == "tcp://scheduler:8786"
    for bad in ("local:0", f"local:{MAX_LOCAL_WORKERS + 1}", "local:x", "scheduler:8786", ""):
        with pytest.raises(InputError, match="--cluster"):
            parse_cluster(bad)


def test_unreachable_scheduler_is_an_input_error_within_the_timeout() -> None:
    with pytest.raises(InputError, match=r"--cluster.*could not be reached"):
        Cluster.open("tcp://127.0.0.1:9", timeout=1.0)


def test_split_covers_every_item_once_at_least_one_block_per_worker(cluster: Cluster) -> None:
    for n in (1, 2, 7, 23):
        blocks = cluster.split(n)
        assert np.array_equal(np.concatenate(blocks), np.arange(n))
        assert len(blocks) == min(n, max(2, -(-n // BLOCK_ROWS)))
        assert all(b.size for b in blocks)
    assert cluster.split(0) == []


def test_map_sends_shared_once_and_raises_the_workers_input_error(cluster: Cluster) -> None:
    assert cluster.map(pow, [1, 2, 3], 2) == [1, 4, 9]
    with pytest.raises(InputError, match="bad"):
        cluster.map(_raise_on_two, [1, 2, 3])


def _raise_on_two(x: int) -> int:
    if x == 2:
        raise InputError("x", x, "is bad")
    return x


def test_concat_refuses_blocks_of_other_models(inputs: tuple[MarketSnapshot, Portfolio]) -> None:
    market, portfolio = inputs
    book = arrange(portfolio, market)
    a, b = get_model("standard").compute(book), get_model("deribit").compute(book)
    with pytest.raises(InputError, match="parts"):
        MarginResult.concat([a, b])
    with pytest.raises(InputError, match="parts"):
        MarginResult.concat([])


# --- margin and compare: every model, with and without the cluster ------------------------------

MODELS_NO_DATA = ["standard", "deribit", "deribit-cross", "okx", "tims"]
MODELS_DATA = ["pmargin-es", "pmargin-var", "pmargin-mc"]


def test_margin_reports_equal_bit_for_bit_on_the_cluster(
    cluster: Cluster, inputs: tuple[MarketSnapshot, Portfolio]
) -> None:
    market, portfolio = inputs
    models = MODELS_NO_DATA + (MODELS_DATA if HAS_DATA else [])
    single = margin_reports(portfolio, market, models)
    split = margin_reports(portfolio, market, models, cluster=cluster)
    for name in models:
        assert_same_result(single[name].result, split[name].result)
        assert single[name].to_dict(scenarios=True) == split[name].to_dict(scenarios=True)


def test_serial_blocks_of_every_size_join_to_the_whole_book(
    inputs: tuple[MarketSnapshot, Portfolio],
) -> None:
    market, portfolio = inputs
    book = arrange(portfolio, market)
    models = {name: get_model(name) for name in MODELS_NO_DATA}
    whole = {name: model.compute(book) for name, model in models.items()}
    for rows in (1, 4, 23):
        joined = margin_shards(SerialTasks(rows), book, models)
        for name in models:
            result = joined[name]
            assert isinstance(result, MarginResult)
            assert_same_result(whole[name], result)


def test_lean_blocks_join_to_the_whole_book_vectors_on_demand(
    inputs: tuple[MarketSnapshot, Portfolio],
) -> None:
    """Blocks sent back without scenario vectors join to compute's result, bit for bit.

    Every per-account array travels; each unit's vectors are computed from the whole book
    when first read, and a lean block pickles to fewer bytes than a full one.
    """
    market, portfolio = inputs
    book = arrange(portfolio, market)
    models = {name: get_model(name) for name in MODELS_NO_DATA}
    whole = {name: model.compute(book) for name, model in models.items()}
    joined = margin_shards(SerialTasks(4), book, models, vectors=False)
    for name in models:
        result = joined[name]
        assert isinstance(result, MarginResult)
        assert all(u.scenario_pnl is None for u in result.risk_units if u.scenario_labels)
        assert_same_result(whole[name], result)  # reads the vectors: computed here

    def size(rows: int, lean: bool) -> int:
        common = (book.resolved, book.assets, book.market)
        full = models["deribit"].compute(rows_book(book_rows(book, np.arange(rows)), common))
        return len(cloudpickle.dumps(lean_shard(full) if lean else full))

    # bytes per account (the instruments, labels and scenarios are a block's fixed part)
    assert size(16, True) - size(8, True) < (size(16, False) - size(8, False)) / 2


def test_compare_with_a_model_that_refuses_some_accounts(
    cluster: Cluster, inputs: tuple[MarketSnapshot, Portfolio]
) -> None:
    market, portfolio = inputs
    models = ["standard", "deribit", "okx", "derive-pmrm2"]
    single = compare_margins(portfolio, market, models)
    split = compare_margins(portfolio, market, models, cluster=cluster)
    assert single.errors["derive-pmrm2"]  # the per-account path ran
    assert single.to_dict() == split.to_dict()
    for name in models:
        assert np.array_equal(
            single.initial_margin[name], split.initial_margin[name], equal_nan=True
        )
        assert np.array_equal(
            single.maintenance_margin[name], split.maintenance_margin[name], equal_nan=True
        )


def test_a_model_error_on_the_cluster_is_the_whole_books_error(
    cluster: Cluster, inputs: tuple[MarketSnapshot, Portfolio]
) -> None:
    market, portfolio = inputs
    with pytest.raises(InputError) as single:
        margin_reports(portfolio, market, ["derive-pmrm2"])
    with pytest.raises(InputError) as split:
        margin_reports(portfolio, market, ["derive-pmrm2"], cluster=cluster)
    assert str(split.value) == str(single.value)


# --- stress and backtest -------------------------------------------------------------------------


def test_stress_equal_bit_for_bit_on_the_cluster(
    cluster: Cluster, inputs: tuple[MarketSnapshot, Portfolio]
) -> None:
    market, portfolio = inputs
    shocks = ["BTC=-0.3,ETH=-0.4,vol=+0.5", "BTC=+0.2"]
    kwargs: dict[str, Any] = {"shocks": shocks, "model": "deribit"}
    if HAS_DATA:
        kwargs["episodes"] = ["ftx-1d"]
    single = stress_report(portfolio, market, **kwargs)
    split = stress_report(portfolio, market, cluster=cluster, **kwargs)
    assert single.to_dict() == split.to_dict()
    for name in ("loss", "base_loss", "equity", "initial_margin", "maintenance_margin"):
        assert np.array_equal(getattr(single, name), getattr(split, name), equal_nan=True)


@needs_data
def test_correlation_stress_draws_once_and_splits_accounts(
    inputs: tuple[MarketSnapshot, Portfolio],
) -> None:
    from pmargin.stress import stress_test

    market, portfolio = inputs
    shock = CorrelationShock("corr", factor=0.5, n_scenarios=2_000, seed=3)
    single = stress_test(portfolio, market, [shock], model="standard")
    split = stress_test(portfolio, market, [shock], model="standard", tasks=SerialTasks(4))
    assert np.array_equal(single.loss, split.loss)
    assert np.array_equal(single.base_loss, split.base_loss)
    assert single.to_dict() == split.to_dict()


def _same_backtest(a: BacktestResult, b: BacktestResult) -> None:
    assert a.accounts == b.accounts
    assert np.array_equal(a.times, b.times)
    assert np.array_equal(a.pnl, b.pnl, equal_nan=True)
    assert np.array_equal(a.notional, b.notional, equal_nan=True)
    assert a.margin.keys() == b.margin.keys()
    for name in a.margin:
        assert np.array_equal(a.margin[name], b.margin[name], equal_nan=True), name
    assert a.stats == b.stats
    assert a.errors == b.errors


@needs_data
def test_backtest_steps_split_across_workers(cluster: Cluster) -> None:
    folder = shared_data_dir()
    history, funding = load_price_history(folder), load_funding(folder)
    config = BacktestConfig(
        models=("standard", "deribit", "derive-pmrm2"),
        books=("long_perp", "short_strangle"),
        step_hours=168.0,
        start=np.datetime64("2023-01-01").astype(object),
        end=np.datetime64("2023-07-01").astype(object),
    )
    single = run_backtest(history, config, funding=funding)
    split = run_backtest(history, config, funding=funding, tasks=cluster)
    _same_backtest(single, split)


@needs_data
def test_backtest_runs_again_from_a_later_learnt_applicability() -> None:
    # pmargin-var margins nothing before its lookback is filled: its applicability is learnt
    # some steps after the first, so runs that started from the first step's state are redone.
    history = load_price_history(shared_data_dir())
    first = history.times[0].astype("datetime64[s]").astype(object)
    config = BacktestConfig(
        models=("standard", "pmargin-var"),
        books=("long_perp",),
        step_hours=168.0,
        start=first,
        end=(history.times[0] + np.timedelta64(800, "D")).astype("datetime64[s]").astype(object),
    )
    single = run_backtest(history, config)
    assert np.isnan(single.margin["pmargin-var"][0]).all()
    assert np.isfinite(single.margin["pmargin-var"][-1]).all()
    _same_backtest(single, run_backtest(history, config, tasks=SerialTasks(3)))

"""Walk-forward backtest of margin models on real history.

At every step ``t`` (daily, 4-hourly or weekly, on the close instants of the history):

1. build the market of ``t`` from the history known at ``t``
   (:class:`~pmargin.history.HistoricalMarkets`);
2. strike every book on it (:func:`~pmargin.backtest.build_portfolio`): one account per book,
   all books of the step in ONE :class:`~pmargin.book.BookArrangement`;
3. margin that arrangement under every model (one ``compute`` per model and step; a model that
   cannot margin some books, such as ``derive-pmrm2`` on coin-settled ones, margins the
   accounts it can, found once on the first step);
4. revalue the SAME positions with the market of ``t + MPOR`` (index moves, forward and vol
   moves, time decay; positions fixed, no funding paid, no hedge rebalanced) and convert
   each instrument's settlement-currency P&L to USD at ``t + MPOR``;
5. an exception is a realised loss above the initial margin: ``-pnl > IM``.

A step whose horizon instant is missing from the history (a data outage in the 4-hourly
files) is skipped. With the MPOR longer than the step, consecutive windows overlap
(``overlap = MPOR / step`` windows share each instant), which makes exceptions dependent:
Kupiec's and Christoffersen's tests assume independent observations and over-reject; the
result says so in ``notes``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from pmargin._typing import FloatArray, TaskMap
from pmargin.backtest._books import BookSpec, build_portfolio, default_books, gross_notional
from pmargin.backtest._summary import BookStats, book_stats, exceptions
from pmargin.book import BookArrangement, Portfolio, arrange
from pmargin.errors import InputError, PmarginError
from pmargin.history import (
    FundingHistory,
    HistoricalMarkets,
    MarketAssumptions,
    PriceHistory,
    to_datetime64,
)
from pmargin.margin import MODELS, MarginModel, get_model
from pmargin.market import MarketSnapshot
from pmargin.pricing import delta_one_pnl
from pmargin.valuation import ResolvedInstruments, resolve_instruments, value_instruments

__all__ = [
    "DEFAULT_MODELS",
    "STEPS",
    "BacktestConfig",
    "BacktestResult",
    "default_models",
    "instrument_realised_pnl",
    "parse_duration",
    "realised_pnl",
    "run_backtest",
]

STEPS: dict[str, float] = {"4h": 4.0, "1d": 24.0, "7d": 168.0}
"""Named step lengths, hours."""

DEFAULT_MODELS: tuple[str, ...] = (
    "standard",
    "deribit",
    "deribit-cross",
    "okx",
    "tims",
    "derive-pmrm2",
    "pmargin-es",
    "pmargin-var",
    "pmargin-mc",
)
"""Models a backtest runs by default, those of them that are registered."""


def default_models() -> tuple[str, ...]:
    """:data:`DEFAULT_MODELS` that are registered in :data:`pmargin.margin.MODELS`."""
    return tuple(m for m in DEFAULT_MODELS if m in MODELS)


def parse_duration(text: str, field_name: str) -> float:
    """Hours in ``"4h"``, ``"1d"``, ``"7d"`` (any ``<n>h`` or ``<n>d``), > 0."""
    value = text.strip().lower()
    try:
        if value.endswith("h"):
            hours = float(value[:-1])
        elif value.endswith("d"):
            hours = 24.0 * float(value[:-1])
        else:
            raise ValueError(value)
    except ValueError:
        raise InputError(field_name, text, "must be a duration such as 4h, 1d or 7d") from None
    if not hours > 0:
        raise InputError(field_name, text, "must be a positive duration")
    return hours


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """What a backtest runs.

    Attributes
    ----------
    models
        Model names (:data:`pmargin.margin.MODELS`); ``standard`` is the efficiency baseline.
    books
        Book names of :func:`~pmargin.backtest.default_books` (``None``: all of them).
    start, end
        First and last step instant (UTC; ``None``: the whole history).
    step_hours
        Hours between steps (a multiple of the history's step).
    mpor_hours
        Margin period of risk, hours (a multiple of the history's step).
    p
        Expected exception rate ``1 - confidence`` of the coverage tests (0.01: 99% margin).
    notional
        USD notional of each book's legs.
    linear_twins
        Also run each book's USDC-settled twin.
    """

    models: tuple[str, ...] = ("standard", "deribit")
    books: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    step_hours: float = 24.0
    mpor_hours: float = 24.0
    p: float = 0.01
    notional: float = 1_000_000.0
    linear_twins: bool = True

    @property
    def overlap(self) -> float:
        """``mpor_hours / step_hours``: windows sharing an instant (> 1 means overlap)."""
        return self.mpor_hours / self.step_hours


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Daily (per step) series and the per model x book summary of a backtest.

    Attributes
    ----------
    config
        What was run.
    times, horizons
        ``datetime64[s]`` step instants ``t`` and ``t + MPOR``, shape ``(n_obs,)``.
    accounts
        Account (book) ids, columns of every series: ``"<book>"`` coin-settled and
        ``"<book>/usdc"`` its linear twin.
    pnl
        Realised P&L over ``[t, t + MPOR]``, USD, shape ``(n_obs, n_accounts)``.
    notional
        Gross notional at ``t`` (``sum |coins| x index``), USD, shape ``(n_obs, n_accounts)``.
    margin
        Model -> initial margin at ``t``, USD, shape ``(n_obs, n_accounts)``; NaN where the
        model does not apply (or failed that step, see ``errors``).
    stats
        One :class:`BookStats` per model and account with at least two observations.
    errors
        Model -> first error message (models that could not margin some account or step).
    seconds
        Wall-clock seconds: ``"total"``, ``"market"``, ``"books"``, ``"realised"`` and one
        entry per model.
    notes
        Method notes for the report (horizon, overlap, assumptions).
    """

    config: BacktestConfig
    times: npt.NDArray[np.datetime64]
    horizons: npt.NDArray[np.datetime64]
    accounts: tuple[str, ...]
    pnl: FloatArray
    notional: FloatArray
    margin: dict[str, FloatArray]
    stats: tuple[BookStats, ...]
    errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def n_obs(self) -> int:
        """Number of steps observed."""
        return int(self.times.shape[0])

    def hits(self, model: str) -> npt.NDArray[np.bool_]:
        """Exception indicators of ``model``, shape ``(n_obs, n_accounts)`` (False where NaN)."""
        margin = self.margin[model]
        return np.where(np.isfinite(margin), exceptions(margin, self.pnl), False)


def instrument_realised_pnl(start: ResolvedInstruments, end: ResolvedInstruments) -> FloatArray:
    """USD P&L of one base unit of each instrument from one market to the other.

    Per base unit, in the settlement currency: options ``price_end - price_start`` (coin
    value for inverse options, quote value for linear ones, as
    :func:`~pmargin.valuation.value_instruments` marks them); linear futures and perpetuals
    ``F_end - F_start``; inverse ones ``1 - F_start / F_end`` coin. Converted to USD at the
    END market (coin at its index then; USDC at its price).

    Parameters
    ----------
    start, end
        The same instruments resolved at ``t`` and at ``t + MPOR``.

    Returns
    -------
    FloatArray
        Shape ``(n_instruments,)``, USD.
    """
    v0 = value_instruments(start).price
    v1 = value_instruments(end).price
    f0, f1 = start.underlying_price, end.underlying_price
    delta_one = delta_one_pnl(f1, f0, end.is_inverse)
    settle = np.where(start.is_option, v1 - v0, delta_one)
    usd = np.where(end.is_inverse, end.settlement_usd, end.quote_usd)
    result: FloatArray = settle * usd
    return result


def realised_pnl(book: BookArrangement, end: MarketSnapshot) -> FloatArray:
    """Realised USD P&L of every account, positions held fixed to the ``end`` market.

    Returns shape ``(n_accounts,)``: ``quantity @ instrument_realised_pnl``.
    """
    resolved_end = resolve_instruments(book.instruments, end)
    pnl = instrument_realised_pnl(book.resolved, resolved_end)
    return np.asarray(book.quantity @ pnl, dtype=np.float64)


def _step_indices(
    history: PriceHistory, config: BacktestConfig, first: int
) -> list[tuple[int, int]]:
    """``(i, j)`` close indices of each step and its horizon, on the step grid."""
    h = history.step
    for name, hours in (("step", config.step_hours), ("mpor", config.mpor_hours)):
        ratio = hours / h
        if ratio < 1 or not math.isclose(ratio, round(ratio)):
            raise InputError(name, f"{hours:g}h", f"must be a multiple of the history step {h:g}h")
    times = history.times
    start = times[first]
    if config.start is not None:
        start = max(start, to_datetime64(config.start, "start"))
    end = times[-1] if config.end is None else min(times[-1], to_datetime64(config.end, "end"))
    step = np.timedelta64(round(config.step_hours * 3600), "s")
    mpor = np.timedelta64(round(config.mpor_hours * 3600), "s")
    if start > end:
        raise InputError("start", str(start), f"must be before the end {end}")
    grid = np.arange(start, end + np.timedelta64(1, "s"), step)
    index = np.searchsorted(times, grid)
    inside = index < times.size
    index, grid = index[inside], grid[inside]
    on_grid = times[index] == grid
    horizon = np.searchsorted(times, grid + mpor)
    ok = on_grid & (horizon < times.size)
    horizon_safe = np.minimum(horizon, times.size - 1)
    ok &= times[horizon_safe] == grid + mpor
    return [(int(i), int(j)) for i, j in zip(index[ok], horizon[ok], strict=True)]


class _Applicability:
    """Which accounts each model can margin, learnt on the first step where any can be.

    A model that fails on the whole book is tried account by account: the accounts it margins
    are kept for every later step (Derive's PMRM_2 and the USDC twins). A step where it can
    margin no account at all (a VaR model before its lookback is filled) leaves the question
    open for the next step.
    """

    def __init__(self) -> None:
        self.rows: dict[str, npt.NDArray[np.int64] | None] = {}
        self.notes: dict[str, str] = {}

    def copy(self) -> _Applicability:
        """Return an independent copy (what a run of steps starts from)."""
        other = _Applicability()
        other.rows, other.notes = dict(self.rows), dict(self.notes)
        return other

    def same(self, other: _Applicability) -> bool:
        """Whether both learnt the same rows and notes."""
        return (
            self.notes == other.notes
            and self.rows.keys() == other.rows.keys()
            and all(
                (a is None and b is None)
                or (a is not None and b is not None and np.array_equal(a, b))
                for a, b in ((self.rows[k], other.rows[k]) for k in self.rows)
            )
        )

    def margin(
        self,
        name: str,
        model: MarginModel,
        portfolio: Portfolio,
        book: BookArrangement,
        market: MarketSnapshot,
    ) -> FloatArray:
        """Return the initial margin of every account (NaN where the model does not apply), USD.

        Raises
        ------
        PmarginError
            When the model margins no account of the book at this step.
        """
        n = len(portfolio.accounts)
        if name in self.rows:
            rows = self.rows[name]
            if rows is None:
                return model.compute(book).initial_margin
            out = np.full(n, np.nan)
            sub = Portfolio(tuple(portfolio.accounts[int(r)] for r in rows))
            out[rows] = model.compute(arrange(sub, market)).initial_margin
            return out
        try:
            im = model.compute(book).initial_margin
            self.rows[name] = None
            return im
        except PmarginError as first:
            error = first
        out = np.full(n, np.nan)
        message = ""
        for a, account in enumerate(portfolio.accounts):
            alone = Portfolio((account,), portfolio.instruments)
            try:
                out[a] = model.compute(arrange(alone, market)).initial_margin[0]
            except PmarginError as exc:
                message = message or f"{account.id}: {' '.join(str(exc).split())}"
        found = np.flatnonzero(np.isfinite(out)).astype(np.int64)
        if not found.size:
            raise error
        self.rows[name] = found
        self.notes[name] = f"not applicable to some books ({message})"
        return out


def run_backtest(
    history: PriceHistory,
    config: BacktestConfig,
    *,
    funding: FundingHistory | None = None,
    assumptions: MarketAssumptions | None = None,
    books: dict[str, BookSpec] | None = None,
    progress: Callable[[int, int], None] | None = None,
    instances: Mapping[str, MarginModel] | None = None,
    tasks: TaskMap | None = None,
) -> BacktestResult:
    """Run the walk-forward backtest (see the module docstring).

    Parameters
    ----------
    history
        Closes of BTC and ETH (and BTC DVOL): :func:`~pmargin.history.load_price_history`
        with ``frequency="4h"`` for 4-hourly steps, ``"1d"`` otherwise.
    config
        Models, books, period, step, MPOR, expected exception rate, notional.
    funding
        Funding prints for the forwards' carry (:func:`~pmargin.history.load_funding`);
        ``None``: carry 0.
    assumptions
        Market construction parameters.
    books
        Book templates by name (default :func:`~pmargin.backtest.default_books`).
    progress
        Called as ``progress(done, total)`` after each step.
    instances
        Models already built, by the name ``config.models`` gives them (a parameter sweep's
        variants, ``"pmargin-es[apc.method=none]"``); other names are built with
        :func:`~pmargin.margin.get_model`.
    tasks
        Where runs of consecutive steps go (a Dask cluster, :class:`~pmargin._typing.TaskMap`);
        ``None``: every step here, in order. Split runs give the same numbers bit for bit (each
        step is computed as here); the models' applicability, learnt on the first steps, is
        learnt here on the first step and checked run by run (a run that started from another
        state than the previous run ended in is run again from that state).

    Returns
    -------
    BacktestResult
        Series and summary.

    Raises
    ------
    InputError
        Unknown model or book, a step or MPOR that is not a multiple of the history's step,
        an option tenor not longer than the MPOR, an empty period.
    """
    started = time.perf_counter()
    templates = books if books is not None else default_books(config.notional)
    names = config.books or tuple(templates)
    unknown = [b for b in names if b not in templates]
    if unknown:
        raise InputError("books", unknown, f"are not known books ({', '.join(templates)})")
    specs = [templates[b] for b in names]
    for spec in specs:
        if spec.min_tenor and spec.min_tenor * 24.0 <= config.mpor_hours:
            raise InputError(
                "mpor", f"{config.mpor_hours:g}h", f"must be shorter than {spec.name}'s tenors"
            )
    if not config.models:
        raise InputError("models", config.models, "must name at least one model")
    given = instances or {}
    models = {name: given[name] if name in given else get_model(name) for name in config.models}
    markets = HistoricalMarkets(history, funding, assumptions)
    steps = _step_indices(history, config, markets.first_valid)
    if not steps:
        raise InputError("period", (config.start, config.end), "holds no complete step")

    n_obs = len(steps)
    context = _Context(history, funding, assumptions, tuple(specs), config, models)
    if tasks is None:
        run = _run_steps(steps, context, _Applicability(), progress)
    else:
        run = _split_steps(tasks, steps, context, progress)
    accounts, pnl, notional, margin = run.accounts, run.pnl, run.notional, run.margin
    seconds, failed, first_error, applicability = (
        run.seconds,
        run.failed,
        run.first_error,
        run.applicability,
    )

    times = history.times[[i for i, _ in steps]]
    horizons = history.times[[j for _, j in steps]]
    stats = _summarise(config, accounts, margin, pnl, notional)
    errors = dict(applicability.notes)
    for name, count in failed.items():
        text = f"no margin on {count} of {n_obs} steps (first: {first_error[name]})"
        errors[name] = f"{errors[name]}; {text}" if name in errors else text
    seconds["total"] = time.perf_counter() - started
    return BacktestResult(
        config=config,
        times=times,
        horizons=horizons,
        accounts=accounts,
        pnl=pnl,
        notional=notional,
        margin=margin,
        stats=tuple(stats),
        errors=errors,
        seconds=seconds,
        notes=_notes(config, history, funding is not None),
    )


@dataclass(frozen=True, slots=True)
class _Context:
    """What every step reads: the history, the books, the configuration and the models."""

    history: PriceHistory
    funding: FundingHistory | None
    assumptions: MarketAssumptions | None
    specs: tuple[BookSpec, ...]
    config: BacktestConfig
    models: Mapping[str, MarginModel]


@dataclass(slots=True)
class _Run:
    """The series of a run of consecutive steps and the applicability it ended with."""

    accounts: tuple[str, ...]
    pnl: FloatArray
    notional: FloatArray
    margin: dict[str, FloatArray]
    seconds: dict[str, float]
    failed: dict[str, int]
    first_error: dict[str, str]
    start: _Applicability
    applicability: _Applicability


def _run_steps(
    steps: Sequence[tuple[int, int]],
    context: _Context,
    applicability: _Applicability,
    progress: Callable[[int, int], None] | None = None,
) -> _Run:
    """Run ``steps`` in order from ``applicability`` (a copy is kept as the run's start)."""
    start = applicability.copy()
    models, config = context.models, context.config
    markets = HistoricalMarkets(context.history, context.funding, context.assumptions)
    n_obs = len(steps)
    cache: dict[int, MarketSnapshot] = {}
    seconds: dict[str, float] = {"market": 0.0, "books": 0.0, "realised": 0.0}
    seconds.update({name: 0.0 for name in models})
    failed: dict[str, int] = {}
    first_error: dict[str, str] = {}
    accounts: tuple[str, ...] = ()
    pnl = np.full((n_obs, 0), np.nan)
    notional = pnl
    margin: dict[str, FloatArray] = {}

    def market(i: int) -> MarketSnapshot:
        found = cache.get(i)
        if found is None:
            found = markets.market(i)
            if len(cache) > 8:
                cache.clear()
            cache[i] = found
        return found

    for s, (i, j) in enumerate(steps):
        tick = time.perf_counter()
        today, horizon = market(i), market(j)
        seconds["market"] += time.perf_counter() - tick
        tick = time.perf_counter()
        portfolio, ids = build_portfolio(
            list(context.specs), today, linear_twins=config.linear_twins
        )
        book = arrange(portfolio, today)
        if s == 0:
            accounts = tuple(ids)
            pnl = np.full((n_obs, len(ids)), np.nan)
            notional = np.full((n_obs, len(ids)), np.nan)
            margin = {name: np.full((n_obs, len(ids)), np.nan) for name in models}
        notional[s] = gross_notional(portfolio, today)
        seconds["books"] += time.perf_counter() - tick
        tick = time.perf_counter()
        pnl[s] = realised_pnl(book, horizon)
        seconds["realised"] += time.perf_counter() - tick
        for name, model in models.items():
            tick = time.perf_counter()
            try:
                margin[name][s] = applicability.margin(name, model, portfolio, book, today)
            except PmarginError as exc:
                failed[name] = failed.get(name, 0) + 1
                first_error.setdefault(name, f"{today.timestamp.isoformat()}: {exc}")
            seconds[name] += time.perf_counter() - tick
        if progress is not None:
            progress(s + 1, n_obs)
    return _Run(accounts, pnl, notional, margin, seconds, failed, first_error, start, applicability)


def _split_steps(
    tasks: TaskMap,
    steps: Sequence[tuple[int, int]],
    context: _Context,
    progress: Callable[[int, int], None] | None,
) -> _Run:
    """Run the first step here, the others in runs on ``tasks``; join them in step order.

    Every run after the first step starts from the applicability the first step learnt; a
    run whose predecessor ended in another state (a model still undecided after the first
    step and decided later) is run again from the state it should have started from.
    """
    first = _run_steps(steps[:1], context, _Applicability())
    rest = list(steps[1:])
    blocks = tasks.split(len(rest))
    items = [[rest[int(k)] for k in block] for block in blocks]
    runs = [first, *tasks.map(_run_from, items, context, first.applicability)]
    for k in range(1, len(runs)):
        if not runs[k].start.same(runs[k - 1].applicability):
            runs[k] = tasks.map(_run_from, [items[k - 1]], context, runs[k - 1].applicability)[0]
    if progress is not None:
        progress(len(steps), len(steps))
    return _join(runs)


def _run_from(
    steps: Sequence[tuple[int, int]], context: _Context, applicability: _Applicability
) -> _Run:
    return _run_steps(steps, context, applicability.copy())


def _join(runs: Sequence[_Run]) -> _Run:
    """Stack the runs' series in step order; sum counts and seconds, keep first errors."""
    first, last = runs[0], runs[-1]
    failed: dict[str, int] = {}
    first_error: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for run in runs:
        for name, count in run.failed.items():
            failed[name] = failed.get(name, 0) + count
        for name, text in run.first_error.items():
            first_error.setdefault(name, text)
        for name, value in run.seconds.items():
            seconds[name] = seconds.get(name, 0.0) + value
    return _Run(
        first.accounts,
        np.concatenate([r.pnl for r in runs]),
        np.concatenate([r.notional for r in runs]),
        {name: np.concatenate([r.margin[name] for r in runs]) for name in first.margin},
        seconds,
        failed,
        first_error,
        first.start,
        last.applicability,
    )


def _summarise(
    config: BacktestConfig,
    accounts: Sequence[str],
    margin: dict[str, FloatArray],
    pnl: FloatArray,
    notional: FloatArray,
) -> list[BookStats]:
    standard = margin.get("standard")
    stats: list[BookStats] = []
    for name, series in margin.items():
        for a, account in enumerate(accounts):
            row = book_stats(
                name,
                account,
                series[:, a],
                pnl[:, a],
                notional[:, a],
                None if standard is None else standard[:, a],
                config.p,
                config.step_hours,
            )
            if row is not None:
                stats.append(row)
    return stats


def _notes(config: BacktestConfig, history: PriceHistory, with_funding: bool) -> tuple[str, ...]:
    overlap = config.overlap
    if overlap > 1:
        horizon = (
            f"MPOR {config.mpor_hours:g}h > step {config.step_hours:g}h: each instant lies in "
            f"{overlap:g} overlapping windows, so exceptions are serially dependent and "
            "Kupiec/Christoffersen (which assume independence) over-reject; read them as "
            "indicative"
        )
    else:
        horizon = (
            f"MPOR {config.mpor_hours:g}h <= step {config.step_hours:g}h: windows do not "
            "overlap (exceptions may still cluster in volatile regimes)"
        )
    return (
        horizon,
        f"exception: realised loss over the MPOR > initial margin at t; expected rate "
        f"p = {config.p:g}; Basel zones from the binomial(T, p) (yellow from 95%, red "
        "from 99.99%)",
        "verdict: coverage passes when Kupiec (both tails: too many OR too few exceptions) and "
        "Christoffersen's independence test accept at 95% and the zone is green; over-margin "
        "factor N = 1 / (the ceil(p T)-th largest realised loss / IM): the factor by which "
        "every margin of the book could be divided before the exceptions reach the expected "
        "count; 'over-margined by about N x' where Kupiec rejects for too few",
        "books re-struck at every step (constant tenor and moneyness), positions held fixed "
        "over the MPOR, no funding paid, no collateral",
        "market from history only: index = Binance close; ATM vol = BTC DVOL where known, else "
        "30-day realised vol x 1.15; ETH = BTC level x ETH/BTC realised-vol ratio; constant "
        "SSVI smile and term structure (example-data fit)"
        + ("; forwards carry the trailing 30-day Binance funding" if with_funding else "")
        + ("" if with_funding else "; forwards = index (no carry)"),
        f"history: {history.times[0]} to {history.times[-1]}, step {history.step:g}h; "
        + ("Binance closes, Deribit DVOL" if history.sources else "synthetic"),
    )

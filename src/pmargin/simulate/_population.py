"""The accounts a crash is replayed on: generated (seeded) or loaded, and funded per model.

**Positions** come from :func:`pmargin.book.example_portfolio`: each account runs one of
its ten strategies (long/short perpetual, basis, covered call, protective put, short strangle,
calendar, risk reversal, delta-hedged short vol, mixed), on BTC or ETH with equal odds, in
coin-settled contracts or (``linear_share`` of accounts, 0.2) USDC-settled ones, sizes
log-uniform 1-100 BTC or 10-1,000 ETH. Only option expiries after the end of the episode (plus
a day) are offered, so nothing expires during the replay.

**Capital**, mode ``"leverage"`` (the default): each account posts what the trader chose, and
the venue's initial margin caps it. The examples draw the trader's choice: perpetuals at a
leverage uniform on [2, 10] (notional / collateral need), every strategy's need times a
cushion uniform on [0.5, 3], so effective leverage runs from below 1x to about 20x. Under the
model tested the account must hold at least ``min_cushion x IM`` (1.1): where the model's IM
is above the trader's capital the balance is topped up to it. Capital is thus the same for
every model except where a model demands more, which is the point: **capital required before
the crash** (sum of IM at the start) and **capital posted** (sum of equity) are model outputs,
and a more lenient model lets the IM-bound accounts run more leverage.

Mode ``"utilisation"``: every account holds ``IM x cushion`` under the model tested, the
cushion ``1 / u`` with IM utilisation ``u = 0.1 + 0.85 x Beta(2, 2)`` (mean 0.525), drawn once
per account (the same draw for every model): every model's population starts at the same
utilisation, so a more lenient model means proportionally more leverage everywhere. Caveat:
where the collateral is part of a strategy (the coin of an inverse basis trade or covered
call), a small balance leaves the position unhedged.

Mode ``"as_given"`` (a portfolio file): balances as in the file, for every model.

Mode ``"venue"``: funded like a venue would fund its book (:class:`VenueFunding`): a stated
share of the accounts (10 %) holds equity close to maintenance margin, ``MM x`` a factor
uniform on [1.05, 1.2]; every other account meets initial margin with a cushion, ``IM x`` a
factor uniform on [1.1, 3]. So no account starts below MM (none bankrupt or liquidatable), and
the share near MM is the one the venue would watch first. The draws (which accounts, which
factors) are seeded per account of the population, the same for every model. The demo
(``pmargin demo``) shows the population funded this way for deribit.

The balance is held in the account's own collateral asset (the coin for coin-settled
strategies, USDC for linear ones). Because a coin balance enters the coin-margined models'
scenarios, the top-up is solved by a short fixed-point iteration (``b <- max(b0, c IM(b))``,
three rounds).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.book import (
    STRATEGIES,
    BookArrangement,
    Portfolio,
    arrange,
    example_portfolio,
    load_portfolio,
)
from pmargin.collateral import account_equity, balances_usd
from pmargin.errors import InputError, PmarginError
from pmargin.margin import MarginModel
from pmargin.market import MarketSnapshot, VolSurface

__all__ = [
    "FUNDING_MODES",
    "FundedBook",
    "Population",
    "VenueFunding",
    "fund_population",
    "generate_population",
    "load_population",
]

FUNDING_MODES = ("leverage", "utilisation", "as_given", "venue")
"""How accounts are funded under each model (module docstring)."""


@dataclass(frozen=True, slots=True)
class VenueFunding:
    """How mode ``"venue"`` funds a population (module docstring).

    Attributes
    ----------
    near_mm_share
        Share of the accounts funded close to maintenance margin, in [0, 1] (rounded to a
        whole number of accounts).
    near_mm
        Range of ``equity / MM`` of those accounts (uniform), each bound > 1.
    cushion
        Range of ``equity / IM`` of the others (uniform), each bound >= 1.
    seed
        Seed of the draws (which accounts are near MM, and every factor).
    """

    near_mm_share: float = 0.10
    near_mm: tuple[float, float] = (1.05, 1.2)
    cushion: tuple[float, float] = (1.1, 3.0)
    seed: int = 7

    def draws(self, n_accounts: int) -> tuple[BoolArray, FloatArray]:
        """Return which accounts are near MM and each account's factor, shapes ``(n,)``.

        The factor is ``equity / MM`` for an account near MM, ``equity / IM`` otherwise.
        """
        if not 0.0 <= self.near_mm_share <= 1.0:
            raise InputError("near_mm_share", self.near_mm_share, "must be in [0, 1]")
        if not 1.0 < self.near_mm[0] <= self.near_mm[1]:
            raise InputError(
                "near_mm", self.near_mm, "must be a range (low, high), 1 < low <= high"
            )
        if not 1.0 <= self.cushion[0] <= self.cushion[1]:
            raise InputError(
                "cushion", self.cushion, "must be a range (low, high), 1 <= low <= high"
            )
        rng = np.random.default_rng([self.seed, 2])
        near = np.zeros(n_accounts, dtype=bool)
        near[rng.permutation(n_accounts)[: round(self.near_mm_share * n_accounts)]] = True
        factor = np.where(
            near,
            rng.uniform(*self.near_mm, size=n_accounts),
            rng.uniform(*self.cushion, size=n_accounts),
        )
        return near, factor


_TOP_UP_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class Population:
    """Accounts before funding.

    Attributes
    ----------
    book
        Positions and the trader's own balances, arranged at the start market.
    strategies
        Strategy of each account (``"file"`` for loaded accounts), shape ``(n_accounts,)``.
    collateral
        The asset each account's balance is topped up in.
    utilisation
        Drawn IM utilisation of each account (mode ``"utilisation"``), shape ``(n_accounts,)``.
    source
        ``"generated: seed 7"`` or the portfolio file.
    """

    book: BookArrangement
    strategies: tuple[str, ...]
    collateral: tuple[str, ...]
    utilisation: FloatArray
    source: str

    @property
    def n_accounts(self) -> int:
        """Number of accounts."""
        return len(self.book.account_ids)


@dataclass(frozen=True, slots=True)
class FundedBook:
    """A population funded for one model.

    Attributes
    ----------
    model
        Model name.
    book
        The accounts the model margins, with their balances, at the start market.
    rows
        Their rows in the population, shape ``(n,)``.
    equity, initial_margin, maintenance_margin, notional
        At the start, USD, shape ``(n,)`` (notional: gross ``|q| x index``).
    topped_up
        Shape ``(n,)``: the model's IM set the balance.
    excluded
        Accounts of the population the model cannot margin (e.g. Derive: coin-settled).
    near_mm
        Shape ``(n,)``: funded close to MM (mode ``"venue"``; all False otherwise).
    """

    model: str
    book: BookArrangement
    rows: IntArray
    equity: FloatArray
    initial_margin: FloatArray
    maintenance_margin: FloatArray
    notional: FloatArray
    topped_up: BoolArray
    excluded: int
    near_mm: BoolArray | None = None


def _horizon_market(market: MarketSnapshot, after: datetime) -> MarketSnapshot:
    """``market`` whose surfaces keep only slices expiring after ``after`` (listed expiries)."""
    surfaces: dict[str, VolSurface] = {}
    for code, surface in market.surfaces.items():
        kept = [s for s in surface.slices if s.expiry > after]
        surfaces[code] = VolSurface(code, kept or list(surface.slices[-1:]), surface.asof)
    return market.replace(surfaces=surfaces)


def generate_population(
    market: MarketSnapshot,
    n_accounts: int,
    *,
    seed: int = 7,
    linear_share: float = 0.2,
    horizon: datetime | None = None,
) -> Population:
    """Generate ``n_accounts`` seeded accounts at ``market`` (module docstring).

    Parameters
    ----------
    market
        The start market (index, forwards, surfaces of BTC and ETH).
    n_accounts
        Number of accounts (>= 1).
    seed
        Seed of the strategies, sizes, collateral and utilisation draws.
    linear_share
        Share of accounts in USDC-settled contracts.
    horizon
        End of the replay: options expire at least one day after it.
    """
    pool = market if horizon is None else _horizon_market(market, horizon + timedelta(days=1))
    portfolio = example_portfolio(pool, n_accounts, seed=seed, linear_share=linear_share)
    rng = np.random.default_rng([seed, 1])
    utilisation = 0.1 + 0.85 * rng.beta(2.0, 2.0, size=len(portfolio.accounts))
    strategies = tuple(_strategy(a.id) for a in portfolio.accounts)
    return _population(portfolio, market, strategies, utilisation, f"generated: seed {seed}")


def load_population(path: str | Path, market: MarketSnapshot) -> Population:
    """Load a portfolio file (JSON, YAML, CSV) as the population; balances as given."""
    portfolio = load_portfolio(path)
    n = len(portfolio.accounts)
    return _population(portfolio, market, ("file",) * n, np.full(n, 0.5), str(path))


def _strategy(account_id: str) -> str:
    name = account_id.rsplit("-", 1)[0]
    return name if name in STRATEGIES else "other"


def _population(
    portfolio: Portfolio,
    market: MarketSnapshot,
    strategies: tuple[str, ...],
    utilisation: FloatArray,
    source: str,
) -> Population:
    collateral = []
    for account in portfolio.accounts:
        if account.balances:
            collateral.append(max(account.balances, key=lambda a: abs(account.balances[a])))
        elif account.positions:
            collateral.append(account.positions[0].instrument.settlement_currency)
        else:
            collateral.append("USDC")
    book = arrange(portfolio, market)
    return Population(book, strategies, tuple(collateral), utilisation, source)


def _with_balances(
    book: BookArrangement, collateral: list[str], amount: FloatArray
) -> BookArrangement:
    """``book`` with each account's balance set to ``amount`` of its collateral asset only."""
    assets = tuple(sorted(set(book.assets) | set(collateral)))
    balances = np.zeros((len(book.account_ids), len(assets)))
    for row, asset in enumerate(collateral):
        balances[row, assets.index(asset)] = amount[row]
    return replace(book, assets=assets, balances=balances)


def _applicable(model: MarginModel, book: BookArrangement) -> IntArray:
    """Rows the model can margin (whole book, else the ones it supports, else one by one)."""
    n = len(book.account_ids)
    try:
        model.compute(book)
        return np.arange(n, dtype=np.int64)
    except PmarginError:
        pass
    if model.capabilities.margins is not None:
        rows = np.flatnonzero(model.capabilities.supported_accounts(book)).astype(np.int64)
        try:
            model.compute(book.take_accounts(rows))
            return rows
        except PmarginError:
            pass
    keep = []
    for row in range(n):
        try:
            model.compute(book.take_accounts([row]))
            keep.append(row)
        except PmarginError:
            continue
    return np.asarray(keep, dtype=np.int64)


def fund_population(
    model: MarginModel,
    population: Population,
    *,
    mode: str = "leverage",
    min_cushion: float = 1.1,
    venue: VenueFunding | None = None,
) -> FundedBook:
    """Fund the population for ``model`` (module docstring), at its book's market.

    ``venue``: the draws of mode ``"venue"`` (default :class:`VenueFunding` ``()``).

    Raises
    ------
    InputError
        For an unknown mode, a cushion below 1, or a model that margins no account.
    """
    if mode not in FUNDING_MODES:
        raise InputError("funding", mode, f"is not one of {'|'.join(FUNDING_MODES)}")
    if not min_cushion >= 1.0:
        raise InputError("min_cushion", min_cushion, "must be >= 1")
    rows = _applicable(model, population.book)
    if rows.size == 0:
        raise InputError("model", model.name, "margins no account of the population")
    book = population.book.take_accounts(rows)
    collateral = [population.collateral[int(r)] for r in rows]
    market = book.market
    price = np.array([market.usd_price(a) for a in collateral], dtype=np.float64)
    positions_usd = account_equity(book).positions_usd
    topped = np.zeros(rows.size, dtype=bool)
    near = np.zeros(rows.size, dtype=bool)
    if mode == "venue":
        near, factor = (d[rows] for d in (venue or VenueFunding()).draws(population.n_accounts))
        amount = np.zeros(rows.size)
        for _ in range(_TOP_UP_ROUNDS):
            margins = model.compute(_with_balances(book, collateral, amount))
            need = np.where(near, margins.maintenance_margin, margins.initial_margin) * factor
            amount = np.maximum((need - positions_usd) / price, 0.0)
        book = _with_balances(book, collateral, amount)
    elif mode != "as_given":
        if mode == "leverage":
            base = np.maximum(balances_usd(book), 0.0)
            factor = np.full(rows.size, min_cushion)
        else:
            base = np.zeros(rows.size)
            factor = 1.0 / population.utilisation[rows]
        amount = base / price
        for _ in range(_TOP_UP_ROUNDS):
            trial = _with_balances(book, collateral, amount)
            im = model.compute(trial).initial_margin
            need = (factor * im - positions_usd) / price
            topped = need > base / price
            amount = np.maximum(base / price, need) if mode == "leverage" else need
        book = _with_balances(book, collateral, amount)
    result = model.compute(book)
    notional = book.notional_usd().copy()
    return FundedBook(
        model=model.name,
        book=book,
        rows=rows,
        equity=account_equity(book).equity,
        initial_margin=result.initial_margin,
        maintenance_margin=result.maintenance_margin,
        notional=np.asarray(notional, dtype=np.float64),
        topped_up=topped,
        excluded=population.n_accounts - int(rows.size),
        near_mm=near,
    )

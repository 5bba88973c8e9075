"""Stress tests: each account's USD loss under each shock against its equity and its margin.

For a set of deterministic shocks the book is revalued once: one shock array per instrument
and scenario (:func:`~pmargin.stress.joint_arrays`), one kernel call
(:func:`pmargin.risk.usd_pnl`, coin-settled P&L converted at the SHOCKED coin price) and one
sparse product. Balances move with their coin (``balance * usd_price * move``); stablecoins and
USD are not shocked (unless a shock names them, which moves the balances only). The shock is
instantaneous: no time passes, no funding is paid.

A :class:`~pmargin.stress.CorrelationShock` is revalued on its own Monte Carlo draws and
reported as the ``level`` quantile of the loss (:func:`pmargin.risk.var`), next to the same
quantile with the unstressed correlation and the same draws (``base_loss``).

Flags (strict inequalities, so a loss exactly equal to IM or equity raises neither):
``margin_breach = loss > initial_margin`` and ``default = loss > equity``;
``equity_after = equity - loss``.

A **coin-settled account** (every position settles in one coin and every balance is that coin:
its margin and equity are held in the coin) is also measured in its coin: with ``p`` the coin's
USD price before and ``m`` its move in the scenario, the loss in coin is ``equity / p -
equity_after / (p (1 + m))`` and its IM in coin ``IM / p``, and ``margin_breach`` compares
these two: a calendar whose coin value rises as the coin falls is no breach, though its USD
value falls. A correlation shock has no single move: the USD rule stays. ``default`` needs no
such rule (``equity_after < 0`` in any currency).

A user shock must name what the book holds: a spot move an underlying of an instrument in
the book or an asset of a balance, a vol shock an underlying of an instrument in the book
(``vol`` alone shocks all). A name the book does not hold (``BTX=-0.3``, ``DOGE=-0.5`` on a
BTC book) is refused, since its zero loss would read as "safe"; ``allow_unheld=True``
(``--allow-unheld``) runs it anyway. Named historical episodes move BTC and ETH whatever the
book holds and are not checked. Losses must be finite: a NaN or infinite loss (from inputs
out of range) is an error naming the scenario and the account. Equity is marked to market
without haircuts (:func:`pmargin.collateral.account_equity`); IM comes from the chosen margin
model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray, TaskMap
from pmargin.book import BookArrangement, Portfolio, arrange
from pmargin.collateral import account_equity, balance_scenario_pnl
from pmargin.errors import InputError
from pmargin.history import PriceHistory, load_price_history, to_datetime64
from pmargin.margin import MarginModel, get_model
from pmargin.market import MarketSnapshot
from pmargin.risk import account_pnl, usd_pnl, var
from pmargin.scenarios import MonteCarloModel, blend_correlation
from pmargin.stress._episodes import HistoricalEpisode
from pmargin.stress._shock import ALL_UNDERLYINGS, CorrelationShock, StressShock, joint_arrays

__all__ = ["ScenarioInfo", "StressInput", "StressReport", "account_currencies", "stress_test"]

StressInput = StressShock | CorrelationShock | HistoricalEpisode
"""What :func:`stress_test` takes as a scenario."""


@dataclass(frozen=True, slots=True)
class ScenarioInfo:
    """What one column of a stress report is.

    Attributes
    ----------
    name, kind, description
        Scenario name, ``"historical"`` / ``"user"`` / ``"correlation"``, and one line.
    details
        The shock's parameters (moves, vol shocks; the window and closes of an episode; the
        stressed correlation of a correlation shock), JSON-ready.
    unshocked
        Underlyings of instruments in the book that the scenario leaves at their price.
    """

    name: str
    kind: str
    description: str
    details: dict[str, Any]
    unshocked: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StressReport:
    """Losses of every account under every scenario, with equity and margin (USD).

    Attributes
    ----------
    model
        Margin model of ``initial_margin``.
    timestamp
        Market snapshot instant.
    account_ids
        Row order.
    scenarios
        Column order.
    loss
        Shape ``(n_accounts, n_scenarios)``: USD loss (positive = loss, negative = gain); a
        correlation shock's column holds its loss quantile.
    base_loss
        Shape ``(n_accounts, n_scenarios)``: a correlation shock's quantile with the
        unstressed correlation; NaN in other columns.
    equity, initial_margin, maintenance_margin
        Shape ``(n_accounts,)``, USD, before the shock.
    notes
        The margin model's one-line notes (Deribit: the reading of its unpublished parts).
    currency
        Each account's currency: its coin where the account is coin-settled (module
        docstring), else ``"USD"``; empty: every account in USD.
    currency_price
        Shape ``(n_accounts,)``: USD per unit of ``currency`` before the shock (1 for USD).
    currency_move
        Shape ``(n_accounts, n_scenarios)``: relative move of ``currency`` in each scenario (0
        for USD, NaN where the scenario has no single move: a correlation shock).
    """

    model: str
    timestamp: datetime
    account_ids: tuple[str, ...]
    scenarios: tuple[ScenarioInfo, ...]
    loss: FloatArray
    base_loss: FloatArray
    equity: FloatArray
    initial_margin: FloatArray
    maintenance_margin: FloatArray
    notes: tuple[str, ...] = ()
    currency: tuple[str, ...] = ()
    currency_price: FloatArray | None = None
    currency_move: FloatArray | None = None

    def _in_coin(self) -> tuple[np.ndarray, FloatArray, FloatArray]:
        """``(coin-settled (n,) booleans, price (n,), move (n, s))`` (all USD when unset)."""
        n, s = self.loss.shape
        if not self.currency or self.currency_price is None or self.currency_move is None:
            return np.zeros(n, dtype=bool), np.ones(n), np.zeros((n, s))
        coin = np.array([c != "USD" for c in self.currency], dtype=bool)
        return coin, self.currency_price, self.currency_move

    @property
    def loss_in_currency(self) -> FloatArray:
        """Shape ``(n_accounts, n_scenarios)``: the loss in each account's ``currency``.

        ``equity / p - equity_after / (p (1 + m))`` for a coin-settled account (module
        docstring), the USD loss otherwise; NaN for a coin-settled account under a
        correlation shock.
        """
        coin, price, move = self._in_coin()
        p = price[:, np.newaxis]
        with np.errstate(invalid="ignore"):
            in_coin = self.equity[:, np.newaxis] / p - self.equity_after / (p * (1.0 + move))
        result: FloatArray = np.where(coin[:, np.newaxis], in_coin, self.loss)
        return result

    @property
    def initial_margin_in_currency(self) -> FloatArray:
        """Shape ``(n_accounts,)``: IM in each account's ``currency`` (``IM / p``)."""
        _, price, _ = self._in_coin()
        result: FloatArray = self.initial_margin / price
        return result

    @property
    def equity_after(self) -> FloatArray:
        """Shape ``(n_accounts, n_scenarios)``: ``equity - loss``, USD."""
        result: FloatArray = self.equity[:, np.newaxis] - self.loss
        return result

    @property
    def margin_breach(self) -> np.ndarray:
        """Boolean ``(n_accounts, n_scenarios)``: ``loss > initial_margin``.

        In the coin for a coin-settled account with a single move (module docstring).
        """
        coin, _, move = self._in_coin()
        measured = coin[:, np.newaxis] & np.isfinite(move)
        usd = self.loss > self.initial_margin[:, np.newaxis]
        with np.errstate(invalid="ignore"):
            in_coin = self.loss_in_currency > self.initial_margin_in_currency[:, np.newaxis]
        return np.asarray(np.where(measured, in_coin, usd))

    @property
    def default(self) -> np.ndarray:
        """Boolean ``(n_accounts, n_scenarios)``: ``loss > equity``."""
        return np.asarray(self.loss > self.equity[:, np.newaxis])

    def to_dict(self) -> dict[str, Any]:
        """Return the ``pmargin stress --json`` document: per scenario, per account."""
        after, breach, default = self.equity_after, self.margin_breach, self.default
        in_currency, im_currency = self.loss_in_currency, self.initial_margin_in_currency
        scenarios = []
        for j, info in enumerate(self.scenarios):
            accounts = []
            for a, account_id in enumerate(self.account_ids):
                row: dict[str, Any] = {
                    "id": account_id,
                    "loss": float(self.loss[a, j]),
                    "equity": float(self.equity[a]),
                    "equity_after": float(after[a, j]),
                    "initial_margin": float(self.initial_margin[a]),
                    "maintenance_margin": float(self.maintenance_margin[a]),
                    "margin_breach": bool(breach[a, j]),
                    "default": bool(default[a, j]),
                }
                if np.isfinite(self.base_loss[a, j]):
                    row["base_loss"] = float(self.base_loss[a, j])
                if self.currency and self.currency[a] != "USD":
                    row["currency"] = self.currency[a]
                    value = float(in_currency[a, j])
                    row["loss_currency"] = value if math.isfinite(value) else None
                    row["initial_margin_currency"] = float(im_currency[a])
                accounts.append(row)
            scenarios.append(
                {
                    "name": info.name,
                    "kind": info.kind,
                    "description": info.description,
                    "shock": info.details,
                    "unshocked": list(info.unshocked),
                    "accounts": accounts,
                }
            )
        document: dict[str, Any] = {
            "model": self.model,
            "timestamp": self.timestamp.isoformat(),
            "currency": "USD",
            "scenarios": scenarios,
        }
        if self.notes:
            document["notes"] = list(self.notes)
        return document


def stress_test(
    book: Portfolio | BookArrangement,
    market: MarketSnapshot,
    scenarios: Sequence[StressInput],
    *,
    model: str = "deribit",
    params: str | Path | None = None,
    history: PriceHistory | None = None,
    data: str | Path | None = None,
    allow_unheld: bool = False,
    tasks: TaskMap | None = None,
) -> StressReport:
    """Each account's USD loss under each scenario against its equity and initial margin.

    Parameters
    ----------
    book
        Accounts, balances and positions (or a book already arranged against ``market``).
    market
        The snapshot the shocks are applied to.
    scenarios
        Shocks in column order: :class:`StressShock`, :class:`HistoricalEpisode` (its
        ``shock``) or :class:`CorrelationShock`.
    model, params
        Margin model (``pmargin.margin.MODELS``) and optional parameter file for the IM.
    history
        Daily closes for correlation shocks (default: loaded from ``data``).
    data
        Shared data folder (else ``$PMARGIN_SHARED_DATA``, else ``../shared/data``).
    allow_unheld
        Run user shocks that name underlyings or assets the book does not hold (they move
        nothing); refused by default.
    tasks
        Where the accounts' losses run (:meth:`~pmargin._typing.TaskMap.map_accounts`: a Dask
        cluster); ``None``: here. The margin model is built and the Monte Carlo draws of
        correlation shocks are drawn once, here, and every block revalues them for its
        accounts; the numbers are the same bit for bit.

    Returns
    -------
    StressReport
        Losses of shape ``(n_accounts, n_scenarios)`` in USD and the flags.

    Raises
    ------
    InputError
        No scenarios, repeated names, a user shock naming what the book does not hold
        (unless ``allow_unheld``), data a correlation shock needs is missing, or a loss that
        is not finite.
    """
    items = list(scenarios)
    if not items:
        raise InputError("scenarios", items, "must hold at least one scenario")
    names = [s.name for s in items]
    for name in names:
        if names.count(name) > 1:
            raise InputError("scenario", name, "is named twice")
    arranged = book if isinstance(book, BookArrangement) else arrange(book, market)
    if not allow_unheld:
        _check_targets(items, arranged)
    margin_model = get_model(model, params)
    held = tuple(dict.fromkeys(i.underlying.upper() for i in arranged.instruments))
    infos: list[ScenarioInfo] = []
    fixed = [
        (j, s.shock if isinstance(s, HistoricalEpisode) else s)
        for j, s in enumerate(items)
        if not isinstance(s, CorrelationShock)
    ]
    for s in items:
        if isinstance(s, HistoricalEpisode):
            shock = s.shock
            infos.append(_info(shock, {**s.to_dict(), **shock.to_dict()}, held))
        elif isinstance(s, StressShock):
            infos.append(_info(s, s.to_dict(), held))
        else:
            infos.append(ScenarioInfo(s.name, s.kind, s.describe(), s.to_dict(), ()))
    draws: dict[int, tuple[dict[str, FloatArray], dict[str, FloatArray]]] = {}
    for j, s in enumerate(items):
        if isinstance(s, CorrelationShock):
            if history is None:
                history = load_price_history(data, frequency="1d", with_dvol=False)
            stressed, base, details, unshocked = _correlation_draws(market, s, history, held)
            draws[j] = (stressed, base)
            infos[j] = ScenarioInfo(
                s.name, s.kind, s.describe(), {**s.to_dict(), **details}, unshocked
            )
    args = (items, fixed, draws, margin_model)
    blocks = (
        [_block_losses(arranged, *args)]
        if tasks is None
        else tasks.map_accounts(_block_losses, arranged, *args)
    )
    loss, base_loss, equity, im, mm = (np.concatenate([b[k] for b in blocks]) for k in range(5))
    _check_finite(loss, arranged.account_ids, infos)
    currency = account_currencies(arranged)
    price = np.array([1.0 if c == "USD" else market.usd_price(c) for c in currency])
    move = np.zeros((len(currency), len(items)))
    coin = np.array([c != "USD" for c in currency], dtype=bool)
    for j, item in enumerate(items):
        single = item.shock if isinstance(item, HistoricalEpisode) else item
        if not isinstance(single, StressShock):
            move[coin, j] = np.nan  # a correlation shock: no single move
            continue
        for a in np.flatnonzero(coin):
            move[a, j] = single.multiplier(currency[a]) - 1.0
    return StressReport(
        model=model,
        timestamp=market.timestamp,
        account_ids=arranged.account_ids,
        scenarios=tuple(infos),
        loss=loss,
        base_loss=base_loss,
        equity=equity,
        initial_margin=im,
        maintenance_margin=mm,
        notes=tuple(dict.fromkeys(n for b in blocks for n in b[5])),
        currency=currency,
        currency_price=price,
        currency_move=move,
    )


def account_currencies(book: BookArrangement) -> tuple[str, ...]:
    """Each account's currency: its coin where it is coin-settled, else ``"USD"``.

    Coin-settled: every position settles in one coin (inverse contracts) and every non-zero
    balance is that coin, so the account's margin and equity are held in it.

    Returns
    -------
    tuple of str
        One code per account (row order), ``n_accounts`` long.
    """
    settlement = np.asarray(book.settlement_currencies, dtype=object)
    inverse = np.array([i.is_inverse for i in book.instruments], dtype=bool)
    quantity = sparse.csr_array(book.quantity)
    balances = book.balance_matrix
    out: list[str] = []
    for a in range(len(book.account_ids)):
        cols = quantity.indices[quantity.indptr[a] : quantity.indptr[a + 1]]
        held = {str(c) for c in settlement[cols]}
        held |= {book.assets[k] for k in np.flatnonzero(balances[a] != 0.0)}
        coin = next(iter(held)) if len(held) == 1 else ""
        coin_settled = bool(cols.size) and bool(inverse[cols].all()) and coin in book.market.index
        out.append(coin if coin_settled else "USD")
    return tuple(out)


def _block_losses(
    book: BookArrangement,
    items: Sequence[StressInput],
    fixed: Sequence[tuple[int, StressShock]],
    draws: dict[int, tuple[dict[str, FloatArray], dict[str, FloatArray]]],
    model: MarginModel,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, tuple[str, ...]]:
    """Losses of the accounts of ``book`` (all of them, or one block of rows).

    Returns ``loss`` and ``base_loss`` ``(n_accounts, n_scenarios)``, equity, IM and MM
    ``(n_accounts,)`` (USD) and the margin model's notes; every number from the account's
    own row, so a block's rows are the whole book's, bit for bit.
    """
    margin = model.compute(book)
    equity = account_equity(book).equity
    n_accounts, n_scen = len(book.account_ids), len(items)
    loss = np.zeros((n_accounts, n_scen))
    base_loss = np.full((n_accounts, n_scen), np.nan)
    if fixed:
        shocks = [s for _, s in fixed]
        columns = [j for j, _ in fixed]
        loss[:, columns] = -_deterministic_pnl(book, shocks)
    for j, (stressed, base) in draws.items():
        shock = items[j]
        assert isinstance(shock, CorrelationShock)
        loss[:, j], base_loss[:, j] = (
            _quantile_loss(book, shock, multiplier) for multiplier in (stressed, base)
        )
    return (
        loss,
        base_loss,
        np.asarray(equity, dtype=np.float64),
        np.asarray(margin.initial_margin, dtype=np.float64),
        np.asarray(margin.maintenance_margin, dtype=np.float64),
        margin.notes,
    )


def _check_targets(items: Sequence[StressInput], book: BookArrangement) -> None:
    """Raise naming the first user shock target the book holds no position on or balance of."""
    underlyings = {i.underlying.upper() for i in book.instruments}
    assets = {a.upper() for a in book.assets}
    for s in items:
        if isinstance(s, HistoricalEpisode) or s.kind == "historical":
            continue
        spot = s.spot_moves if isinstance(s, StressShock) else {}
        targets = [(code, underlyings | assets) for code in spot]
        targets += [(code, underlyings) for code in s.vol_shocks if code != ALL_UNDERLYINGS]
        for code, allowed in targets:
            if code not in allowed:
                held = ", ".join(sorted(allowed)) or "nothing"
                raise InputError(
                    f"scenario {s.name}",
                    code,
                    f"is not held by the book (it holds {held}): a shock on it moves nothing; "
                    "check the name, or allow unheld targets (--allow-unheld)",
                )


def _check_finite(
    loss: FloatArray, account_ids: Sequence[str], infos: Sequence[ScenarioInfo]
) -> None:
    """Raise naming the first scenario and account whose loss is NaN or infinite."""
    bad = np.argwhere(~np.isfinite(loss))
    if bad.size:
        a, j = (int(x) for x in bad[0])
        raise InputError(
            f"scenario {infos[j].name}: account {account_ids[a]}: loss",
            float(loss[a, j]),
            "is not a finite number (USD): an input (price, balance, quantity) is out of range",
        )


def _info(shock: StressShock, details: dict[str, Any], held: tuple[str, ...]) -> ScenarioInfo:
    description = shock.description or shock.describe()
    unshocked = tuple(u for u in held if u not in shock.spot_moves)
    return ScenarioInfo(shock.name, shock.kind, description, details, unshocked)


def _account_pnl(
    book: BookArrangement,
    multiplier: dict[str, FloatArray],
    owners: Sequence[StressShock | CorrelationShock],
    n_scenarios: int,
) -> FloatArray:
    """USD P&L ``(n_accounts, n_scenarios)`` of positions and balances under the moves."""
    arrays = joint_arrays(book.resolved, multiplier, owners, n_scenarios)
    per_unit = usd_pnl(book.resolved, arrays.spot_multiplier, arrays.vol)
    pnl = account_pnl(book.quantity, per_unit)
    for asset in book.assets:
        if asset in multiplier:
            pnl += balance_scenario_pnl(book, asset, multiplier[asset])
    return pnl


def _deterministic_pnl(book: BookArrangement, shocks: Sequence[StressShock]) -> FloatArray:
    """USD P&L ``(n_accounts, len(shocks))``: one kernel call, one sparse product."""
    codes = dict.fromkeys(code for s in shocks for code in s.spot_moves)
    multiplier = {c: np.array([s.multiplier(c) for s in shocks]) for c in codes}
    return _account_pnl(book, multiplier, shocks, len(shocks))


def _correlation_draws(
    market: MarketSnapshot,
    shock: CorrelationShock,
    history: PriceHistory,
    held: tuple[str, ...],
) -> tuple[dict[str, FloatArray], dict[str, FloatArray], dict[str, Any], tuple[str, ...]]:
    """Draw the shock's Monte Carlo scenarios, stressed and base, once for every account.

    Returns the spot multipliers ``underlying -> (n_scenarios,)`` of the stressed and of the
    unstressed correlation (the same seed, so the same draws), the details and the
    underlyings left unshocked.
    """
    as_of = min(to_datetime64(market.timestamp), history.times[-1])
    model = MonteCarloModel.from_history(
        history,
        as_of=as_of,
        lookback_days=shock.lookback_days,
        mpor=shock.horizon_hours,
        correlation="sample",
        vols="ewma",
    )
    stressed = blend_correlation(model.correlation, shock.factor, model.names)
    multipliers = []
    for correlation in (stressed.matrix, model.correlation):
        draws = model.with_correlation(correlation).generate(shock.n_scenarios, shock.seed)
        multipliers.append({n: draws.spot_multiplier[k] for k, n in enumerate(model.names)})
    details = {
        "as_of": str(as_of),
        "underlyings": list(model.names),
        "vols": model.vols.tolist(),
        "base_correlation": model.correlation.tolist(),
        "stressed_correlation": stressed.matrix.tolist(),
    }
    unshocked = tuple(u for u in held if u not in model.names)
    return multipliers[0], multipliers[1], details, unshocked


def _quantile_loss(
    book: BookArrangement, shock: CorrelationShock, multiplier: dict[str, FloatArray]
) -> FloatArray:
    """Return each account's ``level`` loss quantile over the draws, ``(n_accounts,)`` USD."""
    pnl = _account_pnl(book, multiplier, [shock], shock.n_scenarios)
    if not pnl.shape[0]:
        return np.zeros(0)
    return np.asarray(var(pnl.T, shock.level), dtype=np.float64).reshape(-1)

"""The liquidation engine: partial liquidation, insurance fund, auto-deleveraging, bad debt.

For every account whose equity is below its maintenance margin (largest shortfall first; a
shortfall within :data:`ROUNDING_USD` is rounding, e.g. an account settled to zero equity that
reads -1e-12 USD afterwards):

1. **Partial liquidation.** Each step closes part of one position on the market, at
   ``mark (1 -/+ impact)`` with a penalty, and asks the account's margin after that close of
   the one what-if path (:class:`~pmargin.health.AccountWhatIf`: the model's incremental path
   where it has one, else the account margined alone). The position is the first, in the
   configured order, whose largest step (``max_fraction`` of its size at the trigger) raises
   neither IM nor MM; the step is the smallest close (bisection) that brings equity back to
   the target, or the largest step when none does. Order ``"contribution"``: positions whose
   IM contribution is positive, by ``contribution share closed x kappa / (slippage +
   penalty)`` with ``kappa`` the target's margin per USD of IM (``(1 + buffer) MM / IM`` or
   1), then the others by notional; ``"notional"``: largest notional first. Positions in
   paused underlyings are never touched.
2. **Bankruptcy** (equity < 0 with positions left; equity within :data:`ROUNDING_USD` of zero
   is zero, so a rounding residue never decides it): options and spot are closed on the
   market; futures and perpetuals too when the insurance fund covers the deficit that leaves,
   else they are **auto-deleveraged**: matched against the highest-ranked opposite positions
   (:mod:`~pmargin.liquidation._adl`) at the bankruptcy price, which moves the deficit the
   fund cannot pay to the counterparties (allocated over positions by notional, at most
   ``max_price_move`` from the mark); unmatched quantity is closed on the market.
3. **Settlement** of a closed-out account with negative equity: the fund pays what it can
   (:class:`FundDraw`), the rest is written off as bad debt (:class:`BadDebt`); both credit
   the account's negative balances, so it ends at zero equity. An account with positions left
   in a paused underlying is not settled.

Counterparties of an ADL fill are re-checked and liquidated in turn if they fall below MM.

**Margins.** One :class:`~pmargin.health.AccountWhatIf` per engine run holds every account's
margin: a trial close is :meth:`~pmargin.health.AccountWhatIf.margin_after` (no side effect),
every event that changes an account (a fill, an ADL fill, a fund draw or bad debt credit) is
booked into it with :meth:`~pmargin.health.AccountWhatIf.commit`, so later trials start from
the changed account. The :class:`~pmargin.liquidation._ledger.Ledger` stays the record of the
episode (fills, penalties, fund, ADL, bad debt; :func:`~pmargin.liquidation.replay`).
:meth:`LiquidationEngine.run_reference` is the slow twin: the same engine with every margin
from :meth:`~pmargin.health.AccountWhatIf.margin_after_reference` (the account rebuilt from
scratch and margined alone), the IM contributions too.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np

from pmargin._typing import BoolArray, FloatArray
from pmargin.book import AccountHoldings, BookArrangement, trade_pnl
from pmargin.health import AccountWhatIf, MarginSnapshot, Requirement, Trade, required_equity
from pmargin.liquidation._adl import adl_score, rank_opposite
from pmargin.liquidation._config import LiquidationConfig, load_config
from pmargin.liquidation._costs import (
    fill_price,
    impact,
    penalty_rate,
    penalty_usd,
    split_penalty,
)
from pmargin.liquidation._events import (
    AdlFill,
    BadDebt,
    FundDraw,
    LiquidationEvent,
    LiquidationFill,
    LiquidationFinished,
    LiquidationTriggered,
)
from pmargin.liquidation._ledger import Ledger
from pmargin.liquidation._state import (
    InsuranceFund,
    LiquidationOutcome,
    state_of,
)
from pmargin.margin import MarginModel, MarginResult

__all__ = ["ROUNDING_USD", "LiquidationEngine", "bankruptcy_price", "below_maintenance"]

ROUNDING_USD = 1e-9
"""Amounts below this (USD) are rounding, not money: no fund draw or bad debt for them, an
equity within it of zero is zero, and a shortfall below it is no shortfall."""


def below_maintenance(
    equity: FloatArray, initial_margin: FloatArray, maintenance_margin: FloatArray
) -> BoolArray:
    """Accounts whose equity fails the maintenance requirement by more than rounding.

    Parameters
    ----------
    equity, initial_margin, maintenance_margin
        USD, shape ``(n_accounts,)``.

    Returns
    -------
    BoolArray
        Shape ``(n_accounts,)``: ``equity < MM - ROUNDING_USD`` (a shortfall within
        :data:`ROUNDING_USD` is rounding, e.g. an account settled to zero equity that reads
        -1e-12 USD afterwards): the accounts the engine liquidates.
    """
    margin = required_equity(Requirement.MAINTENANCE, initial_margin, maintenance_margin)
    below: BoolArray = equity < margin - ROUNDING_USD
    return below


def bankruptcy_price(kind_inverse: bool, quantity: float, mark: float, gain: float) -> float:
    """Price at which trading ``quantity`` gains ``gain`` (cash asset units) against ``mark``.

    Linear: ``dq (m - p) = g``, so ``p = m - g / dq``. Inverse futures: ``dq (m / p - 1) = g``,
    so ``p = m / (1 + g / dq)``.
    """
    if kind_inverse:
        return mark / (1.0 + gain / quantity)
    return mark - gain / quantity


@dataclass(frozen=True, slots=True)
class _Quote:
    """A priced market close of one position (see :class:`LiquidationFill` for the fields)."""

    column: int
    quantity: float
    mark: float
    price: float
    impact: float
    depth: float
    notional: float
    slippage: float
    premium_usd: float | None
    cash_asset: str
    cash_usd: float


@dataclass(frozen=True, slots=True)
class _Trial:
    """A close tried on the account: its quote, penalty, the change and the margin after."""

    quote: _Quote
    rate: float
    penalty: float
    trades: tuple[Trade, ...]
    balances: dict[str, float]
    after: MarginSnapshot


class LiquidationEngine:
    """Liquidates every account of a book that is below maintenance margin.

    Parameters
    ----------
    model
        The margin model (``get_model(name)``); each account's margin after a change comes
        from one :class:`~pmargin.health.AccountWhatIf` of it.
    book
        The book; marks, fills and margins are computed at its market (``book.market``).
    fund
        The insurance fund before the episode; ``None`` starts it at the configuration's
        ``fund_initial_balance``.
    config
        Parameters; ``None`` loads the shipped ``liquidation.toml``.
    paused
        Underlyings whose positions must not be liquidated (circuit breakers).
    result
        ``model.compute(book)`` when already computed.

    Attributes
    ----------
    whatif
        The what-if every margin comes from (its commits are the episode's changes).
    result, equity
        The margin of ``book`` and every account's equity (USD, shape ``(n_accounts,)``)
        before the episode.

    Examples
    --------
    >>> outcome = LiquidationEngine(get_model("standard"), book).run()  # doctest: +SKIP
    >>> replay(book, fund, outcome.events) == outcome.state  # doctest: +SKIP
    """

    def __init__(
        self,
        model: MarginModel,
        book: BookArrangement,
        fund: InsuranceFund | float | None = None,
        *,
        config: LiquidationConfig | None = None,
        paused: Collection[str] = (),
        result: MarginResult | None = None,
    ) -> None:
        self.model = model
        self.book = book
        self.config = load_config() if config is None else config
        if fund is None:
            fund = self.config.fund_initial_balance
        self.fund = fund if isinstance(fund, InsuranceFund) else InsuranceFund(float(fund))
        self.paused = frozenset(paused)
        self.whatif = AccountWhatIf(model, book, result)
        self.result = self.whatif.result
        self.equity = self.whatif.equity
        resolved = book.resolved
        self._marks = book.valuation.price if len(resolved) else np.zeros(0)
        self._underlying_usd = resolved.underlying_usd
        self._cash = [i.cash_asset for i in book.instruments]
        self._cash_usd = np.array([book.market.usd_price(a) for a in self._cash], dtype=np.float64)
        self._ledger = Ledger(book, self.fund.balance_usd)
        self._events: list[LiquidationEvent] = []
        self._outcome: LiquidationOutcome | None = None
        self._reference = False

    # ------------------------------------------------------------------ public
    def run(self) -> LiquidationOutcome:
        """Process every account below MM and return the events and the state after.

        An engine runs once; a second call returns the same outcome.
        """
        if self._outcome is not None:
            return self._outcome
        r, equity = self.result, self.equity
        margin = required_equity(Requirement.MAINTENANCE, r.initial_margin, r.maintenance_margin)
        below = np.flatnonzero(below_maintenance(equity, r.initial_margin, r.maintenance_margin))
        queue = [int(r) for r in below[np.argsort(equity[below] - margin[below], kind="stable")]]
        visits: dict[int, int] = {}
        liquidated: list[str] = []
        while queue:
            row = queue.pop(0)
            visits[row] = visits.get(row, 0) + 1
            if visits[row] > 3:
                continue
            m = self._now(row)
            if m.surplus(Requirement.MAINTENANCE) >= -ROUNDING_USD:
                continue
            liquidated.append(self.book.account_ids[row])
            for other in self._liquidate(row, m):
                if other not in queue:
                    queue.append(other)
        outcome = LiquidationOutcome(
            events=tuple(self._events), state=state_of(self._ledger), liquidated=tuple(liquidated)
        )
        self._outcome = outcome
        return outcome

    def run_reference(self) -> LiquidationOutcome:
        """:meth:`run` with every margin re-margined from scratch (the slow twin).

        A fresh engine of the same inputs whose trials, margins and IM contributions come from
        the what-if's reference path (:meth:`~pmargin.health.AccountWhatIf.margin_after_reference`:
        each account rebuilt from its explicit state and margined alone). This engine is not
        changed.
        """
        twin = LiquidationEngine(
            self.model,
            self.book,
            self.fund,
            config=self.config,
            paused=self.paused,
            result=self.result,
        )
        twin._reference = True
        return twin.run()

    # ------------------------------------------------------------------ margins
    def _after(
        self, row: int, trades: tuple[Trade, ...], balances: Mapping[str, float]
    ) -> MarginSnapshot:
        """Account ``row``'s margin after a change (no side effect)."""
        if self._reference:
            return self.whatif.margin_after_reference(row, trades, balances)
        return self.whatif.margin_after(row, trades, balances)

    def _now(self, row: int) -> MarginSnapshot:
        """Account ``row``'s margin now (after the episode's changes to it)."""
        if self._reference:
            return self.whatif.margin_after_reference(row)
        return self.whatif.snapshot(row)

    def _contributions(self, row: int) -> dict[int, float]:
        """IM contribution (USD) of each position of account ``row`` now, by book column."""
        if self._reference:
            return self.whatif.contributions_reference(row)
        return self.whatif.contributions(row)

    # ------------------------------------------------------------------ one account
    def _liquidate(self, row: int, m: MarginSnapshot) -> list[int]:
        """Liquidate one account; return the ADL counterparties to re-check."""
        cfg = self.config
        state = self._ledger.account(row)
        account = self.book.account_ids[row]
        held_paused = sorted(
            {self.book.instruments[j].underlying for j in state.positions} & self.paused
        )
        self._emit(
            LiquidationTriggered(
                account=account,
                equity=m.equity,
                initial_margin=m.initial_margin,
                maintenance_margin=m.maintenance_margin,
                target_equity=cfg.target.required(m.initial_margin, m.maintenance_margin),
                paused=tuple(held_paused),
            )
        )
        initial = {j: abs(q) for j, q in state.positions.items()}
        steps = 0
        counterparties: list[int] = []
        while True:
            closable = self._closable(row)
            if m.covers(Requirement.LIQUIDATION_END, cfg.target.end):
                outcome = "restored"
                break
            if m.equity < -ROUNDING_USD and closable:
                steps, m, outcome, counterparties = self._bankrupt(row, m, closable, steps)
                break
            if not state.positions:
                outcome = "closed_out"
                if m.equity < -ROUNDING_USD:
                    m, outcome = self._settle(row), "bankrupt"
                break
            if not closable:
                outcome = "paused"
                break
            if steps >= cfg.steps.max_steps:
                outcome = "max_steps"
                break
            trial = self._step(row, m, closable, initial)
            if trial is None:
                outcome = "stuck"
                break
            m = self._commit(row, m, trial, "partial")
            steps += 1
        self._emit(
            LiquidationFinished(
                account=account,
                outcome=outcome,
                steps=steps,
                equity=m.equity,
                initial_margin=m.initial_margin,
                maintenance_margin=m.maintenance_margin,
            )
        )
        return counterparties

    def _closable(self, row: int) -> list[int]:
        state = self._ledger.account(row)
        instruments = self.book.instruments
        return [j for j in state.positions if instruments[j].underlying not in self.paused]

    def _step(
        self, row: int, m: MarginSnapshot, closable: list[int], initial: dict[int, float]
    ) -> _Trial | None:
        """Find the next partial close: first acceptable candidate, smallest size to target."""
        cfg = self.config
        state = self._ledger.account(row)
        im, mm = m.initial_margin, m.maintenance_margin
        rate = penalty_rate(m.equity, mm, cfg.penalty)
        tol = 1e-9 * max(1.0, mm, im)

        def raises_margin(trial: _Trial) -> bool:
            after = trial.after
            return after.maintenance_margin > mm + tol or after.initial_margin > im + tol

        for j in self._order(row, m, closable, initial, rate, state):
            x_max = min(abs(state.positions[j]), cfg.steps.max_fraction * initial.get(j, 0.0))
            x_max = x_max if x_max > 0.0 else abs(state.positions[j])
            top = self._trial(row, state, j, x_max, rate, m.equity)
            if raises_margin(top):
                continue
            if self._gap(top.after) < 0.0:
                return top
            lo, hi, best = 0.0, x_max, top
            while hi - lo > cfg.steps.size_tolerance * x_max:
                mid = 0.5 * (lo + hi)
                trial = self._trial(row, state, j, mid, rate, m.equity)
                if self._gap(trial.after) >= 0.0:
                    hi, best = mid, trial
                else:
                    lo = mid
            if raises_margin(best):
                return top
            return best
        return None

    def _gap(self, m: MarginSnapshot) -> float:
        return m.surplus(Requirement.LIQUIDATION_END, self.config.target.end)

    def _order(
        self,
        row: int,
        m: MarginSnapshot,
        closable: list[int],
        initial: dict[int, float],
        rate: float,
        state: AccountHoldings,
    ) -> list[int]:
        """Candidate columns, best first (module docstring).

        The IM contributions are asked for only where there is an order to choose (two or
        more candidates): one candidate comes first whatever its score.
        """
        cfg = self.config
        notional = {j: abs(state.positions[j]) * float(self._underlying_usd[j]) for j in closable}
        by_notional = sorted(closable, key=lambda j: (-notional[j], j))
        if cfg.steps.method == "notional" or len(closable) < 2:
            return by_notional
        im, mm = m.initial_margin, m.maintenance_margin
        kappa = cfg.target.required(im, mm) / im if im > 0.0 else 1.0
        contributions = self._contributions(row)
        scores: dict[int, float] = {}
        for j in closable:
            c = contributions.get(j, 0.0)
            if c <= 0.0:
                continue
            q = abs(state.positions[j])
            x = min(q, cfg.steps.max_fraction * initial.get(j, q)) or q
            quote = self._quote(state, j, x)
            cost = quote.slippage + penalty_usd(
                rate, quote.notional, quote.premium_usd, math.inf, cfg.penalty
            )
            gain = c * (x / q) * kappa
            scores[j] = gain / cost if cost > 0.0 else math.inf
        first = sorted(scores, key=lambda j: (-scores[j], j))
        return first + [j for j in by_notional if j not in scores]

    # ------------------------------------------------------------------ pricing
    def _quote(self, state: AccountHoldings, column: int, size: float) -> _Quote:
        """Price closing ``size`` base units of the position in ``column`` on the market."""
        instrument = self.book.instruments[column]
        held = state.positions[column]
        quantity = -math.copysign(size, held)
        mark = float(self._marks[column])
        notional = size * float(self._underlying_usd[column])
        depth = self.config.slippage.depth(instrument.kind.value, instrument.underlying)
        relative = impact(notional, depth, self.config.slippage)
        price = fill_price(mark, quantity, relative)
        cash_usd = float(self._cash_usd[column])
        slippage = -trade_pnl(instrument, quantity, mark, price) * cash_usd
        premium = size * mark * cash_usd if instrument.is_option else None
        return _Quote(
            column=column,
            quantity=quantity,
            mark=mark,
            price=price,
            impact=relative,
            depth=depth,
            notional=notional,
            slippage=max(slippage, 0.0),
            premium_usd=premium,
            cash_asset=self._cash[column],
            cash_usd=cash_usd,
        )

    def _trial(
        self, row: int, state: AccountHoldings, column: int, size: float, rate: float, equity: float
    ) -> _Trial:
        """Close ``size`` of ``column`` (and debit the penalty) in a what-if of the account."""
        quote = self._quote(state, column, size)
        penalty = penalty_usd(
            rate, quote.notional, quote.premium_usd, equity - quote.slippage, self.config.penalty
        )
        trades = (Trade(self.book.instruments[column], quote.quantity, quote.price),)
        balances = {quote.cash_asset: -penalty / quote.cash_usd}
        return _Trial(quote, rate, penalty, trades, balances, self._after(row, trades, balances))

    def _commit(self, row: int, m: MarginSnapshot, trial: _Trial, reason: str) -> MarginSnapshot:
        """Record a fill event for ``trial``; book it into the ledger and the what-if."""
        q = trial.quote
        fund, liquidator = split_penalty(trial.penalty, self.config.penalty)
        self._emit(
            LiquidationFill(
                account=self.book.account_ids[row],
                instrument=self.book.instruments[q.column].symbol,
                quantity=q.quantity,
                mark=q.mark,
                fill_price=q.price,
                impact=q.impact,
                depth_usd=q.depth,
                notional_usd=q.notional,
                slippage_usd=q.slippage,
                penalty_rate=trial.rate,
                penalty_usd=trial.penalty,
                penalty_fund_usd=fund,
                penalty_liquidator_usd=liquidator,
                cash_asset=q.cash_asset,
                cash_usd=q.cash_usd,
                equity_before=m.equity,
                equity_after=trial.after.equity,
                initial_margin_before=m.initial_margin,
                initial_margin_after=trial.after.initial_margin,
                maintenance_margin_before=m.maintenance_margin,
                maintenance_margin_after=trial.after.maintenance_margin,
                reason=reason,
            )
        )
        self.whatif.commit(row, trial.trades, trial.balances)
        return trial.after

    def _emit(self, event: LiquidationEvent) -> None:
        self._events.append(event)
        self._ledger.apply(event)

    # ------------------------------------------------------------------ bankruptcy
    def _close_all(
        self, row: int, m: MarginSnapshot, columns: Iterable[int], steps: int
    ) -> tuple[int, MarginSnapshot]:
        """Close each of ``columns`` entirely on the market (reason ``"bankrupt"``)."""
        for j in list(columns):
            state = self._ledger.account(row)
            if j not in state.positions:
                continue
            rate = penalty_rate(m.equity, m.maintenance_margin, self.config.penalty)
            trial = self._trial(row, state, j, abs(state.positions[j]), rate, m.equity)
            m = self._commit(row, m, trial, "bankrupt")
            steps += 1
        return steps, m

    def _bankrupt(
        self, row: int, m: MarginSnapshot, closable: list[int], steps: int
    ) -> tuple[int, MarginSnapshot, str, list[int]]:
        """Close out a bankrupt account: market, fund, ADL, bad debt (module docstring)."""
        state = self._ledger.account(row)
        instruments = self.book.instruments
        notional = {j: abs(state.positions[j]) * float(self._underlying_usd[j]) for j in closable}
        ordered = sorted(closable, key=lambda j: (-notional[j], j))
        futures = [j for j in ordered if instruments[j].is_futures_style]
        others = [j for j in ordered if j not in futures]
        paused_left = len(closable) < len(state.positions)
        steps, m = self._close_all(row, m, others, steps)
        if paused_left:
            steps, m = self._close_all(row, m, futures, steps)
            return steps, m, "paused", []
        counterparties: list[int] = []
        if futures:
            slippage = sum(self._quote(state, j, abs(state.positions[j])).slippage for j in futures)
            if -(m.equity - slippage) <= self._ledger.fund_usd:
                steps, m = self._close_all(row, m, futures, steps)
            else:
                steps, m, counterparties = self._deleverage(row, m, futures, steps)
        m = self._settle(row)
        return steps, m, "bankrupt", counterparties

    def _deleverage(
        self, row: int, m: MarginSnapshot, futures: list[int], steps: int
    ) -> tuple[int, MarginSnapshot, list[int]]:
        """ADL ``futures`` of a bankrupt account at bankruptcy prices; the rest on the market."""
        state = self._ledger.account(row)
        instruments = self.book.instruments
        uncovered = max(-m.equity - self._ledger.fund_usd, 0.0)
        notional = {j: abs(state.positions[j]) * float(self._underlying_usd[j]) for j in futures}
        total = sum(notional.values())
        counterparties: list[int] = []
        for j in futures:
            held = state.positions[j]
            share = uncovered * notional[j] / total if total > 0.0 else 0.0
            share = min(share, self.config.adl.max_price_move * notional[j])
            mark = float(self._marks[j])
            cash_usd = float(self._cash_usd[j])
            price = bankruptcy_price(instruments[j].is_inverse, -held, mark, share / cash_usd)
            remaining = abs(held)
            ranked = rank_opposite(
                self._ledger.holders(j), held, row, partial(self._score, column=j)
            )
            for candidate in ranked:
                if remaining <= 0.0:
                    break
                take = min(remaining, abs(candidate.quantity))
                quantity = -math.copysign(take, held)
                transfer = trade_pnl(instruments[j], quantity, mark, price) * cash_usd
                before = self._now(candidate.row).equity
                theirs = (Trade(instruments[j], -quantity, price),)
                after = self._after(candidate.row, theirs, {}).equity
                self._emit(
                    AdlFill(
                        account=self.book.account_ids[row],
                        counterparty=self.book.account_ids[candidate.row],
                        instrument=instruments[j].symbol,
                        quantity=quantity,
                        mark=mark,
                        bankruptcy_price=price,
                        transfer_usd=transfer,
                        ranking=candidate.score,
                        cash_asset=self._cash[j],
                        cash_usd=cash_usd,
                        counterparty_equity_before=before,
                        counterparty_equity_after=after,
                    )
                )
                self.whatif.commit(row, (Trade(instruments[j], quantity, price),))
                self.whatif.commit(candidate.row, theirs)
                counterparties.append(candidate.row)
                remaining = abs(state.positions.get(j, 0.0))
            if j in state.positions:
                m = self._now(row)
                steps, m = self._close_all(row, m, [j], steps)
        return steps, self._now(row), counterparties

    def _score(self, row: int, quantity: float, *, column: int) -> float | None:
        """ADL ranking of ``row``'s position in ``column`` (``None``: equity <= 0)."""
        equity = self._now(row).equity
        notional = abs(quantity) * float(self._underlying_usd[column])
        if equity <= 0.0 or notional <= 0.0:
            return None
        unrealised = self._ledger.unrealised_of(row, column) * float(self._cash_usd[column])
        return adl_score(self.config.adl.ranking, quantity, notional, unrealised, equity)

    def _settle(self, row: int) -> MarginSnapshot:
        """Fund draw, then bad debt, for a closed-out account's negative equity."""
        m = self._now(row)
        deficit = -m.equity
        if deficit <= ROUNDING_USD:
            return m
        account = self.book.account_ids[row]
        fund = self._ledger.fund_usd
        draw = min(max(fund, 0.0), deficit)
        if draw > 0.0:
            credits = self._credits(row, draw)
            self._emit(
                FundDraw(
                    account=account,
                    amount_usd=draw,
                    fund_before=fund,
                    fund_after=fund - draw,
                    credits=credits,
                )
            )
            self.whatif.commit(row, (), credits)
        rest = deficit - draw
        if rest > ROUNDING_USD:
            credits = self._credits(row, rest)
            self._emit(BadDebt(account=account, amount_usd=rest, credits=credits))
            self.whatif.commit(row, (), credits)
        return self._now(row)

    def _credits(self, row: int, amount_usd: float) -> dict[str, float]:
        """Spread a USD credit over the account's negative balances, most negative first."""
        balances = self._ledger.account(row).balances
        market = self.book.market
        price = {a: market.usd_price(a) for a in balances}
        negative = sorted(
            (a for a in balances if balances[a] < 0.0), key=lambda a: (balances[a] * price[a], a)
        )
        credits: dict[str, float] = {}
        left = amount_usd
        for asset in negative:
            if left <= 0.0:
                break
            usd = min(left, -balances[asset] * price[asset])
            credits[asset] = usd / price[asset]
            left -= usd
        if left > 0.0:
            asset = negative[0] if negative else next(iter(sorted(balances)), "USD")
            price.setdefault(asset, market.usd_price(asset))
            credits[asset] = credits.get(asset, 0.0) + left / price[asset]
        return credits

"""A margin model's linear core: one account's IM as a convex piecewise-linear function of trades.

For a trade vector ``x`` (shape ``(n,)``, signed base units of the universe's instruments) the
core's IM (USD) is

    IM(x) = constant
          + sum_g weight_g x max(0, max_c (offset_gc + slope_g[:, c] . x))     (:class:`MaxTerm`)
          + sum_h weight_h x |offset_h + slope_h . x|                            (:class:`AbsTerm`)
          + sum_t weight_t x max(0, ES_1(x), ..., ES_m(x))                       (:class:`TailTerm`)

where ``ES_j`` is the expected shortfall of the loss ``-(pnl_j + x @ rows_j)`` over set ``j``'s
scenarios with probabilities ``p_j`` and tail mass ``beta_j`` (Acerbi-Tasche: the mean of the
worst ``beta_j`` of the probability, the last scenario counted in part). A worst loss over
scenarios is a :class:`MaxTerm`, a roll shock a sum of :class:`AbsTerm`, an ES margin with its
stressed and floor sets a :class:`TailTerm`: every piece is linear-programme representable
(Rockafellar-Uryasev for ES, ``pmargin.optimise._milp``). :meth:`LinearCore.evaluate` is the
direct formula (sorting for ES), the twin the programme is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pmargin._typing import FloatArray

__all__ = ["AbsTerm", "LinearCore", "MaxTerm", "TailSet", "TailTerm", "tail_mean"]


@dataclass(frozen=True, slots=True)
class MaxTerm:
    """``weight x max(0, max_c (offset_c + slope[:, c] . x))`` (USD).

    Attributes
    ----------
    weight
        USD per unit of the term (a unit's ``usd_rate``), >= 0.
    offset
        Shape ``(n_cells,)``: each cell's loss now.
    slope
        Shape ``(n, n_cells)``: each cell's loss per base unit of each candidate.
    """

    weight: float
    offset: FloatArray
    slope: FloatArray

    def value(self, x: FloatArray) -> float:
        """Return the term at trades ``x`` (USD)."""
        cells = self.offset + x @ self.slope
        return self.weight * max(0.0, float(np.max(cells, initial=0.0)))


@dataclass(frozen=True, slots=True)
class AbsTerm:
    """``weight x |offset + slope . x|`` (USD); ``slope`` of shape ``(n,)``."""

    weight: float
    offset: float
    slope: FloatArray

    def value(self, x: FloatArray) -> float:
        """Return the term at trades ``x`` (USD)."""
        return self.weight * abs(self.offset + float(self.slope @ x))


@dataclass(frozen=True, slots=True)
class TailSet:
    """One scenario set of a :class:`TailTerm`.

    Attributes
    ----------
    pnl
        Shape ``(n_scenarios,)``: the account's P&L now (USD).
    rows
        Shape ``(n, n_scenarios)``: P&L per base unit of each candidate (USD).
    probability
        Shape ``(n_scenarios,)``: scenario probabilities (sum 1).
    tail_mass
        The tail's probability, in ``(0, 1]`` (``k / n`` for the mean of the ``k`` worst of
        ``n`` equally likely scenarios; ``1 - confidence`` for Acerbi-Tasche).
    cash
        ``(buy, sell)``, each of shape ``(n, n_scenarios)`` or ``None``: P&L per base unit
        bought / sold of the cash the trade moves (an option's premium out of a coin balance
        that moves with the scenarios), added to ``rows`` on that side.
    """

    pnl: FloatArray
    rows: FloatArray
    probability: FloatArray
    tail_mass: float
    cash: tuple[FloatArray, FloatArray] | None = None

    def scenario_pnl(self, x: FloatArray) -> FloatArray:
        """Return the P&L after trades ``x`` (shape ``(n_scenarios,)``, USD)."""
        pnl = self.pnl + x @ self.rows
        if self.cash is not None:
            pnl = pnl + np.maximum(x, 0.0) @ self.cash[0] + np.maximum(-x, 0.0) @ self.cash[1]
        return pnl

    def measure(self, x: FloatArray) -> float:
        """Return the ES of the loss at trades ``x`` (USD, may be negative)."""
        return tail_mean(-self.scenario_pnl(x), self.probability, self.tail_mass)


@dataclass(frozen=True, slots=True)
class TailTerm:
    """``weight x max(0, ES over each set)`` (USD)."""

    weight: float
    sets: tuple[TailSet, ...]

    def value(self, x: FloatArray) -> float:
        """Return the term at trades ``x`` (USD)."""
        return self.weight * max(0.0, *(s.measure(x) for s in self.sets))


@dataclass(frozen=True, slots=True)
class LinearCore:
    """One account's IM over a universe of ``n`` candidates (module docstring).

    Attributes
    ----------
    n
        Number of candidates (the length of a trade vector).
    constant
        IM of the parts no candidate touches (USD).
    max_terms, abs_terms, tail_terms
        The pieces.
    exact
        Whether the core is the model's IM (else a linear approximation: a proposal is then
        polished with the true model).
    reason
        Why it is not exact (empty when it is).
    """

    n: int
    constant: float = 0.0
    max_terms: tuple[MaxTerm, ...] = ()
    abs_terms: tuple[AbsTerm, ...] = ()
    tail_terms: tuple[TailTerm, ...] = ()
    exact: bool = True
    reason: str = field(default="")

    def evaluate(self, x: FloatArray) -> float:
        """Return the core's IM at trades ``x`` (shape ``(n,)``, base units), USD: the formula."""
        v = np.asarray(x, dtype=np.float64)
        total = self.constant
        total += sum(term.value(v) for term in self.max_terms)
        total += sum(term.value(v) for term in self.abs_terms)
        total += sum(term.value(v) for term in self.tail_terms)
        return total


def tail_mean(loss: FloatArray, probability: FloatArray, tail_mass: float) -> float:
    """Mean of the worst ``tail_mass`` of the probability of ``loss`` (Acerbi-Tasche).

    Parameters
    ----------
    loss
        Shape ``(n,)``: losses (positive = loss).
    probability
        Shape ``(n,)``: probabilities (sum 1).
    tail_mass
        In ``(0, 1]``.

    Returns
    -------
    float
        ``(1 / tail_mass) x`` the probability-weighted sum of the largest losses until
        ``tail_mass`` is reached, the last one in part.
    """
    order = np.argsort(-loss, kind="stable")
    p = probability[order]
    before = np.concatenate([[0.0], np.cumsum(p)[:-1]])
    take = np.clip(tail_mass - before, 0.0, p)
    return float(take @ loss[order]) / tail_mass

"""Each margin model's linear core for one account and a universe (:class:`LinearCore`).

The scenario P&L per instrument comes from the models themselves, on a **probe book**: the
account's own row, then one account per candidate holding one base unit of it
(:func:`probe_book`). Nothing is re-priced here:

* ``deribit`` / ``deribit-cross`` (:meth:`DeribitModel.risk_vectors`): per risk unit, the
  account's pre-aggregated vector and each candidate's P&L row. A cell's loss after the
  P&L offset and the extended dampener is ``max(0, -pre_c - D_c)`` (``D_c = 0`` on standard
  cells): positive cells never bind (the offset keeps them >= 0) and ``min(0, x + D)`` of the
  ``distance`` and ``subtract`` dampeners is a loss ``max(0, -x - D)``. The worst case is one
  :class:`MaxTerm` per unit at its ``usd_rate``; the roll shock one :class:`AbsTerm` per
  expiry (``net_delta_per_expiry``) or per instrument (``abs_size``). Exact for S:PM with those
  dampeners and no delta shock; X:PM (per-currency offsets summed, moving collateral that a
  trade's cash moves) is a core to polish.
* ``pmargin-es`` / ``-mc`` (:meth:`ScenarioRiskModel.incremental`: its cached P&L under every
  scenario set, end to end): one :class:`TailTerm` over the base, correlation-stressed and
  floor sets, ``IM = max(0, ES_base, ES_stressed..., ES_floor)`` (x ``1 + buffer`` for the
  ``buffer`` tool), exact for ES with equal weights. ``pmargin-var``: the same with ES at the
  VaR level, a core to polish (VaR is not convex).
* any other model: no core (``standard``'s size-dependent futures rate, ``okx``'s tiers,
  ``tims``' minimums and product-group offsets, PMRM_2's contingencies); the optimiser starts
  from the perpetual's delta hedge and polishes with the true model.

:func:`linear_core` checks every core at ``x = 0`` against the model's IM of the account and
calls a core that does not reproduce it (1e-9 relative) not exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray, IntArray
from pmargin.book import BookArrangement
from pmargin.margin import MarginModel, MarginResult
from pmargin.margin.deribit import (
    DampenerMode,
    DeltaShockMode,
    DeribitMode,
    DeribitModel,
    DeribitUnitVectors,
    RollShockBasis,
)
from pmargin.margin.scenario_risk import ApcMethod, Measure, ScenarioRiskModel
from pmargin.optimise._core import AbsTerm, LinearCore, MaxTerm, TailSet, TailTerm
from pmargin.optimise._universe import HedgeUniverse
from pmargin.risk import expected_shortfall

__all__ = ["CORE_TOLERANCE", "linear_core", "probe_book"]

CORE_TOLERANCE = 1e-9
"""Relative tolerance of a core's IM at ``x = 0`` against the model's (else not exact)."""


def probe_book(
    book: BookArrangement, row: int, universe: HedgeUniverse, coins: Sequence[str] = ()
) -> tuple[BookArrangement, IntArray]:
    """Build the account alone (row 0), one probe per candidate, then one per coin.

    Probe ``1 + i`` holds one base unit of candidate ``i`` and nothing else; probe
    ``1 + n + k`` one unit of ``coins[k]``'s balance and nothing else. Columns: the account's
    instruments (its own resolved rows), then the candidates it does not hold.

    Returns
    -------
    tuple
        The probe book and each candidate's column in it, shape ``(n,)``.
    """
    one = book.take_accounts([row])
    held = {s.symbol: j for j, s in enumerate(one.instruments)}
    symbols = universe.symbols
    new = [i for i, s in enumerate(symbols) if s not in held]
    resolved = one.resolved.concat(universe.resolved.take(new)) if new else one.resolved
    n_held, n = one.shape[1], len(universe)
    at_new = {i: n_held + k for k, i in enumerate(new)}
    columns = np.array([held.get(s, at_new.get(i, -1)) for i, s in enumerate(symbols)])
    width = n_held + len(new)
    rows = 1 + n + len(coins)
    own = sparse.csr_array(one.quantity)
    probes = sparse.csr_array((np.ones(n), (np.arange(n), columns)), shape=(n, width))
    quantity = sparse.vstack(
        [
            sparse.csr_array((own.data, own.indices, own.indptr), shape=(1, width)),
            probes,
            sparse.csr_array((len(coins), width)),
        ],
        format="csr",
    )
    unrealised = sparse.csr_array(one.unrealised)
    unrealised = sparse.csr_array(
        (unrealised.data, unrealised.indices, unrealised.indptr), shape=(1, width)
    )
    assets = tuple(one.assets) + tuple(c for c in coins if c not in one.assets)
    balances = np.zeros((rows, len(assets)))
    if one.balances is not None:
        balances[0, : len(one.assets)] = one.balances[0]
    for k, coin in enumerate(coins):
        balances[1 + n + k, assets.index(coin)] = 1.0
    probe = BookArrangement(
        account_ids=(
            one.account_ids[0],
            *(f"probe:{s}" for s in symbols),
            *(f"coin:{c}" for c in coins),
        ),
        resolved=resolved,
        quantity=quantity,
        assets=assets,
        balances=balances,
        unrealised=sparse.vstack([unrealised, sparse.csr_array((rows - 1, width))], format="csr"),
        market=book.market,
    )
    return probe, columns.astype(np.int64)


def linear_core(
    model: MarginModel, book: BookArrangement, row: int, universe: HedgeUniverse, im_now: float
) -> LinearCore | None:
    """Return the model's linear core for account ``row`` over ``universe`` (module docstring).

    Parameters
    ----------
    model, book, row
        The model, the book and the account's row.
    universe
        The candidates.
    im_now
        The account's IM now (USD), from the model's run: the core's IM at ``x = 0`` must
        equal it (to :data:`CORE_TOLERANCE` relative) for the core to be called exact.

    Returns
    -------
    LinearCore or None
        ``None`` for a model without a core.
    """
    build = _core_builder(model)
    if build is None:
        return None
    core = build(book, row, universe)
    at_zero = core.evaluate(np.zeros(len(universe)))
    if core.exact and abs(at_zero - im_now) > CORE_TOLERANCE * max(abs(im_now), 1.0):
        return _inexact(core, f"the core gives {at_zero:.6f} USD at no trade, the model {im_now}")
    return core


def _core_builder(
    model: MarginModel,
) -> Callable[[BookArrangement, int, HedgeUniverse], LinearCore] | None:
    if isinstance(model, DeribitModel):
        return lambda book, row, universe: _deribit_core(model, *probe_book(book, row, universe))
    if isinstance(model, ScenarioRiskModel):
        return lambda book, row, universe: _tail_core(model, book, row, universe)
    return None


def _inexact(core: LinearCore, reason: str) -> LinearCore:
    return LinearCore(
        core.n, core.constant, core.max_terms, core.abs_terms, core.tail_terms, False, reason
    )


# ---------------------------------------------------------------------- deribit
def _deribit_core(model: DeribitModel, probe: BookArrangement, columns: IntArray) -> LinearCore:
    n = columns.size
    a = model.params.assumptions
    reasons = []
    if model.params.mode is DeribitMode.CROSS:
        reasons.append("X:PM offsets each settlement currency apart and moves collateral")
    if a.extended_dampener_mode is DampenerMode.THRESHOLD:
        reasons.append("the threshold dampener is not convex")
    if a.delta_shock is not DeltaShockMode.OFF:
        reasons.append("the delta shock is not in the core")
    q0 = sparse.csr_array(probe.quantity)[[0]].toarray()[0]
    max_terms: list[MaxTerm] = []
    abs_terms: list[AbsTerm] = []
    for unit in model.risk_vectors(probe):
        rate = float(np.asarray(unit.usd_rate).reshape(-1)[0])
        pnl = _candidate_rows(unit.columns, unit.instrument_pnl, columns)
        pre = np.asarray(unit.pre_aggregated[0], dtype=np.float64)
        *_, dampener = model.part(
            pre[None, :], unit.underlying, unit.currency, rate, coin=unit.coin
        )
        shift = np.zeros(pre.size)
        shift[unit.n_standard :] = np.asarray(dampener, dtype=np.float64).reshape(-1)
        max_terms.append(MaxTerm(rate, -pre - shift, -pnl))
        abs_terms.extend(_roll_terms(unit, rate, q0, columns, a.roll_shock_basis))
    return LinearCore(
        n, 0.0, tuple(max_terms), tuple(abs_terms), (), not reasons, "; ".join(reasons)
    )


def _candidate_rows(unit_columns: IntArray, rows: FloatArray, columns: IntArray) -> FloatArray:
    """Shape ``(n, n_cells)``: each candidate's row where the unit holds its column, else 0."""
    where = {int(c): k for k, c in enumerate(unit_columns)}
    out = np.zeros((columns.size, rows.shape[1]))
    for i, c in enumerate(columns):
        k = where.get(int(c))
        if k is not None:
            out[i] = rows[k]
    return out


def _roll_terms(
    unit: DeribitUnitVectors,
    rate: float,
    q0: FloatArray,
    columns: IntArray,
    basis: RollShockBasis,
) -> list[AbsTerm]:
    """Return the unit's roll shock as |affine| terms (USD): per expiry key, or per instrument."""
    where = {int(c): k for k, c in enumerate(unit.columns)}
    per_unit = np.asarray(unit.roll_rate, dtype=np.float64)
    if basis is RollShockBasis.NET_DELTA_PER_EXPIRY:
        per_unit = per_unit * np.asarray(unit.roll_delta, dtype=np.float64)
    held = q0[unit.columns]
    slope_of = np.zeros((len(where), columns.size))
    for i, c in enumerate(columns):
        k = where.get(int(c))
        if k is not None:
            slope_of[k, i] = per_unit[k]
    if basis is RollShockBasis.ABS_SIZE:
        return [AbsTerm(rate, float(held[k] * per_unit[k]), slope_of[k]) for k in range(len(where))]
    keys = np.asarray(unit.roll_key, dtype=np.float64)
    terms = []
    for key in dict.fromkeys(keys.tolist()):
        rows = np.flatnonzero(keys == key)
        offset = float(held[rows] @ per_unit[rows])
        terms.append(AbsTerm(rate, offset, slope_of[rows].sum(axis=0)))
    return terms


# ---------------------------------------------------------------------- pmargin-es / -var / -mc
def _tail_core(
    model: ScenarioRiskModel, book: BookArrangement, row: int, universe: HedgeUniverse
) -> LinearCore:
    p = model.params
    n = len(universe)
    cash_assets = [i.cash_asset.upper() for i in universe.instruments]
    moves = (universe.buy_cash != 0.0) | (universe.sell_cash != 0.0)
    coins = sorted(
        {a for a, m in zip(cash_assets, moves, strict=True) if m and a not in p.stablecoins}
    )
    probe, columns = probe_book(book, row, universe, coins)
    result: MarginResult = model.compute(probe)
    incremental = model.incremental(probe, result)
    states = [incremental.balance_state(r, "*")[0].pnl for r in range(probe.shape[0])]
    vectors = np.vstack(states)  # the account, each candidate's row, each coin's row (USD)
    coin_rows = {c: vectors[1 + n + k] for k, c in enumerate(coins)}
    buy_cash = np.zeros((n, vectors.shape[1]))
    sell_cash = np.zeros((n, vectors.shape[1]))
    for i, asset in enumerate(cash_assets):
        if asset in coin_rows:
            buy_cash[i] = universe.buy_cash[i] * coin_rows[asset]
            sell_cash[i] = universe.sell_cash[i] * coin_rows[asset]
    reasons = []
    if p.measure is not Measure.ES:
        reasons.append("VaR is not convex: the core takes ES at the VaR level")
    sets = []
    for source, (start, stop) in zip(incremental.sources, incremental.cells, strict=True):
        weights = np.asarray(source.weights, dtype=np.float64)
        equal = bool(np.all(weights == weights[0]))
        if not equal:
            reasons.append("a weighted scenario set's tail is approximated")
        mass = _tail_mass(stop - start, p.confidence, p.boundary) if equal else 1 - p.confidence
        cash = (buy_cash[:, start:stop], sell_cash[:, start:stop]) if coins else None
        sets.append(
            TailSet(
                vectors[0, start:stop],
                vectors[1 : 1 + n, start:stop],
                weights / weights.sum(),
                mass,
                cash,
            )
        )
    floor = p.apc_method is ApcMethod.FLOOR
    used = sets if floor else sets[: 1 + incremental.n_stressed]
    weight = 1.0 + p.apc_buffer if p.apc_method is ApcMethod.BUFFER else 1.0
    return LinearCore(
        columns.size,
        tail_terms=(TailTerm(weight, tuple(used)),),
        exact=not reasons,
        reason="; ".join(dict.fromkeys(reasons)),
    )


def _tail_mass(n: int, level: float, boundary: str) -> float:
    """Return the tail probability of ``n`` equal scenarios as ES counts it.

    :func:`pmargin.risk.expected_shortfall` of one scenario losing 1 is ``(1 / n) / tail_mass``.
    """
    one = np.zeros(n)
    one[0] = -1.0
    es = float(expected_shortfall(one, level, None, "split" if boundary == "split" else "whole"))
    return 1.0 / (n * es)

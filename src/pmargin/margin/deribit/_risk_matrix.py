"""The pieces of Deribit's risk matrix as pure functions on arrays.

A Deribit risk vector has ``n_standard + n_extended`` cells (35 with the published
parameters): the standard table, price buckets from the lowest move to the highest with vol
down / none / up within each bucket (27 cells), then the extended table, one vol-up cell per
extended move (8 cells). P&L is signed (profit > 0) and losses are positive numbers.

Every function here takes and returns arrays in ONE currency (coin for an S:PM coin unit, USD
for X:PM); amounts given in USD by Deribit (dampener, offset cap, delta threshold) must be
converted to that currency by the caller.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from pmargin._typing import ArrayLike, FloatArray, IntArray
from pmargin.errors import InputError
from pmargin.margin._scenario_margin import worst_loss
from pmargin.margin.deribit._params import (
    DampenerMode,
    DeltaShockMode,
    DeribitGeneralParams,
    DeribitPairParams,
    ExtendedWeighting,
    RollShockBasis,
)
from pmargin.scenarios import RiskMatrixScenario, VolShockKind, risk_matrix_grid

__all__ = [
    "aggregate_risk_vector",
    "aggregate_risk_vector_reference",
    "apply_extended_dampener",
    "apply_pnl_offset",
    "apply_pnl_offset_reference",
    "clamp_delta_one",
    "delta_shock",
    "deribit_scenarios",
    "edge_conversion",
    "extended_dampener_cells",
    "extended_weights",
    "roll_shock",
    "roll_shock_contribution",
    "roll_shock_entries",
    "roll_shock_rate",
    "tie_order",
    "worst_case",
    "worst_case_reference",
]


def deribit_scenarios(
    underlying: str, pair: DeribitPairParams, general: DeribitGeneralParams
) -> tuple[RiskMatrixScenario, ...]:
    """Return the standard and extended scenarios of one underlying, in risk-vector order.

    Standard: moves ``price_range * k / buckets_count`` for ``k = -b..b``, each with vol down,
    none, up. Extended: each of ``general.extended_moves`` with vol up, labelled
    ``"... (extended)"``. Every scenario has weight 1 (``extended_table_factor`` is applied to
    the P&L by :func:`aggregate_risk_vector`'s caller, since it may exceed 1).

    Returns
    -------
    tuple[RiskMatrixScenario, ...]
        ``(2 * b + 1) * 3 + len(extended_moves)`` scenarios restricted to ``underlying``.
    """
    standard = risk_matrix_grid(pair.price_range, general.buckets_count, underlyings=[underlying])
    extended = _extended(underlying, general.extended_moves)
    return standard + extended


def _extended(underlying: str, moves: tuple[float, ...]) -> tuple[RiskMatrixScenario, ...]:
    return tuple(
        RiskMatrixScenario(
            move,
            VolShockKind.UP,
            1.0,
            underlying,
            0.0,
            f"{underlying} {move * 100:+.4g}% vol up (extended)",
        )
        for move in moves
    )


def clamp_delta_one(
    spot_multiplier: ArrayLike, is_option: ArrayLike, price_range: float, n_standard: int
) -> FloatArray:
    """Hold delta-one instruments at the standard table's edge in the extended scenarios.

    Deribit's published vectors show futures and perpetuals at the +-``price_range`` values in
    every extended cell: only options are revalued at the extended moves.

    Parameters
    ----------
    spot_multiplier
        Shape ``(n_instruments, n_scenarios)``: ``1 + move`` per instrument and scenario.
    is_option
        Shape ``(n_instruments,)`` booleans.
    price_range
        The standard table's largest move (decimal, 0.16).
    n_standard
        Number of standard scenarios; columns from it on are extended.

    Returns
    -------
    FloatArray
        A copy with non-option rows of the extended columns clipped to
        ``[1 - price_range, 1 + price_range]``.
    """
    mult = np.array(spot_multiplier, dtype=np.float64)
    rows = ~np.asarray(is_option, dtype=bool)
    ext = mult[rows, n_standard:]
    mult[rows, n_standard:] = np.clip(ext, 1.0 - price_range, 1.0 + price_range)
    return mult


def apply_pnl_offset(
    pnl: ArrayLike,
    pnl_offset: float,
    max_offsetable: float | FloatArray,
    *,
    out: FloatArray | None = None,
) -> FloatArray:
    """Count only part of each positive cell: ``min(pnl_offset * x, max_offsetable)`` for x > 0.

    Published example (ETH, Feb 2026): the positive standard cells of the aggregated vector
    are exactly ``0.6 *`` the pre-aggregated ones, losses unchanged. Reading the cap as a limit
    on the counted profit is pmargin's assumption (no published case reaches it).

    Parameters
    ----------
    pnl
        Any shape, signed P&L.
    pnl_offset
        Fraction in [0, 1].
    max_offsetable
        Cap (>= 0) on the counted profit, same currency as ``pnl``: a float, or an array
        broadcast against ``pnl`` (shape ``(n, 1)``: one cap per row).
    out
        Optional float64 array of ``pnl``'s shape, not overlapping it, for the result.
    """
    x = np.asarray(pnl, dtype=np.float64)
    cap = np.asarray(max_offsetable, dtype=np.float64)
    if not (0.0 <= pnl_offset <= 1.0) or cap.size == 0 or float(cap.min()) < 0.0:
        result = apply_pnl_offset_reference(x, pnl_offset, max_offsetable)
        if out is None:
            return result
        out[...] = result
        return out
    # min(x, min(f x, cap)) picks the same value as the reference's where(x > 0, ...) for
    # finite x: for x <= 0, f x >= x and cap >= 0 >= x; for x > 0, f x <= x. One output array,
    # no temporaries.
    out = np.multiply(x, pnl_offset, out=out)
    np.minimum(out, cap, out=out)
    np.minimum(out, x, out=out)
    return out


def apply_pnl_offset_reference(
    pnl: ArrayLike, pnl_offset: float, max_offsetable: float | FloatArray
) -> FloatArray:
    """:func:`apply_pnl_offset` as the rule reads: ``where(x > 0, min(f x, cap), x)``.

    Same arguments and result (same bits) as :func:`apply_pnl_offset`, with three
    temporaries of ``pnl``'s shape; also the path for a fraction outside [0, 1] or a negative
    cap.
    """
    x = np.asarray(pnl, dtype=np.float64)
    result: FloatArray = np.where(x > 0.0, np.minimum(pnl_offset * x, max_offsetable), x)
    return result


def extended_weights(
    moves: ArrayLike, price_range: float, factor: float, weighting: ExtendedWeighting
) -> FloatArray:
    """Weight of each extended cell's P&L (in USD, or in the unit's stablecoin).

    * ``"distance"``: ``factor * price_range / max(|m|, price_range)``: the fraction of the
      simulated P&L that counts falls with the distance of the move (0.16 / 5 = 3.2 % at +500 %
      with ``price_range`` 0.16; Paradex publishes exactly these weights for the same moves);
    * ``"full"``: ``factor`` (delta-one instruments are then held at the edge by the caller).

    Parameters
    ----------
    moves
        Shape ``(n_extended,)``: relative price moves (decimal, > -1).
    price_range, factor
        ``price_range`` (decimal) and ``extended_table_factor`` (>= 0).
    weighting
        :class:`ExtendedWeighting`.

    Returns
    -------
    FloatArray
        Shape ``(n_extended,)``, dimensionless.
    """
    m = np.abs(np.asarray(moves, dtype=np.float64))
    if ExtendedWeighting(weighting) is ExtendedWeighting.FULL:
        return np.full(m.shape, float(factor))
    result: FloatArray = factor * price_range / np.maximum(m, price_range)
    return result


def edge_conversion(
    moves: ArrayLike, price_range: float, weighting: ExtendedWeighting
) -> FloatArray:
    """Factor taking a coin P&L at move ``m`` to USD at ``m`` and back to coin at the edge.

    ``"distance"``: ``(1 + m) / (1 + sign(m) * min(|m|, price_range))``: the USD P&L at move
    ``m`` is converted to coin at the edge price ``index * (1 +- price_range)``. For an inverse
    future ``q m / (1 + m)`` coin, times this and ``price_range / |m|``, gives
    ``q (1 - 1 / (1 +- price_range))``: its published edge value. ``"full"``: 1.

    Parameters
    ----------
    moves
        Shape ``(n_extended,)``: relative price moves (decimal, > -1).
    price_range
        Standard table's largest move (decimal).
    weighting
        :class:`ExtendedWeighting`.

    Returns
    -------
    FloatArray
        Shape ``(n_extended,)``, > 0.
    """
    m = np.asarray(moves, dtype=np.float64)
    if ExtendedWeighting(weighting) is ExtendedWeighting.FULL:
        return np.ones(m.shape)
    edge = 1.0 + np.sign(m) * np.minimum(np.abs(m), price_range)
    result: FloatArray = (1.0 + m) / edge
    return result


def extended_dampener_cells(
    moves: ArrayLike, price_range: float, dampener: float, mode: DampenerMode
) -> FloatArray:
    """Dampener of each extended cell, in the dampener's currency.

    ``"distance"``: ``(max(|m| / price_range, 1) - 1) * dampener``, a deductible that grows with
    the distance of the move (0 inside the standard range); ``"subtract"`` and ``"threshold"``:
    ``dampener`` in every cell.

    Parameters
    ----------
    moves
        Shape ``(n_extended,)``: relative price moves (decimal).
    price_range
        Standard table's largest move (decimal).
    dampener
        ``extended_dampener`` (>= 0).
    mode
        :class:`DampenerMode`.

    Returns
    -------
    FloatArray
        Shape ``(n_extended,)``, >= 0.
    """
    if dampener < 0.0:
        raise InputError("extended_dampener", dampener, "must be >= 0")
    m = np.abs(np.asarray(moves, dtype=np.float64))
    if DampenerMode(mode) is DampenerMode.DISTANCE:
        result: FloatArray = (np.maximum(m / price_range, 1.0) - 1.0) * dampener
        return result
    return np.full(m.shape, float(dampener))


def apply_extended_dampener(pnl: ArrayLike, dampener: ArrayLike, mode: DampenerMode) -> FloatArray:
    """Dampen extended-table cells; the result is never positive.

    Published examples (BTC 2024, ETH 2026): extended losses far below the dampener and
    positive extended cells both become 0. Every mode agrees with that:

    * ``"distance"`` and ``"subtract"``: ``min(0, x + d)`` (a deductible, ``d`` per cell from
      :func:`extended_dampener_cells`);
    * ``"threshold"``: ``x if x < -d else 0``.

    Parameters
    ----------
    pnl
        Shape ``(..., n_extended)``: signed P&L of extended cells.
    dampener
        Scalar or shape ``(n_extended,)``, >= 0, same currency as ``pnl``.
    mode
        :class:`DampenerMode`.
    """
    x = np.asarray(pnl, dtype=np.float64)
    d = np.asarray(dampener, dtype=np.float64)
    if np.any(d < 0.0):
        raise InputError("extended_dampener", float(d.min()), "must be >= 0")
    if DampenerMode(mode) is DampenerMode.THRESHOLD:
        result: FloatArray = np.where(x < -d, x, 0.0)
    else:
        result = np.minimum(x + d, 0.0)
    return result


def _dampen_in_place(ext: FloatArray, dampener: ArrayLike, mode: DampenerMode) -> None:
    """:func:`apply_extended_dampener` written into ``ext`` (a view), the same bits."""
    d = np.asarray(dampener, dtype=np.float64)
    if d.size and float(d.min()) < 0.0:
        raise InputError("extended_dampener", float(d.min()), "must be >= 0")
    if DampenerMode(mode) is DampenerMode.THRESHOLD:
        np.putmask(ext, ~(ext < -d), 0.0)
    else:
        np.add(ext, d, out=ext)
        np.minimum(ext, 0.0, out=ext)


def aggregate_risk_vector(
    pnl: ArrayLike,
    n_standard: int,
    *,
    pnl_offset: float,
    max_offsetable: float | FloatArray,
    dampener: ArrayLike,
    mode: DampenerMode,
    out: FloatArray | None = None,
) -> FloatArray:
    """Deribit's ``aggregated_risk_vectors`` from the ``pre_aggregated`` ones.

    Parameters
    ----------
    pnl
        Shape ``(..., n_scenarios)``: summed position P&L per cell (extended cells already
        weighted, see :func:`extended_weights`).
    n_standard
        Number of standard cells (the first ones).
    pnl_offset, max_offsetable
        See :func:`apply_pnl_offset` (cap in ``pnl``'s currency).
    dampener, mode
        See :func:`apply_extended_dampener` (scalar or one per extended cell, in ``pnl``'s
        currency).
    out
        Optional float64 array of ``pnl``'s shape, not overlapping it, to write the result
        into (a block of a larger result); ``None`` for a new array.

    Returns
    -------
    FloatArray
        Same shape: positive cells offset, then extended cells dampened (``out`` if given).
    """
    out = apply_pnl_offset(pnl, pnl_offset, max_offsetable, out=out)
    _dampen_in_place(out[..., n_standard:], dampener, mode)
    return out


def aggregate_risk_vector_reference(
    pnl: ArrayLike,
    n_standard: int,
    *,
    pnl_offset: float,
    max_offsetable: float | FloatArray,
    dampener: ArrayLike,
    mode: DampenerMode,
) -> FloatArray:
    """:func:`aggregate_risk_vector` step by step (new arrays at each step), the same bits."""
    out = apply_pnl_offset_reference(pnl, pnl_offset, max_offsetable)
    out[..., n_standard:] = apply_extended_dampener(out[..., n_standard:], dampener, mode)
    return out


def roll_shock_rate(time_years: ArrayLike, min_move: float, move_risk: float) -> FloatArray:
    """Roll-shock move per base unit: ``max(min_annualised_move, annualised_move_risk * T)``.

    Both published examples sit on the floor, which they reproduce exactly; the linear term in
    ``T`` is pmargin's reading of ``annualised_move_risk``.

    Parameters
    ----------
    time_years
        Shape ``(n,)``: ACT/365 years to expiry; NaN (perpetual, spot) counts as 0.
    min_move, move_risk
        ``min_annualised_move`` (decimal) and ``annualised_move_risk`` (decimal per year).

    Returns
    -------
    FloatArray
        Shape ``(n,)``: fraction of one base unit's value.
    """
    t = np.nan_to_num(np.asarray(time_years, dtype=np.float64), nan=0.0)
    result: FloatArray = np.maximum(min_move, move_risk * np.maximum(t, 0.0))
    return result


def _expiry_groups(key: FloatArray, delta_rate: FloatArray) -> sparse.csr_array:
    """Sparse ``(n_unit, n_expiries)``: each instrument's ``delta * rate`` in its expiry column."""
    _, group = np.unique(key, return_inverse=True)
    n = key.size
    return sparse.csr_array(
        (delta_rate, (np.arange(n), group.reshape(n))), shape=(n, int(group.max(initial=-1)) + 1)
    )


def roll_shock(
    q: Any,
    rate: ArrayLike,
    delta: ArrayLike,
    expiry_key: ArrayLike,
    basis: RollShockBasis,
) -> FloatArray:
    """Roll shock of each account, in the unit's currency.

    * ``"net_delta_per_expiry"``: ``sum_e |sum_{i in e} q_i delta_i rate_i|``: legs of one
      expiry net through their delta (options enter with their Black delta, delta-one legs with
      1, so both published captures, which hold delta-one legs only, are reproduced);
    * ``"abs_size"``: ``sum_i |q_i| rate_i`` (every leg its full size).

    Parameters
    ----------
    q
        Sparse or dense ``(n_accounts, n_unit)`` base-unit quantities.
    rate
        Shape ``(n_unit,)``: roll shock per base unit (:func:`roll_shock_rate` times the value of
        one base unit in the unit's currency).
    delta
        Shape ``(n_unit,)``: delta per base unit (1 for delta-one instruments).
    expiry_key
        Shape ``(n_unit,)``: equal values for instruments of one expiry (perpetuals and spot
        share one key).
    basis
        :class:`RollShockBasis`.

    Returns
    -------
    FloatArray
        Shape ``(n_accounts,)``, >= 0.
    """
    qs = sparse.csr_array(q)
    n = qs.shape[0]
    r = np.asarray(rate, dtype=np.float64)
    if RollShockBasis(basis) is RollShockBasis.ABS_SIZE:
        return np.asarray(abs(qs) @ r, dtype=np.float64).reshape(n)
    groups = _expiry_groups(np.asarray(expiry_key, dtype=np.float64), np.asarray(delta) * r)
    net = np.asarray((qs @ groups).toarray(), dtype=np.float64)
    result: FloatArray = np.abs(net).sum(axis=1).reshape(n)
    return result


def roll_shock_contribution(
    q: Any,
    rate: ArrayLike,
    delta: ArrayLike,
    expiry_key: ArrayLike,
    basis: RollShockBasis,
) -> sparse.csr_array:
    """Each position's share of :func:`roll_shock`; rows add up to it.

    ``"net_delta_per_expiry"``: ``q_i delta_i rate_i * sign(net of its expiry)`` (a hedging leg
    gets a negative share); ``"abs_size"``: ``|q_i| rate_i``.

    Parameters
    ----------
    q, rate, delta, expiry_key, basis
        As :func:`roll_shock`.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(n_accounts, n_unit)``, in the unit's currency.
    """
    qs = sparse.csr_array(q)
    r = np.asarray(rate, dtype=np.float64)
    if RollShockBasis(basis) is RollShockBasis.ABS_SIZE:
        return sparse.csr_array(abs(qs).multiply(r[None, :]))
    key = np.asarray(expiry_key, dtype=np.float64)
    dr = np.asarray(delta, dtype=np.float64) * r
    _, group = np.unique(key, return_inverse=True)
    net = np.asarray((qs @ _expiry_groups(key, dr)).toarray(), dtype=np.float64)
    # the sign of each stored entry's expiry net only (a dense (n_accounts, n_unit) sign
    # matrix is n_unit times larger than the book)
    owner = np.repeat(np.arange(qs.shape[0]), np.diff(qs.indptr))
    columns = qs.indices
    sign = np.sign(net[owner, group.reshape(key.size)[columns]]) if key.size else 0.0
    data = qs.data * dr[columns] * sign
    return sparse.csr_array((data, columns.copy(), qs.indptr.copy()), shape=qs.shape)


def roll_shock_entries(
    q: Any,
    rate: ArrayLike,
    delta: ArrayLike,
    expiry_key: ArrayLike,
    basis: RollShockBasis,
) -> tuple[FloatArray, FloatArray]:
    """:func:`roll_shock` and each stored position's share of it, from one expiry netting.

    Parameters
    ----------
    q
        Sparse CSR ``(n_accounts, n_unit)`` base-unit quantities (canonical or not: the shares
        follow its stored entries).
    rate, delta, expiry_key, basis
        As :func:`roll_shock`.

    Returns
    -------
    roll
        Shape ``(n_accounts,)``: :func:`roll_shock` (same bits).
    shares
        Shape ``(q.nnz,)``: the data of :func:`roll_shock_contribution` (same bits), one per
        stored entry of ``q`` in its order.
    """
    qs = sparse.csr_array(q)
    n = qs.shape[0]
    r = np.asarray(rate, dtype=np.float64)
    columns = qs.indices
    if RollShockBasis(basis) is RollShockBasis.ABS_SIZE:
        size = np.abs(qs.data)
        roll = np.asarray(abs(qs) @ r, dtype=np.float64).reshape(n)
        return roll, size * r[columns]
    key = np.asarray(expiry_key, dtype=np.float64)
    dr = np.asarray(delta, dtype=np.float64) * r
    _, group = np.unique(key, return_inverse=True)
    group = group.reshape(key.size)
    n_groups = int(group.max(initial=-1)) + 1
    # each account's net per expiry: the entries summed in their stored order from 0, as the
    # sparse product with the expiry matrix (:func:`roll_shock`) sums them
    owner = np.repeat(np.arange(n), np.diff(qs.indptr))
    cell = owner * n_groups + group[columns]
    net = np.bincount(cell, qs.data * dr[columns], minlength=n * n_groups)
    net = net.reshape(n, n_groups)
    total = np.abs(net).sum(axis=1).reshape(n)
    # the sign of each stored entry's expiry net only (a dense (n_accounts, n_unit) sign
    # matrix is n_unit times larger than the book)
    shares: FloatArray = qs.data * dr[columns] * np.sign(net.reshape(-1)[cell])
    return total, shares


def worst_case(pnl: FloatArray, vol_kinds: tuple[VolShockKind, ...]) -> tuple[FloatArray, IntArray]:
    """Worst loss of each row and its cell, ties resolved as Deribit reports them.

    Among cells with the smallest P&L, the vol-"none" cell wins, else the first: both published
    examples report the middle cell of a three-way tie of a delta-one book (index 1 for
    BTC -16%, index 25 for ETH +18%).

    Parameters
    ----------
    pnl
        Shape ``(n_accounts, n_scenarios)``: aggregated risk vectors.
    vol_kinds
        Vol direction of each scenario, ``n_scenarios`` long.

    Returns
    -------
    loss
        Shape ``(n_accounts,)``: ``max(0, -min pnl)``.
    index
        Shape ``(n_accounts,)``: the cell, -1 where no cell loses money.
    """
    order = tie_order(vol_kinds)
    n = pnl.shape[0]
    if pnl.shape[1] == 0:
        return worst_loss(pnl, order)
    # One pass per cell over the scenario-major copy (contiguous rows, no per-row argmin):
    # cells in tie-break order, a later cell replaces the best only when strictly smaller,
    # so the first smallest in the order wins, as argmin over the reordered columns.
    cells = np.ascontiguousarray(pnl.T)
    smallest = cells[order[0]].copy()
    column = np.full(n, order[0], dtype=np.int64)
    for c in order[1:].tolist():
        np.putmask(column, cells[c] < smallest, c)
        np.minimum(smallest, cells[c], out=smallest)
    if np.isnan(smallest).any():  # argmin's NaN rule: the reference settles it
        return worst_case_reference(pnl, vol_kinds)
    loss = np.maximum(-smallest, 0.0)
    return loss, np.where(smallest < 0.0, column, -1).astype(np.int64)


def worst_case_reference(
    pnl: FloatArray, vol_kinds: tuple[VolShockKind, ...]
) -> tuple[FloatArray, IntArray]:
    """:func:`worst_case` by the shared reduce stage (argmin over reordered columns), same bits."""
    return worst_loss(pnl, tie_order(vol_kinds))


def tie_order(vol_kinds: tuple[VolShockKind, ...]) -> IntArray:
    """Return the cells in :func:`worst_case`'s tie-break order: vol "none" cells first.

    Returns
    -------
    IntArray
        Shape ``(len(vol_kinds),)``: a permutation of the cell indices.
    """
    none = np.array([k is VolShockKind.NONE for k in vol_kinds], dtype=bool)
    order: IntArray = np.concatenate([np.flatnonzero(none), np.flatnonzero(~none)])
    return order


def delta_shock(
    net_delta_usd: ArrayLike, threshold_usd: float, max_shock: float, mode: DeltaShockMode
) -> FloatArray:
    """Delta-shock add-on in USD (ASSUMPTION: Deribit does not publish the formula).

    ``"off"``: 0. ``"excess"``: ``max_shock * max(0, |delta| - threshold)``, the share of the
    net USD delta beyond ``delta_total_liq_shock_threshold`` charged ``max_delta_shock``.

    Parameters
    ----------
    net_delta_usd
        Shape ``(n_accounts,)``: net USD delta of each account's unit.
    threshold_usd, max_shock
        ``delta_total_liq_shock_threshold`` (USD) and ``max_delta_shock`` (decimal).
    mode
        :class:`DeltaShockMode`.

    Returns
    -------
    FloatArray
        Shape ``(n_accounts,)``, USD, >= 0.
    """
    delta = np.asarray(net_delta_usd, dtype=np.float64)
    if DeltaShockMode(mode) is DeltaShockMode.OFF:
        return np.zeros_like(delta)
    result: FloatArray = max_shock * np.maximum(np.abs(delta) - threshold_usd, 0.0)
    return result

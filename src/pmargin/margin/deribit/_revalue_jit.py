"""The compiled grid revaluation of Deribit S:PM's kept plan (numba, the ``fast`` extra).

One loop over the stacked P&L rows of an underlying's units builds each cell's shocked inputs
and writes its P&L straight into the pass's input rows: the forward ``F m`` (``m`` the kept,
clamped spot multiplier), the vol ``max(by_kind[kind] + ln(K / F) skew, floor)`` (the
operations of :meth:`~pmargin.scenarios.ScenarioSet.apply`, in its order), the option's value
at them less today's (per coin of the shocked forward where inverse: the compiled Black-76
lane :func:`pmargin.pricing.black76_lane`, as :func:`~pmargin.pricing.black76_pnl` runs it)
or the delta-one row's linear or inverse change (:func:`~pmargin.risk.instrument_pnl`'s
formulas), the extended cells times the unit's factor. No ``(n, cells)`` temporaries.

Lanes off the kernel's smooth domain are flagged for the caller to recompute with the NumPy
kernel (as :func:`~pmargin.pricing.black76_pnl` does); an option's vol outside ``[0, inf)``
(NaN included) is counted, and the caller then runs the NumPy path, which raises
:func:`~pmargin.risk.instrument_pnl`'s error. Importing this module needs numba.
"""

from __future__ import annotations

import math

import numpy as np

from pmargin._compiled import njit
from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.pricing import black76_lane

__all__ = ["option_values", "revalue_rows"]

_LANES = 8
"""float64 lanes of a 512-bit vector: a row's cells are priced in a multiple of this many."""


@njit
def option_values(
    options: IntArray,
    forward: FloatArray,
    strike: FloatArray,
    time: FloatArray,
    vol: FloatArray,
    rate: FloatArray,
    is_call: BoolArray,
    value: FloatArray,
    off: BoolArray,
) -> int:
    """Today's Black-76 value of the option rows: :func:`pmargin.pricing.black76_value`'s lanes.

    Parameters
    ----------
    options
        Shape ``(n_options,)``: the option rows (of the underlying's ``n`` instruments).
    forward, strike, time, vol, rate, is_call
        Shape ``(n,)``: underlying price (quote currency), strike, years to expiry, vol
        (decimal), rate (decimal per year), call.
    value
        Out, shape ``(n_options,)``: each option row's value (quote currency), bit for bit
        the compiled ``black76_value``'s (the same lane) where not off the domain.
    off
        Out, shape ``(n_options,)``: the lanes ``black76_value`` recomputes with the NumPy
        kernel (their ``value`` is meaningless).

    Returns
    -------
    int
        The number of off-domain lanes.
    """
    m = options.size
    # the option rows gathered first: the pricing loop then runs over contiguous lanes (SIMD)
    f, k, t, v, r = np.empty(m), np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    c = np.empty(m, dtype=np.bool_)
    for p in range(m):
        i = options[p]
        f[p], k[p], t[p], v[p], r[p], c[p] = (
            forward[i],
            strike[i],
            time[i],
            vol[i],
            rate[i],
            is_call[i],
        )
    n_off = 0
    for p in range(m):
        val, _, _, _, _, _, flagged = black76_lane(f[p], k[p], t[p], v[p], r[p], c[p])
        value[p] = val
        off[p] = flagged
        n_off += flagged
    return n_off


@njit
def revalue_rows(
    source: IntArray,
    option_index: IntArray,
    forward: FloatArray,
    strike: FloatArray,
    time: FloatArray,
    rate: FloatArray,
    is_call: BoolArray,
    inverse: BoolArray,
    base: FloatArray,
    by_kind: FloatArray,
    log_moneyness: FloatArray,
    multiplier: FloatArray,
    skew: FloatArray,
    kind: IntArray,
    floor: FloatArray,
    factor: FloatArray,
    n_standard: int,
    out: FloatArray,
    off: BoolArray,
) -> tuple[int, int]:
    """Write every stacked row's P&L per base unit under every cell into ``out``.

    Parameters
    ----------
    source
        Shape ``(n_out,)``: each output row's instrument row (of the underlying's ``n``).
    option_index
        Shape ``(n,)``: the instrument row's index among the option rows; -1 for delta-one.
    forward, strike, time, rate
        Shape ``(n,)``: underlying price (quote currency), strike, years to expiry (shifted,
        floored at 0), rate (decimal per year).
    is_call, inverse
        Shape ``(n,)``: call; coin-settled.
    base, log_moneyness
        Shape ``(n_options,)``: today's Black-76 value (quote currency); ``ln(K / F)``.
    by_kind
        Shape ``(n_options, 3)``: the level-shocked vol of each vol kind (decimal; kinds 0, 1
        and 2: down, none, up).
    multiplier
        Shape ``(n, n_cells)``: the spot multiplier of each cell (finite, ``> 0``).
    skew, kind, floor
        Shape ``(n_cells,)``: the cell's skew rotation, vol kind (column of ``by_kind``) and
        vol floor.
    factor
        Shape ``(n_out, n_cells - n_standard)``: the extended cells' factors.
    n_standard
        Number of standard cells (not scaled).
    out
        Out, shape ``(n_out, width >= n_cells)``: cells ``0:n_cells`` written (settlement
        currency per base unit: quote currency, or coin where inverse).
    off
        Out, shape ``(n_out, n_cells)``: the lanes to recompute with the NumPy kernel.

    Returns
    -------
    tuple[int, int]
        The number of off-domain lanes and of option lanes whose vol is not in ``[0, inf)``.
    """
    n_s = multiplier.shape[1]
    n_off = 0
    n_bad = 0
    # one row's lanes, padded to a multiple of _LANES (the pad lanes price an ordinary
    # option and are never read): the pricing loop then vectorises without a scalar remainder
    width = -(-n_s // _LANES) * _LANES
    forward_s = np.empty(width)
    vol = np.full(width, 0.5)
    pnl = np.empty(width)
    lane_off = np.empty(width, dtype=np.bool_)
    for j in range(source.size):
        i = source[j]
        fi = forward[i]
        p = option_index[i]
        mult = multiplier[i]
        row = out[j]
        lanes = off[j]
        if p < 0:
            coin = inverse[i]
            for s in range(n_s):
                m = mult[s]
                row[s] = 1.0 - 1.0 / m if coin else fi * m - fi
                lanes[s] = False
            for s in range(n_standard, n_s):
                row[s] *= factor[j, s - n_standard]
        else:
            lm = log_moneyness[p]
            down, none, up = by_kind[p, 0], by_kind[p, 1], by_kind[p, 2]
            for s in range(n_s):
                kind_s = kind[s]  # a select, not a gather: the loop vectorises
                shocked = down if kind_s == 0 else (none if kind_s == 1 else up)
                v = shocked + lm * skew[s]
                lo = floor[s]
                v = v if (v >= lo or v != v) else lo  # np.maximum: NaN stays NaN
                n_bad += not (v >= 0.0 and v < math.inf)
                vol[s] = v
                forward_s[s] = fi * mult[s]
            for s in range(n_s, width):
                forward_s[s] = fi
            ki, ti, ri, ci, bi = strike[i], time[i], rate[i], is_call[i], base[p]
            coin = inverse[i]
            b_coin = bi / fi
            for s in range(width):
                fs = forward_s[s]
                val, _, _, _, _, _, flagged = black76_lane(fs, ki, ti, vol[s], ri, ci)
                pnl[s] = val / fs - b_coin if coin else val - bi
                lane_off[s] = flagged
            for s in range(n_s):
                lanes[s] = lane_off[s]
                n_off += lane_off[s]
            for s in range(n_standard):
                row[s] = pnl[s]
            for s in range(n_standard, n_s):
                row[s] = pnl[s] * factor[j, s - n_standard]
    return n_off, n_bad

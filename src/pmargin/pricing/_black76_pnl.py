"""Options' value changes under scenarios: one row per option, one column per scenario.

The revaluation of an options book under a scenario set (a risk matrix, historical or Monte
Carlo moves) asks, for option ``i`` and scenario ``s``, the Black-76 value at the moved forward
``F_i m_is``, the scenario vol ``v_is`` and the time left ``max(T_i - dt, 0)``, less today's
value ``V_i = V(F_i, vol_i, T_i)``::

    pnl_is = V(F_i m_is, v_is, T_i - dt) - V_i                 quote currency (linear)
    pnl_is = V(F_i m_is, v_is, T_i - dt) / (F_i m_is) - V_i / F_i   coin (inverse)

:func:`black76_pnl` computes the matrix in one compiled pass (numba, the ``fast`` extra): each
lane is the compiled kernel's value (:mod:`pmargin.pricing._black76_jit`) and lanes off its
smooth domain (expiry, zero vol, invalid input) are recomputed by the NumPy kernel, as
:func:`~pmargin.pricing.black76_value` does, so it equals :func:`black76_pnl_reference` (the
same expression through :func:`~pmargin.pricing.black76_value`) bit for bit. No ``(m, S)``
temporaries: only the result.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from pmargin._typing import ArrayLike, BoolArray, FloatArray
from pmargin.pricing._black76 import _broadcast, _frozen, _jit, black76_value
from pmargin.pricing._blocks import as_bool, as_float

__all__ = ["black76_pnl", "black76_pnl_into", "black76_pnl_reference", "scenario_major"]


def _rows(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike,
    inverse: ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, BoolArray, FloatArray, BoolArray]:
    """Return the per-option arguments as 1-d arrays of one length ``m``."""
    given = _as_columns(forward, strike, time, vol, is_call, rate, inverse)
    if given is not None:  # a resolved book's columns: as they are
        return given
    f = np.ravel(as_float("forward", forward))
    rows = _broadcast(f, strike, time, vol, is_call, rate)
    inv = np.broadcast_to(as_bool("inverse", inverse), rows.shape)
    return rows.forward, rows.strike, rows.time, rows.vol, rows.is_call, rows.rate, inv


def _as_columns(
    *args: ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, BoolArray, FloatArray, BoolArray] | None:
    """Return :func:`_rows`' seven ``args`` as they are, or ``None``.

    As they are where each is already a 1-d array of one length, float64 (``is_call`` and
    ``inverse``: bool).
    """
    arrays = [a for a in args if isinstance(a, np.ndarray) and a.ndim == 1]
    if len(arrays) != len(args) or len({a.shape for a in arrays}) != 1:
        return None
    kinds = zip(arrays, "ffffbfb", strict=True)
    if not all(a.dtype == (np.bool_ if k == "b" else np.float64) for a, k in kinds):
        return None
    f, k, t, v, call, r, inv = arrays
    return f, k, t, v, call, r, inv


def black76_pnl_reference(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike,
    multiplier: ArrayLike,
    scenario_vol: ArrayLike,
    *,
    inverse: ArrayLike = False,
    time_shift: float = 0.0,
) -> FloatArray:
    """Value change of ``m`` options under ``S`` scenarios: the twin of :func:`black76_pnl`.

    Two :func:`~pmargin.pricing.black76_value` calls (today's values ``(m, 1)`` and the
    scenario values ``(m, S)``) and the difference; arguments and result as
    :func:`black76_pnl`.
    """
    f, k, t, v, call, r, inv = _rows(forward, strike, time, vol, is_call, rate, inverse)
    fc, kc, tc, callc, rc = f[:, None], k[:, None], t[:, None], call[:, None], r[:, None]
    base = black76_value(fc, kc, tc, v[:, None], callc, rc)
    f_s = fc * as_float("multiplier", multiplier)
    shocked = black76_value(f_s, kc, np.maximum(tc - time_shift, 0.0), scenario_vol, callc, rc)
    pnl: FloatArray = np.where(inv[:, None], shocked / f_s - base / fc, shocked - base)
    return pnl


def black76_pnl(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike,
    multiplier: ArrayLike,
    scenario_vol: ArrayLike,
    *,
    inverse: ArrayLike = False,
    time_shift: float = 0.0,
) -> FloatArray:
    """Value change of ``m`` options under ``S`` scenarios (see the module docstring).

    Parameters
    ----------
    forward, strike, time, vol, is_call, rate
        Today's Black-76 inputs of each option, shape ``(m,)`` (scalars broadcast):
        forward and strike in quote currency per unit of underlying, ACT/365 years, decimal
        vol, ``True`` for calls, decimal rate per year.
    multiplier
        Factor on each forward per scenario, broadcastable to ``(m, S)``.
    scenario_vol
        Vol of each option per scenario (decimal), broadcastable to ``(m, S)``.
    inverse
        ``(m,)`` booleans (or one): the change per coin of the forward (coin-settled options,
        value in coin = quote value / forward).
    time_shift
        Years taken off every time to expiry in the scenarios (floored at 0).

    Returns
    -------
    FloatArray
        Shape ``(m, S)``, C-contiguous: quote currency (linear rows) or coin (inverse rows)
        per unit of underlying. Equal bit for bit to :func:`black76_pnl_reference`; without
        numba (or with ``PMARGIN_JIT=0``) that is what runs.
    """
    jit = _jit()
    if jit is None:
        return black76_pnl_reference(
            forward, strike, time, vol, is_call, rate, multiplier, scenario_vol,
            inverse=inverse, time_shift=time_shift,
        )  # fmt: skip
    inputs = _rows(forward, strike, time, vol, is_call, rate, inverse)
    m = inputs[0].size
    mult = as_float("multiplier", multiplier)
    svol = as_float("scenario_vol", scenario_vol)
    n_s = np.broadcast_shapes(mult.shape, svol.shape, (m, 1))[1]
    # scenario-major: the kernel's arrays are (S, m), its loop then vectorises over the options
    out = np.empty((n_s, m)).T if scenario_major(m, n_s) else np.empty((m, n_s))
    _into(jit, inputs, mult, svol, out, time_shift, None)
    return np.ascontiguousarray(out)


def black76_pnl_into(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike,
    multiplier: ArrayLike,
    scenario_vol: ArrayLike,
    out: FloatArray,
    *,
    inverse: ArrayLike = False,
    time_shift: float = 0.0,
    rows: BoolArray | None = None,
) -> int:
    """Write :func:`black76_pnl`'s ``(m, S)`` matrix into ``out``, in the caller's layout.

    For callers that revalue at market after market or hold other rows between the options:
    no transposed copies, no option rows taken out and scattered back.

    Parameters
    ----------
    forward, strike, time, vol, is_call, rate, multiplier, scenario_vol, inverse, time_shift
        As :func:`black76_pnl` (``m`` rows, ``S`` scenarios: ``out``'s shape).
    out
        Writable float64 ``(m, S)``. Where ``out.T`` is C-contiguous (the transpose of a
        buffer holding one scenario per row) the compiled pass runs scenario-major and reads
        ``multiplier.T`` and ``scenario_vol.T`` without a copy where they are C-contiguous too.
    rows
        Shape ``(m,)``: the rows to compute (default all). Other rows' inputs are not checked
        (NaN strikes and vols are fine) and their rows of ``out`` are meaningless on return:
        the caller writes them.

    Returns
    -------
    int
        How many lanes of ``rows`` the NumPy kernel computed: those off the compiled kernel's
        smooth domain (expiry, zero vol, and every multiplier not finite and ``> 0`` or vol not
        finite and ``>= 0``); without numba (``PMARGIN_JIT=0``) every lane. 0 proves every
        multiplier and vol of ``rows`` in those domains.
    """
    inputs = _rows(forward, strike, time, vol, is_call, rate, inverse)
    mult = as_float("multiplier", multiplier)
    svol = as_float("scenario_vol", scenario_vol)
    jit = _jit()
    if jit is None:
        where = slice(None) if rows is None else np.flatnonzero(rows)
        m, n_s = out.shape
        f, k, t, v, call, r, inv = (a[where] for a in inputs)
        pnl = black76_pnl_reference(
            f, k, t, v, call, r, np.broadcast_to(mult, (m, n_s))[where],
            np.broadcast_to(svol, (m, n_s))[where], inverse=inv, time_shift=time_shift,
        )  # fmt: skip
        out[where] = pnl
        return int(pnl.size)
    return _into(jit, inputs, mult, svol, out, time_shift, rows)


def _into(
    jit: ModuleType,
    inputs: tuple[FloatArray, FloatArray, FloatArray, FloatArray, BoolArray, FloatArray, Any],
    multiplier: FloatArray,
    scenario_vol: FloatArray,
    out: FloatArray,
    time_shift: float,
    rows: BoolArray | None,
) -> int:
    """:func:`black76_pnl_into` by the compiled kernel; returns the lanes recomputed."""
    f, k, t, v, call, r, inv = inputs
    m, n_s = out.shape
    mult = np.broadcast_to(multiplier, (m, n_s))
    svol = np.broadcast_to(scenario_vol, (m, n_s))
    which = np.ones(m, dtype=np.bool_) if rows is None else rows
    base = np.empty(m)
    with np.errstate(all="ignore"):
        today = (_frozen(f), _frozen(k), _frozen(t), _frozen(v), _frozen(r), _frozen(call))
        redo = jit.row_values_into(today, _frozen(which), base)
        if redo.size:
            base[redo] = black76_value(f[redo], k[redo], t[redo], v[redo], call[redo], r[redo])
    t_s = np.maximum(t - time_shift, 0.0)
    args = (
        _frozen(f), _frozen(k), _frozen(t_s), _frozen(r), _frozen(call), _frozen(inv),
        _frozen(base), _frozen(which),
    )  # fmt: skip
    if out.T.flags.c_contiguous and not (out.flags.c_contiguous and not scenario_major(m, n_s)):
        major, target = True, out.T
    elif out.flags.c_contiguous:
        major, target = False, out
    else:
        major = scenario_major(m, n_s)
        target = np.empty((n_s, m) if major else (m, n_s))
    with np.errstate(all="ignore"):
        if major:
            lanes = jit.pnl_into(args, _t(mult), _t(svol), target, scenario_major=True)
            s, i = np.divmod(lanes, m)
        else:
            # C-contiguous (a copy of broadcast or strided inputs): the loop vectorises only
            # over unit strides (a broadcast (S,) row read in place: ~6x slower at S = 1,000)
            m_in, v_in = np.ascontiguousarray(mult), np.ascontiguousarray(svol)
            lanes = jit.pnl_into(args, _readonly(m_in), _readonly(v_in), target)
            i, s = np.divmod(lanes, n_s)
        if lanes.size:
            f_s = f[i] * mult[i, s]
            shocked = black76_value(f_s, k[i], t_s[i], svol[i, s], call[i], r[i])
            lane = (s, i) if major else (i, s)
            target[lane] = np.where(inv[i], shocked / f_s - base[i] / f[i], shocked - base[i])
    if target is not out and target is not out.T:
        out[...] = target.T if major else target
    return int(lanes.size)


SCENARIO_MAJOR_MAX = 32
"""Fewer scenarios than this (and more options than scenarios) run the compiled kernel
scenario-major. Measured on 3,680 options (the kernel alone, then in place): 23 scenarios
1.97 -> 0.79 ms and one scenario 0.22 -> 0.04 ms (OKX's grid and its one-column ingredients:
its BTC block's margin ~10.5 -> ~8.7 ms); 35 scenarios 1.69 -> 1.21 ms alone but no gain in
place, where the transposes in and out (~0.2 ms) and the row-major inputs' copies eat it
(Deribit's risk matrix stays option-major)."""


def scenario_major(m: int, n_scenarios: int) -> bool:
    """Whether :func:`black76_pnl` runs ``m`` options x ``n_scenarios`` scenario-major."""
    return n_scenarios < SCENARIO_MAJOR_MAX and m > n_scenarios


def _t(array: FloatArray) -> FloatArray:
    """Return ``array.T`` C-contiguous and read-only (a copy unless it already is)."""
    transposed = array.T
    if not transposed.flags.c_contiguous:
        transposed = np.ascontiguousarray(transposed)
    return _readonly(transposed)


def _readonly(array: FloatArray) -> FloatArray:
    """Return a read-only view (numba compiles per layout, and read-only is part of it)."""
    view = array.view()
    view.flags.writeable = False
    return view

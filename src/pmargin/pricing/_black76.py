"""Black-76 values and raw Greeks of European options on a forward, vectorised.

Conventions
-----------
- ``forward`` and ``strike`` are in quote currency per unit of underlying; the option value is in
  the premium currency per unit of underlying.
- ``time`` is the ACT/365 year fraction to expiry; ``vol`` the annualised volatility as a
  decimal (0.55 for 55 %); ``rate`` the continuously compounded discount rate of the premium
  currency, decimal per year. The discount factor is ``df = exp(-rate * time)``.
- Greeks are raw: ``delta = dV/dF``, ``gamma = d2V/dF2``, ``vega = dV/dvol`` per 1.00 of vol,
  ``theta = dV/dt`` per year of calendar time passing, forward and rate held fixed::

      theta = rate * V - df * F * n(d1) * vol / (2 sqrt(T))

Domain and limits
-----------------
- Valid inputs: ``forward > 0``, ``strike > 0``, ``vol >= 0``, all finite. Anything else (NaN,
  infinities, non-positive forward or strike, negative vol) gives NaN in every output.
- When ``vol * sqrt(time) <= SIGMA_SQRT_T_MIN`` (including ``time == 0`` and ``vol == 0``) the
  option is worth its discounted intrinsic value ``df * max(+-(F - K), 0)``; delta is the
  in-the-money indicator times ``+-df`` (``+-0.5 df`` exactly at the money), gamma and vega are
  0 and theta is ``rate * V``.
- After expiry (``time < 0``) the value is the undiscounted intrinsic value, delta the
  indicator (``+-0.5`` at the money) and gamma, vega and theta are 0.

Puts are computed from ``N(-d1)`` and ``N(-d2)`` rather than by put-call parity, so a deep
out-of-the-money put keeps full relative precision instead of being the difference of two
nearly equal numbers.

Kernels
-------
:func:`black76` and :func:`black76_value` run the compiled SIMD kernel of
:mod:`pmargin.pricing._black76_jit` when numba is installed (the ``fast`` extra) and
``PMARGIN_JIT`` is not ``0``; otherwise the NumPy kernel of this module, which is also their
reference twin :func:`black76_reference` / :func:`black76_value_reference`. Both walk the
broadcast shape in blocks, so memory beyond the outputs stays small.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from types import ModuleType
from typing import NamedTuple, TypeVar

import numpy as np

from pmargin._compiled import compiled_module
from pmargin._typing import ArrayLike, BoolArray, FloatArray, IntArray
from pmargin.pricing._blocks import BLOCK_SIZE, as_bool, as_float, iter_blocks

__all__ = [
    "SIGMA_SQRT_T_MIN",
    "Black76Result",
    "black76",
    "black76_reference",
    "black76_value",
    "black76_value_reference",
    "kernel_name",
]

SIGMA_SQRT_T_MIN = 1e-12
"""Total volatility ``vol * sqrt(time)`` at or below which the option is valued at intrinsic.

At this size the time value of an at-the-money option is below ``4e-13`` of the forward, under
the resolution of any quoted price, while gamma would be of order ``1e12 / F``.
"""

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Black76Result(NamedTuple):
    """Value and raw Greeks of Black-76 options; every field has the broadcast input shape."""

    value: FloatArray
    """Option value, premium currency per unit of underlying."""
    delta: FloatArray
    """dV/dF: premium currency per unit of underlying per 1 unit of forward price."""
    gamma: FloatArray
    """d2V/dF2: per (1 unit of forward price) squared."""
    vega: FloatArray
    """dV/dvol: per 1.00 (100 vol points) of annualised volatility."""
    theta: FloatArray
    """dV/dt: per year of calendar time passing, forward and rate fixed."""


class _Inputs(NamedTuple):
    """Inputs broadcast to one shape (read-only views)."""

    shape: tuple[int, ...]
    forward: FloatArray
    strike: FloatArray
    time: FloatArray
    vol: FloatArray
    rate: FloatArray
    is_call: BoolArray


def _broadcast(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike,
) -> _Inputs:
    """Convert the arguments to arrays and broadcast them to their common shape."""
    arrays = (
        as_float("forward", forward),
        as_float("strike", strike),
        as_float("time", time),
        as_float("vol", vol),
        as_float("rate", rate),
    )
    calls = as_bool("is_call", is_call)
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays), calls.shape)
    except ValueError as exc:
        shapes = ", ".join(
            f"{name}={a.shape}"
            for name, a in zip(("forward", "strike", "time", "vol", "rate"), arrays, strict=True)
        )
        raise ValueError(
            f"inputs: shapes {shapes}, is_call={calls.shape} do not broadcast together; "
            "use e.g. (n_instruments, 1) against (n_scenarios,)"
        ) from exc
    f, k, t, v, r = (np.broadcast_to(a, shape) for a in arrays)
    return _Inputs(shape, f, k, t, v, r, np.broadcast_to(calls, shape))


class _Workspace:
    """Scratch buffers reused by every block so the loop allocates nothing."""

    def __init__(self, size: int) -> None:
        self.sign = np.empty(size)
        self.sqrt_t = np.empty(size)
        self.sd = np.empty(size)
        self.d1 = np.empty(size)
        self.d2 = np.empty(size)
        self.df = np.empty(size)
        self.pdf = np.empty(size)
        self.tmp = np.empty(size)
        self.ok = np.empty(size, dtype=np.bool_)
        self.ok_x = np.empty(size, dtype=np.bool_)


def _fill_common(
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    v: FloatArray,
    r: FloatArray,
    call: BoolArray,
    w: _Workspace,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Compute sign, sqrt(T), vol*sqrt(T), s*d1, s*d2 and df for one block (s = +-1).

    Returns views into the workspace, each of shape ``(m,)`` for a block of ``m`` options.
    """
    m = f.shape[0]
    sign, sqrt_t, sd = w.sign[:m], w.sqrt_t[:m], w.sd[:m]
    d1, d2, df = w.d1[:m], w.d2[:m], w.df[:m]
    np.multiply(call, 2.0, out=sign)
    sign -= 1.0
    np.sqrt(t, out=sqrt_t)
    np.multiply(v, sqrt_t, out=sd)
    np.divide(f, k, out=d2)
    np.log(d2, out=d2)  # ln(F/K)
    np.divide(d2, sd, out=d1)
    np.multiply(sd, 0.5, out=df)
    d1 += df  # d1 = ln(F/K)/sd + sd/2
    np.subtract(d1, sd, out=d2)
    d1 *= sign
    d2 *= sign
    np.negative(r, out=df)
    df *= t
    np.exp(df, out=df)
    return sign, sqrt_t, sd, d1, d2, df


def _needs_boundary(sd: FloatArray, signed_d1: FloatArray, w: _Workspace) -> BoolArray | None:
    """Return the mask of options off the smooth formula's domain, or ``None`` when none is.

    These are options with ``vol * sqrt(T) <= SIGMA_SQRT_T_MIN`` (expired, at expiry, zero or
    negative vol) or whose ``d1`` is not finite (zero, infinite or NaN forward or strike).
    """
    m = sd.shape[0]
    ok, ok_x = w.ok[:m], w.ok_x[:m]
    np.greater(sd, SIGMA_SQRT_T_MIN, out=ok)
    np.isfinite(signed_d1, out=ok_x)
    ok &= ok_x
    if ok.all():
        return None
    return ~ok


def _boundary(
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    v: FloatArray,
    r: FloatArray,
    call: BoolArray,
) -> Black76Result:
    """Value and Greeks off the smooth domain: intrinsic at or after expiry, NaN if invalid.

    All arguments are 1-d arrays of one length ``m``; every output has shape ``(m,)``.
    """
    finite = np.isfinite(f) & np.isfinite(k) & np.isfinite(t) & np.isfinite(v) & np.isfinite(r)
    valid = finite & (f > 0.0) & (k > 0.0) & (v >= 0.0)
    sign = np.where(call, 1.0, -1.0)
    moneyness = sign * (f - k)
    expired = t < 0.0
    df = np.where(expired, 1.0, np.exp(-r * np.maximum(t, 0.0)))
    indicator = np.where(moneyness > 0.0, 1.0, np.where(moneyness == 0.0, 0.5, 0.0))
    value = df * np.maximum(moneyness, 0.0)
    delta = df * sign * indicator
    zeros = np.zeros_like(value)
    theta = np.where(expired, 0.0, r * value)
    result = Black76Result(value, delta, zeros, zeros.copy(), theta)
    for field in result:
        field[~valid] = np.nan
    return result


def _greeks_block(
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    v: FloatArray,
    r: FloatArray,
    call: BoolArray,
    out: Black76Result,
    w: _Workspace,
) -> None:
    """Write value and Greeks of one block of ``m`` options into ``out`` (arrays of ``(m,)``)."""
    value, delta, gamma, vega, theta = out
    m = f.shape[0]
    sign, sqrt_t, sd, d1, d2, df = _fill_common(f, k, t, v, r, call, w)
    special = _needs_boundary(sd, d1, w)
    from scipy.special import ndtr  # imported at first use: SciPy costs 0.2 s at start-up

    pdf, tmp = w.pdf[:m], w.tmp[:m]
    # n(d1) from d1 * sign: the density is even.
    np.multiply(d1, d1, out=pdf)
    pdf *= -0.5
    np.exp(pdf, out=pdf)
    ndtr(d1, out=d1)  # N(s d1)
    ndtr(d2, out=d2)  # N(s d2)
    # delta = s df N(s d1); value = s df (F N(s d1) - K N(s d2)) = F delta - s df K N(s d2)
    np.multiply(d1, sign, out=delta)
    delta *= df
    np.multiply(k, d2, out=value)
    value *= sign
    value *= df
    np.multiply(f, delta, out=tmp)
    np.subtract(tmp, value, out=value)
    # a = df F n(d1); vega = a sqrt(T); gamma = a / (F^2 sd); theta = r V - a vol / (2 sqrt(T))
    pdf *= f
    pdf *= df
    pdf *= _INV_SQRT_2PI
    np.multiply(pdf, sqrt_t, out=vega)
    np.multiply(f, sd, out=tmp)
    tmp *= f
    np.divide(pdf, tmp, out=gamma)
    np.divide(v, sqrt_t, out=tmp)
    tmp *= pdf
    tmp *= 0.5
    np.multiply(r, value, out=theta)
    theta -= tmp
    if special is not None:
        fix = _boundary(f[special], k[special], t[special], v[special], r[special], call[special])
        for target, source in zip(out, fix, strict=True):
            target[special] = source


def _value_block(
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    v: FloatArray,
    r: FloatArray,
    call: BoolArray,
    value: FloatArray,
    w: _Workspace,
) -> None:
    """Write the value of one block of ``m`` options into ``value`` (shape ``(m,)``)."""
    m = f.shape[0]
    sign, _, sd, d1, d2, df = _fill_common(f, k, t, v, r, call, w)
    special = _needs_boundary(sd, d1, w)
    from scipy.special import ndtr  # imported at first use: SciPy costs 0.2 s at start-up

    tmp = w.tmp[:m]
    ndtr(d1, out=d1)
    ndtr(d2, out=d2)
    # The same operations, in the same order, as _greeks_block: both paths agree bit for bit.
    np.multiply(d1, sign, out=tmp)
    tmp *= df
    np.multiply(k, d2, out=value)
    value *= sign
    value *= df
    tmp *= f
    np.subtract(tmp, value, out=value)
    if special is not None:
        fix = _boundary(f[special], k[special], t[special], v[special], r[special], call[special])
        value[special] = fix.value


def _block_args(
    inputs: _Inputs, shape: tuple[int, ...], index: tuple[object, ...]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, BoolArray]:
    """Return the inputs of one block as 1-d arrays (views when the block is contiguous)."""
    f, k, t, v, r = (
        _flat(a.reshape(shape), index)
        for a in (inputs.forward, inputs.strike, inputs.time, inputs.vol, inputs.rate)
    )
    call: BoolArray = inputs.is_call.reshape(shape)[index].reshape(-1)  # type: ignore[index]
    return f, k, t, v, r, call


def _flat(array: FloatArray, index: tuple[object, ...]) -> FloatArray:
    """Return ``array[index]`` as a 1-d array (a view when the block is contiguous)."""
    block: FloatArray = array[index].reshape(-1)  # type: ignore[index]
    return block


_JIT_BLOCK_SIZE = 65_536
"""Options per call of the compiled kernel: the Python work per block (views, the call) is then
about 1 % of the time, and broadcast copies of the inputs stay at 3 MiB."""

_A = TypeVar("_A", FloatArray, BoolArray)
_BlockArgs = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, BoolArray]
"""One block's forward, strike, time, vol, rate and is_call, each C-contiguous ``(m,)``."""


def _jit() -> ModuleType | None:
    """Return the compiled kernel's module, or ``None`` without numba or with ``PMARGIN_JIT=0``."""
    return compiled_module("pmargin.pricing._black76_jit")


def kernel_name() -> str:
    """Name the kernel :func:`black76` runs: ``"numba"`` (compiled) or ``"numpy"`` (reference).

    Returns
    -------
    str
        ``"numba"`` when numba is installed (the ``fast`` extra) and ``PMARGIN_JIT`` is not
        ``0``, else ``"numpy"``.
    """
    return "numpy" if _jit() is None else "numba"


def _contiguous_blocks(inputs: _Inputs) -> Iterator[tuple[_BlockArgs, tuple[object, ...]]]:
    """Yield each block's inputs as C-contiguous 1-d arrays, with the block's index."""
    shape = inputs.shape or (1,)
    for index in iter_blocks(shape, _JIT_BLOCK_SIZE):
        f, k, t, v, r, call = _block_args(inputs, shape, index)
        args = (_frozen(f), _frozen(k), _frozen(t), _frozen(v), _frozen(r), _frozen(call))
        yield args, index


def _frozen(array: _A) -> _A:
    """Return ``array`` as a C-contiguous read-only view (a copy only if it is not contiguous).

    numba compiles one machine-code version per combination of argument types, and read-only
    is part of the type: making every input read-only keeps that to one version per kernel.
    """
    view = np.ascontiguousarray(array).view()
    view.flags.writeable = False
    return view


def _redo_greeks(args: _BlockArgs, lanes: IntArray, out: Black76Result) -> None:
    """Recompute the compiled kernel's off-domain ``lanes`` of ``out`` with the NumPy kernel."""
    f, k, t, v, r, call = args
    fix = Black76Result(*(np.empty(lanes.size) for _ in Black76Result._fields))
    work = _Workspace(lanes.size)
    _greeks_block(f[lanes], k[lanes], t[lanes], v[lanes], r[lanes], call[lanes], fix, work)
    for target, source in zip(out, fix, strict=True):
        target[lanes] = source


def _redo_value(args: _BlockArgs, lanes: IntArray, value: FloatArray) -> None:
    """Recompute the compiled kernel's off-domain ``lanes`` of ``value`` with the NumPy kernel."""
    f, k, t, v, r, call = args
    fix = np.empty(lanes.size)
    work = _Workspace(lanes.size)
    _value_block(f[lanes], k[lanes], t[lanes], v[lanes], r[lanes], call[lanes], fix, work)
    value[lanes] = fix


def black76(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
) -> Black76Result:
    """Black-76 value and raw Greeks of European options on a forward.

    All arguments broadcast together (for example forwards of shape ``(n_instruments, 1)``
    against scenario shifts of shape ``(n_scenarios,)``); every output has the broadcast shape.
    The work is done in cache-sized blocks, so memory beyond the five outputs stays small.

    With numba installed (the ``fast`` extra) a compiled SIMD kernel does the work; without it,
    or with ``PMARGIN_JIT=0``, the NumPy kernel :func:`black76_reference`. The two agree to a
    few ulp of each result's scale (``docs/pricing.md`` states the bounds) and bit for bit at
    and after expiry and for invalid input.

    Parameters
    ----------
    forward
        Forward price ``F``, quote currency per unit of underlying; must be ``> 0``.
    strike
        Strike ``K``, same unit as ``forward``; must be ``> 0``.
    time
        ACT/365 year fraction to expiry ``T``; ``0`` at expiry, negative after it.
    vol
        Annualised Black volatility as a decimal (0.55 for 55 %); must be ``>= 0``.
    is_call
        ``True`` for a call, ``False`` for a put.
    rate
        Continuously compounded discount rate of the premium currency, decimal per year.

    Returns
    -------
    Black76Result
        ``value, delta, gamma, vega, theta`` as float64 arrays of the broadcast shape. See the
        module docstring for units, the near-expiry limit and the handling of invalid inputs.

    Raises
    ------
    ValueError
        If an argument is not numeric (``is_call`` not boolean) or the shapes do not broadcast.

    Examples
    --------
    >>> r = black76(100.0, 100.0, 1.0, 0.2, True)
    >>> round(float(r.value), 6), round(float(r.delta), 6)
    (7.965567, 0.539828)
    """
    jit = _jit()
    if jit is None:
        return black76_reference(forward, strike, time, vol, is_call, rate)
    inputs = _broadcast(forward, strike, time, vol, is_call, rate)
    out = Black76Result(*(np.empty(inputs.shape or (1,)) for _ in Black76Result._fields))
    with np.errstate(all="ignore"):
        for args, index in _contiguous_blocks(inputs):
            block_out = Black76Result(*(_flat(o, index) for o in out))
            lanes = jit.greeks_into(args, block_out)
            if lanes.size:
                _redo_greeks(args, lanes, block_out)
    return Black76Result(*(o.reshape(inputs.shape) for o in out))


def black76_value(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
) -> FloatArray:
    """Black-76 value only: the cheap path for revaluing instruments under many scenarios.

    Same arguments, conventions, limits and kernel as :func:`black76`, whose ``value`` it
    equals bit for bit.

    Parameters
    ----------
    forward
        Forward price, quote currency per unit of underlying; must be ``> 0``.
    strike
        Strike, same unit as ``forward``; must be ``> 0``.
    time
        ACT/365 year fraction to expiry.
    vol
        Annualised Black volatility as a decimal; must be ``>= 0``.
    is_call
        ``True`` for a call, ``False`` for a put.
    rate
        Continuously compounded discount rate of the premium currency, decimal per year.

    Returns
    -------
    FloatArray
        Option value, premium currency per unit of underlying, of the broadcast shape.
    """
    jit = _jit()
    if jit is None:
        return black76_value_reference(forward, strike, time, vol, is_call, rate)
    inputs = _broadcast(forward, strike, time, vol, is_call, rate)
    value = np.empty(inputs.shape or (1,))
    with np.errstate(all="ignore"):
        for args, index in _contiguous_blocks(inputs):
            block_value = _flat(value, index)
            lanes = jit.value_into(args, block_value)
            if lanes.size:
                _redo_value(args, lanes, block_value)
    return value.reshape(inputs.shape)


def black76_reference(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
) -> Black76Result:
    """Black-76 value and raw Greeks with NumPy and SciPy: the reference twin of :func:`black76`.

    The kernel :func:`black76` runs when numba is absent. Arguments, results, units, limits and
    errors are those of :func:`black76`.

    Examples
    --------
    >>> r = black76_reference(100.0, 100.0, 1.0, 0.2, True)
    >>> round(float(r.value), 6), round(float(r.delta), 6)
    (7.965567, 0.539828)
    """
    inputs = _broadcast(forward, strike, time, vol, is_call, rate)
    shape = inputs.shape or (1,)
    size = math.prod(shape)
    out = Black76Result(*(np.empty(shape) for _ in Black76Result._fields))
    work = _Workspace(min(BLOCK_SIZE, max(size, 1)))
    with np.errstate(all="ignore"):
        for index in iter_blocks(shape):
            block_out = Black76Result(*(_flat(o, index) for o in out))
            _greeks_block(*_block_args(inputs, shape, index), block_out, work)
    return Black76Result(*(o.reshape(inputs.shape) for o in out))


def black76_value_reference(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
) -> FloatArray:
    """Black-76 value only with NumPy and SciPy: the reference twin of :func:`black76_value`.

    Arguments and result as :func:`black76_value`; equals ``black76_reference(...).value`` bit
    for bit.
    """
    inputs = _broadcast(forward, strike, time, vol, is_call, rate)
    shape = inputs.shape or (1,)
    size = math.prod(shape)
    value = np.empty(shape)
    work = _Workspace(min(BLOCK_SIZE, max(size, 1)))
    with np.errstate(all="ignore"):
        for index in iter_blocks(shape):
            _value_block(*_block_args(inputs, shape, index), _flat(value, index), work)
    return value.reshape(inputs.shape)

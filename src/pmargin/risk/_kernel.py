"""The revaluation kernel: the instrument P&L matrix and its sparse aggregation to accounts.

Rule one of the design: each instrument is revalued once per scenario, all option rows in one
vectorised :func:`~pmargin.pricing.black76_pnl` call. Rule two: account P&L is one sparse
product ``quantity @ instrument_pnl``.

Units
-----
Every P&L is per ONE BASE UNIT of the instrument (one coin of exposure for a BTC contract) and
in the instrument's SETTLEMENT currency, with ``F`` its resolved underlying price (forward, mark
or spot, quote currency) and ``m`` the scenario's multiplier of the underlying price:

* linear option: ``V(F m, sigma_s, T - dt) - V(F, sigma_0, T)``, quote currency;
* inverse (coin-settled) option: ``V(F m, sigma_s, T - dt) / (F m) - V(F, sigma_0, T) / F``,
  coin, the value in coin being the quote value over the forward (Deribit's convention);
* linear future, perpetual, spot: ``F (m - 1)``, quote currency;
* inverse future or perpetual: ``1 - 1 / m``, coin, per base unit at the current mark
  (DESIGN.md: ``q_base (1 - 1/(1+move))``).

``dt`` is ``time_shift`` years; the time left is floored at 0, where an option is worth its
intrinsic value. Funding, carry and the roll-down of futures basis are not modelled.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pmargin._compiled import jit_enabled
from pmargin._typing import ArrayLike, FloatArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.pricing import (
    black76_pnl,
    black76_pnl_into,
    inverse_future_pnl,
    kernel_name,
    linear_future_pnl,
    scenario_major,
)
from pmargin.valuation import ResolvedInstruments

__all__ = [
    "account_pnl",
    "account_pnl_by_currency",
    "instrument_pnl",
    "settlement_to_usd",
    "usd_pnl",
]


def _scenario_array(
    name: str, value: ArrayLike, n_instruments: int, n_scenarios: int | None = None
) -> FloatArray:
    """Return ``value`` as float64 broadcast to ``(n_instruments, n_scenarios)`` (read-only)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(name, value, "must be numeric") from exc
    if array.ndim > 2:
        raise InputError(
            f"{name}.shape", array.shape, "must broadcast to (n_instruments, n_scenarios)"
        )
    if n_scenarios is None:
        n_scenarios = array.shape[-1] if array.ndim else 1
    try:
        return np.broadcast_to(array, (n_instruments, n_scenarios))
    except ValueError as exc:
        raise InputError(
            f"{name}.shape",
            array.shape,
            f"must broadcast to (n_instruments, n_scenarios) = ({n_instruments}, {n_scenarios})",
        ) from exc


def _check_time_shift(time_shift: float) -> float:
    if (
        isinstance(time_shift, bool)
        or not isinstance(time_shift, int | float)
        or not math.isfinite(time_shift)
        or time_shift < 0
    ):
        raise InputError("time_shift", time_shift, "must be a finite number of years >= 0")
    return float(time_shift)


def _first_bad(resolved: ResolvedInstruments, bad: Any) -> str:
    """Describe the first ``True`` of a ``(n_instruments, n_scenarios)`` mask."""
    i, s = (int(x) for x in np.argwhere(bad)[0])
    return f"[{i}, {s}] (instrument {resolved.instruments[i].symbol!r}, scenario {s})"


def instrument_pnl(
    resolved: ResolvedInstruments,
    spot_multiplier: ArrayLike,
    vol: ArrayLike,
    *,
    time_shift: float = 0.0,
    out: FloatArray | None = None,
) -> FloatArray:
    """P&L of one base unit of each instrument under each scenario, in its settlement currency.

    Parameters
    ----------
    resolved
        ``n_instruments`` resolved instruments.
    spot_multiplier
        Multiplier of each instrument's underlying price (0.84 for a 16 % fall), shape
        ``(n_instruments, n_scenarios)`` or broadcastable to it (``(n_scenarios,)`` applies one
        move to every row); finite and ``> 0``.
    vol
        Scenario implied volatility (decimal), broadcastable to
        ``(n_instruments, n_scenarios)``; finite and ``>= 0`` on option rows, ignored (may be
        NaN) on other rows.
    time_shift
        Years by which time to expiry is reduced in every scenario, ``>= 0``.
    out
        Optional float64 ``(n_instruments, n_scenarios)`` array the result is written into
        (and returned). A caller holding its scenarios one per row passes the transposes
        (``multiplier.T``, ``vol.T``, ``out.T`` of C-contiguous ``(n_scenarios,
        n_instruments)`` arrays): with few scenarios the compiled pass then runs
        scenario-major with no transposed copies in or out. On an error its content is
        undefined.

    Returns
    -------
    FloatArray
        Shape ``(n_instruments, n_scenarios)``: settlement-currency P&L per base unit (see the
        module docstring for the formula of each kind); ``out`` where given, else
        C-contiguous.

    Raises
    ------
    InputError
        For shapes that do not broadcast, or a multiplier, vol or time shift out of its domain,
        naming the first offending instrument and scenario.

    Notes
    -----
    With numba (the ``fast`` extra) one compiled pass over every row and scenario
    (:func:`~pmargin.pricing.black76_pnl_into` on the option rows in place, then the
    delta-one rows); without it (or with ``PMARGIN_JIT=0``) the NumPy path, its reference
    twin (option rows taken out, one :func:`~pmargin.pricing.black76_pnl`): the same bits
    (tested).
    """
    n = len(resolved)
    shift = _check_time_shift(time_shift)
    mult = _scenario_array("spot_multiplier", spot_multiplier, n)
    n_s = mult.shape[1]
    vols = _scenario_array("vol", vol, n, n_s)
    if out is not None and (out.shape != (n, n_s) or out.dtype != np.float64):
        raise InputError("out.shape", out.shape, f"must be float64 ({n}, {n_s})")
    if not jit_enabled() or kernel_name() != "numba" or mult.size == 0:
        pnl = _instrument_pnl_numpy(resolved, mult, vols, shift)
        if out is None:
            return pnl
        out[...] = pnl
        return out
    return _instrument_pnl_compiled(resolved, mult, vols, shift, out)


def _check_domain(resolved: ResolvedInstruments, mult: FloatArray, vols: FloatArray) -> FloatArray:
    """Raise :func:`instrument_pnl`'s error for a multiplier or option vol out of its domain.

    Returns the option rows' vols ``(n_options, n_scenarios)`` (a view where every row is an
    option).
    """
    # min and max see a NaN (they return it, and every comparison with it is False): one
    # pass each, no (n, S) masks unless something is out of its domain
    n, n_s = mult.shape
    if mult.size and not (mult.min() > 0.0 and mult.max() < math.inf):
        bad_mult = ~(np.isfinite(mult) & (mult > 0.0))
        where = _first_bad(resolved, bad_mult)
        raise InputError(f"spot_multiplier{where}", mult[bad_mult][0], "must be finite and > 0")
    opt = resolved.is_option
    opt_vols = vols if bool(opt.all()) else np.take(vols, np.flatnonzero(opt), axis=0)
    if opt_vols.size and not (opt_vols.min() >= 0.0 and opt_vols.max() < math.inf):
        bad_vol = np.zeros((n, n_s), dtype=bool)
        bad_vol[opt] = ~(np.isfinite(opt_vols) & (opt_vols >= 0.0))
        where = _first_bad(resolved, bad_vol)
        raise InputError(f"vol{where}", vols[bad_vol][0], "must be finite and >= 0 for options")
    return opt_vols


def _instrument_pnl_numpy(
    resolved: ResolvedInstruments, mult: FloatArray, vols: FloatArray, shift: float
) -> FloatArray:
    """:func:`instrument_pnl` by NumPy: option rows taken out, one :func:`black76_pnl` call."""
    n, n_s = mult.shape
    opt_vols = _check_domain(resolved, mult, vols)
    opt = resolved.is_option
    every = bool(opt.all())
    rows = np.flatnonzero(opt)
    if every:
        return black76_pnl(
            resolved.underlying_price, resolved.strike, resolved.time, resolved.vol,
            resolved.is_call, resolved.rate, mult, vols, inverse=resolved.is_inverse,
            time_shift=shift,
        )  # fmt: skip
    pnl = np.empty((n, n_s))
    one = np.flatnonzero(~opt)
    if one.size:
        pnl[one] = _delta_one(resolved, one, mult[one])
    if rows.size:
        pnl[rows] = black76_pnl(
            resolved.underlying_price[rows], resolved.strike[rows], resolved.time[rows],
            resolved.vol[rows], resolved.is_call[rows], resolved.rate[rows],
            np.take(mult, rows, axis=0), opt_vols, inverse=resolved.is_inverse[rows],
            time_shift=shift,
        )  # fmt: skip
    return pnl


def _delta_one(resolved: ResolvedInstruments, rows: Any, mult: FloatArray) -> FloatArray:
    """P&L of the delta-one ``rows`` under their multipliers ``mult`` ``(len(rows), S)``."""
    # Entry at today's price. Inverse P&L depends only on the ratio m, so the relative price
    # m against an entry of 1 gives 1 - 1/m exactly.
    forward = resolved.underlying_price[rows][:, None]
    pnl: FloatArray = np.where(
        resolved.is_inverse[rows][:, None],
        inverse_future_pnl(mult, 1.0),
        linear_future_pnl(forward * mult, forward),
    )
    return pnl


def _instrument_pnl_compiled(
    resolved: ResolvedInstruments,
    mult: FloatArray,
    vols: FloatArray,
    shift: float,
    out: FloatArray | None,
) -> FloatArray:
    """:func:`instrument_pnl` by one compiled pass over every row (the option rows computed).

    :func:`~pmargin.pricing.black76_pnl_into` writes the option rows in place (no rows taken
    out, no transposed copies where the caller holds scenario-major arrays); the delta-one
    rows are written after. Its lanes off the compiled kernel's domain include every
    multiplier or vol out of this function's domain, so the checks run only where it reports
    some (or a delta-one multiplier is out of it).
    """
    n, n_s = mult.shape
    opt = resolved.is_option
    if out is None:
        target = np.empty((n_s, n)).T if scenario_major(n, n_s) else np.empty((n, n_s))
    else:
        target = out
    n_off = black76_pnl_into(
        resolved.underlying_price, resolved.strike, resolved.time, resolved.vol,
        resolved.is_call, resolved.rate, mult, vols, target, inverse=resolved.is_inverse,
        time_shift=shift, rows=opt,
    )  # fmt: skip
    one = np.flatnonzero(~opt)
    m_one = mult[one]
    if n_off or (m_one.size and not (m_one.min() > 0.0 and m_one.max() < math.inf)):
        _check_domain(resolved, mult, vols)  # raises where a lane is out of the domain
    if one.size:
        target[one] = _delta_one(resolved, one, m_one)
    return np.ascontiguousarray(target) if out is None else out


def settlement_to_usd(
    resolved: ResolvedInstruments, pnl: ArrayLike, spot_multiplier: ArrayLike
) -> FloatArray:
    """Convert settlement-currency P&L to USD at each scenario's settlement-currency price.

    Coin-settled rows are converted at ``settlement_usd * spot_multiplier`` (the coin moves with
    the scenario); quote-settled rows at ``quote_usd``, unshocked: stablecoin prices are not
    shocked here.

    Parameters
    ----------
    resolved
        ``n_instruments`` resolved instruments.
    pnl
        Settlement-currency P&L, shape ``(n_instruments, n_scenarios)``.
    spot_multiplier
        The multipliers ``pnl`` was computed with, broadcastable to ``pnl``'s shape.

    Returns
    -------
    FloatArray
        USD P&L, shape ``(n_instruments, n_scenarios)``.
    """
    n = len(resolved)
    values = _scenario_array("pnl", pnl, n)
    mult = _scenario_array("spot_multiplier", spot_multiplier, n, values.shape[1])
    inverse = resolved.is_inverse[:, None]
    rate = np.where(inverse, resolved.settlement_usd[:, None] * mult, resolved.quote_usd[:, None])
    result: FloatArray = values * rate
    return result


def usd_pnl(
    resolved: ResolvedInstruments,
    spot_multiplier: ArrayLike,
    vol: ArrayLike,
    *,
    time_shift: float = 0.0,
) -> FloatArray:
    """:func:`instrument_pnl` converted to USD with :func:`settlement_to_usd`.

    Returns
    -------
    FloatArray
        USD P&L per base unit, shape ``(n_instruments, n_scenarios)``.
    """
    pnl = instrument_pnl(resolved, spot_multiplier, vol, time_shift=time_shift)
    return settlement_to_usd(resolved, pnl, spot_multiplier)


def _check_product_shapes(quantity: Any, pnl: FloatArray) -> None:
    if pnl.ndim != 2 or quantity.shape[1] != pnl.shape[0]:
        raise InputError(
            "instrument_pnl.shape",
            pnl.shape,
            f"must be (n_instruments, n_scenarios) with n_instruments = {quantity.shape[1]}",
        )


def account_pnl(quantity: Any, instrument_pnl: ArrayLike) -> FloatArray:
    """Account P&L over scenarios: one sparse product ``quantity @ instrument_pnl``.

    Parameters
    ----------
    quantity
        Sparse (``scipy.sparse`` array or matrix) or dense, shape
        ``(n_accounts, n_instruments)``: base-unit quantities (``BookArrangement.quantity``).
    instrument_pnl
        P&L per base unit, shape ``(n_instruments, n_scenarios)``, all in one currency.

    Returns
    -------
    FloatArray
        Dense, shape ``(n_accounts, n_scenarios)``, in the currency of ``instrument_pnl``.
    """
    pnl = np.asarray(instrument_pnl, dtype=np.float64)
    _check_product_shapes(quantity, pnl)
    return np.asarray(quantity @ pnl, dtype=np.float64)


def account_pnl_by_currency(
    arrangement: BookArrangement, instrument_pnl: ArrayLike
) -> dict[str, FloatArray]:
    """Account P&L per settlement currency (coin-settled units are margined apart).

    Parameters
    ----------
    arrangement
        The book; its instruments are the rows of ``instrument_pnl``.
    instrument_pnl
        Settlement-currency P&L per base unit, shape ``(n_instruments, n_scenarios)`` (the
        output of :func:`instrument_pnl`).

    Returns
    -------
    dict[str, FloatArray]
        ``currency -> (n_accounts, n_scenarios)`` P&L in that currency, summing only the
        instruments settled in it; currencies in order of first appearance. One sparse product
        per currency over the columns of that currency.
    """
    pnl = np.asarray(instrument_pnl, dtype=np.float64)
    _check_product_shapes(arrangement.quantity, pnl)
    currencies = np.asarray(arrangement.settlement_currencies, dtype=object)
    result: dict[str, FloatArray] = {}
    for currency in dict.fromkeys(arrangement.settlement_currencies):
        columns = np.flatnonzero(currencies == currency)
        result[currency] = account_pnl(arrangement.quantity[:, columns], pnl[columns])
    return result

"""Volatility surface of one underlying: raw SVI slices per expiry, interpolated in time.

Rules (``t`` in ACT/365 years from the surface's ``asof`` instant, the snapshot timestamp;
``k = ln(K / F)`` the log forward moneyness; ``t_1 < ... < t_N`` the slice times; ``w_i`` the
slices' total variances):

* at a slice time ``t_i``: ``w(k, t_i) = w_i(k)`` exactly;
* between two slices: total variance linear in ``t`` at fixed ``k``,
  ``w(k, t) = w_i(k) + (t - t_i) / (t_{i+1} - t_i) * (w_{i+1}(k) - w_i(k))``;
* before the first slice: ``w(k, t) = w_1(k) * t / t_1`` (implied vol flat in ``t`` at fixed
  ``k``; at ``t = 0`` the implied vol is that limit, ``sqrt(w_1(k) / t_1)``);
* after the last slice: ``w(k, t) = w_N(k) * t / t_N`` (flat implied vol);
* in strike: raw SVI everywhere, linear in ``k`` in the wings, no other rule.

Calendar arbitrage (total variance decreasing in ``t`` at some ``k``) is not checked on
construction; :meth:`VolSurface.calendar_violations` reports it on a grid of ``k`` on request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from pmargin._validation import check_currency
from pmargin.errors import InputError
from pmargin.market._checks import abbreviate, check_price
from pmargin.market._svi import SVI_FIELDS, RawSVI, raw_svi_total_variance
from pmargin.timeutil import format_timestamp, parse_expiry, parse_timestamp, year_fraction

__all__ = ["SurfaceAtTimes", "SurfaceSlice", "VolSurface"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SurfaceSlice:
    """One expiry of a volatility surface.

    Parameters
    ----------
    expiry
        Expiry instant (aware UTC ``datetime``; a date or ISO text is parsed, a date alone
        meaning 08:00 UTC).
    svi
        Raw SVI parameters of the slice's total implied variance.
    forward
        Optional USD forward price of one unit of the underlying for this expiry, the one the
        slice was fitted against. Used by :meth:`MarketSnapshot.forward` when no explicit
        forward or futures mark is given.
    """

    expiry: datetime
    svi: RawSVI
    forward: float | None = None

    def __post_init__(self) -> None:
        """Normalise the expiry to UTC and check the forward."""
        object.__setattr__(self, "expiry", parse_expiry(self.expiry, "slice.expiry"))
        if not isinstance(self.svi, RawSVI):
            raise InputError("slice.svi", abbreviate(self.svi), "must be a RawSVI")
        if self.forward is not None:
            object.__setattr__(self, "forward", check_price(self.forward, "slice.forward"))


@dataclass(frozen=True, slots=True)
class VolSurface:
    """Raw SVI slices of one underlying, sorted by expiry, anchored at the snapshot time.

    Parameters
    ----------
    underlying
        Underlying code (``"BTC"``), stored in upper case.
    slices
        One :class:`SurfaceSlice` per expiry, in any order; stored as a tuple sorted by expiry.
        At least one; expiries must be distinct and after ``asof``.
    asof
        The instant times to expiry are measured from: the market snapshot's timestamp.

    Raises
    ------
    InputError
        For an empty surface, duplicate or expired slices, naming
        ``surfaces.<underlying>[<i>].expiry`` with ``i`` the position in ``slices`` as given.
    """

    underlying: str
    slices: Sequence[SurfaceSlice]
    asof: datetime
    _times: FloatArray = field(init=False, repr=False, compare=False)
    _params: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate, sort the slices and cache their times and parameters as arrays."""
        underlying = check_currency(self.underlying, "surface.underlying")
        object.__setattr__(self, "underlying", underlying)
        object.__setattr__(self, "asof", parse_timestamp(self.asof, "surface.asof"))
        where = f"surfaces.{underlying}"
        given = tuple(self.slices)
        if not given:
            raise InputError(where, [], "must hold at least one slice")
        seen: dict[datetime, int] = {}
        for i, piece in enumerate(given):
            if not isinstance(piece, SurfaceSlice):
                raise InputError(f"{where}[{i}]", abbreviate(piece), "must be a SurfaceSlice")
            if piece.expiry in seen:
                raise InputError(
                    f"{where}[{i}].expiry",
                    format_timestamp(piece.expiry),
                    f"duplicates the expiry of {where}[{seen[piece.expiry]}]; give one slice "
                    "per expiry",
                )
            seen[piece.expiry] = i
            if piece.expiry <= self.asof:
                raise InputError(
                    f"{where}[{i}].expiry",
                    format_timestamp(piece.expiry),
                    f"must be after the market timestamp {format_timestamp(self.asof)}",
                )
        ordered = tuple(sorted(given, key=lambda piece: piece.expiry))
        object.__setattr__(self, "slices", ordered)
        times = np.array([year_fraction(self.asof, s.expiry) for s in ordered], dtype=np.float64)
        params = np.array(
            [[getattr(s.svi, name) for s in ordered] for name in SVI_FIELDS], dtype=np.float64
        )
        times.flags.writeable = False
        params.flags.writeable = False
        object.__setattr__(self, "_times", times)
        object.__setattr__(self, "_params", params)

    @property
    def expiries(self) -> tuple[datetime, ...]:
        """Slice expiries, ascending."""
        return tuple(s.expiry for s in self.slices)

    @property
    def times(self) -> FloatArray:
        """Slice times to expiry in ACT/365 years from ``asof``, ascending, shape ``(n_slices,)``.

        Read-only.
        """
        return self._times

    def slice_at(self, expiry: datetime) -> SurfaceSlice | None:
        """Return the slice expiring exactly at ``expiry``, or ``None``."""
        for piece in self.slices:
            if piece.expiry == expiry:
                return piece
        return None

    def total_variance(self, k: npt.ArrayLike, t: npt.ArrayLike) -> FloatArray:
        """Total implied variance ``w(k, t)`` (years x vol**2), interpolated as the module says.

        Parameters
        ----------
        k
            Log forward moneyness ``ln(K / F_t)``, finite.
        t
            Time to expiry in ACT/365 years from ``asof``, finite and ``>= 0``. Broadcast
            against ``k``.

        Returns
        -------
        ndarray
            Float64 array of the broadcast shape of ``k`` and ``t``.

        Raises
        ------
        InputError
            Naming ``k`` or ``t`` when a value is not finite or a time is negative.
        """
        w, _ = self._interpolate(k, t)
        return w

    def implied_vol(
        self, strike: npt.ArrayLike, forward: npt.ArrayLike, t: npt.ArrayLike
    ) -> FloatArray:
        """Black implied vol (annualised decimal) at ``strike`` for an expiry ``t`` years away.

        Parameters
        ----------
        strike
            Strikes, finite and ``> 0``.
        forward
            Forward prices of that expiry, in the strike's currency, finite and ``> 0``.
        t
            Times to expiry in ACT/365 years from ``asof``, finite and ``>= 0``.

        Returns
        -------
        ndarray
            ``sqrt(w(k, t) / t)`` with ``k = ln(strike / forward)``, float64 of the broadcast
            shape of the three inputs. At ``t = 0`` the limit of the flat-vol rule before the
            first slice, ``sqrt(w_1(k) / t_1)``.

        Raises
        ------
        InputError
            Naming ``strike``, ``forward`` or ``t`` for a value out of its domain.
        """
        strikes = _positive(strike, "strike")
        forwards = _positive(forward, "forward")
        _, rate = self._interpolate(np.log(strikes / forwards), t)
        return np.sqrt(rate)

    def at_times(self, t: npt.ArrayLike) -> SurfaceAtTimes:
        """Return the surface read at fixed times to expiry, for strikes and forwards that move.

        Parameters
        ----------
        t
            Times to expiry in ACT/365 years from ``asof``, finite and ``>= 0``, shape ``(n,)``.

        Returns
        -------
        SurfaceAtTimes
            Holds each time's slices and interpolation weights (a monitor's options keep their
            times between ticks, only forwards move); its
            :meth:`~SurfaceAtTimes.implied_vol` equals :meth:`implied_vol` at these times bit
            for bit.

        Raises
        ------
        InputError
            Naming ``t`` for a value not finite or negative.
        """
        return SurfaceAtTimes(self, _times_checked(t))

    def calendar_violations(self, k: npt.ArrayLike) -> list[tuple[datetime, datetime]]:
        """Pairs of consecutive expiries whose total variance decreases somewhere on ``k``.

        Parameters
        ----------
        k
            Grid of log forward moneyness to test, e.g. ``np.linspace(-2, 2, 401)``.

        Returns
        -------
        list of (datetime, datetime)
            ``(earlier, later)`` expiries with ``w_later(k) < w_earlier(k)`` at some grid point;
            empty when the surface is free of calendar arbitrage on the grid.
        """
        grid = _finite(k, "k")
        found: list[tuple[datetime, datetime]] = []
        for early, late in zip(self.slices, self.slices[1:], strict=False):
            if np.any(late.svi.total_variance(grid) < early.svi.total_variance(grid)):
                found.append((early.expiry, late.expiry))
        return found

    def rolled_to(self, asof: datetime) -> VolSurface | None:
        """Re-anchor the same slices at ``asof``, dropping those expiring by then.

        The SVI parameters (total variance to each expiry) are kept unchanged, so implied vols
        rise as time to expiry shrinks. Returns ``None`` when every slice has expired.
        """
        when = parse_timestamp(asof, "asof")
        live = [piece for piece in self.slices if piece.expiry > when]
        if not live:
            return None
        return VolSurface(self.underlying, tuple(live), when)

    def _interpolate(self, k: npt.ArrayLike, t: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Total variance ``w(k, t)`` and variance rate ``w / t`` (its ``t -> 0`` limit at 0)."""
        moneyness = _finite(k, "k")
        times = _times_checked(t)
        moneyness, times = np.broadcast_arrays(moneyness, times)
        return SurfaceAtTimes(self, times).interpolate(moneyness)


class SurfaceAtTimes:
    """A :class:`VolSurface` read at fixed times to expiry (:meth:`VolSurface.at_times`).

    Each time's bracketing slices, their SVI parameters and the interpolation weights are
    found once; :meth:`interpolate` and :meth:`implied_vol` then cost two SVI evaluations per
    point. Every number is the one :meth:`VolSurface.implied_vol` computes, by the same
    operations in the same order (it is built on this class).
    """

    __slots__ = ("_alpha", "_flat", "_hi", "_inside", "_lo", "_safe_t", "_t_lo", "shape")

    def __init__(self, surface: VolSurface, times: FloatArray) -> None:
        n = surface._times.size
        after = np.searchsorted(surface._times, times, side="right")
        lo = np.clip(after - 1, 0, n - 1)
        hi = np.minimum(after, n - 1)
        a, b, rho, m, sigma = surface._params
        self._lo = (a[lo], b[lo], rho[lo], m[lo], sigma[lo])
        self._hi = (a[hi], b[hi], rho[hi], m[hi], sigma[hi])
        t_lo = surface._times[lo]
        t_hi = surface._times[hi]
        inside = hi != lo
        span = np.where(inside, t_hi - t_lo, 1.0)
        self._t_lo = t_lo
        self._inside = inside
        self._alpha = np.where(inside, (times - t_lo) / span, 0.0)
        self._flat = times / t_lo
        self._safe_t = np.where(inside, times, 1.0)
        self.shape: tuple[int, ...] = times.shape
        """Shape of the times (and of every moneyness, strike and forward given)."""

    def interpolate(self, moneyness: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Total variance and variance rate at ``moneyness`` (``ln(K / F)``, the times' shape)."""
        w_lo, w_inside = self._w_inside(moneyness)
        w_flat = w_lo * self._flat
        w = np.where(self._inside, w_inside, w_flat)
        return w, self._rate(w_lo, w_inside)

    def implied_vol(self, strike: npt.ArrayLike, forward: npt.ArrayLike) -> FloatArray:
        """Black implied vols (annualised decimal) at ``strike`` and ``forward``, the times' shape.

        Raises
        ------
        InputError
            Naming ``strike`` or ``forward`` for a value not finite and ``> 0``, or ``k`` for a
            moneyness not finite.
        """
        strikes = _positive(strike, "strike")
        forwards = _positive(forward, "forward")
        moneyness = _finite(np.log(strikes / forwards), "k")
        if moneyness.shape != self.shape:
            raise InputError("strike", moneyness.shape, f"must have the times' shape {self.shape}")
        w_lo, w_inside = self._w_inside(moneyness)
        return np.sqrt(self._rate(w_lo, w_inside))

    def _w_inside(self, moneyness: FloatArray) -> tuple[FloatArray, FloatArray]:
        w_lo = raw_svi_total_variance(moneyness, *self._lo)
        w_hi = raw_svi_total_variance(moneyness, *self._hi)
        return w_lo, w_lo + self._alpha * (w_hi - w_lo)

    def _rate(self, w_lo: FloatArray, w_inside: FloatArray) -> FloatArray:
        rate: FloatArray = np.where(self._inside, w_inside / self._safe_t, w_lo / self._t_lo)
        return rate


def _times_checked(t: npt.ArrayLike) -> FloatArray:
    """Return times to expiry as a float64 array, finite and ``>= 0`` (an error names ``t``)."""
    times = _finite(t, "t")
    negative = times < 0.0
    if np.any(negative):
        raise InputError(
            "t",
            float(times[negative].flat[0]),
            "must be a time to expiry >= 0 in ACT/365 years (has the instrument expired?)",
        )
    return times


def _finite(values: npt.ArrayLike | Iterable[float], name: str) -> FloatArray:
    """``values`` as a float64 array, rejecting NaN and infinities with an error naming it."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(name, abbreviate(values), "must be an array of numbers") from None
    bad = ~np.isfinite(array)
    if np.any(bad):
        raise InputError(name, float(array[bad].flat[0]), "must be a finite number")
    return array


def _positive(values: npt.ArrayLike, name: str) -> FloatArray:
    """``values`` as a float64 array of finite numbers > 0."""
    array = _finite(values, name)
    bad = array <= 0.0
    if np.any(bad):
        raise InputError(name, float(array[bad].flat[0]), "must be a finite number > 0")
    return array

"""Relative price moves of underlyings: the moved market's rule, and how a move acts on a market.

A relative move ``m`` of underlying ``u`` multiplies EVERY USD price of ``u`` by ``1 + m``: the
index, ``prices[u]``, explicit forwards, futures and perpetual marks and surface-slice
forwards, so the basis of every future and the forward curve keep their shape. Options keep
their implied vol per strike (sticky strike) unless ``vol_beta`` is set, in which case every
vol of ``u`` is multiplied by ``(1 + m) ** -vol_beta`` (surface total variance by
``(1 + m) ** (-2 vol_beta)``), an option's vol capped at :data:`MAX_VOL` (10, the largest
implied vol a market takes: :func:`moved_vol`, so a large ``vol_beta`` at a deep fall gives a
vol of 10, not a market that cannot be built).

:func:`moved_market` (also :meth:`MarketSnapshot.moved`) moves a snapshot; what a move does to
positions is the arranged book's rule (:meth:`pmargin.book.BookArrangement.moved`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pmargin._typing import ArrayLike, FloatArray
from pmargin.errors import InputError
from pmargin.market._checks import MAX_VOL
from pmargin.market._futures import describe_symbol
from pmargin.market._mark import Mark
from pmargin.market._surface import SurfaceSlice, VolSurface
from pmargin.market._svi import RawSVI

if TYPE_CHECKING:
    from pmargin.market._snapshot import MarketSnapshot

__all__ = ["MarkKind", "check_moves", "mark_kinds", "moved_market", "moved_vol"]


@dataclass(frozen=True, slots=True)
class MarkKind:
    """What a move does to one mark of the market.

    Attributes
    ----------
    symbol, mark
        The mark.
    underlying
        The underlying whose moves move it (``""``: a symbol no contract describes).
    kind
        ``"delta_one"`` (a future or perpetual: its price scales), ``"option"`` (its vol is
        sticky strike or scaled by ``vol_beta``) or ``"other"`` (kept).
    """

    symbol: str
    mark: Mark
    underlying: str
    kind: str


def mark_kinds(market: MarketSnapshot) -> tuple[MarkKind, ...]:
    """Classify every mark of ``market`` once (a market's marks do not change).

    Returns
    -------
    tuple of MarkKind
        One per mark, in the market's order.
    """
    out = []
    for symbol, mark in market.marks.items():
        contract = describe_symbol(symbol, market.instruments)
        if contract is None:
            out.append(MarkKind(symbol, mark, "", "other"))
            continue
        kind = "option" if contract.is_option else "other"
        if contract.is_futures_style:
            kind = "delta_one"
        out.append(MarkKind(symbol, mark, contract.underlying, kind))
    return tuple(out)


def check_moves(moves: Mapping[str, float]) -> dict[str, float]:
    """Return ``moves`` as floats, checked: every move finite and above -1.

    Raises
    ------
    InputError
        Field ``moves.<underlying>``: not a finite number greater than -1.
    """
    out: dict[str, float] = {}
    for underlying, move in moves.items():
        value = float(move)
        if not math.isfinite(value) or value <= -1.0:
            raise InputError(
                f"moves.{underlying}", move, "must be a finite relative move greater than -1"
            )
        out[underlying] = value
    return out


def moved_market(
    market: MarketSnapshot,
    moves: Mapping[str, float],
    vol_beta: float,
    option_vols: Mapping[str, tuple[str, float]],
    kinds: tuple[MarkKind, ...] | None = None,
) -> MarketSnapshot:
    """Return ``market`` with every USD price of underlying ``u`` times ``1 + moves[u]``.

    Parameters
    ----------
    market
        The snapshot to move.
    moves
        Underlying -> relative move (``-0.2``: down 20 %); an underlying left out does not move.
    vol_beta
        Vol response: every vol of ``u`` times ``(1 + m) ** -vol_beta`` (0: sticky strike).
    option_vols
        Symbol -> (underlying, implied vol) of the options whose vol must stay put per strike
        (a book's options, however their vol was found: iv mark, price mark or surface); those
        of a moved underlying get an ``iv`` mark of ``vol x (1 + m) ** -vol_beta``. Other
        options of a moved underlying keep an ``iv`` mark scaled likewise; their price marks
        are dropped (sticky strike needs the vol).
    kinds
        :func:`mark_kinds` of ``market`` when the caller keeps it; ``None`` classifies here.

    Returns
    -------
    MarketSnapshot
        Same timestamp, rates and instruments.
    """
    mult = {u: 1.0 + m for u, m in moves.items()}
    index = {u: p * mult.get(u, 1.0) for u, p in market.index.items()}
    prices = {a: p * mult.get(a, 1.0) for a, p in market.prices.items()}
    forwards = {
        u: {e: p * mult.get(u, 1.0) for e, p in curve.items()}
        for u, curve in market.forwards.items()
    }
    marks: dict[str, Mark] = {}
    for entry in mark_kinds(market) if kinds is None else kinds:
        symbol, mark = entry.symbol, entry.mark
        m = mult.get(entry.underlying)
        if m is None or entry.kind == "other":
            marks[symbol] = mark
        elif entry.kind == "delta_one":
            marks[symbol] = mark if mark.price is None else Mark(price=mark.price * m)
        elif symbol in option_vols:
            continue  # below
        elif mark.iv is not None:
            marks[symbol] = Mark(iv=float(moved_vol(mark.iv, m, vol_beta)))
    for symbol, (underlying, vol) in option_vols.items():
        m = mult.get(underlying)
        if m is not None:
            marks[symbol] = Mark(iv=float(moved_vol(vol, m, vol_beta)))
    surfaces = {
        u: _moved_surface(s, mult[u], vol_beta) if u in mult else s
        for u, s in market.surfaces.items()
    }
    return market.replace(
        index=index, prices=prices, marks=marks, forwards=forwards, surfaces=surfaces
    )


def _moved_surface(surface: VolSurface, mult: float, vol_beta: float) -> VolSurface:
    """``surface`` with slice forwards times ``mult``, total variance times ``mult**-2beta``."""
    if mult == 1.0:
        return surface
    variance = mult ** (-2.0 * vol_beta)
    slices = [
        SurfaceSlice(
            expiry=s.expiry,
            svi=s.svi
            if variance == 1.0
            else RawSVI(
                a=s.svi.a * variance,
                b=s.svi.b * variance,
                rho=s.svi.rho,
                m=s.svi.m,
                sigma=s.svi.sigma,
            ),
            forward=None if s.forward is None else s.forward * mult,
        )
        for s in surface.slices
    ]
    return VolSurface(surface.underlying, slices, surface.asof)


def moved_vol(vol: ArrayLike, mult: ArrayLike, vol_beta: float) -> FloatArray:
    """Return implied vols after their underlying's price is multiplied by ``mult``.

    ``vol x mult ** -vol_beta``, at most :data:`~pmargin.market.MAX_VOL` (the largest vol a
    market accepts): the one vol rule of :func:`moved_market` and :func:`resolved_at`, so
    the distance search's reference and per-row paths move vols alike.

    Parameters
    ----------
    vol
        Annualised implied vols (decimal), any shape.
    mult
        ``1 + move`` of the underlying, broadcast against ``vol``.
    vol_beta
        Vol response (0: the vol is kept, sticky strike).

    Returns
    -------
    FloatArray
        The broadcast shape of ``vol`` and ``mult``.
    """
    moved: FloatArray = np.minimum(
        np.asarray(vol, dtype=np.float64) * np.asarray(mult, dtype=np.float64) ** -vol_beta,
        MAX_VOL,
    )
    return moved

"""The market of one instant, rebuilt from price history alone (no look-ahead).

:class:`HistoricalMarkets` turns a :class:`~pmargin.history.PriceHistory` (and optionally the
Binance funding series) into one :class:`~pmargin.market.MarketSnapshot` per close instant.
Every input of the snapshot at close ``i`` is computed from closes ``0 .. i`` and funding
prints at or before ``times[i]`` only; :func:`market_at` builds the same snapshot from a
history truncated at the instant, and the tests assert the two agree.

Construction (the parameters are :class:`MarketAssumptions`, defaults below)
----------------------------------------------------------------------------
* **Index**: the close of each underlying (Binance USDT pairs; USDT taken as USD, and
  ``prices.USDC = prices.USDT = 1``: no stablecoin history in the shared data).
* **Carry and forwards**: ``c`` = mean Binance BTCUSDT funding rate per 8 hours over the
  ``carry_window_days`` before the instant, x 3 x 365 (annualised), clipped to
  ``carry_bounds`` (:func:`pmargin.history.trailing_carry`, the same function the scenario
  sources' carry changes come from; :class:`FundingHistory` and :func:`load_funding` live in
  :mod:`pmargin.history` and are re-exported here); 0 before the funding series starts
  (2019-09-10) or without one. It applies to every underlying (no ETH funding series). The
  snapshot carries it as ``rates.USD = c`` (coins and USDC at 0), so that the forward of ANY
  expiry is ``index x exp(c T)`` (:meth:`MarketSnapshot.forward`'s last rule) while options
  stay undiscounted, as Deribit marks them (their settlement currency, coin or USDC, has rate
  0). Perpetuals mark at the index (no premium).
* **30-day ATM vol** ``sigma_30``: BTC's DVOL close where one is known at the instant (from
  2022-11-06); else BTC's trailing 30-day realised vol (zero-mean, log returns, x sqrt(365))
  times ``implied_realised_premium`` (1.15: over the 1,102 days with both, mean DVOL / mean
  RV30 = 1.148 and the median daily ratio is 1.18, the usual variance risk premium). An
  underlying without its own implied vol (ETH) takes the reference's level times the ratio
  of the two 30-day realised vols, clipped to ``vol_ratio_bounds`` ([0.75, 2.5]; the daily
  ratio's 1st-99th percentiles are 0.80-2.66), so before DVOL ETH is exactly its own RV30 x
  premium (if the clip does not bind). Floored at ``min_atm_vol``.
* **Surface**: slices at ``surface_tenors_days`` from the instant. ATM total variance
  ``theta(T) = sigma_30^2 T r(T)``, ``r`` the mean-reverting variance term structure of
  ``docs/example-data.md`` normalised to 1 at 30 days; smile the power-law SSVI of the same
  page, ``w(k) = theta/2 (1 + rho phi k + sqrt((phi k + rho)^2 + 1 - rho^2))``,
  ``phi = eta / (theta^gamma (1 + theta)^(1 - gamma))``, written as raw SVI per slice. The
  parameters are the example fit to the 2026-01-05 Deribit chain, held constant over the
  whole history (an assumption: real skew and term structure move). With ``eta (1 + |rho|)
  <= 2`` and ``0 < gamma <= 1/2`` the surface is free of static arbitrage (Gatheral and
  Jacquier 2014, Remark 4.4), and ``theta(T)`` increases in ``T``;
  :func:`surface_arbitrage` checks both on a grid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.history._estimators import log_returns, realised_vol
from pmargin.history._funding import (
    FUNDING_FILE,
    FUNDING_SOURCE,
    FundingHistory,
    load_funding,
    trailing_carry,
)
from pmargin.history._price_history import PriceHistory, to_datetime64
from pmargin.market import MarketSnapshot, RawSVI, SurfaceSlice, VolSurface

__all__ = [
    "EXAMPLE_SHAPES",
    "FUNDING_FILE",
    "FUNDING_SOURCE",
    "FundingHistory",
    "HistoricalMarkets",
    "MarketAssumptions",
    "SmileShape",
    "load_funding",
    "market_at",
    "surface_arbitrage",
]

_THIRTY_DAYS = 30.0 / 365.0


@dataclass(frozen=True, slots=True)
class SmileShape:
    """Term structure and SSVI smile of one underlying (constant over the backtest).

    Attributes
    ----------
    rho, eta, gamma
        Power-law SSVI: skew, curvature level, curvature decay (``eta (1 + |rho|) <= 2``,
        ``0 < gamma <= 1/2``).
    xi_0, xi_inf, tau
        ATM variance term structure: the expected mean of a variance starting at ``xi_0`` and
        reverting to ``xi_inf`` with time constant ``tau`` years, relative to the 30-day
        variance.
    """

    rho: float
    eta: float
    gamma: float
    xi_0: float
    xi_inf: float
    tau: float

    def __post_init__(self) -> None:
        """Check the no-static-arbitrage constraints."""
        if not -1.0 < self.rho < 1.0 or self.eta <= 0 or self.eta * (1 + abs(self.rho)) > 2.0:
            raise InputError("smile", (self.rho, self.eta), "needs |rho| < 1, eta (1+|rho|) <= 2")
        if not 0.0 < self.gamma <= 0.5:
            raise InputError("smile.gamma", self.gamma, "must be in (0, 1/2]")
        if min(self.xi_0, self.xi_inf, self.tau) <= 0:
            raise InputError("smile.term", (self.xi_0, self.xi_inf, self.tau), "must be > 0")

    def variance_ratio(self, t: FloatArray) -> FloatArray:
        """``sigma_ATM(t)^2 / sigma_30^2`` at ``t`` years (shape of ``t``)."""

        def raw(x: FloatArray) -> FloatArray:
            u = x / self.tau
            out: FloatArray = self.xi_inf + (self.xi_0 - self.xi_inf) * (-np.expm1(-u)) / u
            return out

        result: FloatArray = raw(t) / raw(np.array(_THIRTY_DAYS))
        return result


EXAMPLE_SHAPES: dict[str, SmileShape] = {
    "BTC": SmileShape(rho=-0.163, eta=0.765, gamma=0.5, xi_0=0.973, xi_inf=1.684, tau=0.92),
    "ETH": SmileShape(rho=-0.124, eta=0.770, gamma=0.5, xi_0=0.883, xi_inf=1.212, tau=0.095),
}
"""The example-data fit (``docs/example-data.md``) to the 2026-01-05 Deribit chain."""


@dataclass(frozen=True, slots=True)
class MarketAssumptions:
    """How a historical market is built (see the module docstring).

    Attributes
    ----------
    implied_realised_premium
        ATM implied / realised vol where no DVOL is known (1.15).
    rv_window_days
        Realised-vol window, days (30, the DVOL tenor).
    vol_ratio_bounds
        Clip of the realised-vol ratio of an underlying to the reference.
    min_atm_vol
        Floor of the 30-day ATM vol (decimal, 0.10).
    carry_window_days
        Funding window for the carry, days (30).
    carry_bounds
        Clip of the annualised carry (decimal per year, [-0.5, 1.0]).
    surface_tenors_days
        Slice tenors in days from the instant.
    shapes
        Underlying -> :class:`SmileShape`; others use ``shapes["BTC"]``.
    reference
        The underlying whose implied vol anchors those without one (``"BTC"``).
    stablecoin_price
        USD price of USDC and USDT (1.0).
    """

    implied_realised_premium: float = 1.15
    rv_window_days: int = 30
    vol_ratio_bounds: tuple[float, float] = (0.75, 2.5)
    min_atm_vol: float = 0.10
    carry_window_days: int = 30
    carry_bounds: tuple[float, float] = (-0.5, 1.0)
    surface_tenors_days: tuple[int, ...] = (1, 2, 7, 14, 30, 60, 90, 180, 365)
    shapes: Mapping[str, SmileShape] = field(default_factory=lambda: dict(EXAMPLE_SHAPES))
    reference: str = "BTC"
    stablecoin_price: float = 1.0

    def shape(self, underlying: str) -> SmileShape:
        """Return the smile of ``underlying`` (BTC's where none is given)."""
        return self.shapes.get(underlying, self.shapes.get("BTC", EXAMPLE_SHAPES["BTC"]))


def _ssvi_raw(theta: float, shape: SmileShape) -> RawSVI:
    """Return the raw SVI slice of an SSVI slice with ATM total variance ``theta``."""
    phi = shape.eta / (theta**shape.gamma * (1.0 + theta) ** (1.0 - shape.gamma))
    b = 0.5 * theta * phi
    m = -shape.rho / phi
    sigma = math.sqrt(1.0 - shape.rho**2) / phi
    a = theta - b * (-shape.rho * m + math.sqrt(m * m + sigma * sigma))
    return RawSVI(a=a, b=b, rho=shape.rho, m=m, sigma=sigma)


def _to_datetime(value: np.datetime64) -> datetime:
    seconds = int(value.astype("datetime64[s]").astype(np.int64))
    return datetime.fromtimestamp(seconds, tz=UTC)


class HistoricalMarkets:
    """One market snapshot per close instant of a price history, without look-ahead.

    Parameters
    ----------
    history
        Closes (and DVOL) of the underlyings, e.g. ``load_price_history()``.
    funding
        Funding prints for the carry; ``None`` means carry 0.
    assumptions
        Construction parameters (:class:`MarketAssumptions`).

    Attributes
    ----------
    atm_vol
        30-day ATM vol (decimal) per close and underlying, shape ``(n_times, n_underlyings)``;
        NaN before the first full realised-vol window.
    carry
        Annualised carry per close, shape ``(n_times,)``.
    first_valid
        First close index with a market (the realised-vol window must be full).
    """

    def __init__(
        self,
        history: PriceHistory,
        funding: FundingHistory | None = None,
        assumptions: MarketAssumptions | None = None,
    ) -> None:
        self.history = history
        self.assumptions = assumptions or MarketAssumptions()
        a = self.assumptions
        window = round(a.rv_window_days * 24.0 / history.step)
        if window < 2 or window >= history.n_times:
            raise InputError(
                "history", history.n_times, f"needs more than {window} closes for realised vol"
            )
        rv = realised_vol(log_returns(history.closes), window, history.step)
        atm = np.where(np.isfinite(history.iv), history.iv, rv * a.implied_realised_premium)
        if a.reference in history.names:
            ref = history.names.index(a.reference)
            ratio = np.clip(rv / rv[:, [ref]], *a.vol_ratio_bounds)
            for j in range(len(history.names)):
                if j != ref:
                    own = np.isfinite(history.iv[:, j])
                    atm[:, j] = np.where(own, history.iv[:, j], atm[:, ref] * ratio[:, j])
        self.atm_vol: FloatArray = np.maximum(atm, a.min_atm_vol)
        self.atm_vol[~np.isfinite(rv)] = np.nan
        if funding is None:
            self.carry: FloatArray = np.zeros(history.n_times)
        else:
            self.carry = trailing_carry(funding, history.times, a.carry_window_days, a.carry_bounds)
        self.first_valid = window

    def index_of(self, when: object) -> int:
        """Close index of the instant ``when`` (exactly on the grid), else an InputError."""
        t = to_datetime64(when)
        i = int(np.searchsorted(self.history.times, t))
        if i >= self.history.n_times or self.history.times[i] != t:
            raise InputError("timestamp", str(t), "is not a close instant of the history")
        return i

    def market(self, i: int) -> MarketSnapshot:
        """Build the snapshot at close ``i`` (``first_valid <= i < n_times``).

        Raises
        ------
        InputError
            For an index before the first full realised-vol window or past the end.
        """
        h = self.history
        if not self.first_valid <= i < h.n_times:
            raise InputError(
                "close", i, f"must be in [{self.first_valid}, {h.n_times}) (full vol window)"
            )
        when = _to_datetime(h.times[i])
        a = self.assumptions
        carry = float(self.carry[i])
        tenors = np.asarray(a.surface_tenors_days, dtype=np.float64) / 365.0
        surfaces = {}
        index = {}
        for j, name in enumerate(h.names):
            spot = float(h.closes[i, j])
            index[name] = spot
            shape = a.shape(name)
            sigma = float(self.atm_vol[i, j])
            theta = sigma**2 * tenors * shape.variance_ratio(tenors)
            slices = [
                SurfaceSlice(
                    expiry=when + timedelta(days=d),
                    svi=_ssvi_raw(float(th), shape),
                    forward=spot * math.exp(carry * float(t)),
                )
                for d, th, t in zip(a.surface_tenors_days, theta, tenors, strict=True)
            ]
            surfaces[name] = VolSurface(name, slices, when)
        price = a.stablecoin_price
        return MarketSnapshot(
            timestamp=when,
            index=index,
            prices={"USDC": price, "USDT": price},
            rates={"USD": carry},
            surfaces=surfaces,
        )


def market_at(
    history: PriceHistory,
    when: object,
    funding: FundingHistory | None = None,
    assumptions: MarketAssumptions | None = None,
) -> MarketSnapshot:
    """Build the market at the close instant ``when``, built from the history known then only.

    Truncates ``history`` (and ``funding``) at ``when`` before computing anything, so the
    result cannot depend on later data.
    """
    t = to_datetime64(when)
    cut = history.as_of(t)
    if cut.times[-1] != t:
        raise InputError("timestamp", str(t), "is not a close instant of the history")
    markets = HistoricalMarkets(cut, None if funding is None else funding.as_of(t), assumptions)
    return markets.market(cut.n_times - 1)


def surface_arbitrage(
    surface: VolSurface, k: FloatArray | None = None
) -> tuple[float, list[tuple[datetime, datetime]]]:
    """Check a surface for static arbitrage on a grid of log-moneyness.

    Parameters
    ----------
    surface
        The surface to check.
    k
        Log-moneyness grid; default 1,201 points on [-3, 3].

    Returns
    -------
    min_g, calendar
        The smallest Durrleman density ``g(k) = (1 - k w'/(2w))^2 - w'^2/4 (1/w + 1/4) +
        w''/2`` over every slice and grid point (>= 0: no butterfly arbitrage), and the pairs
        of consecutive expiries whose total variance decreases somewhere on the grid (empty:
        no calendar arbitrage).
    """
    grid = np.linspace(-3.0, 3.0, 1201) if k is None else np.asarray(k, dtype=np.float64)
    min_g = math.inf
    for piece in surface.slices:
        s = piece.svi
        x = grid - s.m
        root = np.sqrt(x * x + s.sigma**2)
        w = s.a + s.b * (s.rho * x + root)
        w1 = s.b * (s.rho + x / root)
        w2 = s.b * s.sigma**2 / root**3
        g = (1.0 - grid * w1 / (2.0 * w)) ** 2 - w1**2 / 4.0 * (1.0 / w + 0.25) + w2 / 2.0
        min_g = min(min_g, float(g.min()))
    return min_g, surface.calendar_violations(grid)

"""Monte Carlo joint moves of several underlyings over the margin period of risk.

Model, per scenario ``s`` and underlying ``u`` (``h`` = MPOR in years, ACT/365)::

    x[s]        = A e[s] * sqrt((dof - 2) / w[s])   (Student-t)   or   A e[s]   (normal)
    log move    = vol[u] * sqrt(h) * x[s, u]        (zero log drift: median multiplier 1)
    multiplier  = exp(log move)
    vol change  = vol_multiplier[u] * (1 + vol_beta[u] * x[s, u]) - 1   (relative IV move)

with ``e[s]`` iid standard normal, ``A A' = correlation`` (symmetric square root from the
eigen-decomposition, negative eigenvalues clipped to 0 so singular matrices such as all-ones
work) and ``w[s]`` chi-square with ``dof`` degrees of freedom shared by all underlyings
(multivariate t: every marginal is a Student-t with unit variance, correlation kept, joint
tail dependence). ``x`` is the standardised move (unit variance per underlying).

Carry (optional, ``carry_vol > 0``): one change of the annualised carry per scenario, shared by
every underlying (one funding series, BTC's, is every underlying's proxy)::

    x_c[s]      = e_c[s] * sqrt((dof - 2) / w[s])   (Student-t)   or   e_c[s]   (normal)
    carry change = carry_vol * sqrt(h) * x_c[s]      (decimal per year)

``e_c`` standard normal, drawn AFTER ``e`` and ``w`` (so the spot draws of a seed do not change
with the carry), independent of the spot moves (the sample correlation of daily carry changes
with BTC's log return is 0.07 over 2019-10 -> 2026-01) but sharing the t's ``w`` (joint tails).
Dated instruments get ``exp(carry change x T)`` on their forwards (:func:`apply_joint_moves`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from pmargin._typing import ArrayLike, FloatArray
from pmargin._validation import as_enum, as_float
from pmargin.errors import InputError
from pmargin.history import (
    PriceHistory,
    annualise,
    ewma_covariance,
    log_returns,
    per_step_lambda,
)
from pmargin.scenarios._historical import parse_mpor
from pmargin.scenarios._scenario_set import ScenarioArrays
from pmargin.scenarios._source import apply_joint_moves
from pmargin.timeutil import HOURS_PER_YEAR
from pmargin.valuation import ResolvedInstruments

__all__ = [
    "Marginal",
    "MonteCarloModel",
    "MonteCarloScenarios",
    "check_correlation",
    "correlation_root",
    "estimate_carry_vol",
    "estimate_correlation",
]

_PSD_TOL = 1e-10


class Marginal(StrEnum):
    """Distribution of each standardised move."""

    NORMAL = "normal"
    STUDENT_T = "student_t"


def check_correlation(matrix: ArrayLike, n: int, field_name: str = "correlation") -> FloatArray:
    """Return ``matrix`` as a valid ``(n, n)`` correlation matrix, else raise naming the field.

    Valid: symmetric, unit diagonal, entries in [-1, 1], smallest eigenvalue >= -1e-10.
    """
    c = np.asarray(matrix, dtype=np.float64)
    if c.shape != (n, n):
        raise InputError(field_name, c.shape, f"must have shape ({n}, {n})")
    if not np.all(np.isfinite(c)) or not np.allclose(c, c.T, rtol=0.0, atol=1e-12):
        raise InputError(field_name, c.tolist(), "must be finite and symmetric")
    if not np.allclose(np.diag(c), 1.0, rtol=0.0, atol=1e-12) or np.any(np.abs(c) > 1.0 + 1e-12):
        raise InputError(field_name, c.tolist(), "must have a unit diagonal and entries in [-1, 1]")
    low = float(np.linalg.eigvalsh(c).min())
    if low < -_PSD_TOL:
        raise InputError(
            field_name, c.tolist(), f"is not positive semi-definite (eigenvalue {low:.3g})"
        )
    return c


def correlation_root(correlation: FloatArray) -> FloatArray:
    """Symmetric square root ``A`` with ``A A' = correlation`` (eigenvalues clipped at 0)."""
    values, vectors = np.linalg.eigh(correlation)
    root: FloatArray = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    return root


def estimate_correlation(
    history: PriceHistory, method: str = "sample", ewma_lambda: float = 0.94
) -> FloatArray:
    """Correlation of per-step log returns over the whole ``history`` (slice it first).

    ``"sample"``: Pearson correlation of the returns. ``"ewma"``: today's EWMA covariance
    (daily decay ``ewma_lambda``, per-step ``ewma_lambda ** (step_hours / 24)``) normalised
    to unit diagonal. Shape ``(n_underlyings, n_underlyings)``.
    """
    returns = log_returns(history.closes)
    if method == "sample":
        cov = np.cov(returns, rowvar=False).reshape(len(history.names), len(history.names))
    elif method == "ewma":
        cov = ewma_covariance(returns, per_step_lambda(ewma_lambda, history.step))
    else:
        raise InputError("correlation", method, "must be 'sample', 'ewma' or a matrix")
    sd = np.sqrt(np.diag(cov))
    corr: FloatArray = np.clip(cov / np.outer(sd, sd), -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return corr


@dataclass(frozen=True, slots=True)
class MonteCarloModel:
    """Parameters of the Monte Carlo joint-move model (see the module docstring).

    Attributes
    ----------
    names
        Underlyings, length ``k``.
    vols
        Annualised vol of each underlying's log price (decimal), shape ``(k,)``, > 0.
    correlation
        Correlation of the standardised moves, shape ``(k, k)``, PSD.
    mpor_hours
        Margin period of risk in hours (> 0).
    marginal
        ``"normal"`` or ``"student_t"``.
    dof
        Degrees of freedom of the t (> 2, so the unit-variance scaling exists).
    vol_beta
        Relative IV move per unit standardised spot move, shape ``(k,)``: ``-0.1`` lifts vols
        by 30 % on a 3-sigma fall and cuts them by 30 % on a 3-sigma rise.
    vol_multiplier
        Fixed factor on every scenario's vols, shape ``(k,)`` (1.2 = all vols up 20 %).
    min_vol
        Floor on shocked option vols (decimal, > 0).
    carry_vol
        Volatility of the annualised carry (decimal per year per sqrt(year), >= 0): the carry
        change over the MPOR has standard deviation ``carry_vol x sqrt(mpor in years)``. 0: no
        carry shock (no extra draws; results exactly as without the carry).
    """

    names: tuple[str, ...]
    vols: FloatArray
    correlation: FloatArray
    mpor_hours: float = 24.0
    marginal: Marginal = Marginal.NORMAL
    dof: float = 5.0
    vol_beta: FloatArray | None = None
    vol_multiplier: FloatArray | None = None
    min_vol: float = 0.01
    carry_vol: float = 0.0
    _root: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        names = tuple(self.names)
        if not names or len(set(names)) != len(names):
            raise InputError("names", names, "must be non-empty distinct underlying names")
        k = len(names)
        set_(self, "names", names)
        set_(self, "vols", _per_underlying(self.vols, k, "vols", positive=True))
        set_(self, "correlation", check_correlation(self.correlation, k))
        set_(self, "mpor_hours", parse_mpor(self.mpor_hours, "mpor_hours"))
        set_(self, "marginal", as_enum(Marginal, self.marginal, "marginal"))
        set_(self, "dof", as_float(self.dof, "dof", low=2.0, low_open=True))
        beta = np.zeros(k) if self.vol_beta is None else self.vol_beta
        mult = np.ones(k) if self.vol_multiplier is None else self.vol_multiplier
        set_(self, "vol_beta", _per_underlying(beta, k, "vol_beta"))
        set_(self, "vol_multiplier", _per_underlying(mult, k, "vol_multiplier", positive=True))
        set_(self, "min_vol", as_float(self.min_vol, "min_vol", low=0.0, low_open=True))
        set_(self, "carry_vol", as_float(self.carry_vol, "carry_vol", low=0.0))
        set_(self, "_root", correlation_root(self.correlation))

    @classmethod
    def from_history(
        cls,
        history: PriceHistory,
        *,
        as_of: object = None,
        lookback_days: float = 365.0,
        mpor: object = "1d",
        correlation: str | ArrayLike = "sample",
        vols: str | ArrayLike = "ewma",
        ewma_lambda: float = 0.94,
        carry: bool = True,
        **kwargs: object,
    ) -> MonteCarloModel:
        """Estimate vols and correlation from the history known at ``as_of``.

        Parameters
        ----------
        history
            Aligned closes; only closes at or before ``as_of`` within ``lookback_days`` are used.
        as_of, lookback_days
            Estimation window end (None: last close) and length in days.
        mpor
            Margin period of risk (hours, ``timedelta``, ``"4h"``, ``"1d"``); any length.
        correlation
            ``"sample"``, ``"ewma"`` or a given ``(k, k)`` matrix.
        vols
            ``"ewma"`` (today's EWMA forecast, annualised), ``"sample"`` (zero-mean RMS of the
            window's returns, annualised) or given annualised vols ``(k,)``.
        ewma_lambda
            Daily EWMA decay in (0, 1).
        carry
            Estimate ``carry_vol`` from ``history.carry`` (:func:`estimate_carry_vol` over the
            same closes); ``False``, or a history without carry: ``carry_vol = 0``.
        **kwargs
            Other :class:`MonteCarloModel` fields (``marginal``, ``dof``, ``vol_beta``, ...).
        """
        lam = per_step_lambda(ewma_lambda, history.step)
        lookback_days = as_float(lookback_days, "lookback_days", low=0.0, low_open=True)
        hist = history.as_of(history.times[-1] if as_of is None else as_of)
        first = hist.times[-1] - np.timedelta64(round(lookback_days * 86_400), "s")
        if first < hist.times[0]:
            raise InputError(
                "lookback_days", lookback_days, f"reaches before the first close {hist.times[0]}"
            )
        start = int(np.searchsorted(hist.times, first, side="left"))
        window = PriceHistory(hist.names, hist.times[start:], hist.closes[start:], None, hist.step)
        returns = log_returns(window.closes)
        if isinstance(correlation, str):
            corr = estimate_correlation(window, correlation, ewma_lambda)
        else:
            corr = np.asarray(correlation, dtype=np.float64)
        if isinstance(vols, str):
            if vols == "ewma":
                variance = np.diag(ewma_covariance(returns, lam))
            elif vols == "sample":
                variance = np.mean(returns**2, axis=0)
            else:
                raise InputError("vols", vols, "must be 'ewma', 'sample' or given vols")
            vol_array = annualise(variance, hist.step)
        else:
            vol_array = np.asarray(vols, dtype=np.float64)
        mpor_hours = parse_mpor(mpor)
        if carry and hist.carry is not None and "carry_vol" not in kwargs:
            kwargs["carry_vol"] = estimate_carry_vol(hist.carry[start:], mpor_hours, hist.step)
        return cls(
            names=hist.names,
            vols=vol_array,
            correlation=corr,
            mpor_hours=mpor_hours,
            **kwargs,  # type: ignore[arg-type]
        )

    def with_correlation(self, correlation: ArrayLike) -> MonteCarloModel:
        """Return the model with another correlation matrix (same vols, marginals, vol rule)."""
        return replace(self, correlation=np.asarray(correlation, dtype=np.float64))

    def standardised_moves(self, n_scenarios: int, seed: int) -> FloatArray:
        """Correlated unit-variance moves ``x``, shape ``(k, n_scenarios)``.

        Draws, in this order from ``numpy.random.default_rng(seed)``: ``e`` standard normal of
        shape ``(n_scenarios, k)``, then (Student-t only) ``w`` chi-square ``(n_scenarios,)``.
        The same seed gives the same draws bit for bit whatever the correlation.
        """
        return self._draws(n_scenarios, seed)[0]

    def _draws(self, n_scenarios: int, seed: int) -> tuple[FloatArray, FloatArray | None]:
        """``x`` ``(k, n)`` and, with ``carry_vol > 0``, the carry's unit move ``x_c`` ``(n,)``.

        ``e_c`` (standard normal, ``(n,)``) is drawn after ``e`` and ``w``.
        """
        if isinstance(n_scenarios, bool) or not isinstance(n_scenarios, int) or n_scenarios < 1:
            raise InputError("n_scenarios", n_scenarios, "must be an integer >= 1")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise InputError("seed", seed, "must be an integer")
        rng = np.random.default_rng(seed)
        e = rng.standard_normal((n_scenarios, len(self.names)))
        x = e @ self._root.T
        mix = None
        if self.marginal is Marginal.STUDENT_T:
            w = rng.chisquare(self.dof, n_scenarios)
            mix = np.sqrt((self.dof - 2.0) / w)
            x *= mix[:, np.newaxis]
        x_c = None
        if self.carry_vol > 0.0:
            x_c = rng.standard_normal(n_scenarios)
            if mix is not None:
                x_c = x_c * mix
        return np.ascontiguousarray(x.T), x_c

    def generate(self, n_scenarios: int, seed: int) -> MonteCarloScenarios:
        """Draw ``n_scenarios`` equally weighted joint scenarios reproducibly from ``seed``."""
        x, x_c = self._draws(n_scenarios, seed)
        assert self.vol_beta is not None
        assert self.vol_multiplier is not None
        scale = self.vols * np.sqrt(self.mpor_hours / HOURS_PER_YEAR)
        multiplier = np.exp(scale[:, np.newaxis] * x)
        vol_change = self.vol_multiplier[:, np.newaxis] * (1.0 + self.vol_beta[:, np.newaxis] * x)
        carry_change = np.zeros(x.shape)
        if x_c is not None:
            step = self.carry_vol * np.sqrt(self.mpor_hours / HOURS_PER_YEAR)
            carry_change[:] = step * x_c
        return MonteCarloScenarios(
            model=self,
            seed=int(seed),
            standardised=x,
            spot_multiplier=multiplier,
            vol_change=vol_change - 1.0,
            weights=np.full(n_scenarios, 1.0 / n_scenarios),
            carry_change=carry_change,
        )


@dataclass(frozen=True, slots=True)
class MonteCarloScenarios:
    """Equally weighted Monte Carlo joint scenarios.

    Attributes
    ----------
    model
        The model that drew them.
    seed
        Seed of ``numpy.random.default_rng``.
    standardised
        Unit-variance correlated moves ``x``, shape ``(n_underlyings, n_scenarios)``.
    spot_multiplier
        Price multipliers ``exp(vol * sqrt(h) * x)``, shape ``(n_underlyings, n_scenarios)``.
    vol_change
        Relative implied-vol moves, shape ``(n_underlyings, n_scenarios)``.
    weights
        ``1 / n_scenarios`` each, shape ``(n_scenarios,)``.
    carry_change
        Change of the annualised carry (decimal per year), shape ``(n_underlyings,
        n_scenarios)``, the same draw on every row; zeros without a carry shock. ``None``:
        all 0.
    """

    model: MonteCarloModel
    seed: int
    standardised: FloatArray
    spot_multiplier: FloatArray
    vol_change: FloatArray
    weights: FloatArray
    carry_change: FloatArray | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Underlyings moved, in row order."""
        return self.model.names

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios."""
        return int(self.weights.size)

    @property
    def labels(self) -> tuple[str, ...]:
        """``"mc seed=7 #0"``, ... per scenario."""
        return tuple(f"mc seed={self.seed} #{j}" for j in range(self.n_scenarios))

    def apply(self, resolved: ResolvedInstruments) -> ScenarioArrays:
        """Multipliers and shocked vols per instrument (see :func:`apply_joint_moves`)."""
        return apply_joint_moves(
            self.names,
            self.spot_multiplier,
            self.vol_change,
            self.model.min_vol,
            resolved,
            self.carry_change,
        )


def estimate_carry_vol(carry: FloatArray, mpor_hours: float, step_hours: float) -> float:
    """Annualised volatility of the carry from its changes over MPOR windows.

    Over every window ``[t, t + h]`` (``h = round(mpor_hours / step_hours)`` steps, at least
    1, overlapping) of the closes given, with the carry of the FIRST column (the funding proxy
    of every underlying) known at both ends::

        carry_vol = sqrt(mean(dc ** 2)) / sqrt(mpor_hours / 8760)

    (zero-mean RMS, so the model's change over the MPOR, ``carry_vol x sqrt(h)``, has the
    same RMS as the history's; no square-root-of-time scaling from another horizon, as the
    changes of a trailing mean are autocorrelated).

    Parameters
    ----------
    carry
        Annualised carry per close (decimal per year, NaN where unknown), shape
        ``(n_times, n_underlyings)`` or ``(n_times,)``.
    mpor_hours, step_hours
        Margin period of risk and data step, hours.

    Returns
    -------
    float
        Decimal per year per sqrt(year); 0 with fewer than 30 known windows.
    """
    column = np.asarray(carry, dtype=np.float64)
    if column.ndim == 2:
        column = column[:, 0]
    h = max(1, round(mpor_hours / step_hours))
    if column.size <= h:
        return 0.0
    change = column[h:] - column[:-h]
    change = change[np.isfinite(change)]
    if change.size < 30:
        return 0.0
    return float(np.sqrt(np.mean(change**2)) / np.sqrt(mpor_hours / HOURS_PER_YEAR))


def _per_underlying(
    value: ArrayLike,
    k: int,
    field_name: str,
    *,
    positive: bool = False,
) -> FloatArray:
    array = np.broadcast_to(np.asarray(value, dtype=np.float64), (k,)).copy()
    if not np.all(np.isfinite(array)) or (positive and np.any(array <= 0.0)):
        raise InputError(
            field_name, array.tolist(), "must be finite" + (" and > 0" if positive else "")
        )
    return array

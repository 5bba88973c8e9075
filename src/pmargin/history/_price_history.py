"""Aligned close prices (and implied vols) of several underlyings, sliced without look-ahead."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.history._binance import read_binance_closes
from pmargin.history._dvol import read_dvol
from pmargin.history._funding import (
    CARRY_BOUNDS,
    CARRY_WINDOW_DAYS,
    FUNDING_SOURCE,
    carry_known,
    load_funding,
    trailing_carry,
)
from pmargin.history._paths import SOURCES, data_file, resolve_data_dir
from pmargin.timeutil import parse_timestamp

__all__ = ["PriceHistory", "load_price_history", "to_datetime64"]

_FREQUENCIES = {"1d": 24, "4h": 4}
_DVOL_FILES = {"BTC": "deribit_dvol_btc_1d.json"}
_DVOL_MAX_AGE = np.timedelta64(86_400, "s")


def to_datetime64(value: object, field_name: str = "as_of") -> np.datetime64:
    """Convert a UTC instant (datetime, ISO text, epoch ms, ``datetime64``) to ``datetime64[s]``."""
    if isinstance(value, np.datetime64):
        return np.datetime64(int(value.astype("datetime64[s]").astype(np.int64)), "s")
    dt: datetime = parse_timestamp(value, field_name)
    return np.datetime64(int(dt.timestamp()), "s")


@dataclass(frozen=True, slots=True)
class PriceHistory:
    """Close prices of several underlyings on one common time grid.

    Attributes
    ----------
    names
        Underlying names (``"BTC"``, ``"ETH"``), one per column.
    times
        ``datetime64[s]`` close instants, UTC, strictly increasing, shape ``(n_times,)``. A
        Binance daily bar labelled 2024-01-01 closes at 2024-01-02 00:00 (see
        :func:`~pmargin.history.read_binance_closes`).
    closes
        Close prices in the quote currency (USDT), shape ``(n_times, n_underlyings)``, > 0.
    implied_vol
        30-day implied vol index (DVOL) as annualised decimals, shape ``(n_times,
        n_underlyings)``; NaN where none is known at that instant (every ETH row; BTC before
        the DVOL series or after its end). ``None`` in the constructor means all NaN.
    step_hours
        Nominal sampling step in hours (24 for daily, 4 for 4-hourly); ``None`` in the
        constructor takes the smallest gap between times. Longer gaps are data outages
        (:meth:`gaps`).
    sources
        Credit lines of the files the data came from (empty for synthetic data).
    carry
        Annualised carry ``c(t)`` (decimal per year) of each underlying's forwards at each
        close, shape ``(n_times, n_underlyings)``: the trailing 30-day Binance BTCUSDT funding
        mean x 3 x 365, clipped (:func:`~pmargin.history.trailing_carry`, the backtest's
        forwards' carry; BTC's funding is ETH's proxy); NaN where not known (before the
        funding series has a full window, from 2019-10-07 on daily data). ``None``: no carry
        history (the scenario sources then give carry changes of 0).
    """

    names: tuple[str, ...]
    times: npt.NDArray[np.datetime64]
    closes: FloatArray
    implied_vol: FloatArray | None = None
    step_hours: float | None = None
    sources: tuple[str, ...] = field(default=())
    carry: FloatArray | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        names = tuple(self.names)
        if (
            not names
            or len(set(names)) != len(names)
            or not all(isinstance(n, str) and n.strip() for n in names)
        ):
            raise InputError("names", names, "must be distinct non-empty names such as 'BTC'")
        try:
            times = np.asarray(self.times).astype("datetime64[s]")
        except (TypeError, ValueError) as exc:
            raise InputError("times", self.times, "must be datetime64 UTC instants") from exc
        closes = np.asarray(self.closes, dtype=np.float64)
        if closes.ndim == 1 and len(names) == 1:
            closes = closes[:, np.newaxis]
        if times.ndim != 1 or times.size < 2:
            raise InputError("times", times.shape, "must be one-dimensional with >= 2 instants")
        if closes.shape != (times.size, len(names)):
            raise InputError(
                "closes",
                closes.shape,
                f"must have shape (n_times, n_underlyings) = ({times.size}, {len(names)})",
            )
        if np.any(np.diff(times) <= np.timedelta64(0, "s")):
            raise InputError("times", "order", "must be strictly increasing")
        if not np.all(np.isfinite(closes)) or np.any(closes <= 0.0):
            raise InputError("closes", "values", "must be finite and > 0")
        if self.implied_vol is None:
            iv = np.full(closes.shape, np.nan)
        else:
            iv = np.asarray(self.implied_vol, dtype=np.float64)
            if iv.ndim == 1 and len(names) == 1:
                iv = iv[:, np.newaxis]
            if iv.shape != closes.shape:
                raise InputError("implied_vol", iv.shape, f"must have shape {closes.shape}")
            if np.any(iv[np.isfinite(iv)] <= 0.0):
                raise InputError("implied_vol", "values", "must be > 0 or NaN")
        carry = None
        if self.carry is not None:
            carry = np.asarray(self.carry, dtype=np.float64)
            if carry.ndim == 1 and len(names) == 1:
                carry = carry[:, np.newaxis]
            if carry.shape != closes.shape:
                raise InputError("carry", carry.shape, f"must have shape {closes.shape}")
            if np.any(np.isinf(carry)):
                raise InputError("carry", "values", "must be finite or NaN (unknown)")
        diffs = np.diff(times).astype(np.int64) / 3600.0
        step = float(diffs.min()) if self.step_hours is None else self.step_hours
        if isinstance(step, bool) or not isinstance(step, int | float) or not step > 0:
            raise InputError("step_hours", self.step_hours, "must be a number of hours > 0")
        set_(self, "names", names)
        set_(self, "times", times)
        set_(self, "closes", closes)
        set_(self, "implied_vol", iv)
        set_(self, "step_hours", float(step))
        set_(self, "sources", tuple(self.sources))
        set_(self, "carry", carry)

    @property
    def n_times(self) -> int:
        """Number of close instants."""
        return int(self.times.size)

    @property
    def step(self) -> float:
        """Sampling step in hours (``step_hours`` after inference)."""
        assert self.step_hours is not None
        return self.step_hours

    @property
    def iv(self) -> FloatArray:
        """``implied_vol`` after the constructor (never ``None``)."""
        assert self.implied_vol is not None
        return self.implied_vol

    def index(self, name: str, field_name: str = "underlying") -> int:
        """Column of ``name``; an :class:`InputError` naming the known ones otherwise."""
        if name not in self.names:
            raise InputError(field_name, name, f"has no price history; known: {list(self.names)}")
        return self.names.index(name)

    def select(self, names: Sequence[str], field_name: str = "underlyings") -> PriceHistory:
        """Return the same history restricted to ``names`` (in that order)."""
        if isinstance(names, str):
            raise InputError(field_name, names, "must be a sequence of names, e.g. ['BTC']")
        cols = [self.index(n, f"{field_name}[{i}]") for i, n in enumerate(names)]
        if not cols or len(set(cols)) != len(cols):
            raise InputError(field_name, tuple(names), "must be non-empty without repeats")
        return PriceHistory(
            tuple(names),
            self.times,
            self.closes[:, cols],
            self.iv[:, cols],
            self.step_hours,
            self.sources,
            None if self.carry is None else self.carry[:, cols],
        )

    def as_of(self, ts: object) -> PriceHistory:
        """Return the history known at ``ts``: every close with ``times <= ts`` (no look-ahead).

        Raises
        ------
        InputError
            (field ``as_of``) if fewer than two closes are known at ``ts``.
        """
        cut = to_datetime64(ts)
        n = int(np.searchsorted(self.times, cut, side="right"))
        if n < 2:
            raise InputError(
                "as_of", str(cut), f"precedes the history (first close {self.times[0]})"
            )
        return PriceHistory(
            self.names,
            self.times[:n],
            self.closes[:n],
            self.iv[:n],
            self.step_hours,
            self.sources,
            None if self.carry is None else self.carry[:n],
        )

    def gaps(self) -> list[tuple[np.datetime64, np.datetime64]]:
        """Pairs of consecutive close instants further apart than ``step_hours`` (outages)."""
        step = np.timedelta64(round(self.step * 3600), "s")
        where = np.flatnonzero(np.diff(self.times) > step)
        return [(self.times[i], self.times[i + 1]) for i in where]


def load_price_history(
    path: str | os.PathLike[str] | None = None,
    *,
    frequency: str = "1d",
    underlyings: Sequence[str] = ("BTC", "ETH"),
    with_dvol: bool = True,
    with_carry: bool = False,
    carry_window_days: int = CARRY_WINDOW_DAYS,
    carry_bounds: tuple[float, float] = CARRY_BOUNDS,
) -> PriceHistory:
    """Load Binance USDT closes of ``underlyings`` (and BTC DVOL) on a common time grid.

    Files: ``binance_{NAME}USDT_{frequency}.csv`` (or ``.csv.gz``) and
    ``deribit_dvol_btc_1d.json`` in the history folder: ``path`` (``--data``), else the search
    order of :func:`~pmargin.history.resolve_data_dir` (``$PMARGIN_DATA``,
    ``$PMARGIN_SHARED_DATA`` / ``../shared/data``, the user cache, the packaged history).

    Alignment: the INNER join of the close instants of every underlying (an instant missing
    for one underlying is dropped for all). The 4-hourly files have 8 outages (longest 32 h)
    that stay gaps on the grid (:meth:`PriceHistory.gaps`); the daily files have none. DVOL
    (daily) is aligned AS OF each close: the latest DVOL close at or before the instant and
    less than 24 h old, else NaN (so a missing DVOL day, or any instant after the series ends,
    is NaN, and a 4-hour close sees the DVOL of the last midnight).

    Parameters
    ----------
    path
        Shared data folder.
    frequency
        ``"1d"`` (daily closes at 00:00 UTC) or ``"4h"``.
    underlyings
        Coin names; each needs a ``binance_{NAME}USDT_{frequency}.csv`` file.
    with_dvol
        Attach DVOL where a series exists (BTC only).
    with_carry
        Attach the carry ``c(t)`` (:attr:`PriceHistory.carry`) from
        ``binance_funding_rate_BTCUSDT_8h.csv``: :func:`~pmargin.history.trailing_carry` at
        every close (prints at or before it only), NaN where
        :func:`~pmargin.history.carry_known` is false. BTC's funding is every underlying's
        proxy (no other funding series in the data).
    carry_window_days, carry_bounds
        Trailing window (days) and clip (decimal per year) of the carry.

    Raises
    ------
    InputError
        For a missing folder or file (naming it and ``--data``), or an unknown
        ``frequency``.
    """
    if frequency not in _FREQUENCIES:
        raise InputError("frequency", frequency, f"is not one of {'|'.join(_FREQUENCIES)}")
    if isinstance(underlyings, str) or not underlyings:
        raise InputError("underlyings", underlyings, "must be a non-empty sequence of names")
    hours = _FREQUENCIES[frequency]
    folder = resolve_data_dir(path)
    series = []
    sources = []
    for name in underlyings:
        file_name = f"binance_{name.upper()}USDT_{frequency}.csv"
        series.append(read_binance_closes(data_file(folder, file_name), hours))
        sources.append(SOURCES.get(file_name, file_name))
    common = series[0][0]
    for times, _ in series[1:]:
        common = np.intersect1d(common, times)
    closes = np.column_stack([c[np.searchsorted(t, common)] for t, c in series])
    iv = np.full(closes.shape, np.nan)
    if with_dvol:
        for j, name in enumerate(underlyings):
            dvol_file = _DVOL_FILES.get(name.upper())
            if dvol_file is None:
                continue
            dvol_times, dvol = read_dvol(data_file(folder, dvol_file))
            iv[:, j] = align_as_of(common, dvol_times, dvol, _DVOL_MAX_AGE)
            sources.append(SOURCES[dvol_file])
    carry = None
    if with_carry:
        funding = load_funding(folder)
        column = trailing_carry(funding, common, carry_window_days, carry_bounds)
        column = np.where(carry_known(funding, common, carry_window_days), column, np.nan)
        carry = np.repeat(column[:, np.newaxis], len(underlyings), axis=1)
        sources.append(FUNDING_SOURCE)
    return PriceHistory(tuple(underlyings), common, closes, iv, float(hours), tuple(sources), carry)


def align_as_of(
    grid: npt.NDArray[np.datetime64],
    times: npt.NDArray[np.datetime64],
    values: FloatArray,
    max_age: np.timedelta64,
) -> FloatArray:
    """Value of the latest observation at or before each grid instant, if younger than max_age.

    Returns shape ``(len(grid),)``, NaN where no observation is recent enough.
    """
    pos = np.searchsorted(times, grid, side="right") - 1
    ok = pos >= 0
    safe = np.where(ok, pos, 0)
    ok &= (grid - times[safe]) < max_age
    return np.where(ok, values[safe], np.nan)

"""One underlying's grid revaluation written into the compiled pass's stacked P&L rows.

:class:`GridRevaluation` keeps what does not depend on prices (the scenario grid's columns,
the clamped spot multipliers, the option rows, the stacked rows' instrument rows and extended
factors) and on each call revalues the underlying's instruments straight into the rows of
:class:`~pmargin.margin.deribit._account_pass.PassInputs` with the compiled kernel
:func:`~pmargin.margin.deribit._revalue_jit.revalue_rows`: no ``(n, cells)`` temporaries. Its
twin :meth:`GridRevaluation.reference` runs what
:meth:`~pmargin.margin.deribit.DeribitModel.compute` runs
(:meth:`~pmargin.scenarios.ScenarioSet.apply`, :func:`~pmargin.risk.instrument_pnl`, then the
rows taken and the extended cells weighted); both give the same bits (tested), and the fused
call falls back to the twin wherever it would not (an invalid input: the twin raises
``compute``'s :class:`~pmargin.errors.InputError`).
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np

from pmargin._compiled import compiled_module
from pmargin._typing import FloatArray, IntArray
from pmargin.pricing import black76_value
from pmargin.risk import instrument_pnl
from pmargin.scenarios import ScenarioSet, VolShockKind
from pmargin.timeutil import DAYS_PER_YEAR
from pmargin.valuation import ResolvedInstruments

__all__ = ["GridRevaluation", "revalue_kernel"]

_KINDS = (VolShockKind.DOWN, VolShockKind.NONE, VolShockKind.UP)


def revalue_kernel() -> ModuleType | None:
    """Return the compiled revaluation's module (``None``: no numba, or ``PMARGIN_JIT=0``)."""
    return compiled_module("pmargin.margin.deribit._revalue_jit")


class GridRevaluation:
    """An underlying's instrument P&L under its grid, stacked as the pass's rows (kept plan).

    Parameters
    ----------
    scenario_set
        The grid's scenarios (``n_cells`` of them, ``n_standard`` standard ones first).
    multiplier
        Shape ``(n, n_cells)``: the spot multipliers ``compute`` revalues with (clamped).
    resolved
        The underlying's ``n`` instruments (their terms: which rows are options).
    rows
        Shape ``(n_out,)``: each stacked row's instrument row.
    factor
        Shape ``(n_out, n_cells - n_standard)``: the extended cells' factors of the rows.
    n_standard
        Number of standard cells.
    """

    def __init__(
        self,
        scenario_set: ScenarioSet,
        multiplier: FloatArray,
        resolved: ResolvedInstruments,
        rows: IntArray,
        factor: FloatArray,
        n_standard: int,
    ) -> None:
        self.scenario_set = scenario_set
        self.multiplier = np.ascontiguousarray(multiplier, dtype=np.float64)
        self.rows = np.ascontiguousarray(rows, dtype=np.int64)
        self.factor = np.ascontiguousarray(factor, dtype=np.float64)
        self.n_standard = n_standard
        scenarios = scenario_set.scenarios
        self._skew = np.array([s.skew_rotation for s in scenarios], dtype=np.float64)
        self._kind = np.array([_KINDS.index(s.vol_shock) for s in scenarios], dtype=np.int64)
        rule = scenario_set.vol_rule
        self._floor = np.array([rule.floor_for(s.vol_shock) for s in scenarios], dtype=np.float64)
        options = np.flatnonzero(resolved.is_option)
        self._options = options
        self._every = options.size == len(resolved)
        self._option_index = np.full(len(resolved), -1, dtype=np.int64)
        self._option_index[options] = np.arange(options.size)
        self._off = np.empty((self.rows.size, len(scenarios)), dtype=np.bool_)
        self._base = np.empty(options.size)  # today's option values, refilled per call
        self._base_off = np.empty(options.size, dtype=np.bool_)
        self._by_kind = np.empty((options.size, len(_KINDS)))  # shocked vols per vol kind
        self._term_time: FloatArray | None = None  # the option times the terms are of
        self._terms: tuple[FloatArray, ...] = ()
        mult = self.multiplier
        # the fused call takes a grid whose every scenario moves every row (apply's common
        # case, a matter of terms) and a multiplier instrument_pnl accepts (kept: checked once)
        self.fused = scenario_set._applies(resolved) is None and bool(
            mult.size == 0 or (mult.min() > 0.0 and mult.max() < math.inf)
        )

    def __call__(self, resolved: ResolvedInstruments, out: FloatArray) -> None:
        """Write the rows' P&L per base unit into ``out[:, :n_cells]``, shape ``(n_out, width)``.

        Settlement currency (quote currency, or coin where inverse), the extended cells times
        their factor; bit for bit :meth:`reference`'s.

        Raises
        ------
        InputError
            As :meth:`reference` (``compute``) does.
        """
        kernel = revalue_kernel()
        if kernel is None or not self.fused:
            self.reference(resolved, out)
            return
        opt = slice(None) if self._every else self._options
        f = resolved.underlying_price
        # ScenarioSet.apply's per-option inputs (its operations on its rows)
        base_vol = resolved.vol[opt]
        rule = self.scenario_set.vol_rule
        by_kind = self._by_kind
        for k, term in enumerate(self._shock_terms(resolved.time[opt])):
            rule.apply_term(base_vol, term, out=by_kind[:, k])  # rule.shock_vol's bits
        log_moneyness = np.log(resolved.strike[opt] / f[opt])
        with np.errstate(all="ignore"):
            # black76_pnl's: today's values (black76_value's lanes, without its take of the
            # option rows; its off-domain lanes from black76_value itself) and the shifted
            # times (no shift)
            base = self._base
            if kernel.option_values(
                self._options, f, resolved.strike, resolved.time, resolved.vol, resolved.rate,
                resolved.is_call, base, self._base_off,
            ):  # fmt: skip
                lanes = np.flatnonzero(self._base_off)
                o = self._options[lanes]
                base[lanes] = black76_value(
                    f[o], resolved.strike[o], resolved.time[o], resolved.vol[o],
                    resolved.is_call[o], resolved.rate[o],
                )  # fmt: skip
            time = np.maximum(resolved.time - 0.0, 0.0)
            n_off, n_bad = kernel.revalue_rows(
                self.rows, self._option_index, f, resolved.strike, time, resolved.rate,
                resolved.is_call, resolved.is_inverse, base, by_kind, log_moneyness,
                self.multiplier, self._skew, self._kind, self._floor, self.factor,
                self.n_standard, out, self._off,
            )  # fmt: skip
        if n_bad:  # a vol instrument_pnl refuses: its error
            self.reference(resolved, out)
            return
        if n_off:
            self._recompute(resolved, out, base, by_kind, log_moneyness, time)

    def _shock_terms(self, time: FloatArray) -> tuple[FloatArray, ...]:
        """Return each vol kind's shock term at the options' ``time``: kept while it stays.

        :meth:`~pmargin.scenarios.VolShockRule.shock_term` of the days to expiry, shape
        ``(n_options,)`` each (``time`` in years, shape ``(n_options,)``).

        Raises
        ------
        InputError
            As :meth:`~pmargin.scenarios.VolShockRule.shock_vol` does (a negative time).
        """
        kept = self._term_time
        if kept is None or not np.array_equal(kept, time, equal_nan=True):
            days = time * DAYS_PER_YEAR
            rule = self.scenario_set.vol_rule
            self._terms = tuple(rule.shock_term(days, k) for k in _KINDS)
            self._term_time = time.copy()
        return self._terms

    def _recompute(
        self,
        resolved: ResolvedInstruments,
        out: FloatArray,
        base: FloatArray,
        by_kind: FloatArray,
        log_moneyness: FloatArray,
        time: FloatArray,
    ) -> None:
        """Recompute the off-domain lanes with the NumPy kernel, as black76_pnl does."""
        j, s = np.nonzero(self._off)
        i = self.rows[j]
        p = self._option_index[i]
        vol = np.maximum(
            by_kind[p, self._kind[s]] + log_moneyness[p] * self._skew[s], self._floor[s]
        )
        f = resolved.underlying_price[i]
        with np.errstate(all="ignore"):
            f_s = f * self.multiplier[i, s]
            value = black76_value(
                f_s, resolved.strike[i], time[i], vol, resolved.is_call[i], resolved.rate[i]
            )
            pnl = np.where(resolved.is_inverse[i], value / f_s - base[p] / f, value - base[p])
        ext = s >= self.n_standard
        pnl[ext] *= self.factor[j[ext], s[ext] - self.n_standard]
        out[j, s] = pnl

    def reference(self, resolved: ResolvedInstruments, out: FloatArray) -> None:
        """Write what the fused call writes the way ``compute`` revalues: the twin.

        :meth:`~pmargin.scenarios.ScenarioSet.apply`, :func:`~pmargin.risk.instrument_pnl` at
        the kept multipliers, the rows taken and the extended cells times their factor.
        """
        n_std = self.n_standard
        n_s = self.multiplier.shape[1]
        arrays = self.scenario_set.apply(resolved)
        pnl = instrument_pnl(resolved, self.multiplier, arrays.vol)
        every = self.rows.size == len(resolved) and bool(
            np.all(self.rows == np.arange(self.rows.size))
        )
        own = pnl if every else pnl[self.rows]
        out[:, :n_std] = own[:, :n_std]
        np.multiply(own[:, n_std:], self.factor, out=out[:, n_std:n_s])

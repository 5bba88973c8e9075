"""A scenario set turned into per-instrument shock arrays (the input of the P&L kernel)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.errors import InputError
from pmargin.scenarios._scenario import RiskMatrixScenario, VolShockKind
from pmargin.scenarios._vol_shock import VolShockRule
from pmargin.timeutil import DAYS_PER_YEAR
from pmargin.valuation import ResolvedInstruments

__all__ = ["KeptVols", "ScenarioArrays", "ScenarioSet"]


_KINDS = (VolShockKind.DOWN, VolShockKind.NONE, VolShockKind.UP)


@dataclass(frozen=True, slots=True)
class ScenarioArrays:
    """Shocked market inputs for every instrument under every scenario.

    Attributes
    ----------
    spot_multiplier
        Shape ``(n_instruments, n_scenarios)``: factor on the instrument's underlying price
        (``1 + spot_move``; 1.0 where the scenario is restricted to another underlying).
    vol
        Shape ``(n_instruments, n_scenarios)``: annualised vol (decimal) to revalue options
        with; NaN for non-options.
    weight
        Shape ``(n_scenarios,)``: dampening factor on each scenario's P&L, in (0, 1].
    """

    spot_multiplier: FloatArray
    vol: FloatArray
    weight: FloatArray


@dataclass(frozen=True, slots=True)
class ScenarioSet:
    """Risk-matrix scenarios and the rule that sizes their vol shocks.

    Attributes
    ----------
    scenarios
        The scenarios, in column order (at least one).
    vol_rule
        Sizes the "up" / "down" shocks per option's days to expiry.
    """

    scenarios: tuple[RiskMatrixScenario, ...]
    vol_rule: VolShockRule
    _columns: tuple[FloatArray, FloatArray, IntArray, FloatArray] = field(
        init=False, repr=False, compare=False
    )
    """Per scenario, read once: spot move, skew rotation, vol kind's index, vol floor."""

    def __post_init__(self) -> None:
        scenarios = tuple(self.scenarios)
        if not scenarios:
            raise InputError("scenarios", scenarios, "must hold at least one scenario")
        for j, scenario in enumerate(scenarios):
            if not isinstance(scenario, RiskMatrixScenario):
                raise InputError(f"scenarios[{j}]", scenario, "must be a RiskMatrixScenario")
        if not isinstance(self.vol_rule, VolShockRule):
            raise InputError("vol_rule", self.vol_rule, "must be a VolShockRule")
        object.__setattr__(self, "scenarios", scenarios)
        columns = (
            np.array([s.spot_move for s in scenarios], dtype=np.float64),
            np.array([s.skew_rotation for s in scenarios], dtype=np.float64),
            np.array([_KINDS.index(s.vol_shock) for s in scenarios], dtype=np.int64),
            np.array([self.vol_rule.floor_for(s.vol_shock) for s in scenarios], dtype=np.float64),
        )
        for column in columns:
            column.flags.writeable = False
        object.__setattr__(self, "_columns", columns)

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios (columns of the risk matrix)."""
        return len(self.scenarios)

    @property
    def labels(self) -> tuple[str, ...]:
        """Scenario labels in column order."""
        return tuple(s.label for s in self.scenarios)

    @property
    def weight(self) -> FloatArray:
        """Dampening factors, shape ``(n_scenarios,)``."""
        return np.array([s.weight for s in self.scenarios], dtype=np.float64)

    @property
    def weights(self) -> FloatArray:
        """Probability weights, shape ``(n_scenarios,)``: equal, ``1 / n_scenarios``.

        Not the dampening factors (:attr:`weight`): a risk matrix's scenarios are equally likely
        stress points, and max-loss models ignore these; they make a grid a
        :class:`~pmargin.scenarios.ScenarioSource` like the historical and Monte Carlo sets.
        """
        return np.full(self.n_scenarios, 1.0 / self.n_scenarios)

    def apply(self, resolved: ResolvedInstruments) -> ScenarioArrays:
        """Shock every instrument's underlying price and vol under every scenario.

        For an option with vol ``v``, days to expiry ``d = time * 365``, strike ``K`` and
        forward ``F``, a scenario that applies to it gets::

            vol = max(floor, vol_rule.shock_vol(v, d, kind) + skew_rotation * ln(K / F))

        where ``floor`` is ``vol_rule.floor_for(kind)``. Log-moneyness is taken at the current
        forward. A scenario restricted to another underlying leaves the instrument at
        multiplier 1 and its unshocked vol, so its P&L there is zero.

        Parameters
        ----------
        resolved
            Instruments and market inputs, ``n_instruments`` long.

        Returns
        -------
        ScenarioArrays
            Float64 arrays of shape ``(n_instruments, n_scenarios)`` (weight: ``(n_scenarios,)``).
        """
        n_inst, n_scen = len(resolved), self.n_scenarios
        moves, skew, kind_index, floors = self._columns

        applies = self._applies(resolved)  # None: every scenario moves every instrument
        if applies is None:
            spot_multiplier = np.empty((n_inst, n_scen))
            spot_multiplier[...] = 1.0 + moves[np.newaxis, :]
        else:
            spot_multiplier = np.where(applies, 1.0 + moves[np.newaxis, :], 1.0)

        opt = np.flatnonzero(resolved.is_option)
        every = opt.size == n_inst
        vol = np.empty((n_inst, n_scen))
        if not every:
            vol[np.flatnonzero(~resolved.is_option)] = np.nan  # the option rows are set below
        if opt.size:
            whole = slice(None) if every else opt
            base = resolved.vol[whole]
            days = resolved.time[whole] * DAYS_PER_YEAR
            by_kind = np.stack([self.vol_rule.shock_vol(base, days, k) for k in _KINDS], axis=1)
            log_moneyness = np.log(resolved.strike[whole] / resolved.underlying_price[whole])
            # vol = max(by_kind[:, kind] + log_moneyness x skew, floor), in place
            shocked = np.multiply.outer(log_moneyness, skew)
            np.add(by_kind[:, kind_index], shocked, out=shocked)
            np.maximum(shocked, floors[np.newaxis, :], out=shocked)
            if applies is not None:
                shocked = np.where(applies[opt], shocked, base[:, np.newaxis])
            if every:
                vol = shocked
            else:
                vol[opt] = shocked
        return ScenarioArrays(spot_multiplier=spot_multiplier, vol=vol, weight=self.weight)

    def kept_vols(self, resolved: ResolvedInstruments) -> KeptVols:
        """Return :meth:`apply`'s vols of these instruments at any prices, in kept buffers.

        What no price moves (the option rows, the vol rule's shock terms at their days to
        expiry, which scenarios move which rows) is read once; each call of the result
        computes the vols of ``resolved`` at its prices (:class:`KeptVols`).

        Parameters
        ----------
        resolved
            Instruments and market inputs, ``n_instruments`` long; later calls take these
            instruments (the same order) with the same times to expiry.
        """
        opt = np.flatnonzero(resolved.is_option)
        every = opt.size == len(resolved)
        whole = slice(None) if every else opt
        days = resolved.time[whole] * DAYS_PER_YEAR
        terms = np.stack([self.vol_rule.shock_term(days, k) for k in _KINDS])
        applies = self._applies(resolved)
        n_scen = self.n_scenarios
        vol = np.full((n_scen, len(resolved)), np.nan)
        return KeptVols(
            scenario_set=self,
            options=None if every else opt,
            terms=terms,
            applies=None if applies is None else np.ascontiguousarray(applies[opt].T),
            by_kind=np.empty((len(_KINDS), opt.size)),
            log_moneyness=np.empty(opt.size),
            shocked=vol if every else np.empty((n_scen, opt.size)),
            vol=vol,
        )

    def _applies(self, resolved: ResolvedInstruments) -> np.ndarray | None:
        """Boolean ``(n_instruments, n_scenarios)``: does scenario j move instrument i.

        ``None`` when every scenario moves every instrument (the common case: no scenario
        restricted to an underlying, or all restricted to the one underlying of every
        instrument).
        """
        names = resolved.terms.underlying
        restricted = {s.underlying for s in self.scenarios if s.underlying is not None}
        if not restricted:
            return None
        held = set(np.unique(names).tolist()) if len(resolved) else set()
        if len(restricted) == 1 and held <= restricted:
            return None
        mask = np.ones((len(resolved), self.n_scenarios), dtype=bool)
        by_name = {u: names == u for u in restricted}
        for j, scenario in enumerate(self.scenarios):
            if scenario.underlying is not None:
                mask[:, j] = by_name[scenario.underlying]
        return mask


@dataclass(frozen=True, slots=True, eq=False)
class KeptVols:
    """:meth:`ScenarioSet.apply`'s vols of one set of instruments, scenario-major, kept buffers.

    From :meth:`ScenarioSet.kept_vols`. A call computes, for the instruments it was built for
    (same order, same times to expiry) at the prices of the ``resolved`` given, the vol of
    scenario ``j`` on row ``i`` into ``vol[j, i]``: ``apply(resolved).vol[i, j]``, the same
    operations on each cell, so the same bits (tested), without ``(n, S)`` temporaries or the
    spot multipliers. Non-option rows stay NaN. The buffer is the result of every call: a
    caller reads it before the next one and never writes into it.

    Attributes
    ----------
    scenario_set
        The scenarios and vol rule.
    options
        The option rows, ``None`` where every row is one.
    terms
        Shape ``(3, n_options)``: :meth:`~pmargin.scenarios.VolShockRule.shock_term` of
        each option for the shocks down, none and up.
    applies
        Shape ``(n_scenarios, n_options)``: scenario ``j`` moves the option; ``None``: every
        scenario moves every row.
    by_kind, log_moneyness, shocked
        Buffers: ``(3, n_options)``, ``(n_options,)``, ``(n_scenarios, n_options)`` (``vol``
        itself where every row is an option).
    vol
        Shape ``(n_scenarios, n_instruments)``: the result.
    """

    scenario_set: ScenarioSet
    options: IntArray | None
    terms: FloatArray
    applies: BoolArray | None
    by_kind: FloatArray
    log_moneyness: FloatArray
    shocked: FloatArray
    vol: FloatArray

    def __call__(self, resolved: ResolvedInstruments) -> FloatArray:
        """Return the shocked vols of ``resolved``, shape ``(n_scenarios, n_instruments)``.

        Decimal vols; NaN on non-option rows. The kept buffer ``vol`` (see the class).
        """
        rules = self.scenario_set.vol_rule
        _moves, skew, kind_index, floors = self.scenario_set._columns
        opt = self.options
        if opt is None:
            base = resolved.vol
            strike, forward = resolved.strike, resolved.underlying_price
        else:
            base = resolved.vol[opt]
            strike, forward = resolved.strike[opt], resolved.underlying_price[opt]
        for k in range(len(_KINDS)):
            rules.apply_term(base, self.terms[k], out=self.by_kind[k])
        log_moneyness = np.divide(strike, forward, out=self.log_moneyness)
        np.log(log_moneyness, out=log_moneyness)
        # vol = max(by_kind[kind] + log_moneyness x skew, floor): apply's operations
        shocked = self.shocked
        np.multiply(skew[:, np.newaxis], log_moneyness[np.newaxis, :], out=shocked)
        for j, k in enumerate(kind_index.tolist()):
            np.add(self.by_kind[k], shocked[j], out=shocked[j])
        np.maximum(shocked, floors[:, np.newaxis], out=shocked)
        if self.applies is not None:
            np.copyto(shocked, base[np.newaxis, :], where=~self.applies)
        if opt is not None:
            self.vol[:, opt] = shocked
        return self.vol

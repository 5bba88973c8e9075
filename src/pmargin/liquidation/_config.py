"""Liquidation parameters: a TOML file shipped with the package, validated on load.

:func:`load_config` reads ``liquidation.toml`` (or a user's file with the same fields) into a
frozen :class:`LiquidationConfig`; a missing, out-of-range or unknown field is an
:class:`~pmargin.errors.InputError` naming its dotted path (``liquidation.toml:
penalty.max_rate``). docs/liquidation.md gives each default's source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from pmargin._files import read_toml_file
from pmargin._params import ParamTable
from pmargin.errors import InputError
from pmargin.health import LiquidationEnd, Requirement, required_equity

__all__ = [
    "AdlConfig",
    "LiquidationConfig",
    "PenaltyConfig",
    "SlippageConfig",
    "StepConfig",
    "TargetConfig",
    "config_path",
    "load_config",
]

TARGETS = ("buffer", "im")
"""Target kinds: a buffer above MM (Derive) or back above IM."""

METHODS = ("contribution", "notional")
"""Candidate orders: IM contribution per unit of cost, or largest notional first."""

PENALTY_MODES = ("fixed", "dynamic")
"""Penalty rate: constant, or growing with how far below MM the account is."""

RANKINGS = ("pnl_x_leverage", "okx")
"""ADL rankings (docs/liquidation.md gives the formulas and sources)."""

KINDS = ("spot", "future", "perpetual", "option")
"""Instrument kinds a depth table may name."""


@dataclass(frozen=True, slots=True)
class TargetConfig:
    """Where liquidation stops: the parameters of the liquidation-end requirement.

    Attributes
    ----------
    kind
        ``"buffer"``: equity >= MM x (1 + buffer); ``"im"``: equity >= IM.
    buffer
        Fraction above MM (0.15 = Derive's buffer margin).
    """

    kind: str = "buffer"
    buffer: float = 0.15

    @property
    def end(self) -> LiquidationEnd:
        """The rule as a :class:`~pmargin.health.LiquidationEnd`: ``MM x (1 + buffer)`` or IM."""
        if self.kind == "im":
            return LiquidationEnd(Requirement.INITIAL, 1.0)
        return LiquidationEnd(Requirement.MAINTENANCE, 1.0 + self.buffer)

    def required(self, initial_margin: float, maintenance_margin: float) -> float:
        """Equity (USD) the account must reach (:func:`~pmargin.health.required_equity`)."""
        return required_equity(
            Requirement.LIQUIDATION_END, initial_margin, maintenance_margin, self.end
        )


@dataclass(frozen=True, slots=True)
class StepConfig:
    """Size and order of the partial liquidation steps.

    Attributes
    ----------
    max_fraction
        Largest fraction of a position (its size when the account's liquidation started)
        closed in one step, in (0, 1].
    max_steps
        Guard on the number of steps per account.
    size_tolerance
        Relative tolerance of the smallest-close search (fraction of the step's largest size).
    method
        ``"contribution"`` or ``"notional"`` (see :data:`METHODS`).
    """

    max_fraction: float = 0.25
    max_steps: int = 200
    size_tolerance: float = 1e-6
    method: str = "contribution"


@dataclass(frozen=True, slots=True)
class SlippageConfig:
    """Price impact ``min(k (N / depth)^alpha, max_impact)`` of closing notional ``N`` (USD).

    Attributes
    ----------
    k, alpha
        Scale (>= 0) and exponent (> 0) of the impact.
    max_impact
        Cap of the impact, in [0, 1): a sale never fills at or below zero.
    depth_usd
        Kind -> underlying -> depth (USD); ``"default"`` keys give the fall-backs, and
        ``depth_usd["default"]["default"]`` is the last resort.
    """

    k: float = 0.01
    alpha: float = 0.5
    max_impact: float = 0.5
    depth_usd: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {"default": {"default": 10_000_000.0}}
    )

    def __post_init__(self) -> None:
        frozen = {kind: MappingProxyType(dict(table)) for kind, table in self.depth_usd.items()}
        object.__setattr__(self, "depth_usd", MappingProxyType(frozen))

    def depth(self, kind: str, underlying: str) -> float:
        """Depth (USD) of ``kind`` on ``underlying``: exact, then the kind's, then the default."""
        table = self.depth_usd.get(kind, {})
        if underlying in table:
            return table[underlying]
        if "default" in table:
            return table["default"]
        return self.depth_usd["default"]["default"]


@dataclass(frozen=True, slots=True)
class PenaltyConfig:
    """Liquidation penalty on the notional closed, and its split.

    Attributes
    ----------
    mode
        ``"fixed"`` (``base_rate``) or ``"dynamic"`` (``base_rate + slope x shortfall``,
        capped at ``max_rate``).
    base_rate, slope, max_rate
        Fractions of notional.
    option_premium_cap
        An option's penalty is at most this fraction of the premium closed (USD).
    fund_share
        Share of the penalty paid to the insurance fund; ``1 - fund_share`` to the liquidator.
    """

    mode: str = "dynamic"
    base_rate: float = 0.005
    slope: float = 0.01
    max_rate: float = 0.015
    option_premium_cap: float = 0.125
    fund_share: float = 1.0


@dataclass(frozen=True, slots=True)
class AdlConfig:
    """Auto-deleveraging.

    Attributes
    ----------
    ranking
        ``"pnl_x_leverage"`` or ``"okx"`` (see :data:`RANKINGS`).
    max_price_move
        Largest relative distance of the bankruptcy price from the mark, in (0, 1).
    """

    ranking: str = "pnl_x_leverage"
    max_price_move: float = 0.5


@dataclass(frozen=True, slots=True)
class LiquidationConfig:
    """Every liquidation parameter (docs/liquidation.md).

    Attributes
    ----------
    target, steps, slippage, penalty, adl
        The groups above.
    fund_initial_balance
        Insurance fund balance (USD) an episode starts from when no fund state is given.
    source
        Where the numbers come from (the file's ``source``).
    """

    target: TargetConfig = field(default_factory=TargetConfig)
    steps: StepConfig = field(default_factory=StepConfig)
    slippage: SlippageConfig = field(default_factory=SlippageConfig)
    penalty: PenaltyConfig = field(default_factory=PenaltyConfig)
    adl: AdlConfig = field(default_factory=AdlConfig)
    fund_initial_balance: float = 1_000_000.0
    source: str = ""


def config_path() -> Path:
    """Path of the shipped parameter file (``pmargin/liquidation/liquidation.toml``)."""
    return Path(str(resources.files("pmargin.liquidation") / "liquidation.toml"))


def load_config(path: str | Path | None = None) -> LiquidationConfig:
    """Read and validate a liquidation parameter file.

    Parameters
    ----------
    path
        A TOML file with the fields of the shipped ``liquidation.toml``; ``None`` reads that.

    Raises
    ------
    InputError
        The file is missing or not TOML, or a field is missing, out of range or unknown
        (naming its dotted path).
    """
    file = config_path() if path is None else Path(path)
    return config_from_table(ParamTable(read_toml_file(file, "liquidation params"), file.name))


def config_from_table(top: ParamTable) -> LiquidationConfig:
    """Validate a parsed parameter file (see :func:`load_config`)."""
    top.reject_unknown(
        ["source", "target", "steps", "slippage", "penalty", "insurance_fund", "adl"]
    )
    return LiquidationConfig(
        target=_target(top.table("target")),
        steps=_steps(top.table("steps")),
        slippage=_slippage(top.table("slippage")),
        penalty=_penalty(top.table("penalty")),
        adl=_adl(top.table("adl")),
        fund_initial_balance=_fund(top.table("insurance_fund")),
        source=top.text("source", ""),
    )


def _target(t: ParamTable) -> TargetConfig:
    t.reject_unknown(["kind", "buffer"])
    return TargetConfig(
        kind=t.text("kind", choices=TARGETS), buffer=t.number("buffer", low=0.0, high=10.0)
    )


def _steps(t: ParamTable) -> StepConfig:
    t.reject_unknown(["max_fraction", "max_steps", "size_tolerance", "method"])
    return StepConfig(
        max_fraction=t.number("max_fraction", low=0.0, high=1.0, low_open=True),
        max_steps=t.integer("max_steps", low=1),
        size_tolerance=t.number("size_tolerance", low=0.0, high=0.1, low_open=True),
        method=t.text("method", choices=METHODS),
    )


def _slippage(t: ParamTable) -> SlippageConfig:
    t.reject_unknown(["k", "alpha", "max_impact", "depth_usd"])
    depth = t.table("depth_usd")
    tables: dict[str, dict[str, float]] = {"default": {"default": _depth(depth, "default")}}
    for key in depth.data:
        if key == "default":
            continue
        if key not in KINDS:
            raise InputError(depth.field(key), depth.raw(key), f"is not a kind ({'|'.join(KINDS)})")
        kind = depth.table(key)
        tables[key] = {name: _depth(kind, name) for name in kind.data}
    return SlippageConfig(
        k=t.number("k", low=0.0),
        alpha=t.number("alpha", low=0.0, high=5.0, low_open=True),
        max_impact=t.number("max_impact", low=0.0, high=1.0, high_open=True),
        depth_usd=tables,
    )


def _depth(t: ParamTable, key: str) -> float:
    return t.number(key, low=0.0, high=math.inf, low_open=True)


def _penalty(t: ParamTable) -> PenaltyConfig:
    t.reject_unknown(["mode", "base_rate", "slope", "max_rate", "option_premium_cap", "fund_share"])
    base = t.number("base_rate", low=0.0, high=1.0)
    max_rate = t.number("max_rate", low=0.0, high=1.0)
    if max_rate < base:
        raise InputError(t.field("max_rate"), max_rate, f"must be >= base_rate ({base:g})")
    return PenaltyConfig(
        mode=t.text("mode", choices=PENALTY_MODES),
        base_rate=base,
        slope=t.number("slope", low=0.0),
        max_rate=max_rate,
        option_premium_cap=t.number("option_premium_cap", low=0.0, high=1.0),
        fund_share=t.number("fund_share", low=0.0, high=1.0),
    )


def _adl(t: ParamTable) -> AdlConfig:
    t.reject_unknown(["ranking", "max_price_move"])
    return AdlConfig(
        ranking=t.text("ranking", choices=RANKINGS),
        max_price_move=t.number("max_price_move", low=0.0, high=1.0, low_open=True, high_open=True),
    )


def _fund(t: ParamTable) -> float:
    t.reject_unknown(["initial_balance"])
    return t.number("initial_balance", low=0.0)

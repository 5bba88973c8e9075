"""Parameters of the VaR / ES margin models, read from ``methodologies/pmargin-*.toml``.

Every number the models use lives in the file; this module checks types and bounds only.
Errors name the dotted field, e.g. ``pmargin-es.toml: measure.confidence``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pmargin._params import ParamTable
from pmargin.errors import InputError
from pmargin.scenarios import Marginal, parse_mpor

__all__ = [
    "SCHEMA_VERSION",
    "ApcMethod",
    "CorrelationStressMethod",
    "Measure",
    "ScenarioMethod",
    "ScenarioRiskParams",
]

SCHEMA_VERSION = 1
"""Layout version of the ``pmargin-*.toml`` files this code reads."""

ALL_DATA = "all"
"""``apc.floor_lookback_days`` value meaning every close of the history up to the as-of date."""

_TOP = (
    "schema_version",
    "name",
    "methodology",
    "measure",
    "scenarios",
    "monte_carlo",
    "correlation_stress",
    "apc",
    "margin",
    "history",
)


class Measure(StrEnum):
    """The risk measure reduced over the scenarios."""

    ES = "es"
    VAR = "var"


class ScenarioMethod(StrEnum):
    """How the scenario set is built."""

    HISTORICAL = "historical"
    FILTERED_HISTORICAL = "filtered_historical"
    MONTE_CARLO = "monte_carlo"


class CorrelationStressMethod(StrEnum):
    """Which stressed correlation the add-on is measured under."""

    BLEND = "blend"
    WORST_WINDOW = "worst_window"
    NONE = "none"


class ApcMethod(StrEnum):
    """Anti-procyclicality tool (EMIR RTS 153/2013 Art. 28)."""

    FLOOR = "floor"
    BUFFER = "buffer"
    STRESSED_WEIGHT = "stressed_weight"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ScenarioRiskParams:
    """Validated contents of a ``pmargin-es`` / ``pmargin-var`` / ``pmargin-mc`` file.

    Attributes
    ----------
    name
        The model's name (``"pmargin-es"``), reported in results.
    measure
        ``es`` or ``var``.
    confidence
        Confidence level in (0.5, 1), e.g. 0.99.
    boundary
        ES boundary rule (``"whole"`` or ``"split"``, see :mod:`pmargin.risk`).
    method
        Scenario method (historical, filtered historical, Monte Carlo).
    mpor_hours
        Margin period of risk, hours (24 = one day).
    frequency
        Data frequency of the price history (``"1d"`` or ``"4h"``).
    lookback_days
        Days of history the scenarios (or the Monte Carlo estimates) use, > 0.
    ewma_lambda
        Daily EWMA decay in (0, 1) (filtered historical simulation, Monte Carlo vols).
    min_vol
        Floor on shocked implied vols (annualised decimal, > 0).
    time_decay
        Revalue options at ``T - mpor`` (True) or at the snapshot's ``T`` (False).
    carry
        Move the carry of dated futures' and options' forwards (``exp(dc T)``): historical
        windows take the change of the trailing-funding carry over the window, Monte Carlo
        draws one with the history's carry vol. ``False``: every forward moves with its spot.
    underlyings
        Underlyings the scenarios move (history columns); a book's instruments and coin
        balances must be in this list.
    stablecoins
        Balance assets held unshocked (their USD price does not move in any scenario).
    n_scenarios, seed, marginal, dof, vol_beta, mc_correlation, mc_vols
        Monte Carlo settings (see :class:`~pmargin.scenarios.MonteCarloModel`).
    stress_method
        Correlation-stress add-on method.
    toward_one, toward_zero
        Blend factors in [0, 1] of the two blend stresses (0 disables that direction).
    stress_window_days
        Window of the worst-window stress, days.
    apc_method
        Anti-procyclicality tool.
    apc_buffer
        Buffer fraction of the ``buffer`` tool (0.25 = 25 %).
    stressed_share, stressed_worst_days
        Least weight of the stressed window and its length (``stressed_weight`` tool).
    floor_lookback_days
        Lookback of the ``floor`` tool in days, or ``None`` for all the data.
    mm_fraction
        Maintenance margin / initial margin, in (0, 1].
    history_path
        Shared data folder, or ``None`` for ``$PMARGIN_SHARED_DATA`` / ``../shared/data``.
    max_age_days
        Largest age (days) of the last close before the market timestamp; older is an error.
    source
        Name of the file read.
    """

    name: str
    measure: Measure
    confidence: float
    boundary: str
    method: ScenarioMethod
    mpor_hours: float
    frequency: str
    lookback_days: float
    ewma_lambda: float
    min_vol: float
    time_decay: bool
    carry: bool
    underlyings: tuple[str, ...]
    stablecoins: tuple[str, ...]
    n_scenarios: int
    seed: int
    marginal: Marginal
    dof: float
    vol_beta: float
    mc_correlation: str
    mc_vols: str
    stress_method: CorrelationStressMethod
    toward_one: float
    toward_zero: float
    stress_window_days: float
    apc_method: ApcMethod
    apc_buffer: float
    stressed_share: float
    stressed_worst_days: float
    floor_lookback_days: float | None
    mm_fraction: float
    history_path: str | None
    max_age_days: float
    source: str

    @classmethod
    def from_table(cls, table: ParamTable) -> ScenarioRiskParams:
        """Validate a parsed parameter file.

        Raises
        ------
        InputError
            Naming the first missing, unknown or out-of-range field.
        """
        table.reject_unknown(_TOP)
        table.check_header(SCHEMA_VERSION, "pmargin-scenario-risk")

        measure = table.table("measure")
        measure.reject_unknown(("kind", "confidence", "boundary", "source"))
        scen = table.table("scenarios")
        scen.reject_unknown(
            (
                "method",
                "mpor",
                "frequency",
                "lookback_days",
                "ewma_lambda",
                "min_vol",
                "time_decay",
                "underlyings",
                "stablecoins",
                "carry",
                "source",
            )
        )
        mc = table.table("monte_carlo")
        mc.reject_unknown(
            ("n_scenarios", "seed", "marginal", "dof", "vol_beta", "correlation", "vols", "source")
        )
        stress = table.table("correlation_stress")
        stress.reject_unknown(("method", "toward_one", "toward_zero", "window_days", "source"))
        apc = table.table("apc")
        apc.reject_unknown(
            (
                "method",
                "buffer",
                "stressed_share",
                "stressed_worst_days",
                "floor_lookback_days",
                "source",
            )
        )
        margin = table.table("margin")
        margin.reject_unknown(("mm_fraction", "source"))
        history = table.table("history", {})
        history.reject_unknown(("path", "max_age_days"))

        method = ScenarioMethod(_choice(scen, "method", ScenarioMethod))
        apc_method = ApcMethod(_choice(apc, "method", ApcMethod))
        if apc_method is ApcMethod.STRESSED_WEIGHT and method is ScenarioMethod.MONTE_CARLO:
            raise InputError(
                apc.field("method"),
                apc_method.value,
                "needs historical scenarios (monte_carlo draws have no stressed observations); "
                "use floor, buffer or none",
            )
        mpor_text = scen.raw("mpor")
        path = history.raw("path", None)
        if path is not None and (not isinstance(path, str) or not path.strip()):
            raise InputError(history.field("path"), path, "must be a folder path (text)")
        seed = mc.integer("seed", low=0)
        return cls(
            name=table.text("name"),
            measure=Measure(_choice(measure, "kind", Measure)),
            confidence=measure.number(
                "confidence", low=0.5, high=1.0, low_open=True, high_open=True
            ),
            boundary=measure.text("boundary", "whole", choices=("whole", "split")),
            method=method,
            mpor_hours=parse_mpor(mpor_text, scen.field("mpor")),
            frequency=scen.text("frequency", "1d", choices=("1d", "4h")),
            lookback_days=scen.number("lookback_days", low=1.0),
            ewma_lambda=scen.number(
                "ewma_lambda", low=0.0, high=1.0, low_open=True, high_open=True
            ),
            min_vol=scen.number("min_vol", 0.01, low=0.0, high=5.0, low_open=True),
            time_decay=_flag(scen, "time_decay", False),
            carry=_flag(scen, "carry", True),
            underlyings=_names(scen, "underlyings"),
            stablecoins=_names(scen, "stablecoins"),
            n_scenarios=mc.integer("n_scenarios", low=100),
            seed=seed,
            marginal=Marginal(_choice(mc, "marginal", Marginal)),
            dof=mc.number("dof", low=2.0, high=1000.0, low_open=True),
            vol_beta=mc.number("vol_beta", low=-1.0, high=1.0),
            mc_correlation=mc.text("correlation", choices=("sample", "ewma")),
            mc_vols=mc.text("vols", choices=("ewma", "sample")),
            stress_method=CorrelationStressMethod(
                _choice(stress, "method", CorrelationStressMethod)
            ),
            toward_one=stress.number("toward_one", low=0.0, high=1.0),
            toward_zero=stress.number("toward_zero", low=0.0, high=1.0),
            stress_window_days=stress.number("window_days", low=1.0),
            apc_method=apc_method,
            apc_buffer=apc.number("buffer", low=0.0, high=10.0),
            stressed_share=apc.number("stressed_share", low=0.0, high=1.0, high_open=True),
            stressed_worst_days=apc.number("stressed_worst_days", low=1.0),
            floor_lookback_days=_lookback(apc, "floor_lookback_days"),
            mm_fraction=margin.number("mm_fraction", low=0.0, high=1.0, low_open=True),
            history_path=path,
            max_age_days=history.number("max_age_days", 3.0, low=0.0),
            source=table.where,
        )


def _choice(table: ParamTable, key: str, enum: type[StrEnum]) -> str:
    return table.text(key, choices=tuple(m.value for m in enum))


def _flag(table: ParamTable, key: str, default: bool) -> bool:
    value = table.raw(key, default)
    if not isinstance(value, bool):
        raise InputError(table.field(key), value, "must be true or false")
    return value


def _names(table: ParamTable, key: str) -> tuple[str, ...]:
    value = table.raw(key)
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) and v.strip() for v in value)
        or len({v.strip().upper() for v in value}) != len(value)
    ):
        raise InputError(table.field(key), value, "must be a list of distinct asset codes")
    return tuple(v.strip().upper() for v in value)


def _lookback(table: ParamTable, key: str) -> float | None:
    value = table.raw(key)
    if value == ALL_DATA:
        return None
    return table.number(key, low=1.0)
